"""PSNR and SSIM of one restored image against its target, as restoration papers report them.

Conventions of the super-resolution literature (EDSR, Lim et al. 2017; BasicSR's
`calculate_psnr` / `calculate_ssim`): optionally score only the luma Y of MATLAB's `rgb2ycbcr`
(ITU-R BT.601, Y in [16, 235] / 255), and crop `border` pixels (the upscaling factor) from every
side first. SSIM is Wang et al. 2004, "Image Quality Assessment: From Error Visibility to
Structural Similarity", with its settings: an 11-tap Gaussian window of sigma 1.5, population
covariances, K1 = 0.01, K2 = 0.03, data range 1, computed by `skimage.metrics.
structural_similarity` (per channel, then averaged). For inpainting, a mask restricts either
score to the pixels of a hole.

Images: one image per call, a numpy array or torch tensor of shape (C, H, W) with C = 1 or 3
(channels first, as everywhere in gankit) or (H, W) for grey; float values in [0, 1], or uint8
in [0, 255] (divided by 255). Images in [-1, 1] must be mapped first: (x + 1) / 2. All
arithmetic is in float64; Y is not rounded to whole levels (as BasicSR, unlike MATLAB on uint8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from skimage.metrics import structural_similarity

from gankit.errors import GankitError

ImageLike = np.ndarray | torch.Tensor

SSIM_SIGMA = 1.5  # Gaussian window's standard deviation in pixels (Wang et al. 2004)
SSIM_WIN = 11  # the window's side in pixels: skimage's 2 int(3.5 sigma + 0.5) + 1


def _to_array(x: ImageLike, name: str) -> np.ndarray:
    """An image as float64 (C, H, W) in [0, 1]."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        arr = (x if x.dtype == torch.uint8 else x.double()).numpy()
    elif isinstance(x, np.ndarray):
        arr = x
    else:
        raise GankitError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[0] in (1, 3))):
        raise GankitError(f"{name} has shape {arr.shape}; allowed: (C, H, W) with C = 1 or 3, "
                          "or (H, W)")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float64) / 255.0
    elif np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise GankitError(f"{name} holds NaN or infinite values")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise GankitError(f"{name} holds values in [{arr.min():.4g}, {arr.max():.4g}]; "
                              "allowed: [0, 1] (clamp, or map [-1, 1] by (x + 1) / 2)")
    else:
        raise GankitError(f"{name} has dtype {arr.dtype}; allowed: float in [0, 1] or uint8")
    return arr[None] if arr.ndim == 2 else arr


