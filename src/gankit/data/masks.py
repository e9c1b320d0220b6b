"""Inpainting masks: random rectangles, free-form brush strokes, masks read from image files.

A mask is float32 (N, 1, H, W) with 1 = hole (to be filled) and 0 = known pixel. Free-form
strokes follow Yu et al. 2019, "Free-Form Image Inpainting with Gated Convolution" (DeepFill v2,
Algorithm 1): per stroke a random start point, then a random number of vertices, each at a
random angle and length from the last, joined by line segments of one random brush width.

Every random number comes from the `torch.Generator` passed in, and each call draws a fixed
count of them that depends only on its arguments (strokes and vertices are drawn at their
maximum count and the unused ones masked out), so a sampler's generator state after a call is
the same whatever masks came out, and a resumed run draws exactly the masks of an unbroken one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gankit.errors import GankitError

MASK_KINDS = ("rect", "stroke", "mixed")


def _check_size(fn: str, n: int, height: int, width: int) -> None:
    if not isinstance(n, int) or n < 0:
        raise GankitError(f"{fn}: n must be an integer >= 0, got {n!r}")
    for name, side in (("height", height), ("width", width)):
        if not isinstance(side, int) or side < 1:
            raise GankitError(f"{fn}: {name} must be an integer >= 1, got {side!r}")


def _check_frac(fn: str, name: str, value: float, low_open: bool = True) -> None:
    ok = (0 < value <= 1) if low_open else (0 <= value <= 1)
    if not ok:
        allowed = "(0, 1]" if low_open else "[0, 1]"
        raise GankitError(f"{fn}: {name} must be in {allowed}, got {value!r}")


def rect_masks(n: int, height: int, width: int, gen: torch.Generator,
               min_frac: float = 0.25, max_frac: float = 0.5) -> torch.Tensor:
    """One axis-aligned rectangular hole per image, (n, 1, height, width) float32.

    Each side is uniform in [min_frac, max_frac] of the image side (rounded to whole pixels,
    at least 1), and the position uniform over the places where the rectangle fits.
    Draws exactly 4 n uniforms from `gen`.
    """
    _check_size("rect_masks", n, height, width)
    _check_frac("rect_masks", "min_frac", min_frac)
    _check_frac("rect_masks", "max_frac", max_frac)
    if min_frac > max_frac:
        raise GankitError(f"rect_masks: min_frac={min_frac!r} must be <= max_frac={max_frac!r}")
    u = torch.rand(n, 4, generator=gen, dtype=torch.float64)
    sides = torch.tensor([height, width], dtype=torch.float64)
    frac = min_frac + u[:, :2] * (max_frac - min_frac)  # (n, 2): height, width fractions
    size = (frac * sides).round().clamp(min=1).minimum(sides)
    start = (u[:, 2:] * (sides - size + 1)).floor().minimum(sides - size)  # top, left
    rows = torch.arange(height, dtype=torch.float64)
    cols = torch.arange(width, dtype=torch.float64)
    in_rows = (rows >= start[:, :1]) & (rows < start[:, :1] + size[:, :1])  # (n, H)
    in_cols = (cols >= start[:, 1:]) & (cols < start[:, 1:] + size[:, 1:])  # (n, W)
    return (in_rows[:, :, None] & in_cols[:, None, :]).float().unsqueeze(1)


def _segment_distance(py: torch.Tensor, px: torch.Tensor, a: torch.Tensor,
                      b: torch.Tensor) -> torch.Tensor:
    """Distance from pixel centres py (K, h, 1), px (K, 1, w) to the K segments a-b, a and b
    (K, 2) as (y, x): (K, h, w). A zero-length segment gives the distance to its point."""
    d = b - a
    ay, ax = a[:, 0, None, None], a[:, 1, None, None]
    dy, dx = d[:, 0, None, None], d[:, 1, None, None]
    length2 = (dy * dy + dx * dx).clamp(min=1e-12)
    t = (((py - ay) * dy + (px - ax) * dx) / length2).clamp(0, 1)  # nearest point's parameter
    return torch.hypot(py - ay - t * dy, px - ax - t * dx)


def _draw_segments(hole: torch.Tensor, img: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                   radius: torch.Tensor, window: tuple[int, int]) -> None:
    """Set hole (n, H, W) to True within `radius` (K,) of K segments a-b (K, 2), segment k
    in image img[k]. Distances are computed only in a (wh, ww) window around each segment
    that holds all of it, not over the whole image."""
    height, width = hole.shape[1:]
    wh, ww = window
    sides = torch.tensor([height - wh, width - ww], dtype=a.dtype)
    lo = (torch.minimum(a, b) - radius[:, None]).floor().clamp(min=0).minimum(sides)
    rows = lo[:, :1] + torch.arange(wh, dtype=a.dtype)  # (K, wh) pixel indices
    cols = lo[:, 1:] + torch.arange(ww, dtype=a.dtype)  # (K, ww)
    dist = _segment_distance(rows[:, :, None] + 0.5, cols[:, None, :] + 0.5, a, b)
    inside = dist <= radius[:, None, None]
    flat = (img[:, None, None] * (height * width) + rows.long()[:, :, None] * width
            + cols.long()[:, None, :])
    hole.view(-1)[flat[inside]] = True  # repeated indices all write True: order-free


def stroke_masks(n: int, height: int, width: int, gen: torch.Generator, max_strokes: int = 4,
                 max_vertices: int = 8, max_width_frac: float = 0.1,
                 max_len_frac: float = 0.3) -> torch.Tensor:
    """Free-form brush-stroke holes (DeepFill v2, Algorithm 1), (n, 1, height, width) float32.

    Per image 1..max_strokes strokes. A stroke starts at a uniform point and takes
    1..max_vertices steps, each at a uniform angle in [0, 2 pi) and a length uniform in
    [0, max_len_frac] of the shorter image side; vertices are clipped to the image (as the
    DeepFill v2 release does) so strokes stay visible. The brush width is uniform in
    [max_width_frac / 4, max_width_frac] of the shorter side, at least 2 px so that even a
    zero-length step covers a pixel. A pixel is a hole where its centre lies within half the
    width of a segment, which also gives round joints and caps.

    Draws exactly n (1 + max_strokes (4 + 2 max_vertices)) uniforms from `gen`.
    """
    _check_size("stroke_masks", n, height, width)
    for name, v in (("max_strokes", max_strokes), ("max_vertices", max_vertices)):
        if not isinstance(v, int) or v < 1:
            raise GankitError(f"stroke_masks: {name} must be an integer >= 1, got {v!r}")
    _check_frac("stroke_masks", "max_width_frac", max_width_frac)
    _check_frac("stroke_masks", "max_len_frac", max_len_frac, low_open=False)
    s, v = max_strokes, max_vertices
    u_count = torch.rand(n, 1, generator=gen, dtype=torch.float64)
    u_stroke = torch.rand(n, s, 4, generator=gen, dtype=torch.float64)  # verts, y, x, width
    u_step = torch.rand(n, s, v, 2, generator=gen, dtype=torch.float64)  # angle, length

    short = min(height, width)
    used_strokes = (u_count * s).floor() + 1  # (n, 1) in 1..s
    used_steps = (u_stroke[..., 0] * v).floor() + 1  # (n, s) in 1..v
    stroke_on = torch.arange(s, dtype=torch.float64) < used_strokes  # (n, s)
    step_on = torch.arange(v, dtype=torch.float64) < used_steps[..., None]  # (n, s, v)
    step_on &= stroke_on[..., None]
    max_w = max_width_frac * short
    radius = (max_w * (0.25 + 0.75 * u_stroke[..., 3])).clamp(min=2.0) / 2  # (n, s)

    # Vertices: a short loop over steps, clipping each vertex into the image.
    hi = torch.tensor([height, width], dtype=torch.float64)
    angle = 2 * math.pi * u_step[..., 0]
    step = max_len_frac * short * u_step[..., 1, None] * torch.stack(
        [torch.sin(angle), torch.cos(angle)], dim=-1)  # (n, s, v, 2) as (dy, dx)
    verts = [u_stroke[..., 1:3] * hi]  # start points (n, s, 2)
    for j in range(v):
        verts.append(torch.minimum((verts[-1] + step[:, :, j]).clamp(min=0), hi))
    pts = torch.stack(verts, dim=2)  # (n, s, v + 1, 2)

    # Rasterise only the segments in use, each within a window that holds it.
    r_max = max(max_w, 2.0) / 2
    reach = math.ceil(max_len_frac * short + 2 * r_max) + 2
    window = (min(height, reach), min(width, reach))
    img, si, vi = step_on.nonzero(as_tuple=True)
    a, b, r = pts[img, si, vi], pts[img, si, vi + 1], radius[img, si]
    hole = torch.zeros(n, height, width, dtype=torch.bool)
    chunk = max(1, 2**21 // (window[0] * window[1]))  # bounds the memory of one pass
    for k in range(0, len(img), chunk):
        sl = slice(k, k + chunk)
        _draw_segments(hole, img[sl], a[sl], b[sl], r[sl], window)
    return hole.float().unsqueeze(1)


def mixed_masks(n: int, h: int, w: int, gen: torch.Generator, kind: str) -> torch.Tensor:
    """Masks of one kind in MASK_KINDS, (n, 1, h, w) float32, with each kind's defaults.

    "mixed": n // 2 images get rectangles and n // 2 strokes, which ones chosen at random (an
    odd n's last one too); draws n + 1 uniforms for the choice, then both kinds for all n
    images, so the count of draws does not depend on the choice.
    """
    if kind not in MASK_KINDS:
        raise GankitError(f"mask kind {kind!r} is unknown; allowed: {', '.join(MASK_KINDS)}")
    if kind == "rect":
        return rect_masks(n, h, w, gen)
    if kind == "stroke":
        return stroke_masks(n, h, w, gen)
    _check_size("mixed_masks", n, h, w)
    u = torch.rand(n + 1, generator=gen, dtype=torch.float64)
    rank = u[:n].argsort().argsort()  # a uniform random permutation's ranks
    is_rect = (rank < n // 2) | ((rank == n // 2) & (n % 2 == 1) & (u[n] < 0.5))
    rect, stroke = rect_masks(n, h, w, gen), stroke_masks(n, h, w, gen)
    return torch.where(is_rect[:, None, None, None], rect, stroke)


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """A mask from an image file, (1, 1, H, W) float32: grey value > 127 (white) = hole.

    size: the (H, W) of the image it goes with; a mask of another size is an error rather
        than resized, since resizing would move the hole's edge. None = accept any size.
    """
    try:
        with Image.open(path) as img:
            grey = np.asarray(img.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise GankitError(f"cannot read mask {path}: {exc}") from None
    mh, mw = grey.shape
    if size is not None and (mh, mw) != tuple(size):
        raise GankitError(f"{path}: mask is {mw}x{mh}, the image is {size[1]}x{size[0]}; "
                          "they must match")
    return torch.from_numpy(grey > 127).float()[None, None]


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The masked image x * (1 - mask): holes set to 0, mid-grey for images in [-1, 1].

    x (N, C, H, W); mask (N, 1, H, W) or (1, 1, H, W), broadcast over channels.
    """
    _check_pair("apply_mask", x, mask)
    return x * (1 - mask)


