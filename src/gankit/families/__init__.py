"""GAN families, registered by name (`model.family`): one loop trains all of them.

unconditional: G(z) against D(x). conditional: class labels to G (embedding or conditional
batch norm) and D (projection or an ACGAN head). infogan: categorical and continuous codes
recovered by a Q head on D's trunk. bigan: an encoder E trained with G, D on (x, z) pairs.
"""

from __future__ import annotations

import torch

from gankit.config import Config
from gankit.data.base import Dataset, TensorData
from gankit.families.base import Batch, DataInfo, Fake, Family, PhaseCtx, adv_logit
from gankit.families.bigan import BiGAN
from gankit.families.conditional import Conditional
from gankit.families.infogan import InfoGAN
from gankit.registry import Registry

FAMILIES: Registry[type[Family]] = Registry("GAN family")
FAMILIES.register("unconditional", "G(z) against D(x)")(Family)
FAMILIES.register("conditional", "class-conditional G and D: projection or ACGAN head")(
    Conditional)
FAMILIES.register("infogan", "InfoGAN: latent codes recovered by a Q head (Chen et al. 2016)")(
    InfoGAN)
FAMILIES.register("bigan", "BiGAN/ALI: an encoder E trained with G; D on (x, z) pairs")(BiGAN)

__all__ = ["FAMILIES", "Batch", "DataInfo", "Fake", "Family", "PhaseCtx", "adv_logit",
           "data_info", "make_family"]


def data_info(data: Dataset) -> DataInfo:
    """Shape, classes and class frequencies of a data set (labels only for finite data)."""
    if isinstance(data, TensorData) and data.y is not None and data.num_classes > 0:
        counts = torch.bincount(data.y, minlength=data.num_classes).double()
        return DataInfo(tuple(data.shape), data.num_classes, (counts / counts.sum()).tolist())
    return DataInfo(tuple(data.shape))


def make_family(cfg: Config, info: DataInfo) -> Family:
    """The configured family, checked against the data (a GankitError naming the keys)."""
    cls = FAMILIES.get(cfg.model.family)
    cls.check(cfg, info)
    return cls(cfg, info)
