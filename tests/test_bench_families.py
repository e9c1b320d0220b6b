"""The pure metric functions of benchmarks/bench_families.py, on synthetic inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

_PATH = Path(__file__).parents[1] / "benchmarks" / "bench_families.py"
_spec = importlib.util.spec_from_file_location("bench_families", _PATH)
bf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bf)


def test_class_agreement():
    a = torch.tensor([0, 1, 2, 3])
    assert bf.class_agreement(a, a) == 1.0
    assert bf.class_agreement(a, torch.tensor([0, 1, 0, 0])) == 0.5
    with pytest.raises(ValueError):
        bf.class_agreement(a, a[:3])


def test_contingency_counts_pairs():
    t = bf.contingency(torch.tensor([0, 0, 1, 2]), torch.tensor([3, 3, 0, 9]), 3, 10)
    assert t.shape == (3, 10) and t.sum() == 4
    assert t[0, 3] == 2 and t[1, 0] == 1 and t[2, 9] == 1


def test_hungarian_recovers_a_permutation():
    perm = np.random.default_rng(0).permutation(10)
    codes = torch.arange(10).repeat_interleave(50)
    classes = torch.as_tensor(perm)[codes]
    classes[::10] = 0  # 10% noise: 1 in 10 samples predicted as class 0
    acc, assign = bf.hungarian_accuracy(bf.contingency(codes, classes, 10, 10))
    assert assign == {i: int(perm[i]) for i in range(10)}
    # every sample matches except the noisy ones whose true class is not 0
    noisy_wrong = int(((torch.arange(500) % 10 == 0) & (torch.as_tensor(perm)[codes] != 0)).sum())
    assert acc == pytest.approx((500 - noisy_wrong) / 500)


def test_hungarian_is_one_to_one():
    # codes 0 and 1 both produce class 5: only one of them may be assigned to it
    table = np.zeros((3, 10), dtype=int)
    table[0, 5], table[1, 5], table[1, 4], table[2, 7] = 40, 30, 10, 50
    acc, assign = bf.hungarian_accuracy(table)
    assert assign == {0: 5, 1: 4, 2: 7}
    assert acc == pytest.approx((40 + 10 + 50) / 130)


def test_per_class_recall():
    gen = torch.Generator().manual_seed(0)
    centres = torch.eye(4) * 20
    real_y = torch.arange(4).repeat_interleave(200)
    real = centres[real_y] + torch.randn(800, 4, generator=gen)
    fake_y = torch.arange(4).repeat_interleave(100)
    fake = centres[fake_y] + torch.randn(400, 4, generator=gen)
    fake[fake_y == 3] = centres[3] + 0.01 * torch.randn(100, 4, generator=gen)  # collapsed
    rec = bf.per_class_recall(real, real_y, fake, fake_y)
    assert set(rec) == {0, 1, 2, 3}
    assert min(rec[c] for c in range(3)) > 0.8
    assert rec[3] < 0.2
