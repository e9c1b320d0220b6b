"""Data-level augmentation: random crop after zero padding and random horizontal flip.

These are the classic classifier-style augmentations (e.g. the CIFAR recipe of He et al. 2016,
"Deep Residual Learning for Image Recognition": pad 4, random 32x32 crop, random flip). They
change the data distribution the generator learns, so use them only where that is wanted (the
flip is the usual safe one). They work on any dtype (uint8 or float), batched, and draw all
randomness on the CPU from the caller's generator so a resumed run repeats them exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.errors import GankitError


def shift_images(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """Move each image by whole pixels, filling what comes in from outside with 0.

    `out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]]` (0 where that is outside the image):
    one gather per axis for the whole batch, so it is differentiable w.r.t. `x` and works for
    any shift size and dtype. `dy`, `dx` are integer tensors of shape (N,).
    """
    n, c, h, w = x.shape
    dy = dy.to(device=x.device, dtype=torch.long).view(n, 1, 1, 1)
    dx = dx.to(device=x.device, dtype=torch.long).view(n, 1, 1, 1)
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1) - dy  # (N, 1, H, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w) - dx  # (N, 1, 1, W)
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (N, 1, H, W)
    out = x.gather(2, rows.clamp(0, h - 1).expand(n, c, h, w))
    out = out.gather(3, cols.clamp(0, w - 1).expand(n, c, h, w))
    return torch.where(inside, out, torch.zeros((), dtype=x.dtype, device=x.device))


def random_crop(x: Tensor, pad: int, gen: torch.Generator) -> Tensor:
    """Zero-pad each side by `pad` px and crop back to (H, W) at a random offset per sample.

    Cropping at offset o in [0, 2 * pad] of the padded image is the same as shifting the
    image by pad - o, so this is `shift_images` with shifts drawn uniformly in [-pad, pad].
    Always draws 2 * N integers (rows, then columns) from `gen`, even for pad = 0.
    """
    if pad < 0:
        raise GankitError(f"random_crop: pad must be >= 0 pixels, got {pad}")
    n = x.shape[0]
    dy = torch.randint(-pad, pad + 1, (n,), generator=gen)
    dx = torch.randint(-pad, pad + 1, (n,), generator=gen)
    return shift_images(x, dy, dx)


def random_flip(x: Tensor, gen: torch.Generator) -> Tensor:
    """Mirror each image left-right with probability 0.5 (draws N uniforms from `gen`)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    flip = flip.to(x.device).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)
