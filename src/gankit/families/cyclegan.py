"""CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B.

Nets: "g" translates A -> B and "g_ba" B -> A (ResNet translators, nets/image2image.py);
"d" judges B images and "d_a" A images (PatchGANs). Data: two domains (`data.name` = A,
`data.name_b` = B), each batch [A | B] on the channel axis (data/pairs.py).

D phase: each D takes the configured loss (the paper: least squares) on its domain's real
images against fakes drawn from an image pool of the last `reg.pool_size` fakes
(Shrivastava et al. 2017): half of a batch is swapped for older fakes, which damps
oscillation. The pools live in the training state's per-rank `extra`, so resume is exact.
G phase: the adversarial terms of both directions, cycle consistency
cycle_weight * (|g_ba(g(a)) - a|_1 + |g(g_ba(b)) - b|_1) and identity
identity_weight * cycle_weight * (|g(b) - b|_1 + |g_ba(a) - a|_1) (when A and B have the
same channels).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from gankit.config import Config
from gankit.data.pairs import split_parts
from gankit.errors import GankitError
from gankit.families.base import Batch, DataInfo, Nets, PhaseCtx
from gankit.families.image2image import PairFake, PairFamily, grid_of_columns, patch_logits
from gankit.nets import NetSpec

SMALL_IMAGES = 64  # px: below it the translators downsample once, not twice (a 16 px digit
#                   through two would leave G a 4x4 bottleneck free to redraw the whole digit)
POOL_SWAP = 0.5  # chance that a fake is swapped for a pooled one once the pool is full


def translator_downs(cfg: Config, resolution: int) -> int:
    """model.g_downs, or by size: each downsampling doubles how far G reaches, and a G that
    reaches across the whole image is free to redraw it (and change a digit's class)."""
    if cfg.model.g_downs is not None:
        return cfg.model.g_downs
    return 2 if resolution >= SMALL_IMAGES else 1


@dataclass
class CycleFake(PairFake):
    """fake B = g(a) in x (with a in z, b in target) and fake A = g_ba(b)."""

    fake_a: torch.Tensor | None = None

    def detach(self) -> CycleFake:
        return replace(self, x=self.x.detach(), fake_a=self.fake_a.detach())


def pool_query(extra: dict, key: str, fakes: torch.Tensor, size: int,
               gen: torch.Generator) -> torch.Tensor:
    """The images D sees in place of `fakes`; updates the pool extra[key] (detached).

    Until the pool holds `size` images every fake enters it and is returned; then each fake
    is, with chance 1/2, returned while replacing a random pooled image returned in its
    place (the CycleGAN code's ImagePool). Two draws per image, always."""
    n = fakes.shape[0]
    swap = torch.rand(n, generator=gen) < POOL_SWAP
    slot = torch.randint(max(size, 1), (n,), generator=gen)
    if size == 0:
        return fakes
    pool = extra.get(key)
    pool = fakes.new_zeros((0, *fakes.shape[1:])) if pool is None else pool.to(fakes)
    out = fakes.detach().clone()
    for i in range(n):
        if pool.shape[0] < size:
            pool = torch.cat([pool, out[i:i + 1]])
        elif swap[i]:
            j = int(slot[i])
            old = pool[j].clone()
            pool[j] = out[i]
            out[i] = old
    extra[key] = pool
    return out


class CycleGAN(PairFamily):
    name = "cyclegan"
    g_side = ("g", "g_ba")
    d_side = ("d", "d_a")
    allows_aug = True  # each D judges single images: augmentation wraps it as usual

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        super().check(cfg, data)
        if not data.parts or data.paired:
            raise GankitError(f"model.family=cyclegan needs two image sets: data.name (A) and "
                              f"data.name_b (B); data.name={cfg.data.name}, data.name_b="
                              f"{cfg.data.name_b}")
        if cfg.train.pretrain_steps:
            raise GankitError("train.pretrain_steps is for image2image and superres (content "
                              "pre-training); cyclegan has no paired content loss")
        res = data.shape[1]
        mult = 2 ** translator_downs(cfg, res)
        least = max(4, 2 * mult)  # the bottleneck must stay at least 2x2, the image 4x4
        if res % mult or data.shape[2] % mult or res < least:
            raise GankitError(f"data.resolution={res}: model.family=cyclegan needs a multiple of "
                              f"{mult}, at least {least} (its translators downsample by "
                              f"{mult}; model.g_downs sets that)")
        if cfg.model.g_sn:
            raise GankitError("model.g_sn=true with model.family=cyclegan: the ResNet "
                              "translators have no spectral norm; use model.d_sn")

    def __init__(self, cfg: Config, data: DataInfo) -> None:
        super().__init__(cfg, data)
        self.parts = data.parts

    def specs(self) -> dict[str, NetSpec]:
        m = self.cfg.model
        ca, cb = self.parts

        downs = translator_downs(self.cfg, self.data.shape[1])

        def g(cin: int, cout: int) -> NetSpec:
            return {"name": "translator-g", "kwargs": {"in_channels": cin, "out_channels": cout,
                                                       "width": m.g_width, "blocks": m.blocks,
                                                       "downs": downs}}

        return {"g": g(ca, cb), "g_ba": g(cb, ca), "d": self.patch_d(cb),
                "d_a": self.patch_d(ca)}

    def image_meta(self) -> dict:
        ca, cb = self.parts
        return {"task": "translate", "in_channels": ca, "out_channels": cb, "scale": 1,
                "resolution": self.data.shape[1], "domains": [self.cfg.data.name,
                                                              self.cfg.data.name_b]}

    def adversarial(self, step: int) -> bool:
        return True

    def make_pair(self, x, gen):
        a, b = split_parts(x, self.parts)
        return a, b, None

    def fake(self, nets: Nets, batch: Batch, gen: torch.Generator) -> CycleFake:
        a, b = split_parts(batch.x, self.parts)
        return CycleFake(nets["g"](a), a, target=b, fake_a=nets["g_ba"](b))

    def d_terms(self, nets: Nets, batch: Batch, fake: CycleFake, ctx: PhaseCtx
                ) -> dict[str, torch.Tensor]:
        size = self.cfg.reg.pool_size
        fake_b = pool_query(ctx.extra, "pool_b", fake.x, size, ctx.gen)
        fake_a = pool_query(ctx.extra, "pool_a", fake.fake_a, size, ctx.gen)
        terms, real_out, _ = self.objective.d_terms_outputs(
            nets["d"], fake.target, fake_b, ctx.gen, ctx.r1, logit=patch_logits)
        ctx.real_sign = real_out.detach().float().sign().mean()
        da = self.objective.d_terms_outputs(nets["d_a"], fake.z, fake_a, ctx.gen, ctx.r1,
                                            logit=patch_logits)[0]
        terms.update({"da" + k[1:]: v for k, v in da.items()})  # d_real -> da_real, ...
        return terms

    def g_terms(self, nets: Nets, batch: Batch, fake: CycleFake) -> dict[str, torch.Tensor]:
        reg = self.cfg.reg
        a, b = fake.z, fake.target
        adv = self.objective.g_losses
        terms = {"g_adv": reg.adv_weight * adv(nets["d"](fake.x))["g_adv"],
                 "ga_adv": reg.adv_weight * adv(nets["d_a"](fake.fake_a))["g_adv"]}
        if reg.cycle_weight > 0:
            terms["g_cycle"] = reg.cycle_weight * (F.l1_loss(nets["g_ba"](fake.x), a)
                                                   + F.l1_loss(nets["g"](fake.fake_a), b))
        if reg.identity_weight > 0 and reg.cycle_weight > 0 and self.parts[0] == self.parts[1]:
            terms["g_idt"] = reg.identity_weight * reg.cycle_weight * (
                F.l1_loss(nets["g"](b), b) + F.l1_loss(nets["g_ba"](a), a))
        return terms

    def grid_rows(self, ema: Nets, x: torch.Tensor, gen: torch.Generator
                  ) -> tuple[torch.Tensor, int]:
        """One row per image pair: a | g(a) | g_ba(g(a)) | b | g_ba(b) | g(g_ba(b))."""
        a, b = split_parts(x, self.parts)
        ab, ba = ema["g"](a), ema["g_ba"](b)
        return grid_of_columns([a, ab, ema["g_ba"](ab), b, ba, ema["g"](ba)])

    def bn_inputs(self, data_x, gen, batch_size):
        return []  # instance norm: no running statistics
