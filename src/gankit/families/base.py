"""The family contract: which nets a GAN builds, what G is given, its D terms and G terms.

StyleGAN2-ADA's `Loss.accumulate_gradients(phase)` shows the split: the training step owns
phases, optimisers, precision, lazy intervals, EMA and DDP; a family owns which nets are
called and which named loss terms come out. A family never touches optimisers, precision,
DDP or checkpoints, and the step never names a family.

Every generator is `G(z, c=None)` and every discriminator `D(x, c=None)`. A discriminator
with auxiliary heads returns (N, 1 + extra) with the adversarial logit in column 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from gankit.config import Config
from gankit.errors import GankitError
from gankit.losses import LOSSES, Objective
from gankit.nets import ARCHS, NetSpec
from gankit.nets.latent import Latent

Nets = Mapping[str, nn.Module]


@dataclass
class DataInfo:
    """What a family needs to know about the data: sample shape and labels."""

    shape: tuple[int, ...]
    num_classes: int = 0  # 0 when unlabelled
    class_freq: list[float] = field(default_factory=list)  # share of each class in the data
    parts: tuple[int, ...] = ()  # two-part data [A | B]: channels of A and of B (data/pairs.py)
    paired: bool = False  # the two parts are aligned pairs (else two unpaired domains)


@dataclass
class Batch:
    """A real batch on the training device, images scaled to [-1, 1]."""

    x: torch.Tensor
    y: torch.Tensor | None = None  # int64 labels, when the data have them


@dataclass
class Fake:
    """What G made for one batch, with everything the D and G terms need."""

    x: torch.Tensor  # G(z, c)
    z: torch.Tensor  # the latent it came from
    c: torch.Tensor | None = None  # G's condition (class labels), or None
    codes: dict[str, torch.Tensor] = field(default_factory=dict)  # InfoGAN: "cat", "cont"
    enc: torch.Tensor | None = None  # BiGAN: E(real x), made with the fake batch

    def detach(self) -> Fake:
        return replace(self, x=self.x.detach(),
                       enc=None if self.enc is None else self.enc.detach())


@dataclass
class PhaseCtx:
    """Per-update inputs of the D terms: the step's random stream and whether R1 is due."""

    gen: torch.Generator
    r1: bool = True
    real_sign: torch.Tensor | None = None  # out: mean sign of D's real logits (ADA's r_t)
    extra: dict = field(default_factory=dict)  # the state's per-rank running values (pools)


def latent_dict(latent: Latent) -> dict:
    return {"noise": latent.noise, "prior": latent.prior, "cat": list(latent.cat),
            "cont": latent.cont}


def adv_logit(out: torch.Tensor) -> torch.Tensor:
    """D's adversarial logit: the output itself, or column 0 when D has auxiliary heads."""
    return out if out.dim() == 1 else out[:, 0]


def packed_shape(shape: tuple[int, ...], m: int) -> tuple[int, ...]:
    """The shape of one PacGAN pack of m samples: channels (images) or features x m."""
    return (shape[0] * m, *shape[1:])


def pack_samples(x: torch.Tensor, m: int) -> torch.Tensor:
    """(N, C, ...) -> (N/m, m*C, ...): samples i*m .. i*m+m-1 form pack i (Lin et al. 2018)."""
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


def require_sample_dims(cfg: Config, data: DataInfo, dims: int, what: str) -> None:
    """Refuse data whose samples are not `dims`-dimensional, naming the family and the data."""
    if len(data.shape) != dims:
        raise GankitError(f"model.family={cfg.model.family} needs {what}; data.name="
                          f"{cfg.data.name} has samples of shape {data.shape}")


