"""k-NN manifold metrics: precision/recall and density/coverage, computed blockwise.

- Precision / recall follow Kynkaanniemi et al. 2019 as implemented by torch-fidelity
  (`toshas/torch-fidelity`, `torch_fidelity/metric_prc.py`, k = 3): each reference point's
  radius is the distance to its k-th nearest neighbour in its own set, self excluded (the
  (k+1)-th smallest distance with self included, `kthvalue(k + 1)`), and a sample is inside the
  manifold if dist <= radius of ANY reference point. precision: fake samples inside the real
  manifold; recall: real samples inside the fake manifold.
- Density / coverage follow Naeem et al. 2020 (`clovaai/generative-evaluation-prdc`,
  `prdc/prdc.py`, k = 5), with strict `<`: density = (1/k) mean_fake #{real i: d < r_i};
  coverage = mean_real [min_fake d < r_i].

Distances are Euclidean (not squared), in float64. No full N x M matrix is ever held: each pass
takes `block_size` rows at a time against the whole other set, so peak memory is about
3 * block_size * N * 8 bytes (about 250 MB for block_size=1024 and N=10,000). All four numbers
share one real-vs-fake pass. `torch.cdist` always uses its matrix-product form here, because its
default switches between two formulas by block size, which would make results depend on
`block_size`; and each point's distance to itself is set to exactly 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gankit.errors import GankitError
from gankit.metrics.stats import FeatureLike, check_same_dim, to_features

DEFAULT_BLOCK_SIZE = 1024  # rows of the distance matrix held at once


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float

    def to_dict(self) -> dict[str, float]:
        return {"precision": float(self.precision), "recall": float(self.recall)}


@dataclass(frozen=True)
class DensityCoverage:
    density: float  # can exceed 1
    coverage: float

    def to_dict(self) -> dict[str, float]:
        return {"density": float(self.density), "coverage": float(self.coverage)}


@dataclass(frozen=True)
class PRDCResult:
    """Precision/recall at k_pr (<=) and density/coverage at k_dc (<)."""

    precision: float
    recall: float
    density: float
    coverage: float

    def to_dict(self) -> dict[str, float]:
        return {"precision": float(self.precision), "recall": float(self.recall),
                "density": float(self.density), "coverage": float(self.coverage)}


def _cdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist")


def _check_block(block_size: int) -> None:
    if not isinstance(block_size, int) or block_size < 1:
        raise GankitError(f"block_size must be a positive integer, got {block_size!r}")


def _radii(x: torch.Tensor, ks: Sequence[int], block_size: int, name: str) -> list[torch.Tensor]:
    """k-th NN distances (self excluded) of every row of x, for each k in ks, in one pass."""
    for k in ks:
        if not isinstance(k, int) or k < 1:
            raise GankitError(f"the neighbourhood size k must be a positive integer, got {k!r}")
    k_max, n = max(ks), x.shape[0]
    if n < k_max + 1:
        raise GankitError(f"{name} has {n} samples; k = {k_max} nearest neighbours need at "
                          f"least {k_max + 1}")
    out = torch.empty(len(ks), n, dtype=torch.float64)
    for start in range(0, n, block_size):
        d = _cdist(x[start:start + block_size], x)
        rows = torch.arange(d.shape[0])
        d[rows, start + rows] = 0.0
        smallest = d.topk(k_max + 1, dim=1, largest=False).values  # ascending, self first
        for i, k in enumerate(ks):
            out[i, start:start + d.shape[0]] = smallest[:, k]
    return list(out)


def knn_radii(x: FeatureLike, k: int, block_size: int = DEFAULT_BLOCK_SIZE) -> torch.Tensor:
    """(N,) distance from each row to its k-th nearest other row (duplicates count, at 0)."""
    _check_block(block_size)
    return _radii(to_features(x), [k], block_size, "the feature set")[0]


def _cross_pass(real: torch.Tensor, fake: torch.Tensor, r_real_pr: torch.Tensor | None,
                r_fake_pr: torch.Tensor | None, r_real_dc: torch.Tensor | None,
                k_dc: int, block_size: int) -> dict[str, float]:
    """One sweep over fake row blocks against all reals; each block feeds all four tallies."""
    n_real, n_fake = real.shape[0], fake.shape[0]
    fake_inside = 0  # fakes within some real radius (precision)
    real_hit = torch.zeros(n_real, dtype=torch.bool)  # reals within some fake radius (recall)
    real_counts = 0  # sum over fakes of #reals whose ball holds it (density)
    nearest_fake = torch.full((n_real,), float("inf"), dtype=torch.float64)  # (coverage)
    for start in range(0, n_fake, block_size):
        d = _cdist(fake[start:start + block_size], real)  # (B, n_real)
        if r_real_pr is not None and r_fake_pr is not None:
            fake_inside += int((d <= r_real_pr).any(dim=1).sum())
            r_fake = r_fake_pr[start:start + d.shape[0], None]
            real_hit |= (d <= r_fake).any(dim=0)
        if r_real_dc is not None:
            real_counts += int((d < r_real_dc).sum())
            nearest_fake = torch.minimum(nearest_fake, d.min(dim=0).values)
    out = {}
    if r_real_pr is not None:
        out["precision"] = fake_inside / n_fake
        out["recall"] = float(real_hit.double().mean())
    if r_real_dc is not None:
        out["density"] = real_counts / (k_dc * n_fake)
        out["coverage"] = float((nearest_fake < r_real_dc).double().mean())
    return out


def _inputs(real: FeatureLike, fake: FeatureLike,
            block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    _check_block(block_size)
    x, y = to_features(real, "real"), to_features(fake, "fake")
    check_same_dim(x, y)
    return x, y


def precision_recall(real: FeatureLike, fake: FeatureLike, k: int = 3,
                     block_size: int = DEFAULT_BLOCK_SIZE) -> PrecisionRecall:
    """Improved precision and recall (Kynkaanniemi et al.; torch-fidelity), dist <= radius."""
    x, y = _inputs(real, fake, block_size)
    (r_real,) = _radii(x, [k], block_size, "real")
    (r_fake,) = _radii(y, [k], block_size, "fake")
    out = _cross_pass(x, y, r_real, r_fake, None, k, block_size)
    return PrecisionRecall(precision=out["precision"], recall=out["recall"])


def density_coverage(real: FeatureLike, fake: FeatureLike, k: int = 5,
                     block_size: int = DEFAULT_BLOCK_SIZE) -> DensityCoverage:
    """Density and coverage (Naeem et al.), dist < radius; needs no fake radii."""
    x, y = _inputs(real, fake, block_size)
    (r_real,) = _radii(x, [k], block_size, "real")
    out = _cross_pass(x, y, None, None, r_real, k, block_size)
    return DensityCoverage(density=out["density"], coverage=out["coverage"])


def prdc(real: FeatureLike, fake: FeatureLike, k_pr: int = 3, k_dc: int = 5,
         block_size: int = DEFAULT_BLOCK_SIZE) -> PRDCResult:
    """All four metrics in three blockwise passes (real radii, fake radii, real vs fake).

    k_pr: neighbourhood for precision/recall (torch-fidelity's prc_neighborhood 3).
    k_dc: neighbourhood for density/coverage (Naeem et al. recommend 5).
    block_size: rows of the distance matrix held at once; changes memory, not the result.
    """
    x, y = _inputs(real, fake, block_size)
    r_real_pr, r_real_dc = _radii(x, [k_pr, k_dc], block_size, "real")
    (r_fake_pr,) = _radii(y, [k_pr], block_size, "fake")
    out = _cross_pass(x, y, r_real_pr, r_fake_pr, r_real_dc, k_dc, block_size)
    return PRDCResult(**out)