def composite(x_known: torch.Tensor, x_filled: torch.Tensor,
              mask: torch.Tensor) -> torch.Tensor:
    """x_known where mask is 0 and x_filled where it is 1, as x_known (1 - m) + x_filled m.

    Known pixels are copied with torch.where, so they are bit-identical to x_known (an
    arithmetic blend can differ in the last bit, and turns inf into NaN); hole pixels of a
    0/1 mask are exactly x_filled (torch.lerp is exact at weight 1).
    """
    _check_pair("composite", x_known, mask)
    if x_filled.shape != x_known.shape:
        raise GankitError(f"composite: x_filled is {tuple(x_filled.shape)}, x_known is "
                          f"{tuple(x_known.shape)}; they must match")
    mask = mask.to(x_known.dtype)
    return torch.where(mask == 0, x_known, torch.lerp(x_known, x_filled, mask))


def _check_pair(fn: str, x: torch.Tensor, mask: torch.Tensor) -> None:
    ok = (x.dim() == 4 and mask.dim() == 4 and mask.shape[1] == 1
          and mask.shape[0] in (1, x.shape[0]) and mask.shape[2:] == x.shape[2:])
    if not ok:
        raise GankitError(f"{fn}: mask is {tuple(mask.shape)}, the image is {tuple(x.shape)}; "
                          "the mask must be (N, 1, H, W) or (1, 1, H, W) for images (N, C, H, W)")
