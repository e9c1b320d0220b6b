"""DiffAugment: differentiable augmentation applied to both real and fake images for D.

Follows Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"
(arXiv:2006.10738) and the magnitudes of its official code (mit-han-lab/data-efficient-gans):
  color       brightness + U(-0.5, 0.5); saturation x (U(0, 2)) around the per-pixel channel
              mean; contrast x U(0.5, 1.5) around the per-image mean (in that order).
  translation whole-pixel shift of up to round(size / 8) in each axis, filled with 0.
  cutout      a square of side round(size / 2) at a random centre set to 0.
Images are (N, C, H, W) in [-1, 1]. Colour may leave that range (as in the paper); nothing
is clamped. All randomness is drawn on the CPU from the caller's generator, a fixed number of
draws per policy in a fixed order (never depending on the pixel values), so restoring the
generator's state reproduces the augmentation exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.augment.data import shift_images
from gankit.errors import GankitError

DIFFAUG_POLICIES: tuple[str, ...] = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # largest shift as a fraction of the image size (paper: 1/8)
CUTOUT_RATIO = 0.5  # side of the cut square as a fraction of the image size (paper: 1/2)


def parse_policy(text: str) -> tuple[str, ...]:
    """Turn "color,translation,cutout" into a tuple of names; "" or "none" means no policy.

    Unknown names fail here, at config time, rather than in the middle of a training step.
    """
    text = text.strip().lower()
    if text in ("", "none"):
        return ()
    names = tuple(part.strip() for part in text.split(","))
    for name in names:
        if name not in DIFFAUG_POLICIES:
            raise GankitError(f"aug.policy: {name!r} is not allowed; choose a comma-separated "
                              "list of: " + ", ".join(DIFFAUG_POLICIES) + " (or none)")
    return names


def _uniform(gen: torch.Generator, n: int, like: Tensor) -> Tensor:
    """N uniforms in [0, 1) drawn on the CPU, then moved to x's device/dtype as (N, 1, 1, 1)."""
    u = torch.rand(n, generator=gen, dtype=torch.float32)
    return u.to(device=like.device, dtype=like.dtype).view(n, 1, 1, 1)


def _color(x: Tensor, gen: torch.Generator) -> Tensor:
    """Brightness, saturation, contrast; 3 x N uniforms. Saturation is a no-op for C = 1
    (the channel mean of one channel is the pixel itself) but is still drawn."""
    n = x.shape[0]
    x = x + (_uniform(gen, n, x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(gen, n, x) * 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(gen, n, x) + 0.5) + mean


def _translation(x: Tensor, gen: torch.Generator) -> Tensor:
    """Shift by an integer in [-s, s] per axis, s = round(size / 8); 2 x N integers.

    The official code pads with 0 (`F.pad` default) before indexing, so the cut-in border is
    0, i.e. mid-grey in the [-1, 1] range; we follow it.
    """
    n, _, h, w = x.shape
    sy, sx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy = torch.randint(-sy, sy + 1, (n,), generator=gen)
    dx = torch.randint(-sx, sx + 1, (n,), generator=gen)
    return shift_images(x, dy, dx)


def _cutout(x: Tensor, gen: torch.Generator) -> Tensor:
    """Zero a square of side round(size / 2); 2 x N integers (centre row, centre column).

    As in the official code the centre ranges over [0, size] (even side) or [0, size - 1]
    (odd side), so the square is clipped at the edges but at least half of it is inside.
    """
    n, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    cy = torch.randint(0, h + 1 - ch % 2, (n,), generator=gen)
    cx = torch.randint(0, w + 1 - cw % 2, (n,), generator=gen)
    top = (cy - ch // 2).to(x.device).view(n, 1, 1, 1)
    left = (cx - cw // 2).to(x.device).view(n, 1, 1, 1)
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w)
    cut = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return torch.where(cut, torch.zeros((), dtype=x.dtype, device=x.device), x)


_POLICY_FNS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: Tensor, policy: tuple[str, ...] | str, gen: torch.Generator) -> Tensor:
    """Apply each policy in order to every image of the batch (differentiable w.r.t. x).

    Use the same call on real and fake batches before D, as the paper does. `gen` must be a
    CPU generator; per policy it gives color 3N, translation 2N, cutout 2N draws.
    """
    names = parse_policy(policy) if isinstance(policy, str) else tuple(policy)
    for name in names:
        if name not in _POLICY_FNS:
            raise GankitError(f"aug.policy: {name!r} is not allowed; choose from: "
                              + ", ".join(DIFFAUG_POLICIES))
        x = _POLICY_FNS[name](x, gen)
    return x
