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

Path-length regularisation of G (StyleGAN2, Karras et al. 2020, eq. 4; training/loss.py of
stylegan2-ada-pytorch): E[ (|J_z^T y|_2 - a)^2 ] with y ~ N(0, I) / sqrt(H W) and a the
running mean of the lengths. Coupled L2 weight decay and gradient-norm clipping sit here too:
they are the other terms and tools a step applies to a net's parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch


def _input_grad(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(logits.float().sum(), x, create_graph=True)
    return grad.float()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor, gamma: float) -> torch.Tensor:
    """`real` must have requires_grad=True and `real_logits` must come from it.

    With PacGAN packing D gives one logit per pack of m samples: the penalty is then
    |grad of the pack's logit w.r.t. the whole pack|^2 averaged over packs (m times the
    per-sample mean), so gamma means the same with and without packing."""
    grad = _input_grad(real_logits, real)
    per_sample = grad.square().flatten(1).sum(1)
    m = real.shape[0] // real_logits.shape[0]
    return 0.5 * gamma * (per_sample.mean() if m == 1 else per_sample.mean() * m)


def gradient_penalty(d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, alpha: torch.Tensor, lam: float) -> torch.Tensor:
    """alpha: (N,) in [0, 1]; D is evaluated on the float32 interpolates x_hat."""
    shape = (-1,) + (1,) * (real.dim() - 1)
    x_hat = torch.lerp(real.detach().float(), fake.detach().float(),
                       alpha.float().view(shape)).requires_grad_(True)
    grad = _input_grad(d(x_hat), x_hat)
    return lam * (grad.flatten(1).norm(dim=1) - 1).square().mean()


def path_length_noise(fake: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """StyleGAN2's y: float32 N(0, 1) noise shaped like `fake`, divided by sqrt(H * W).

    H * W is the product of the dimensions after the channels (1 for (N, D) outputs), so
    the expected |y . G(z)| does not grow with the resolution. `gen` must live on fake's
    device; drawing here keeps `path_length_penalty` itself deterministic.
    """
    pixels = math.prod(fake.shape[2:])
    noise = torch.randn(fake.shape, generator=gen, device=fake.device, dtype=torch.float32)
    return noise / math.sqrt(pixels)


def path_length_penalty(fake: torch.Tensor, z: torch.Tensor, pl_mean: torch.Tensor | float,
                        noise: torch.Tensor, decay: float = 0.01
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """StyleGAN2's path-length penalty; returns (penalty, new_pl_mean).

    fake = G(z) with z.requires_grad; noise from `path_length_noise` (the caller draws it).
    lengths_i = |grad_z sum(fake * noise)|_i, the norm over all latent dims of sample i;
    new_pl_mean = pl_mean + decay * (mean(lengths) - pl_mean) (returned detached, for the
    caller's state); penalty = mean_i (lengths_i - new_pl_mean)^2, with the gradient flowing
    through the new mean as in the reference. Computed in float32, so bf16 G outputs are fine.
    Unweighted: the caller multiplies by pl_weight * (lazy interval), e.g. 2 * 4 in StyleGAN2
    (its pl_batch_shrink, a smaller batch for this term, is the caller's choice too).
    """
    (grad,) = torch.autograd.grad((fake.float() * noise.float()).sum(), z, create_graph=True)
    lengths = grad.float().flatten(1).square().sum(1).sqrt()
    pl_mean = torch.as_tensor(pl_mean, dtype=torch.float32, device=lengths.device)
    new_mean = pl_mean + decay * (lengths.mean() - pl_mean)
    penalty = (lengths - new_mean).square().mean()
    return penalty, new_mean.detach()


def weight_decay_penalty(params: Iterable[torch.Tensor], beta: float) -> torch.Tensor:
    """Coupled L2 weight decay: beta * sum_theta |theta|^2 (float32 scalar).

    Added to the loss, so its gradient 2 * beta * theta passes through Adam's moment
    estimates and is rescaled per parameter, like torch Adam(weight_decay=2 * beta). This
    is NOT decoupled decay (AdamW, Loshchilov & Hutter 2019), which shrinks the weights
    directly in the optimiser step, outside the gradient; use the optimiser for that.
    """
    sq = [p.float().square().sum() for p in params]
    if not sq:
        return torch.zeros(())
    return beta * torch.stack(sq).sum()


def clip_grad_norm(params: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale the gradients in place so their global L2 norm is at most max_norm.

    Returns the norm before clipping as a float32 tensor on the gradients' device, with no
    host sync (the scale min(1, max_norm / (norm + 1e-6)) is applied on the device, by
    torch's foreach kernels where the device has them). A non-finite norm is returned as
    is, for the caller's health checks. Parameters without a gradient are skipped.
    """
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.nn.utils.clip_grad_norm_(grads, max_norm, foreach=None)
    return norm.float()
