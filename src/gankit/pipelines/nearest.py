"""Memorisation check: each generated sample beside its nearest training images in a
feature space (an extractor's features, or raw pixels)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gankit.data.base import TensorData, to_unit_range
from gankit.errors import GankitError
from gankit.metrics.features import Extractor


@dataclass
class Neighbours:
    samples: torch.Tensor  # (n, C, H, W) in [-1, 1]
    index: torch.Tensor  # (n, k) training indices, nearest first
    distance: torch.Tensor  # (n, k) feature-space distances


@torch.no_grad()
def nearest(samples: torch.Tensor, data: TensorData, extractor: Extractor | None, k: int = 5,
            batch_size: int = 500) -> Neighbours:
    """k nearest training images of each sample (extractor features; None = raw pixels)."""
    if not data.is_image:
        raise GankitError("nearest neighbours need image data")
    if not 1 <= k <= len(data):
        raise GankitError(f"k must be in 1..{len(data)}, got {k}")

    def feats(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).float() if extractor is None else extractor(x)[0]

    q = feats(samples)
    best_d = torch.full((len(q), k), float("inf"))
    best_i = torch.zeros((len(q), k), dtype=torch.long)
    for start in range(0, len(data), batch_size):
        ref = feats(to_unit_range(data.x[start:start + batch_size]))
        d = torch.cdist(q.double(), ref.double()).float()
        idx = torch.arange(start, start + len(ref)).expand(len(q), -1)
        all_d, all_i = torch.cat([best_d, d], 1), torch.cat([best_i, idx], 1)
        best_d, order = all_d.topk(k, dim=1, largest=False)
        best_i = all_i.gather(1, order)
    return Neighbours(samples, best_i, best_d)
