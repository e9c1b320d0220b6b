"""Exponential moving average of G's weights (Karras et al. 2018; StyleGAN2's G_ema).

ema <- beta_t * ema + (1 - beta_t) * G for parameters, in float32. beta_t ramps up as in
StyleGAN2-ADA's training loop (`ema_rampup`): the EMA's half-life, normally
ln 0.5 / ln beta steps, is capped at `rampup * step`, so early in training the average forgets
the random initial weights quickly (with beta = 0.999 and no ramp-up, 13.5% of a 2,000-step
EMA would still be the initial weights); rampup None or 0 disables it. beta = 0 makes the
EMA a plain copy of G.

Batch-norm statistics: every step copies G's running statistics (so the EMA G is usable at
any time), and before the EMA G is sampled, scored or saved, `recompute_bn_stats` replaces
them with the EMA G's *own* statistics ("precise BN"): the average of the per-batch mean and
variance over 1,024 fixed latents in batches of `train.batch_size`, i.e. what batch norm
sees at training time. G's running statistics describe G's weights, not the average's.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def make_ema(g: nn.Module) -> nn.Module:
    ema = copy.deepcopy(g).eval()
    ema.requires_grad_(False)
    return ema


def ema_beta(beta: float, step: int, rampup: float | None) -> float:
    """The decay used after `step` G steps: min(beta, 0.5 ** (1 / (rampup * step)))."""
    if beta == 0.0 or not rampup:
        return beta
    cap = rampup * step  # the longest half-life allowed now, in steps
    if cap <= 0.0:
        return 0.0
    return min(beta, 0.5 ** (1.0 / cap))


def half_life_steps(beta: float) -> float:
    """Steps after which a weight's share in the EMA has halved (inf for beta = 1)."""
    return math.inf if beta >= 1.0 else (0.0 if beta == 0.0 else math.log(0.5) / math.log(beta))


@torch.no_grad()
def update_ema(ema: nn.Module, g: nn.Module, beta: float) -> None:
    ema_params = list(ema.parameters())
    params = [p.detach() for p in g.parameters()]
    if beta == 0.0:
        torch._foreach_copy_(ema_params, params)
    else:
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), g.buffers()):
        b_ema.copy_(b)


def has_batch_norm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


@torch.no_grad()
def recompute_bn_stats(net: nn.Module, inputs: list[tuple[torch.Tensor, ...]]) -> None:
    """Set every batch norm's running mean/var to the exact average over the `inputs` batches
    (each a tuple of G's arguments: (z,) or (z, c)).

    momentum=None makes PyTorch keep a cumulative average; the net ends in eval mode. A
    no-op for nets without batch norm. Deterministic: the latents are fixed by the caller.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    for args in inputs:
        net(*args)
    net.eval()
    for m, mom in zip(bns, momenta):
        m.momentum = mom
