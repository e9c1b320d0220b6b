"""Sample statistics of the health monitor: pure functions of feature tensors.

Diversity is the mean pairwise distance of generated samples in feature space relative to
the same statistic on as many real samples: a collapsed G (every sample alike) gives a
ratio near 0, a healthy one near 1. A near-duplicate is a sample whose nearest other sample
lies closer than a small share of the real data's median nearest-neighbour distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gankit.metrics.fid import fid_from_stats
from gankit.metrics.modes import kl_divergence
from gankit.metrics.stats import GaussianStats

DUPLICATE_SHARE = 0.1  # a near-duplicate: nearest-neighbour distance < this x real's median NN
PIXEL_SIDE = 16  # images without a trained extractor are compared as 16x16 thumbnails


def pixel_features(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images -> (N, C*16*16) area-averaged thumbnails; other shapes flattened."""
    if x.dim() == 4 and min(x.shape[-2:]) > PIXEL_SIDE:
        x = F.adaptive_avg_pool2d(x.float(), PIXEL_SIDE)
    return x.float().flatten(1)


def _distances(f: torch.Tensor) -> torch.Tensor:
    """(N, N) Euclidean distances with +inf on the diagonal."""
    f = f.double()
    d = torch.cdist(f, f)
    d.fill_diagonal_(float("inf"))
    return d


@dataclass(frozen=True)
class Reference:
    """What each check compares the generated samples with: real data's statistics."""

    mean_distance: float  # mean pairwise distance of n real samples
    duplicate_radius: float  # DUPLICATE_SHARE x their median nearest-neighbour distance
    classes_hit: int  # classes (modes) n real samples hit; 0 = no classes
    class_hist: torch.Tensor | None  # (k,) real class counts
    stats: GaussianStats | None  # for the FID proxy; None = no extractor

    @classmethod
    def of(cls, feats: torch.Tensor, labels: torch.Tensor | None, num_classes: int,
           stats: GaussianStats | None) -> Reference:
        d = _distances(feats)
        finite = d[torch.isfinite(d)]
        nn = d.min(1).values
        hist = None if labels is None else torch.bincount(labels, minlength=num_classes)
        return cls(float(finite.mean()), DUPLICATE_SHARE * float(nn.median()),
                   0 if hist is None else int((hist > 0).sum()), hist, stats)


def sample_stats(feats: torch.Tensor, labels: torch.Tensor | None, ref: Reference
                 ) -> dict[str, float]:
    """The monitor's numbers for one batch of generated samples.

    diversity: mean pairwise distance / real's; duplicates: share of samples with a
    near-duplicate; classes: classes hit / real's; class_kl: KL(p_gen || p_real) over
    classes; fid_proxy: FID of `feats` against the real statistics.
    Non-finite samples give NaN diversity (a divergence)."""
    out: dict[str, float] = {}
    if not torch.isfinite(feats).all():
        return {"diversity": float("nan")}
    d = _distances(feats)
    out["diversity"] = float(d[torch.isfinite(d)].mean()) / max(ref.mean_distance, 1e-12)
    out["duplicates"] = float((d.min(1).values < ref.duplicate_radius).double().mean())
    if labels is not None and ref.class_hist is not None:
        k = len(ref.class_hist)
        hist = torch.bincount(labels, minlength=k)
        out["classes"] = int((hist > 0).sum()) / max(ref.classes_hit, 1)
        kl = kl_divergence(hist, ref.class_hist + 0.5)  # +0.5: a class real n missed is no inf
        out["class_kl"] = kl
    if ref.stats is not None:
        out["fid_proxy"] = fid_from_stats(ref.stats, GaussianStats.from_features(feats))
    return out
