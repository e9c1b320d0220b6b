"""Mode-collapse counts: mixture modes covered on toy data, classes covered on Stacked MNIST.

`mode_coverage` follows PacGAN's MetricLogger (`fjxmlzn/PacGAN`,
`synthetic_data_experiments/PacGAN/pacgan/extensions.py`, dis_thre=3): each sample goes to the
mode with the smallest variance-normalised distance z = sqrt(sum_d (x_d - mu_d)^2 / sigma_d^2)
(ties to the lower index) and is high quality if z < 3; a mode is covered if it has at least
one high-quality sample. For an isotropic std this is VEEGAN's "within 3 standard deviations
of the nearest mode" (Srivastava et al. 2017). `kl_to_uniform` is KL(p || uniform) of the
high-quality samples' mode histogram p, the direction PacGAN reports as "reverse KL".

`class_coverage` follows PacGAN's Stacked-MNIST `log_metrics`
(`stacked_MNIST_experiments/VEEGAN_experiment/model.py`): KL(p_gen || p_data) =
sum_{p_gen > 0} p_gen log(p_gen / p_data), the generated class histogram against the data's
(uniform over the 1000 modes unless a reference histogram is given), with 0 log 0 = 0 and no
epsilon.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.metrics.stats import FeatureLike, check_same_dim, to_features

_BLOCK_ELEMS = 1 << 22  # samples x modes x dims held at once when measuring distances


@dataclass(frozen=True)
class ModeCoverage:
    """Modes with >= 1 high-quality sample, out of num_modes; counts per mode (HQ only)."""

    modes_covered: int
    num_modes: int
    high_quality_fraction: float  # of all samples
    kl_to_uniform: float  # NaN when no sample is high quality (the histogram is undefined)
    counts: tuple[int, ...]

    def to_dict(self) -> dict[str, float | int | list[int]]:
        return {"modes_covered": int(self.modes_covered), "num_modes": int(self.num_modes),
                "high_quality_fraction": float(self.high_quality_fraction),
                "kl_to_uniform": float(self.kl_to_uniform), "counts": list(self.counts)}


@dataclass(frozen=True)
class ClassCoverage:
    """Classes predicted at least once, and KL(p_gen || p_data) over classes."""

    classes_covered: int
    num_classes: int
    kl: float  # inf if the generator hits a class the reference never has

    def to_dict(self) -> dict[str, float | int]:
        return {"classes_covered": int(self.classes_covered),
                "num_classes": int(self.num_classes), "kl": float(self.kl)}


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) of two histograms (normalised here); p = 0 terms are 0, q = 0 < p gives inf."""
    p = p.double() / p.sum()
    q = q.double() / q.sum()
    mask = p > 0
    if (q[mask] == 0).any():
        return math.inf
    return float((p[mask] * (p[mask] / q[mask]).log()).sum())


def _std_matrix(std: float | Sequence[float] | FeatureLike, k: int, d: int) -> torch.Tensor:
    if isinstance(std, torch.Tensor):
        s = std.detach().cpu().to(torch.float64)
    else:
        s = torch.as_tensor(np.asarray(std, dtype=np.float64))
    try:
        s = torch.broadcast_to(s, (k, d))
    except RuntimeError:
        raise GankitError(f"std must be a scalar, ({d},) per dimension or ({k}, {d}) per mode, "
                          f"got shape {tuple(s.shape)}") from None
    if not (torch.isfinite(s).all() and (s > 0).all()):
        raise GankitError("std must be finite and > 0")
    return s


def mode_coverage(samples: FeatureLike, centers: FeatureLike,
                  std: float | Sequence[float] | FeatureLike,
                  threshold: float = 3.0) -> ModeCoverage:
    """Mode coverage of (N, d) samples against a mixture with (K, d) centres.

    std: the mixture's standard deviation: a scalar, per dimension (d,), or per mode (K, d).
    threshold: z-distance (in stds) under which a sample is high quality; 3 in VEEGAN/PacGAN.
    """
    x, mu = to_features(samples, "samples"), to_features(centers, "centers")
    check_same_dim(x, mu, "samples and centers")
    n, d = x.shape
    k = mu.shape[0]
    if n == 0 or k == 0:
        raise GankitError(f"mode coverage needs samples and centres, got {n} and {k}")
    if not threshold > 0:
        raise GankitError(f"threshold must be > 0, got {threshold!r}")
    inv_s = 1.0 / _std_matrix(std, k, d)
    nearest = torch.empty(n, dtype=torch.long)
    z_min = torch.empty(n, dtype=torch.float64)
    block = max(1, _BLOCK_ELEMS // (k * d))
    for start in range(0, n, block):
        diff = (x[start:start + block, None, :] - mu[None]) * inv_s  # (B, K, d)
        z = diff.square().sum(dim=2).sqrt()
        z_min[start:start + block], nearest[start:start + block] = z.min(dim=1)
    good = z_min < threshold
    counts = torch.bincount(nearest[good], minlength=k)
    n_good = int(good.sum())
    kl = kl_divergence(counts, torch.ones(k)) if n_good > 0 else math.nan
    return ModeCoverage(modes_covered=int((counts > 0).sum()), num_modes=k,
                        high_quality_fraction=n_good / n, kl_to_uniform=kl,
                        counts=tuple(int(c) for c in counts))


def class_coverage(pred_labels: torch.Tensor | np.ndarray | Sequence[int], num_classes: int,
                   reference_hist: torch.Tensor | np.ndarray | Sequence[float] | None = None
                   ) -> ClassCoverage:
    """Classes hit by a classifier's predictions on generated samples (e.g. Stacked MNIST).

    pred_labels: (N,) integer class ids in [0, num_classes).
    reference_hist: (num_classes,) counts or probabilities of the data's classes;
        None = uniform (Stacked MNIST's 1000 equally likely modes).
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise GankitError(f"num_classes must be a positive integer, got {num_classes!r}")
    if isinstance(pred_labels, torch.Tensor):
        labels = pred_labels.detach().cpu().reshape(-1)
    else:
        labels = torch.as_tensor(np.asarray(pred_labels)).reshape(-1)
    if labels.numel() == 0:
        raise GankitError("class coverage needs at least one predicted label")
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.is_complex():
        raise GankitError(f"pred_labels must be integers, got dtype {labels.dtype}")
    labels = labels.long()
    if labels.min() < 0 or labels.max() >= num_classes:
        raise GankitError(f"pred_labels must lie in [0, {num_classes}), got values in "
                          f"[{int(labels.min())}, {int(labels.max())}]")
    counts = torch.bincount(labels, minlength=num_classes)
    if reference_hist is None:
        ref = torch.ones(num_classes, dtype=torch.float64)
    else:
        ref = (reference_hist.detach().cpu().double() if isinstance(reference_hist, torch.Tensor)
               else torch.as_tensor(np.asarray(reference_hist, dtype=np.float64)))
        if ref.shape != (num_classes,):
            raise GankitError(f"reference_hist must have shape ({num_classes},), got "
                              f"{tuple(ref.shape)}")
        if not torch.isfinite(ref).all() or (ref < 0).any() or ref.sum() <= 0:
            raise GankitError("reference_hist must be finite, non-negative and not all zero")
    return ClassCoverage(classes_covered=int((counts > 0).sum()), num_classes=num_classes,
                         kl=kl_divergence(counts, ref))
