"""Exponential moving average of G's weights (Karras et al. 2018; StyleGAN2's G_ema).

ema <- beta * ema + (1 - beta) * G for parameters, in float32; buffers (batch-norm running
statistics) are copied from G. beta = 0 makes the EMA a plain copy of G.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema(g: nn.Module) -> nn.Module:
    ema = copy.deepcopy(g).eval()
    ema.requires_grad_(False)
    return ema


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
