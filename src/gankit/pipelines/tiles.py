"""Tiled inference with overlap blending, for images too large to process in one call.

Super-resolution or inpainting of a 4,096 px image by a fully convolutional generator needs
activation memory proportional to the image; `tiled` runs the generator on tiles of a fixed
size instead, so peak memory depends on `tile` only. Neighbouring tiles overlap by at least
2 * overlap input pixels, and each tile's output is weighted by a separable window that is
0 on the `overlap // 2` pixels next to an inner tile edge (where the tile lacks context),
then ramps linearly to 1 (so seams are feathered), and is 1 up to the image's own borders.
The sum of the weighted outputs is divided by the sum of the weights.

If fn's output at a pixel depends only on inputs within overlap // 2 pixels of it (a
receptive field of at most 2 * (overlap // 2) + 1), the result equals `untiled` up to float
rounding; a generator with a larger receptive field (a U-Net) gives a blend without visible
seams. Runs under torch.no_grad(): inference only. The tile option of Real-ESRGAN's
inference script (Wang et al. 2021) does the same but crops the overlaps instead of
blending them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

from gankit.errors import GankitError

NORM_ROWS = 256  # output rows normalised at a time
ImageFn = Callable[[torch.Tensor], torch.Tensor]  # (N, C, h, w) -> (N, C', h*s, w*s)


class Padded(NamedTuple):
    """An image padded at the bottom and right, and its size (H, W) before padding."""

    image: torch.Tensor
    size: tuple[int, int]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> Padded:
    """Pad H and W of x up to multiples of `multiple` by reflection (by replication when the
    image is too small to reflect), so a net with total stride `multiple` accepts it."""
    if multiple < 1:
        raise GankitError(f"multiple must be >= 1 (got {multiple})")
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return Padded(x, (h, w))


@torch.no_grad()
def untiled(fn: ImageFn, x: torch.Tensor, multiple: int = 1, scale: int = 1) -> torch.Tensor:
    """fn on the whole image: pad to `multiple`, apply, crop to (H * scale, W * scale)."""
    padded, (h, w) = pad_to_multiple(x, multiple)
    return fn(padded)[..., : h * scale, : w * scale].float()


def _starts(size: int, tile: int, step: int) -> list[int]:
    """Tile origins along one axis: every `step`, the last one flush with the far edge."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, step))
    return [*starts, size - tile]


def _window(length: int, scale: int, overlap: int, inner_lo: bool, inner_hi: bool,
            device: torch.device) -> torch.Tensor:
    """1-D blending weights over a tile's `length * scale` output pixels.

    At an inner edge (one shared with another tile) the weight is 0 for the first
    overlap // 2 input pixels, then rises linearly to 1 at 2 * overlap - overlap // 2; at an
    image border it stays 1. Measured at output pixel centres, in input pixels.
    """
    u = (torch.arange(length * scale, device=device, dtype=torch.float32) + 0.5) / scale
    w = torch.ones_like(u)
    if overlap == 0:
        return w
    margin = overlap // 2
    if inner_lo:
        w = w * ((u - margin) / (2 * overlap - 2 * margin)).clamp(0, 1)
    if inner_hi:
        w = w * ((length - u - margin) / (2 * overlap - 2 * margin)).clamp(0, 1)
    return w


@torch.no_grad()
def tiled(fn: ImageFn, x: torch.Tensor, tile: int, overlap: int, scale: int = 1,
          multiple: int = 1) -> torch.Tensor:
    """fn applied to x (N, C, H, W) tile by tile -> float32 (N, C', H * scale, W * scale).

    tile: side of the input tiles (clamped to the image), a multiple of `multiple` and at
    least 2 * overlap + multiple; overlap: tiles share at least 2 * overlap input pixels;
    scale: output pixels per input pixel of fn; multiple: fn's total stride (the image is
    padded to it, and tiles start at multiples of it, so a strided net sees the same grid).
    """
    if overlap < 0 or scale < 1 or multiple < 1:
        raise GankitError(f"tiled: need overlap >= 0, scale >= 1, multiple >= 1 (got overlap="
                          f"{overlap}, scale={scale}, multiple={multiple})")
    if tile % multiple or tile < 2 * overlap + multiple:
        raise GankitError(f"tiled: tile={tile} must be a multiple of {multiple} and at least "
                          f"2 * overlap + {multiple} = {2 * overlap + multiple}")
    padded, (h, w) = pad_to_multiple(x, multiple)
    sizes = padded.shape[-2:]
    tiles = [min(tile, s) for s in sizes]
    step = (tile - 2 * overlap) // multiple * multiple
    ys, xs = (_starts(s, t, step) for s, t in zip(sizes, tiles))
    wys, wxs = ([_window(t, scale, overlap, o > 0, o + t < s, x.device) for o in starts]
                for s, t, starts in zip(sizes, tiles, (ys, xs)))
    (th, tw), out = tiles, None
    for y0, wy in zip(ys, wys):
        for x0, wx in zip(xs, wxs):
            y = fn(padded[..., y0 : y0 + th, x0 : x0 + tw]).float().to(x.device)
            if y.shape[-2:] != (th * scale, tw * scale):
                raise GankitError(f"tiled: fn turned a {th}x{tw} tile into {y.shape[-2]}x"
                                  f"{y.shape[-1]}; expected {th * scale}x{tw * scale} "
                                  f"(scale={scale})")
            if out is None:
                out = torch.zeros(*y.shape[:2], sizes[0] * scale, sizes[1] * scale,
                                  device=x.device)
            out[..., y0 * scale : (y0 + th) * scale, x0 * scale : (x0 + tw) * scale] += (
                y * wy[:, None] * wx[None, :])
    # the windows are separable and the tiles a grid, so the weight sum is an outer product
    norm = [torch.zeros(s * scale, device=x.device) for s in sizes]
    for total, starts, wins, t in zip(norm, (ys, xs), (wys, wxs), tiles):
        for o, win in zip(starts, wins):
            total[o * scale : (o + t) * scale] += win
    assert out is not None
    for r in range(0, out.shape[-2], NORM_ROWS):  # in place, by row bands: no full-size temporary
        out[..., r : r + NORM_ROWS, :].div_(norm[0][r : r + NORM_ROWS, None] * norm[1][None, :])
    return out[..., : h * scale, : w * scale]
