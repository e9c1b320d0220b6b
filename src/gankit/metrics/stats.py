"""Streamed Gaussian statistics of feature vectors, with a small on-disk cache format.

FID needs only the mean and covariance of each feature set, so features are folded into a
running count, sum and sum of outer products in float64 (as torchmetrics' FID does) instead of
being kept. The covariance is the unbiased N-1 estimate, equal to pytorch-fid's
`np.cov(act, rowvar=False)`. To keep the `sum(x x^T) - N mu mu^T` subtraction well conditioned
when features sit far from the origin, the sums are taken of `x - shift`, where `shift` is the
mean of the first batch (the "shifted data" algorithm); the covariance does not depend on it.

The cache is a `torch.save` of `state_dict()`: tensors and ints only, so it loads with
`weights_only=True`.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit.errors import GankitError

FeatureLike = torch.Tensor | np.ndarray

_STATE_VERSION = 1


def to_features(x: FeatureLike, name: str = "features") -> torch.Tensor:
    """A float64 CPU (N, d) tensor from a tensor or array; rejects other shapes and NaN/inf.

    Every metric starts here so that bad input fails with one clear message, not deep in scipy.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise GankitError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if x.dim() != 2:
        raise GankitError(f"{name} must have shape (N, d), got {tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise GankitError(f"{name} must be real numbers, got dtype {x.dtype}")
    x = x.detach().to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(x).all():
        raise GankitError(f"{name} contains NaN or inf")
    return x


def check_same_dim(a: torch.Tensor, b: torch.Tensor, names: str = "real and fake") -> None:
    """Both sets must live in the same feature space."""
    if a.shape[1] != b.shape[1]:
        raise GankitError(
            f"{names} features have different dimensions: {a.shape[1]} vs {b.shape[1]}")


class GaussianStats:
    """Running mean and covariance of (N, d) feature batches in O(d^2) memory."""

    def __init__(self) -> None:
        self._n = 0
        self._shift: torch.Tensor | None = None  # (d,) float64, mean of the first batch
        self._sum: torch.Tensor | None = None  # (d,) sum of (x - shift)
        self._outer: torch.Tensor | None = None  # (d, d) sum of (x - shift)(x - shift)^T

    @classmethod
    def from_features(cls, feats: FeatureLike) -> GaussianStats:
        """Statistics of one array, for features already in memory."""
        stats = cls()
        stats.update(feats)
        return stats

    def update(self, feats: FeatureLike) -> None:
        """Fold in a batch of shape (B, d); B may be 0."""
        x = to_features(feats)
        if self._shift is None:
            if x.shape[0] == 0:
                return
            d = x.shape[1]
            self._shift = x.mean(dim=0)
            self._sum = torch.zeros(d, dtype=torch.float64)
            self._outer = torch.zeros(d, d, dtype=torch.float64)
        elif x.shape[1] != self.dim:
            raise GankitError(
                f"feature batch has dimension {x.shape[1]}, earlier batches had {self.dim}")
        assert self._sum is not None and self._outer is not None
        xc = x - self._shift
        self._sum += xc.sum(dim=0)
        self._outer += xc.T @ xc
        self._n += x.shape[0]

    @property
    def n(self) -> int:
        """Number of feature vectors seen."""
        return self._n

    @property
    def dim(self) -> int | None:
        """Feature dimension, None before the first non-empty batch."""
        return None if self._shift is None else int(self._shift.shape[0])

    @property
    def mean(self) -> np.ndarray:
        """(d,) float64 mean."""
        if self._n == 0:
            raise GankitError("feature statistics are empty: no features were added")
        assert self._shift is not None and self._sum is not None
        return (self._shift + self._sum / self._n).numpy()

    @property
    def cov(self) -> np.ndarray:
        """(d, d) float64 unbiased covariance, as np.cov(feats, rowvar=False)."""
        if self._n < 2:
            raise GankitError(f"a covariance needs at least 2 feature vectors, got {self._n}")
        assert self._sum is not None and self._outer is not None
        m = self._sum / self._n
        cov = (self._outer - self._n * torch.outer(m, m)) / (self._n - 1)
        return ((cov + cov.T) / 2).numpy()  # exactly symmetric, as np.cov's result is

    def state_dict(self) -> dict[str, Any]:
        """Tensors and ints only, so the cache loads with torch.load(weights_only=True)."""
        if self._shift is None:
            return {"version": _STATE_VERSION, "n": 0}
        return {"version": _STATE_VERSION, "n": self._n, "shift": self._shift.clone(),
                "sum": self._sum.clone(), "outer": self._outer.clone()}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> GaussianStats:
        """Inverse of state_dict(); rejects states from another format version."""
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise GankitError("not a gankit feature-statistics state (missing or unknown version)")
        stats = cls()
        n = state.get("n")
        if not isinstance(n, int) or n < 0:
            raise GankitError(f"feature-statistics state has a bad count n={n!r}")
        if n == 0:
            return stats
        try:
            shift, total, outer = state["shift"], state["sum"], state["outer"]
        except KeyError as e:
            raise GankitError(f"feature-statistics state lacks the key {e.args[0]!r}") from None
        d = shift.shape[0] if isinstance(shift, torch.Tensor) and shift.dim() == 1 else -1
        if d < 1 or not isinstance(total, torch.Tensor) or total.shape != (d,) \
                or not isinstance(outer, torch.Tensor) or outer.shape != (d, d):
            raise GankitError("feature-statistics state has inconsistent tensor shapes")
        stats._n = n
        stats._shift = shift.to(torch.float64)
        stats._sum = total.to(torch.float64)
        stats._outer = outer.to(torch.float64)
        return stats

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write atomically (temp file + os.replace) so a crash never leaves half a cache."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(self.state_dict(), f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GaussianStats:
        """Read a file written by save(); unreadable files raise GankitError."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise GankitError(f"feature statistics file not found: {path}") from None
        except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as e:
            first_line = (str(e).splitlines() or [type(e).__name__])[0]  # corrupt or foreign file
            raise GankitError(f"cannot read feature statistics from {path}: {first_line}") from None
        return cls.from_state_dict(state)

    def __repr__(self) -> str:
        return f"GaussianStats(n={self._n}, dim={self.dim})"
