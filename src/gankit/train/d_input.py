"""What D sees: augmentation and PacGAN packing in front of every D-side net, for every family.

DiffAugment (Zhao et al. 2020) and ADA (Karras et al. 2020) augment every image D sees, real
and fake, in both phases, with differentiable ops, so G's gradient passes through them and G
learns the data, not the augmented data. PacGAN (Lin et al. 2018) joins m samples into one D
input. Both sit in a view of the nets mapping the family receives, so no family changes and
the saved nets stay plain D's. Only the first argument (the image) is transformed; a
condition (labels, BiGAN's z) passes through.

ADA's state (the probability p and the sign statistic gathered since its last update) lives
in the TrainState's `extra`, so it is checkpointed and a resumed run continues it exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import torch
from torch import nn

from gankit import augment
from gankit.config import AugConfig
from gankit.families.base import pack_samples
from gankit.train.distributed import all_reduce_sum

Augment = Callable[[torch.Tensor], torch.Tensor]


class DInput:
    """D(x, *cond) called as d(pack(augment(x)), *cond): a plain callable, not a module, so it
    adds nothing to state dicts."""

    def __init__(self, d: nn.Module, aug: Augment | None, pack: int) -> None:
        self.d, self.aug, self.pack = d, aug, pack

    def __call__(self, x: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
        if self.aug is not None:
            x = self.aug(x)
        if self.pack > 1:
            x = pack_samples(x, self.pack)
        return self.d(x, *cond)


def make_augment(cfg: AugConfig, gen: torch.Generator, p: float) -> Augment | None:
    """The augmentation for one update, drawing from the step's random stream `gen`."""
    if cfg.kind == "diffaug":
        policy = _policy(cfg.policy)
        return lambda x: augment.diff_augment(x, policy, gen)
    if cfg.kind == "ada":
        pipe = _pipe(cfg.pipe)
        return lambda x: augment.ada_augment(x, p, pipe, gen)
    return None


# parsed once per run, not on every D update (the names were checked at start-up)
_policy = functools.lru_cache(maxsize=8)(augment.parse_policy)
_pipe = functools.lru_cache(maxsize=8)(augment.parse_pipe)


def d_view(nets: Mapping[str, nn.Module], d_side: tuple[str, ...], aug: Augment | None,
           pack: int) -> dict:
    """`nets` with every D-side net seen through augmentation and packing (when either is on)."""
    if aug is None and pack == 1:
        return dict(nets)
    return {**nets, **{k: DInput(nets[k], aug, pack) for k in d_side}}


# ------------------------------------------------------------------ ADA's p


def ada_p(extra: dict[str, torch.Tensor], cfg: AugConfig) -> float:
    """The current augmentation probability (the configured start value before any update)."""
    return float(extra["ada_p"]) if "ada_p" in extra else cfg.p


def ada_observe(extra: dict[str, torch.Tensor], cfg: AugConfig, real_sign: torch.Tensor,
                d_update: int, n_images: int, device: torch.device) -> None:
    """Gather E[sign(D(real))] and, every `cfg.interval` D updates, move p by the paper's rule:
    p += sign(r_t - target) * (images since the last update) / (kimg * 1000).

    `real_sign` is the mean sign of this rank's real logits; the sum over ranks makes every
    rank take the same step. `n_images` counts real images of one update on all ranks."""
    p = ada_p(extra, cfg)
    sign = real_sign.detach().double()
    acc = extra.get("ada_acc", torch.zeros(2, dtype=torch.float64)).to(sign.device)
    acc = acc + torch.stack([sign, torch.ones_like(sign)])  # stays on the device: no host
    if (d_update + 1) % cfg.interval == 0 and cfg.target > 0:  # sync between updates of p
        total = all_reduce_sum(acc.cpu(), device)
        r_t = float(total[0] / total[1])
        p = augment.ada_update(p, r_t, cfg.target, n_images * cfg.interval, cfg.kimg)
        extra["ada_rt"] = torch.tensor(r_t, dtype=torch.float64)
        acc = torch.zeros_like(acc)
    extra["ada_p"] = torch.tensor(p, dtype=torch.float64)
    extra["ada_acc"] = acc
