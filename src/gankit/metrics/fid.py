"""Frechet distance between two Gaussians (the number behind FID).

Follows pytorch-fid (`mseitzer/pytorch-fid`, `src/pytorch_fid/fid_score.py::
calculate_frechet_distance`) step by step, in float64:

    d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2))

- sqrtm is scipy.linalg.sqrtm; if its result has a non-finite entry, eps is added to both
  diagonals and the root is taken again (pytorch-fid's "singular product" fallback);
- a complex root whose diagonal imaginary parts exceed atol 1e-3 is an error, otherwise the
  real part is kept.

Two deliberate differences, neither of which changes the number: the fallback is announced with
`warnings.warn` instead of `print`, and the error is a GankitError instead of a ValueError.
torch-fidelity 0.4 (`metric_fid.py::fid_statistics_to_metric`) takes Tr sqrtm(sigma1 sigma2) as
the sum of the real parts of the square roots of its eigenvalues instead; the tests check that
both give the same FID to 1e-6 relative.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import scipy.linalg
import torch

from gankit.errors import GankitError
from gankit.metrics.stats import GaussianStats

ArrayLike = np.ndarray | torch.Tensor


def _sqrtm(a: np.ndarray) -> np.ndarray:
    """scipy.linalg.sqrtm across scipy versions.

    pytorch-fid passes disp=False, which only suppresses a printed error estimate. SciPy 1.16
    deprecated `disp` (it then defaults to a sentinel and prints nothing) and 1.18 removes it, so
    the argument is passed only where it is still the old `disp=True` default. scipy's
    singular/ill-conditioned warnings are silenced: non-finite and complex results are handled
    explicitly by the caller, as pytorch-fid does.
    """
    params = inspect.signature(scipy.linalg.sqrtm).parameters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        if "disp" in params and params["disp"].default is True:  # scipy < 1.16
            out = scipy.linalg.sqrtm(a, disp=False)
        else:
            out = scipy.linalg.sqrtm(a)
    return out[0] if isinstance(out, tuple) else out


def _as_f64(x: ArrayLike) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike,
                     eps: float = 1e-6) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), as pytorch-fid.

    eps: added to both covariance diagonals only if the first sqrtm is not finite.
    """
    mu1, mu2 = np.atleast_1d(_as_f64(mu1)), np.atleast_1d(_as_f64(mu2))
    sigma1, sigma2 = np.atleast_2d(_as_f64(sigma1)), np.atleast_2d(_as_f64(sigma2))
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise GankitError(f"mean vectors have different shapes: {mu1.shape} vs {mu2.shape}")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise GankitError(f"covariances must both be ({d}, {d}), got {sigma1.shape} and "
                          f"{sigma2.shape}")

    diff = mu1 - mu2
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        warnings.warn(f"fid calculation produces singular product; adding {eps} to diagonal "
                      "of cov estimates", RuntimeWarning, stacklevel=2)
        offset = np.eye(d) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))

    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = np.max(np.abs(covmean.imag))
            raise GankitError(
                f"FID: the matrix square root has an imaginary component {m:.3g}; the "
                "covariances are singular or not positive semi-definite (use more samples than "
                "feature dimensions)")
        covmean = covmean.real

    tr_covmean = np.trace(covmean)
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid_from_stats(a: GaussianStats, b: GaussianStats, eps: float = 1e-6) -> float:
    """FID between two streamed feature sets (order does not matter)."""
    if a.dim is None or b.dim is None:
        raise GankitError("FID needs features in both sets; one of them is empty")
    if a.dim != b.dim:
        raise GankitError(f"FID: feature dimensions differ: {a.dim} vs {b.dim}")
    return frechet_distance(a.mean, a.cov, b.mean, b.cov, eps=eps)
