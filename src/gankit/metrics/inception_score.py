"""Inception Score from classifier outputs: exp(E_x KL(p(y|x) || p(y))), over splits.

Follows torch-fidelity 0.4.0 (`toshas/torch-fidelity`, `torch_fidelity/metric_isc.py::
isc_features_to_metric`): rows are shuffled with `np.random.RandomState(seed).permutation`
(torch-fidelity: samples_shuffle=True, rng_seed=2020 by default), computed in float64, split
into chunks of rows [i N // splits, (i+1) N // splits), and each chunk scores
exp(mean_rows sum_c p (log p - log q)) with q the chunk's mean of p. The result is the mean and
population std (np.std) of the chunk scores; the tests check it against that function.
torch-fidelity feeds it the 1008-way `logits_unbiased` of its Inception (fc without its bias),
and so does gankit's `inception` extractor; any classifier's logits or probabilities work here.

Differences: terms with p = 0 count as 0 (0 log 0 = 0), where torch-fidelity would give NaN
for a softmax that underflows to exactly 0 (the values are otherwise identical); the default
seed here is 2020, but `gankit.metrics.evaluate` passes `eval.seed` (default 0) and 10 splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.metrics.stats import FeatureLike, to_features


@dataclass(frozen=True)
class ISResult:
    """Mean and population std of the per-split Inception Scores."""

    mean: float
    std: float
    splits: int

    def to_dict(self) -> dict[str, float | int]:
        return {"mean": float(self.mean), "std": float(self.std), "splits": int(self.splits)}


def _split_scores(p: torch.Tensor, log_p: torch.Tensor, splits: int) -> list[float]:
    n = p.shape[0]
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_chunk, log_p_chunk = p[lo:hi], log_p[lo:hi]
        q = p_chunk.mean(dim=0, keepdim=True)
        kl = torch.where(p_chunk > 0, p_chunk * (log_p_chunk - q.log()), 0.0)
        scores.append(kl.sum(dim=1).mean().exp().item())
    return scores


def _prepare(x: FeatureLike, name: str, splits: int, shuffle: bool, seed: int) -> torch.Tensor:
    x = to_features(x, name)
    n, c = x.shape
    if not isinstance(splits, int) or splits < 1:
        raise GankitError(f"Inception Score splits must be a positive integer, got {splits!r}")
    if n < splits:
        raise GankitError(f"Inception Score with {splits} splits needs at least {splits} "
                          f"samples, got {n}")
    if c < 1:
        raise GankitError(f"{name} must have at least one class column")
    if shuffle:
        x = x[torch.from_numpy(np.random.RandomState(seed).permutation(n))]
    return x


def inception_score(logits: FeatureLike, splits: int = 10, shuffle: bool = True,
                    seed: int = 2020) -> ISResult:
    """IS from (N, C) classifier logits, exactly as torch-fidelity (softmax in float64).

    splits: number of chunks (10 is the standard). shuffle/seed: permute rows first with
    RandomState(seed), as torch-fidelity's samples_shuffle/rng_seed (its default seed is 2020,
    as here); shuffle=False keeps the given order.
    """
    x = _prepare(logits, "logits", splits, shuffle, seed)
    scores = _split_scores(x.softmax(dim=1), x.log_softmax(dim=1), splits)
    return ISResult(mean=float(np.mean(scores)), std=float(np.std(scores)), splits=splits)


def inception_score_from_probs(probs: FeatureLike, splits: int = 10, shuffle: bool = True,
                               seed: int = 2020) -> ISResult:
    """IS from (N, C) class probabilities (rows >= 0 summing to 1 within 1e-3).

    Rows are renormalised in float64 so float32 softmax outputs give exact distributions.
    """
    x = _prepare(probs, "probs", splits, shuffle, seed)
    if (x < 0).any():
        raise GankitError("probs must be non-negative (did you pass logits? use "
                          "inception_score)")
    sums = x.sum(dim=1)
    if not torch.allclose(sums, torch.ones_like(sums), rtol=0.0, atol=1e-3):
        raise GankitError("each row of probs must sum to 1 (did you pass logits? use "
                          "inception_score)")
    p = x / sums[:, None]
    log_p = torch.where(p > 0, p, 1.0).log()  # masked to 0 anyway where p == 0
    scores = _split_scores(p, log_p, splits)
    return ISResult(mean=float(np.mean(scores)), std=float(np.std(scores)), splits=splits)
