"""Gradient regularisers of D, pure functions that return a penalty tensor.

R1 (Mescheder et al. 2018; StyleGAN2's loss.py): (gamma / 2) * E[ |grad_x D(x)|^2 ] on reals,
the squared norm summed over all non-batch dimensions.
WGAN-GP (Gulrajani et al. 2017): lambda * E[ (|grad D(x_hat)|_2 - 1)^2 ] with
x_hat = x + alpha (G(z) - x), alpha ~ U(0, 1) per sample.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor, gamma: float) -> torch.Tensor:
    """`real` must have requires_grad=True and `real_logits` must come from it."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return 0.5 * gamma * grad.float().square().flatten(1).sum(1).mean()


def gradient_penalty(d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, alpha: torch.Tensor, lam: float) -> torch.Tensor:
    """alpha: (N,) in [0, 1]; D is evaluated on the interpolates x_hat."""
    shape = (-1,) + (1,) * (real.dim() - 1)
    x_hat = torch.lerp(real.detach(), fake.detach(), alpha.view(shape)).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
    return lam * (grad.float().flatten(1).norm(dim=1) - 1).square().mean()
