"""Image output without torchvision: sample grids, single PNGs and 2-D scatter plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from gankit.errors import GankitError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")  # what grids and plots are written as


def check_image_path(path: str | Path, what: str = "--out") -> Path:
    """Refuse, before any work, an image output path whose suffix Pillow is not asked to write."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise GankitError(f"{what} {path}: an image file needs one of the suffixes "
                          f"{', '.join(IMAGE_SUFFIXES)}")
    return path


def make_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 (N, C, H, W) -> one uint8 (H', W', C) mosaic, `nrow` images per row."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    grid = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.uint8)
    arr = images.permute(0, 2, 3, 1).cpu().numpy()
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = arr[i]
    return grid


def save_array(arr: np.ndarray, path: str | Path) -> None:
    """uint8 (H, W, C) with C in {1, 3} -> image file (format from the suffix)."""
    path = Path(path)
    img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
    except (ValueError, KeyError, OSError) as exc:  # unknown suffix, disk full, not writable
        raise GankitError(f"cannot write image {path}: {exc}") from None


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> None:
    save_array(make_grid(images, nrow), path)


def scatter(points: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None,
            size: int = 512) -> None:
    """2-D points (blue) over optional reference points (grey) as a PNG, axes auto-scaled.

    Points with more than 2 coordinates are drawn by their first two; 1-D points on a line.
    """
    def plane(p: torch.Tensor) -> torch.Tensor:  # (N, 2), non-finite points left out
        p = p.detach().float().cpu().flatten(1)
        p = torch.cat([p, torch.zeros_like(p)], 1) if p.shape[1] == 1 else p[:, :2]
        return p[torch.isfinite(p).all(1)]

    pts = plane(points)
    reference = None if reference is None else plane(reference)
    allp = pts if reference is None else torch.cat([pts, reference])
    if len(allp) == 0:
        allp = torch.tensor([[-1.0, -1.0], [1.0, 1.0]])
    lo, hi = allp.min(0).values, allp.max(0).values
    centre, half = (lo + hi) / 2, ((hi - lo).max() / 2 * 1.1).clamp_min(1e-6)
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)

    def to_px(p: torch.Tensor) -> np.ndarray:
        q = (p - centre) / half
        return np.stack([(q[:, 0] + 1) * size / 2, (1 - q[:, 1]) * size / 2], 1)

    if reference is not None:
        for x, y in to_px(reference):
            draw.ellipse([x - 1, y - 1, x + 1, y + 1], fill=(170, 170, 170))
    for x, y in to_px(pts):
        draw.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=(30, 90, 200))
    save_array(np.asarray(img), path)
