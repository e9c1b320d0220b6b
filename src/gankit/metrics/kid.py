"""Kernel Inception Distance: the polynomial-kernel MMD^2 averaged over random subsets.

Follows torch-fidelity 0.4.0 (`toshas/torch-fidelity`, `torch_fidelity/metric_kid.py::
kid_features_to_metric`, itself adapted from `mbinkowski/MMD-GAN/gan/compute_scores.py`) with
its defaults: kernel k(x, y) = (gamma x.y + coef0)^degree with degree 3, gamma = 1/d,
coef0 = 1; 100 subsets of 1000 samples. One `np.random.RandomState(seed)` draws, per subset,
`choice(n_fake, m, replace=False)` for the generated set and then `choice(n_real, m,
replace=False)` for the real set: torch-fidelity's order for `features_1` then `features_2`
under its convention input1 = generated, input2 = real. So `kid(real, fake, seed=s)` uses the
subsets of torch-fidelity's `kid_features_to_metric(fake, real, rng_seed=s)` (equivalently
`calculate_metrics(input1=generated, input2=real, rng_seed=s)`) on the same features in the same
order; the tests check it against that function. The estimator is torch-fidelity's "unbiased"
one:

    MMD^2 = (sum_{i!=j} Kxx + sum_{i!=j} Kyy) / (m (m-1)) - 2 sum_{i,j} Kxy / m^2

(the cross term keeps its diagonal). The reported std is the population std over subsets
(np.std), as torch-fidelity and torchmetrics report it.

Differences: kernels are computed in float64 (torch-fidelity uses its features' dtype, float32
from its extractors); a set smaller than `subset_size` shrinks the subset instead of failing
(see `kid`); the default seed here is torch-fidelity's 2020, but `gankit.metrics.evaluate`
passes `eval.seed` (default 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.metrics.stats import FeatureLike, check_same_dim, to_features


@dataclass(frozen=True)
class KIDResult:
    """KID mean and population std over `subsets` subsets of `subset_size` samples each."""

    mean: float
    std: float
    subsets: int
    subset_size: int  # the size actually used; smaller than requested if a set was smaller

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": float(self.mean), "std": float(self.std), "subsets": int(self.subsets),
                "subset_size": int(self.subset_size)}


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3,
                      gamma: float | None = None, coef0: float = 1.0) -> torch.Tensor:
    """(gamma x.y + coef0)^degree for all pairs; gamma=None means 1/d."""
    if gamma is None:
        gamma = 1.0 / x.shape[1]
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(k_xx: torch.Tensor, k_xy: torch.Tensor, k_yy: torch.Tensor) -> float:
    """torch-fidelity's mmd2(mmd_est="unbiased") from the three (m, m) kernel matrices."""
    m = k_xx.shape[0]
    kt_xx = k_xx.sum() - k_xx.diagonal().sum()
    kt_yy = k_yy.sum() - k_yy.diagonal().sum()
    return float((kt_xx + kt_yy) / (m * (m - 1)) - 2 * k_xy.sum() / (m * m))


def polynomial_mmd2(x: torch.Tensor, y: torch.Tensor, degree: int = 3,
                    gamma: float | None = None, coef0: float = 1.0) -> float:
    """Unbiased polynomial-kernel MMD^2 between two equally sized sets."""
    k_xx = polynomial_kernel(x, x, degree, gamma, coef0)
    k_yy = polynomial_kernel(y, y, degree, gamma, coef0)
    k_xy = polynomial_kernel(x, y, degree, gamma, coef0)
    return mmd2_unbiased(k_xx, k_xy, k_yy)


def kid(real: FeatureLike, fake: FeatureLike, subsets: int = 100, subset_size: int = 1000,
        degree: int = 3, gamma: float | None = None, coef0: float = 1.0,
        seed: int = 2020) -> KIDResult:
    """KID between (N, d) real and (M, d) fake features.

    subsets: number of random subsets averaged (torch-fidelity default 100).
    subset_size: samples per subset and per set (default 1000). If either set has fewer
        samples, min(N, M) is used instead and returned in `KIDResult.subset_size`; torch-fidelity
        raises here. We shrink because small evaluation runs (tests, quick checks) should still
        give a number, and the recorded size tells the reader it is not comparable to KIDs at
        1000 (KID's variance, not its expectation, depends on the subset size).
    gamma: kernel scale, None = 1/d.
    seed: seeds the subset draws (default torch-fidelity's rng_seed 2020); per subset the fake
        indices are drawn first, then the real ones (module docstring).
    """
    x, y = to_features(real, "real"), to_features(fake, "fake")
    check_same_dim(x, y)
    if not isinstance(subsets, int) or subsets < 1:
        raise GankitError(f"KID subsets must be a positive integer, got {subsets!r}")
    if not isinstance(subset_size, int) or subset_size < 2:
        raise GankitError(f"KID subset_size must be an integer >= 2, got {subset_size!r}")
    if not isinstance(degree, int) or degree < 1:
        raise GankitError(f"KID degree must be a positive integer, got {degree!r}")
    if gamma is not None and not gamma > 0:
        raise GankitError(f"KID gamma must be > 0 or None (= 1/d), got {gamma!r}")
    n_real, n_fake = x.shape[0], y.shape[0]
    m = min(subset_size, n_real, n_fake)
    if m < 2:
        raise GankitError(
            f"KID needs at least 2 samples in each set, got {n_real} real and {n_fake} fake")

    rng = np.random.RandomState(seed)
    mmds = np.zeros(subsets)
    for i in range(subsets):
        idx_y = torch.from_numpy(rng.choice(n_fake, m, replace=False))  # torch-fidelity's input1
        idx_x = torch.from_numpy(rng.choice(n_real, m, replace=False))
        mmds[i] = polynomial_mmd2(x[idx_x], y[idx_y], degree, gamma, coef0)
    return KIDResult(mean=float(np.mean(mmds)), std=float(np.std(mmds)), subsets=subsets,
                     subset_size=m)
