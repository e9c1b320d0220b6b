"""Gradient regularisers of D, pure functions that return a penalty tensor.

R1 (Mescheder et al. 2018; StyleGAN2's loss.py): (gamma / 2) * E[ |grad_x D(x)|^2 ] on reals,
the squared norm summed over all non-batch dimensions.
WGAN-GP (Gulrajani et al. 2017): lambda * E[ (|grad D(x_hat)|_2 - 1)^2 ] with
x_hat = x + alpha (G(z) - x), alpha ~ U(0, 1) per sample.

Mixed precision: D may run under bf16/fp16 autocast, but the penalty itself is computed in
float32: the interpolates are formed in float32 (G's output may be bf16), the logits are
summed in float32 and the input gradient is cast to float32 before squaring. The input
gradient is not multiplied by the fp16 loss scale (StyleGAN2-ADA does the same): the scale
(2^16 at first) would overflow fp16 activations' gradients, while input gradients of D's
logits are O(1e-3..1), well inside fp16's range.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def _input_grad(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(logits.float().sum(), x, create_graph=True)
    return grad.float()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor, gamma: float) -> torch.Tensor:
    """`real` must have requires_grad=True and `real_logits` must come from it."""
    grad = _input_grad(real_logits, real)
    return 0.5 * gamma * grad.square().flatten(1).sum(1).mean()


def gradient_penalty(d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, alpha: torch.Tensor, lam: float) -> torch.Tensor:
    """alpha: (N,) in [0, 1]; D is evaluated on the float32 interpolates x_hat."""
    shape = (-1,) + (1,) * (real.dim() - 1)
    x_hat = torch.lerp(real.detach().float(), fake.detach().float(),
                       alpha.float().view(shape)).requires_grad_(True)
    grad = _input_grad(d(x_hat), x_hat)
    return lam * (grad.flatten(1).norm(dim=1) - 1).square().mean()