def _luma(x: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (1, H, W): BT.601 Y for RGB, unchanged for grey."""
    if x.shape[0] == 1:
        return x
    r, g, b = x
    return ((16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0)[None]


def rgb_to_y(x: ImageLike) -> np.ndarray:
    """The luma of SR papers, float64 (H, W): MATLAB rgb2ycbcr's (ITU-R BT.601)
    Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in [0, 1].

    Grey input (1, H, W) or (H, W) passes through unchanged (as (H, W)).
    """
    return _luma(_to_array(x, "image"))[0]


def _prepare(a: ImageLike, b: ImageLike, border: int, y_channel: bool,
             mask: ImageLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Both images as float64 (C, H, W), Y only if asked, cropped; the mask as bool (H, W)."""
    x, y = _to_array(a, "pred"), _to_array(b, "target")
    if x.shape != y.shape:
        raise GankitError(f"pred is {x.shape[1:]} with {x.shape[0]} channels, target is "
                          f"{y.shape[1:]} with {y.shape[0]} channels; they must match")
    h, w = x.shape[1:]
    if not isinstance(border, int) or border < 0 or 2 * border >= min(h, w):
        raise GankitError(f"border must be an integer >= 0 that leaves pixels of the {h}x{w} "
                          f"image (< {(min(h, w) + 1) // 2}), got {border!r}")
    if y_channel:
        x, y = _luma(x), _luma(y)
    crop = (slice(None), slice(border, h - border), slice(border, w - border))
    m = None
    if mask is not None:
        m = _to_mask(mask, (h, w))[crop[1:]]
        if not m.any():
            raise GankitError(f"mask has no pixel to score (after cropping border={border})")
    return x[crop], y[crop], m


def _to_mask(mask: ImageLike, size: tuple[int, int]) -> np.ndarray:
    """A 0/1 or bool mask (H, W), also (1, H, W) or (1, 1, H, W) as gankit.data.masks makes."""
    m = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    shape = m.shape
    while m.ndim > 2 and m.shape[0] == 1:
        m = m[0]
    if m.shape != size:
        raise GankitError(f"mask has shape {shape}; the image is {size[0]}x{size[1]} "
                          "(H x W), so the mask must be (H, W), (1, H, W) or (1, 1, H, W)")
    if m.dtype != bool and not np.isin(m, (0, 1)).all():
        raise GankitError("mask must hold only 0 and 1 (or bool), 1 = pixel that counts")
    return m.astype(bool)


def psnr(a: ImageLike, b: ImageLike, border: int = 0, y_channel: bool = False,
         mask: ImageLike | None = None) -> float:
    """10 log10(1 / MSE) in dB for data range 1; inf for identical images.

    border: pixels cropped from every side first (SR papers crop the scale factor); 0 = none.
    y_channel: score BT.601 luma only (rgb_to_y); grey images are unaffected.
    mask: (H, W) bool or 0/1, 1 = pixel counts (e.g. an inpainting hole); the MSE is the mean
        over those pixels and all channels. None = every pixel.
    """
    x, y, m = _prepare(a, b, border, y_channel, mask)
    err = (x - y) ** 2
    mse = float(err[:, m].mean() if m is not None else err.mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim(a: ImageLike, b: ImageLike, border: int = 0, y_channel: bool = False,
         mask: ImageLike | None = None) -> float:
    """Mean SSIM (Wang et al. 2004 settings, module docstring); 1.0 for identical images.

    border, y_channel: as in psnr. Without a mask, skimage's mean: the SSIM map averaged
    over channels and over pixels at least (win - 1) / 2 = 5 from the edge, like the 'valid'
    map of Wang et al.'s MATLAB ssim_index.m. (torchmetrics averages its whole map, edges
    computed on reflect-padded images, so it differs: by ~5e-3 on 32x32 noise.) With a mask ((H, W), 1 = counts), the map (averaged over channels) is averaged
    over the mask's pixels, edge pixels included, so that a hole at the edge is scored; an
    all-ones mask therefore differs slightly from the unmasked value.
    Images under 11 px on a side: the Gaussian filter is unchanged, but skimage requires its
    window to fit, so win is the largest odd number <= the shorter side; this only shrinks
    the edge left out of the unmasked mean.
    """
    x, y, m = _prepare(a, b, border, y_channel, mask)
    side = min(x.shape[1:])
    win = min(SSIM_WIN, side if side % 2 else side - 1)
    grey = x.shape[0] == 1
    im1, im2 = (x[0], y[0]) if grey else (x, y)
    out = structural_similarity(im1, im2, data_range=1.0, gaussian_weights=True,
                                sigma=SSIM_SIGMA, use_sample_covariance=False, win_size=win,
                                channel_axis=None if grey else 0, full=m is not None)
    if m is None:
        return float(out)
    smap = out[1]
    if not grey:
        smap = smap.mean(axis=0)
    return float(smap[m].mean())


@dataclass(frozen=True)
class Scores:
    """PSNR (dB) and SSIM of a whole image, and inside the hole when a mask was given."""

    psnr: float
    ssim: float
    psnr_hole: float | None = None  # None without a mask
    ssim_hole: float | None = None

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in vars(self).items() if v is not None}


def restoration_scores(pred: ImageLike, target: ImageLike, mask: ImageLike | None = None,
                       border: int = 0, y_channel: bool = False) -> dict[str, float]:
    """psnr and ssim of pred against target; with a mask (1 = hole) also psnr_hole and
    ssim_hole, the same scores over the hole's pixels only. Arguments as in psnr."""
    hole = mask is not None
    return Scores(psnr(pred, target, border, y_channel), ssim(pred, target, border, y_channel),
                  psnr(pred, target, border, y_channel, mask) if hole else None,
                  ssim(pred, target, border, y_channel, mask) if hole else None).to_dict()
