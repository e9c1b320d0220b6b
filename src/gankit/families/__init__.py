"""GAN families, registered by name (`model.family`): one loop trains all of them.

unconditional: G(z) against D(x). conditional: class labels to G (embedding or conditional
batch norm) and D (projection or an ACGAN head). infogan: categorical and continuous codes
recovered by a Q head on D's trunk. bigan: an encoder E trained with G, D on (x, z) pairs.
sequence: MoCoGAN clips, content + GRU motion latents, an image D and a video D.
image2image: pix2pix, a U-Net G(c) and a PatchGAN D on (c, x) pairs. superres: SRGAN with a
scale factor. cyclegan: unpaired translation, two Gs, two Ds, cycle consistency.
"""

from __future__ import annotations

import torch

from gankit.config import Config
from gankit.data.base import Dataset, TensorData
from gankit.errors import GankitError
from gankit.families.base import Batch, DataInfo, Fake, Family, PhaseCtx, adv_logit
from gankit.families.bigan import BiGAN
from gankit.families.conditional import Conditional
from gankit.families.cyclegan import CycleGAN
from gankit.families.image2image import IMAGE_FAMILIES, Image2Image
from gankit.families.infogan import InfoGAN
from gankit.families.sequence import Sequence
from gankit.families.superres import SuperRes
from gankit.registry import Registry

FAMILIES: Registry[type[Family]] = Registry("GAN family")
FAMILIES.register("unconditional", "G(z) against D(x)")(Family)
FAMILIES.register("conditional", "class-conditional G and D: projection or ACGAN head")(
    Conditional)
FAMILIES.register("infogan", "InfoGAN: latent codes recovered by a Q head (Chen et al. 2016)")(
    InfoGAN)
FAMILIES.register("bigan", "BiGAN/ALI: an encoder E trained with G; D on (x, z) pairs")(BiGAN)
FAMILIES.register("sequence", "MoCoGAN: clips from content + GRU motion latents; image and "
                  "video D (Tulyakov et al. 2018)")(Sequence)
FAMILIES.register("image2image", "pix2pix: U-Net G from a corrupted or paired input, PatchGAN D "
                  "on (input, output) pairs, + L1 (Isola et al. 2017)")(Image2Image)
FAMILIES.register("superres", "SRGAN: SRResNet G with a scale factor (2, 3, 4), content "
                  "pre-training, PatchGAN D, feature matching (Ledig et al. 2017)")(SuperRes)
FAMILIES.register("cyclegan", "CycleGAN: unpaired translation A <-> B, cycle and identity "
                  "losses, image pool (Zhu et al. 2017)")(CycleGAN)

__all__ = ["FAMILIES", "IMAGE_FAMILIES", "Batch", "DataInfo", "Fake", "Family", "PhaseCtx", "adv_logit",
           "data_info", "make_family"]


def data_info(data: Dataset) -> DataInfo:
    """Shape, classes and class frequencies of a data set (labels only for finite data)."""
    parts = tuple(getattr(data, "parts", ()))
    paired = bool(getattr(data, "paired", False))
    if isinstance(data, TensorData) and data.y is not None and data.num_classes > 0:
        counts = torch.bincount(data.y, minlength=data.num_classes).double()
        return DataInfo(tuple(data.shape), data.num_classes, (counts / counts.sum()).tolist(),
                        parts, paired)
    return DataInfo(tuple(data.shape), parts=parts, paired=paired)


def make_family(cfg: Config, info: DataInfo) -> Family:
    """The configured family, checked against the data (a GankitError naming the keys)."""
    cls = FAMILIES.get(cfg.model.family)
    check_clips(cfg, info, getattr(cls, "takes_clips", False))
    cls.check(cfg, info)
    return cls(cfg, info)


def check_clips(cfg: Config, info: DataInfo, takes_clips: bool) -> None:
    """Clip data (samples of shape (T, C, H, W)) need a family that models clips, and such
    a family needs clip data: a GankitError naming model.family and data.name otherwise."""
    clips = len(info.shape) == 4
    if clips == takes_clips:
        return
    have, want = ("clips", "single samples") if clips else ("single samples", "clips")
    hint = "; use model.family=sequence" if clips else " (use moving-mnist)"
    raise GankitError(f"model.family={cfg.model.family} models {want}, but data.name="
                      f"{cfg.data.name} holds {have} of shape {info.shape}{hint}")
