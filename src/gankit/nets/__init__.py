"""Networks: families of generators and discriminators, and latent priors.

`NETS` maps a recorded name to a module class, so a checkpoint rebuilds its nets from
{"name", "kwargs"} specs; `ARCHS` maps `model.arch` to the function that writes those specs
from the config and the data shape; `PRIORS` maps `model.prior` to a latent sampler.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gankit.config import ModelConfig
from gankit.errors import GankitError
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.nets.image2image import (
    PatchDiscriminator,
    ResnetTranslator,
    SRResNetGenerator,
    UNetGenerator,
)
from gankit.nets.mlp import MLPDiscriminator, MLPGenerator
from gankit.nets.resnet import ResNetDiscriminator, ResNetGenerator
from gankit.nets.video import SequenceGenerator, VideoDiscriminator
from gankit.registry import Registry

NETS: Registry[type[nn.Module]] = Registry("network")
NETS.register("mlp-g")(MLPGenerator)
NETS.register("mlp-d")(MLPDiscriminator)
NETS.register("dcgan-g")(DCGANGenerator)
NETS.register("dcgan-d")(DCGANDiscriminator)
NETS.register("resnet-g")(ResNetGenerator)
NETS.register("resnet-d")(ResNetDiscriminator)
NETS.register("sequence-g")(SequenceGenerator)
NETS.register("video-d")(VideoDiscriminator)
NETS.register("unet-g")(UNetGenerator)
NETS.register("patch-d")(PatchDiscriminator)
NETS.register("srresnet-g")(SRResNetGenerator)
NETS.register("translator-g")(ResnetTranslator)

NetSpec = dict  # {"name": str, "kwargs": dict}: everything needed to rebuild a net
ARCHS: Registry[Callable[[ModelConfig, tuple[int, ...]], tuple[NetSpec, NetSpec]]]
ARCHS = Registry("architecture")


@ARCHS.register("mlp", "MLP G and D (2-D points, tiny images)")
def mlp_specs(m: ModelConfig, shape: tuple[int, ...]) -> tuple[NetSpec, NetSpec]:
    g = {"z_dim": m.z_dim, "out_shape": list(shape), "width": m.g_width, "depth": m.depth,
         "tanh": len(shape) == 3}
    d = {"in_shape": list(shape), "width": m.d_width, "depth": m.depth}
    return {"name": "mlp-g", "kwargs": g}, {"name": "mlp-d", "kwargs": d}


@ARCHS.register("dcgan", "DCGAN conv G and D, any resolution s*2^k (s in 4..7)")
def dcgan_specs(m: ModelConfig, shape: tuple[int, ...]) -> tuple[NetSpec, NetSpec]:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise GankitError(f"model.arch=dcgan needs square images; the data have shape {shape}")
    c, res = shape[0], shape[1]
    g = {"z_dim": m.z_dim, "channels": c, "resolution": res, "width": m.g_width}
    if m.g_upsample != "deconv":  # recorded only when set: older specs stay as they were
        g["upsample"] = m.g_upsample
    d = {"channels": c, "resolution": res, "width": m.d_width, "norm": m.d_norm}
    return {"name": "dcgan-g", "kwargs": g}, {"name": "dcgan-d", "kwargs": d}


@ARCHS.register("resnet", "SNGAN ResNet G and D, any resolution s*2^k (s in 4..7)")
def resnet_specs(m: ModelConfig, shape: tuple[int, ...]) -> tuple[NetSpec, NetSpec]:
    if len(shape) != 3 or shape[1] != shape[2]:
        raise GankitError(f"model.arch=resnet needs square images; the data have shape {shape}")
    c, res = shape[0], shape[1]
    g = {"z_dim": m.z_dim, "channels": c, "resolution": res, "width": m.g_width}
    d = {"channels": c, "resolution": res, "width": m.d_width}  # no norm in the SNGAN D
    return {"name": "resnet-g", "kwargs": g}, {"name": "resnet-d", "kwargs": d}


def build_net(spec: NetSpec) -> nn.Module:
    """Rebuild a network from its recorded {"name", "kwargs"}."""
    cls = NETS.get(spec["name"])
    try:
        return cls(**spec["kwargs"])
    except TypeError as exc:
        raise GankitError(f"cannot build network {spec['name']}: {exc}") from None


PRIORS: Registry[Callable[[int, int, torch.Generator], torch.Tensor]] = Registry("latent prior")


@PRIORS.register("normal", "z ~ N(0, I)")
def normal_prior(n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(n, dim, generator=gen)


@PRIORS.register("uniform", "z ~ U[-1, 1]^d")
def uniform_prior(n: int, dim: int, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, dim, generator=gen).mul_(2).sub_(1)
