"""Corruptions that turn a clean image into G's input: the paired data of image-to-image
training made on the fly (pix2pix, SRGAN), and the same functions at inference.

Images are float (N, C, H, W) in [-1, 1]. Random corruptions draw from a CPU generator a
number of values that depends only on the shapes and the config, so a resumed run draws the
same ones.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gankit.data.masks import apply_mask

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as data.channels=1 converts RGB
BLUR_SIGMA = 2.0  # data.pairs=blur: Gaussian blur of this sigma (px)
DOWNSCALE = 4  # data.pairs=downscale: bicubic down by this factor and back up


def grey(x: torch.Tensor) -> torch.Tensor:
    """RGB -> one luma channel (a grey image passes through)."""
    if x.shape[1] == 1:
        return x
    w = x.new_tensor(LUMA).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round to the 256 levels of an 8-bit image, as a saved low-res input would be."""
    return torch.round((x.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """(N,) sigmas -> (N, 2 * radius + 1) normalised 1-D kernels (sigma 0: a delta)."""
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=sigma.device)
    s = sigma.float().clamp_min(1e-6)[:, None]
    k = torch.exp(-0.5 * (t[None] / s) ** 2)
    return k / k.sum(1, keepdim=True)


def blur(x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders; sigma a number or one per image."""
    n, c, h, w = x.shape
    sig = torch.as_tensor(sigma, dtype=torch.float32, device=x.device).expand(n)
    radius = max(1, math.ceil(3 * float(sig.max())))
    radius = min(radius, h - 1, w - 1)
    k = gaussian_kernels(sig, radius).repeat_interleave(c, 0)  # (N * C, K)
    y = x.reshape(1, n * c, h, w)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k[:, None, None, :],
                 groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k[:, None, :, None],
                 groups=n * c)
    return y.reshape(n, c, h, w)


def bicubic_down(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic downscale by `scale` with antialiasing (as MATLAB's imresize, the SR papers'
    degradation); sizes must be multiples of `scale`."""
    h, w = x.shape[-2:]
    return F.interpolate(x, size=(h // scale, w // scale), mode="bicubic", antialias=True,
                         align_corners=False)


def bicubic_up(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Bicubic upscale by `scale`: the baseline of every SR table."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


def downscale_up(x: torch.Tensor, factor: int = DOWNSCALE) -> torch.Tensor:
    """data.pairs=downscale: a same-size image that lost its detail (pix2pix-style SR)."""
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(max(1, h // factor), max(1, w // factor)), mode="bicubic",
                          antialias=True, align_corners=False)
    return F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)


def sr_degrade(hr: torch.Tensor, scale: int, gen: torch.Generator, blur_max: float = 0.0,
               noise_max: float = 0.0) -> torch.Tensor:
    """The low-res input of an HR crop: optional blur of sigma U[0, blur_max], bicubic down,
    optional noise of std U[0, noise_max] (of [0, 1]), quantised to 8 bits."""
    n = hr.shape[0]
    x = hr
    if blur_max > 0:
        x = blur(x, (torch.rand(n, generator=gen) * blur_max).to(hr.device))
    lr = bicubic_down(x, scale)
    if noise_max > 0:
        std = torch.rand(n, generator=gen) * noise_max * 2  # [0, 1] units -> [-1, 1] units
        noise = torch.randn(lr.shape, generator=gen) * std.view(n, 1, 1, 1)
        lr = lr + noise.to(lr.device)
    return quantize(lr)


HARMONIC_ITERS = 30  # Jacobi sweeps per pyramid level of `harmonic_fill`


def _jacobi(fill: torch.Tensor, fixed_values: torch.Tensor, free: torch.Tensor,
            iters: int) -> torch.Tensor:
    """Sweeps of 4-neighbour averaging on the free pixels (Laplace's equation), the others
    held at `fixed_values`."""
    c = fill.shape[1]
    k = fill.new_tensor([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]]).expand(c, 1, 3, 3)
    for _ in range(iters):
        avg = F.conv2d(F.pad(fill, (1, 1, 1, 1), mode="replicate"), k, groups=c)
        fill = torch.where(free > 0, avg, fixed_values)
    return fill


def harmonic_fill(x: torch.Tensor, hole: torch.Tensor, iters: int = HARMONIC_ITERS
                  ) -> torch.Tensor:
    """Fill the holes (1 = hole) with a smooth (harmonic) interpolation of the known pixels,
    coarse to fine: a pyramid of known-pixel averages (push-pull, Gortler et al. 1996); at
    each level, going up, pixels with no known pixel below them start from the coarser
    level and relax by `iters` Jacobi sweeps of Laplace's equation. Batched, known pixels
    kept exactly; a rough cousin of scikit-image's biharmonic fill, fast enough for every
    training batch."""
    known = 1.0 - hole
    num, den = [x * known], [known]
    while min(num[-1].shape[-2:]) > 1:
        num.append(F.avg_pool2d(num[-1], 2, ceil_mode=True))
        den.append(F.avg_pool2d(den[-1], 2, ceil_mode=True))
    fill = num[-1] / den[-1].clamp_min(1e-6)
    for n, d in zip(reversed(num[:-1]), reversed(den[:-1])):
        up = F.interpolate(fill, size=n.shape[-2:], mode="bilinear", align_corners=False)
        mean = n / d.clamp_min(1e-6)  # the known pixels' mean under each pixel of this level
        free = (d < 0.999).to(x.dtype)
        fill = _jacobi(torch.where(free > 0, up, mean), mean, free, iters)
    return torch.where(hole > 0, fill, x)


def inpaint_input(x: torch.Tensor, hole: torch.Tensor, prefill: bool) -> torch.Tensor:
    """G's input for inpainting: the image with its holes emptied (0, mid-grey) or
    pre-filled by `harmonic_fill`, and the hole mask as one more channel."""
    base = harmonic_fill(x, hole) if prefill else apply_mask(x, hole)
    return torch.cat([base, hole], 1)


def inpaint_output(g_out: torch.Tensor, x: torch.Tensor, hole: torch.Tensor,
                   inp: torch.Tensor, prefill: bool) -> torch.Tensor:
    """The filled image: G's fill (added to the pre-fill as a residual when prefill is on)
    in the holes, the known pixels of x exactly."""
    fill = (inp[:, :-1] + g_out).clamp(-1, 1) if prefill else g_out
    return torch.where(hole > 0, fill, x)