class Family:
    """Base family: an unconditional G(z) against D(x). Subclasses override the parts they change."""

    name = "unconditional"
    g_side: tuple[str, ...] = ("g",)  # nets stepped by G's optimiser and kept in EMA
    d_side: tuple[str, ...] = ("d",)
    packable = True  # PacGAN (model.pack) makes sense: D scores samples without conditions
    image_input = False  # G takes images made from the data (image-to-image), not latents
    pretrain_steps = 0  # G steps of content loss alone before D trains (superres)

    def __init__(self, cfg: Config, data: DataInfo) -> None:
        m = cfg.model
        self.cfg, self.data = cfg, data
        self.latent = Latent(m.z_dim, m.prior, tuple(m.cat_codes), m.cont_codes)
        self.objective = Objective(LOSSES.get(cfg.loss), cfg.reg.r1_gamma, cfg.reg.gp_lambda,
                                   cfg.reg.r1_every)

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        """Reject settings this family cannot use, naming the keys (a GankitError)."""
        if len(data.shape) != 3:
            for key, on in [("aug.kind", cfg.aug.kind != "none"), ("data.flip", cfg.data.flip),
                            ("data.crop_pad", cfg.data.crop_pad > 0)]:
                if on:
                    raise GankitError(f"{key} augments images; data.name={cfg.data.name} has "
                                      f"samples of shape {data.shape}")
        if cfg.model.d_norm == "instance" and not cls.image_input:
            raise GankitError(f"model.d_norm=instance is for the PatchGAN D of the image-to-image "
                              f"families; model.family={cls.name} takes batch or none")
        if cfg.model.cont_codes and cls.name != "infogan":
            raise GankitError(f"model.cont_codes={cfg.model.cont_codes} needs model.family="
                              f"infogan (a Q head recovers the codes); model.family is {cls.name}")

    # ------------------------------------------------------------------ building

    def base_specs(self) -> tuple[NetSpec, NetSpec]:
        """The architecture's G and D specs, plus the switches that compose with every family."""
        m = self.cfg.model
        g, d = ARCHS.get(m.arch)(m, self.data.shape)
        if m.pack > 1:  # PacGAN: D's input is m samples joined on the channel/feature axis
            d = ARCHS.get(m.arch)(m, packed_shape(self.data.shape, m.pack))[1]
        g, d = {"name": g["name"], "kwargs": dict(g["kwargs"])}, {"name": d["name"],
                                                                 "kwargs": dict(d["kwargs"])}
        if m.mbstd:
            d["kwargs"]["mbstd"] = m.mbstd
        if self.latent.dim != m.z_dim:
            g["kwargs"]["z_dim"] = self.latent.dim
        for spec, sn in ((g, m.g_sn), (d, m.d_sn)):
            if sn:
                spec["kwargs"]["sn"] = True
            if m.attn_res is not None:
                spec["kwargs"]["attn_res"] = m.attn_res
        return g, d

    def specs(self) -> dict[str, NetSpec]:
        g, d = self.base_specs()
        return {"g": g, "d": d}

    def meta(self) -> dict:
        """What inference needs besides the nets (recorded in every checkpoint)."""
        return {"name": self.name, "num_classes": self.data.num_classes,
                "class_freq": list(self.data.class_freq), "latent": latent_dict(self.latent),
                "conditional_g": False, "encoder": None, "pack": self.cfg.model.pack}

    # ------------------------------------------------------------------ generating

    def g_input(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A latent batch (CPU) and G's condition for it."""
        return self.latent.sample(n, gen), None

    def grid_input(self, n: int, gen: torch.Generator
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """G's inputs for the training sample grid (families with classes or codes lay them
        out one per row)."""
        return self.g_input(n, gen)

    def grid_columns(self, n: int) -> int | None:
        """Columns of the sample grid of n images; None = as square as possible."""
        return None

    def fake(self, nets: Nets, batch: Batch, gen: torch.Generator) -> Fake:
        z, c = self.g_input(batch.x.shape[0], gen)
        z = z.to(batch.x.device)
        c = None if c is None else c.to(batch.x.device)
        return Fake(nets["g"](z) if c is None else nets["g"](z, c), z, c)

    # ------------------------------------------------------------------ loss terms

    def adversarial(self, step: int) -> bool:
        """Whether D trains at this step (False: G takes `content_terms` alone)."""
        return True

    def content_terms(self, nets: Nets, batch: Batch, fake: Fake) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"model.family={self.name} has no content-only phase")

    def d_condition(self, batch: Batch, fake: Fake) -> tuple[torch.Tensor | None,
                                                             torch.Tensor | None]:
        """D's condition on the real and on the fake batch (None: unconditional D)."""
        return None, None

    def d_adversarial(self, nets: Nets, batch: Batch, fake: Fake, ctx: PhaseCtx
                      ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """The adversarial loss with R1/GP, and D's full outputs on the real and fake batch."""
        c_real, c_fake = self.d_condition(batch, fake)
        terms, real_out, fake_out = self.objective.d_terms_outputs(
            nets["d"], batch.x, fake.x, ctx.gen, ctx.r1, c_real, c_fake, adv_logit)
        ctx.real_sign = adv_logit(real_out).detach().float().sign().mean()
        return terms, real_out, fake_out

    def d_terms(self, nets: Nets, batch: Batch, fake: Fake, ctx: PhaseCtx
                ) -> dict[str, torch.Tensor]:
        return self.d_adversarial(nets, batch, fake, ctx)[0]

    def d_on_fake(self, nets: Nets, batch: Batch, fake: Fake) -> torch.Tensor:
        c = self.d_condition(batch, fake)[1]
        return nets["d"](fake.x) if c is None else nets["d"](fake.x, c)

    def g_terms(self, nets: Nets, batch: Batch, fake: Fake) -> dict[str, torch.Tensor]:
        return self.objective.g_losses(adv_logit(self.d_on_fake(nets, batch, fake)))
