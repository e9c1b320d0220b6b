"""Metric math (features -> statistics -> number) against hand computations and references.

The references below are short inline transcriptions of the formulas each module follows
(pytorch-fid, torch-fidelity, Naeem et al.'s prdc.py), written independently of gankit's code.
"""

from __future__ import annotations

import json
import math

import fidelity_ref
import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.errors import GankitError
from gankit.metrics import fid as fid_mod
from gankit.metrics import prdc as prdc_mod
from gankit.metrics.fid import fid_from_stats, frechet_distance
from gankit.metrics.inception_score import inception_score, inception_score_from_probs
from gankit.metrics.kid import kid
from gankit.metrics.modes import class_coverage, mode_coverage
from gankit.metrics.prdc import density_coverage, knn_radii, prdc, precision_recall
from gankit.metrics.stats import GaussianStats


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> None:
    assert abs(a - b) <= max(abs_, rel * abs(b)), (a, b)


def features(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, scale, size=(n, d))


# ---------------------------------------------------------------- FID and GaussianStats


def pytorch_fid_reference(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance, transcribed."""
    def sqrtm(a):
        out = scipy.linalg.sqrtm(a)
        return out[0] if isinstance(out, tuple) else out
    diff = mu1 - mu2
    covmean = sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        assert np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def test_fid_matches_pytorch_fid_formula_on_random_features():
    a, b = features(300, 12, 0), features(250, 12, 1, shift=0.3, scale=1.5)
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    got = frechet_distance(mu1, s1, mu2, s2)
    ref = pytorch_fid_reference(mu1, s1, mu2, s2)
    close(got, ref, rel=1e-6)
    assert isinstance(got, float) and got > 1.0
    # torch inputs and the streamed statistics give the same number
    close(frechet_distance(torch.tensor(mu1), torch.tensor(s1), torch.tensor(mu2),
                           torch.tensor(s2)), ref, rel=1e-6)
    sa, sb = GaussianStats.from_features(torch.tensor(a)), GaussianStats.from_features(b)
    close(fid_from_stats(sa, sb), ref, rel=1e-6)
    close(fid_from_stats(sb, sa), ref, rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero():
    s = GaussianStats.from_features(features(400, 16, 2))
    assert abs(fid_from_stats(s, s)) < 1e-6


def test_fid_closed_form_for_known_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(v1 + v2 - 2 * np.sqrt(v1 * v2))
    close(expected, 7.25 + (1 + 9 - 6) + (4 + 1 - 4) + 0.0)  # = 12.25, by hand
    close(frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)), expected, rel=1e-10)
    # the same spectra in a rotated basis: commuting full covariances, same trace term
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    s1, s2 = q @ np.diag(v1) @ q.T, q @ np.diag(v2) @ q.T
    close(frechet_distance(mu1, s1, mu2, s2), expected, rel=1e-9)
    # equal covariances: only the mean term remains
    close(frechet_distance(mu1, s1, mu2, s1), 7.25, rel=1e-9)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # from the reference's sqrtm
def test_fid_eps_fallback_on_singular_product():
    # sigma1 sigma2 = [[0, 1], [0, 0]] is nilpotent: it has no square root, sqrtm gives inf,
    # so pytorch-fid's rule adds eps to both diagonals; then sqrtm exists and its trace is
    # 2 sqrt(eps (1 + eps)), so d = 0 + 1 - 1 ... = tr(s1) + tr(s2) - 4 sqrt(eps (1 + eps)).
    s1, s2 = np.array([[0.0, 1.0], [0.0, 0.0]]), np.eye(2)
    with pytest.warns(RuntimeWarning, match="singular product"):
        got = frechet_distance(np.zeros(2), s1, np.zeros(2), s2, eps=1e-6)
    close(got, 2.0 - 4.0 * math.sqrt(1e-6 * (1 + 1e-6)), rel=1e-9)
    close(got, pytorch_fid_reference(np.zeros(2), s1, np.zeros(2), s2), rel=1e-9)


def test_fid_fallback_branch_when_sqrtm_fails(monkeypatch):
    # Whatever scipy does with singular covariances, the fallback must use the offset.
    a, b = features(40, 5, 4), features(40, 5, 5)
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    real_sqrtm, calls = fid_mod._sqrtm, []

    def flaky_sqrtm(m):
        calls.append(m.copy())
        return np.full_like(m, np.nan) if len(calls) == 1 else real_sqrtm(m)

    monkeypatch.setattr(fid_mod, "_sqrtm", flaky_sqrtm)
    with pytest.warns(RuntimeWarning):
        got = frechet_distance(mu1, s1, mu2, s2, eps=1e-3)
    off = np.eye(5) * 1e-3
    np.testing.assert_allclose(calls[1], (s1 + off) @ (s2 + off), rtol=1e-14)
    covmean = real_sqrtm((s1 + off) @ (s2 + off)).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
    close(got, expected, rel=1e-10)


@pytest.mark.parametrize("style", ["old", "new"])
def test_sqrtm_wrapper_handles_scipy_disp_versions(monkeypatch, style):
    # scipy < 1.16: disp=True default, disp=False returns (root, errest); scipy >= 1.18: no disp.
    seen = []

    def old_sqrtm(a, disp=True, blocksize=64):
        seen.append(disp)
        return (np.sqrt(a), 0.0) if not disp else np.sqrt(a)

    def new_sqrtm(a):
        seen.append(None)
        return np.sqrt(a)

    monkeypatch.setattr(scipy.linalg, "sqrtm", old_sqrtm if style == "old" else new_sqrtm)
    np.testing.assert_array_equal(fid_mod._sqrtm(np.diag([4.0, 9.0])), np.diag([2.0, 3.0]))
    assert seen == ([False] if style == "old" else [None])


def test_fid_rank_deficient_covariances_stay_finite():
    a, b = features(6, 10, 6), features(6, 10, 7)  # N < d: both covariances singular
    got = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert math.isfinite(got) and got > 0


def test_fid_bad_inputs():
    with pytest.raises(GankitError, match="imaginary"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.diag([-1.0, 1.0]))
    with pytest.raises(GankitError, match="different shapes"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(GankitError, match="dimensions differ"):
        fid_from_stats(GaussianStats.from_features(features(5, 2, 0)),
                       GaussianStats.from_features(features(5, 3, 0)))


def test_gaussian_stats_streaming_equals_numpy():
    x = features(100, 7, 8, shift=100.0)  # far from the origin: the shift keeps it exact
    stats = GaussianStats()
    for lo, hi in [(0, 1), (1, 8), (8, 8), (8, 58), (58, 100)]:  # includes an empty batch
        stats.update(torch.tensor(x[lo:hi], dtype=torch.float64))
    assert stats.n == 100 and stats.dim == 7
    assert stats.mean.dtype == np.float64 and stats.cov.shape == (7, 7)
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-12, atol=0)
    np.testing.assert_allclose(stats.cov, np.cov(x, rowvar=False), rtol=0, atol=1e-12)
    assert np.array_equal(stats.cov, stats.cov.T)


def test_gaussian_stats_save_load_roundtrip(tmp_path):
    stats = GaussianStats.from_features(features(20, 4, 9))
    path = tmp_path / "sub" / "stats.pt"
    stats.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["stats.pt"]  # no temp file left
    state = torch.load(path, weights_only=True)
    assert set(state) == {"version", "n", "shift", "sum", "outer"}
    back = GaussianStats.load(path)
    assert back.n == 20 and np.array_equal(back.cov, stats.cov)
    assert np.array_equal(back.mean, stats.mean)
    empty = GaussianStats.from_state_dict(GaussianStats().state_dict())
    assert empty.n == 0 and empty.dim is None


def test_gaussian_stats_bad_input(tmp_path):
    stats = GaussianStats.from_features(features(3, 4, 0))
    with pytest.raises(GankitError, match="dimension 5"):
        stats.update(features(3, 5, 0))
    with pytest.raises(GankitError, match="shape"):
        stats.update(torch.zeros(4))
    with pytest.raises(GankitError, match="NaN"):
        stats.update(torch.full((2, 4), float("nan")))
    with pytest.raises(GankitError, match="at least 2"):
        _ = GaussianStats.from_features(features(1, 4, 0)).cov
    with pytest.raises(GankitError, match="not found"):
        GaussianStats.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(GankitError, match="cannot read"):
        GaussianStats.load(tmp_path / "junk.pt")
    with pytest.raises(GankitError, match="lacks the key"):
        GaussianStats.from_state_dict({"version": 1, "n": 3})


# ---------------------------------------------------------------- KID


def kid_reference(x: np.ndarray, y: np.ndarray, degree=3, coef0=1.0) -> float:
    """The unbiased MMD^2 estimator with k(a, b) = (a.b / d + coef0)^degree, pair by pair."""
    m, d = x.shape

    def k(a, b):
        return (float(a @ b) / d + coef0) ** degree
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (sxx + syy) / (m * (m - 1)) - 2 * sxy / m**2


def test_kid_equals_pairwise_estimator_on_whole_sets():
    x, y = features(12, 4, 10), features(12, 4, 11, shift=0.5)
    res = kid(torch.tensor(x), torch.tensor(y), subsets=1, subset_size=12)
    close(res.mean, kid_reference(x, y), rel=1e-10)
    assert res.std == 0.0 and res.subsets == 1 and res.subset_size == 12
    assert json.loads(json.dumps(res.to_dict())) == res.to_dict()


def test_kid_subsets_follow_torch_fidelity_draws():
    x, y = features(9, 3, 12), features(8, 3, 13, shift=0.3)
    res = kid(x, y, subsets=3, subset_size=5, seed=7)
    rng = np.random.RandomState(7)
    vals = []
    for _ in range(3):  # torch-fidelity's input1 (generated) first, then input2 (real)
        iy = rng.choice(8, 5, replace=False)
        ix = rng.choice(9, 5, replace=False)
        vals.append(kid_reference(x[ix], y[iy]))
    close(res.mean, float(np.mean(vals)), rel=1e-10)
    close(res.std, float(np.std(vals)), rel=1e-8)
    assert res.std > 0


def test_kid_near_zero_for_one_distribution_and_positive_for_two():
    x, y, z = features(1000, 16, 14), features(1000, 16, 15), features(1000, 16, 16, shift=0.5)
    same = kid(x, y, subsets=10, subset_size=500)
    diff = kid(x, z, subsets=10, subset_size=500)
    assert abs(same.mean) < 0.01 and same.std < 0.02, same  # per-subset std is about 0.005
    assert 0.5 < diff.mean < 2.0, diff


def test_kid_shrinks_subset_to_smaller_set_and_rejects_bad_input():
    res = kid(features(30, 3, 0), features(20, 3, 1), subsets=2)
    assert res.subset_size == 20
    with pytest.raises(GankitError, match="at least 2"):
        kid(features(30, 3, 0), features(1, 3, 1))
    with pytest.raises(GankitError, match="dimensions"):
        kid(features(30, 3, 0), features(30, 4, 1))
    with pytest.raises(GankitError, match="subsets"):
        kid(features(30, 3, 0), features(30, 3, 1), subsets=0)


# ---------------------------------------------------------------- Inception Score


def test_is_uniform_predictions_give_one():
    res = inception_score(torch.zeros(20, 5), splits=4)
    assert abs(res.mean - 1.0) < 1e-12 and abs(res.std) < 1e-12


def test_is_confident_even_predictions_give_num_classes():
    onehot = torch.eye(4).repeat(2, 1)  # 8 samples, 2 per class
    res = inception_score_from_probs(onehot, splits=1)
    close(res.mean, 4.0, rel=1e-12)
    assert res.std == 0.0 and res.splits == 1
    close(inception_score(100.0 * onehot, splits=1).mean, 4.0, rel=1e-12)


def test_is_two_by_two_by_hand():
    p = [[0.9, 0.1], [0.2, 0.8]]
    q = [0.55, 0.45]
    kl = [sum(pi[c] * math.log(pi[c] / q[c]) for c in range(2)) for pi in p]
    expected = math.exp((kl[0] + kl[1]) / 2)
    close(expected, 1.317052, rel=1e-6)  # exp((0.2928211 + 0.2579711) / 2)
    probs = torch.tensor(p, dtype=torch.float64)
    close(inception_score_from_probs(probs, splits=1, shuffle=False).mean, expected, rel=1e-12)
    close(inception_score(probs.log(), splits=1).mean, expected, rel=1e-12)


def test_is_matches_torch_fidelity_transcription():
    logits = torch.randn(53, 7, generator=torch.Generator().manual_seed(0)) * 3
    res = inception_score(logits, splits=10, seed=2020)
    x = logits[np.random.RandomState(2020).permutation(53)].double()
    p, log_p = x.softmax(1), x.log_softmax(1)
    scores = []
    for i in range(10):
        lo, hi = i * 53 // 10, (i + 1) * 53 // 10
        q = p[lo:hi].mean(0, keepdim=True)
        scores.append((p[lo:hi] * (log_p[lo:hi] - q.log())).sum(1).mean().exp().item())
    close(res.mean, float(np.mean(scores)), rel=1e-12)
    close(res.std, float(np.std(scores)), rel=1e-10)


def test_is_bad_input():
    with pytest.raises(GankitError, match="at least 10"):
        inception_score(torch.zeros(5, 3))
    with pytest.raises(GankitError, match="sum to 1"):
        inception_score_from_probs(torch.ones(4, 3), splits=1)
    with pytest.raises(GankitError, match="non-negative"):
        inception_score_from_probs(-torch.ones(4, 3), splits=1)


# ---------------------------------------------------------------- Precision/recall, density/cov.

REAL_1D = torch.tensor([[0.0], [1.0], [2.0], [3.0]])


@pytest.mark.parametrize("block_size", [1, 3, 1024])
def test_prdc_by_hand_k1(block_size):
    # k = 1: every real radius is 1. Fake radii (k = 1): 3.5 -> 0.5, 4 -> 0.5, 7 -> 2, 9 -> 2.
    # precision: 3.5 (d 0.5) and 4 (d = 1 = radius of 3, a tie, counted by <=) -> 2/4.
    # recall: only real 3, at d = 0.5 = radius of fake 3.5 (a tie again)      -> 1/4.
    # density: fake 3.5 lies strictly inside real 3's ball; fake 4 on its edge does not -> 1/4.
    # coverage: real 3 has a fake at 0.5 < 1; real 2's nearest fake is at 1.5    -> 1/4.
    fake = torch.tensor([[3.5], [4.0], [7.0], [9.0]])
    assert knn_radii(REAL_1D, 1, block_size).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert knn_radii(fake, 1, block_size).tolist() == [0.5, 0.5, 2.0, 2.0]
    res = prdc(REAL_1D, fake, k_pr=1, k_dc=1, block_size=block_size)
    assert res.to_dict() == {"precision": 0.5, "recall": 0.25, "density": 0.25, "coverage": 0.25}
    pr = precision_recall(REAL_1D, fake, k=1, block_size=block_size)
    dc = density_coverage(REAL_1D, fake, k=1, block_size=block_size)
    assert (pr.precision, pr.recall, dc.density, dc.coverage) == (0.5, 0.25, 0.25, 0.25)


def test_prdc_by_hand_k2_density_above_one():
    # k = 2 real radii: 0 -> 2, 1 -> 1, 2 -> 1, 3 -> 2. Fakes 1.5, 5, 1.5.
    # Each 1.5 lies strictly inside all four real balls; 5 is at d = 2 = radius of real 3.
    # precision (<=): 3/3 (5 counts by the tie); density (<): (4 + 0 + 4) / (2 * 3) = 4/3.
    # Fake radii (k = 2): 3.5 each, so every real lies within 3.5 of a 1.5: recall 1.
    # coverage: every real has a 1.5 strictly inside its ball: 1.
    fake = torch.tensor([[1.5], [5.0], [1.5]])
    assert knn_radii(REAL_1D, 2).tolist() == [2.0, 1.0, 1.0, 2.0]
    assert knn_radii(fake, 2).tolist() == [3.5, 3.5, 3.5]
    res = prdc(REAL_1D, fake, k_pr=2, k_dc=2, block_size=2)
    assert (res.precision, res.recall, res.coverage) == (1.0, 1.0, 1.0)
    close(res.density, 4 / 3, rel=1e-15)


def test_prdc_two_d_square():
    # Reals at the corners of the unit square: with k = 1 each radius is 1. A fake at the
    # centre (d = sqrt(.5) < 1 to all four) is in all four balls: density 4/1 per fake.
    real = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    fake = torch.tensor([[0.5, 0.5], [0.5, 0.5], [5.0, 5.0]])
    res = prdc(real, fake, k_pr=1, k_dc=1)
    assert abs(res.precision - 2 / 3) < 1e-15 and abs(res.density - 8 / 3) < 1e-15
    assert res.coverage == 1.0  # each corner has a centre fake at sqrt(.5) < 1
    # fake radii (k = 1): 0, 0 (the duplicate) and 4.5 sqrt(2) = 6.36 for (5, 5), which reaches
    # only the corner (1, 1) at 4 sqrt(2) = 5.66; (1, 0) and (0, 1) are at sqrt(41) = 6.40
    assert res.recall == 0.25


def prdc_reference(real: np.ndarray, fake: np.ndarray, k_pr: int, k_dc: int) -> list[float]:
    """Full-matrix transcription: torch-fidelity's P/R (<=) and Naeem et al.'s D/C (<)."""
    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    def radii(a, k):
        return np.sort(dist(a, a), axis=1)[:, k]
    d_rf = dist(real, fake)  # (N_real, N_fake)
    r_real_pr, r_fake_pr, r_real_dc = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    precision = (d_rf <= r_real_pr[:, None]).any(axis=0).mean()
    recall = (d_rf <= r_fake_pr[None, :]).any(axis=1).mean()
    density = (d_rf < r_real_dc[:, None]).sum(axis=0).mean() / k_dc
    coverage = (d_rf.min(axis=1) < r_real_dc).mean()
    return [precision, recall, density, coverage]


def test_prdc_blockwise_equals_full_and_reference():
    real, fake = features(203, 6, 20), features(157, 6, 21, shift=0.4, scale=1.2)
    small = prdc(torch.tensor(real, dtype=torch.float32), fake, block_size=7)
    full = prdc(real, fake, block_size=100_000)
    ref = prdc_reference(real, fake, 3, 5)
    for got in (small, full):
        np.testing.assert_allclose(
            [got.precision, got.recall, got.density, got.coverage], ref, rtol=0, atol=1e-12)
    assert 0.2 < small.precision < 0.95 and 0.2 < small.recall < 0.95  # not trivial


def test_prdc_never_holds_more_than_one_block(monkeypatch):
    real, fake = torch.randn(600, 3), torch.randn(500, 3)
    real_cdist, sizes = prdc_mod._cdist, []

    def recording_cdist(a, b):
        sizes.append(a.shape[0] * b.shape[0])
        return real_cdist(a, b)

    monkeypatch.setattr(prdc_mod, "_cdist", recording_cdist)
    prdc(real, fake, block_size=64)
    assert max(sizes) <= 64 * 600 and len(sizes) == 10 + 8 + 8  # real, fake, cross passes


def test_prdc_identical_sets_are_fully_covered():
    x = features(120, 5, 22)
    res = prdc(x, x)
    assert (res.precision, res.recall, res.coverage) == (1.0, 1.0, 1.0)
    assert res.density > 0.5


def test_prdc_bad_input():
    with pytest.raises(GankitError, match="at least 6"):
        prdc(torch.zeros(5, 2), torch.zeros(10, 2))
    with pytest.raises(GankitError, match="dimensions"):
        prdc(torch.zeros(10, 2), torch.zeros(10, 3))
    with pytest.raises(GankitError, match="block_size"):
        knn_radii(torch.zeros(10, 2), 3, block_size=0)


# ---------------------------------------------------------------- Mode coverage

GRID = torch.tensor([[float(i), float(j)] for i in (-4, -2, 0, 2, 4) for j in (-4, -2, 0, 2, 4)])


def test_mode_coverage_on_exact_grid_samples():
    gen = torch.Generator().manual_seed(0)
    samples = GRID.repeat_interleave(100, dim=0) + 0.05 * torch.randn(2500, 2, generator=gen)
    res = mode_coverage(samples, GRID, std=0.05)
    assert res.modes_covered == 25 and res.num_modes == 25 and len(res.counts) == 25
    expected_hq = 1 - math.exp(-4.5)  # chi with 2 dof: P(r < 3) = 0.98889
    assert abs(res.high_quality_fraction - expected_hq) < 0.01
    assert 0.0 <= res.kl_to_uniform < 0.01
    assert sum(res.counts) == round(res.high_quality_fraction * 2500)
    assert json.loads(json.dumps(res.to_dict()))["counts"] == list(res.counts)


def test_mode_coverage_collapsed_to_one_centre():
    res = mode_coverage(GRID[7].repeat(50, 1), GRID, std=0.05)
    assert res.modes_covered == 1 and res.counts[7] == 50 and res.high_quality_fraction == 1.0
    close(res.kl_to_uniform, math.log(25), rel=1e-12)


def test_mode_coverage_per_dimension_std_and_strict_threshold():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    std = torch.tensor([0.5, 2.0])
    # z-distances to centre 0: 1.4/.5 = 2.8 (in), 1.5/.5 = 3 exactly (out: strict <),
    # 5/2 = 2.5 (in: the wide axis), 3.5/.5 = 7 (out)
    samples = torch.tensor([[1.4, 0.0], [1.5, 0.0], [0.0, 5.0], [3.5, 0.0]])
    res = mode_coverage(samples, centers, std=std)
    assert res.counts == (2, 0) and res.high_quality_fraction == 0.5
    assert res.modes_covered == 1
    close(res.kl_to_uniform, math.log(2), rel=1e-12)
    per_mode = mode_coverage(samples, centers, std=torch.stack([std, std]))
    assert per_mode == res


def test_mode_coverage_without_good_samples_and_bad_input():
    res = mode_coverage(torch.full((3, 2), 100.0), GRID, std=0.05)
    assert res.modes_covered == 0 and res.high_quality_fraction == 0.0
    assert math.isnan(res.kl_to_uniform)
    with pytest.raises(GankitError, match="std"):
        mode_coverage(torch.zeros(3, 2), GRID, std=torch.ones(3))
    with pytest.raises(GankitError, match="std"):
        mode_coverage(torch.zeros(3, 2), GRID, std=0.0)
    with pytest.raises(GankitError, match="dimensions"):
        mode_coverage(torch.zeros(3, 3), GRID, std=0.05)


def test_class_coverage_by_hand():
    # two of four classes, half each, against uniform: 2 * 0.5 log(0.5 / 0.25) = log 2
    res = class_coverage(torch.tensor([0, 0, 1, 1]), 4)
    assert res.classes_covered == 2 and res.num_classes == 4
    close(res.kl, math.log(2), rel=1e-12)
    # against data counts (2, 1, 1, 0): 0.5 log(0.5 / 0.5) + 0.5 log(0.5 / 0.25) = 0.5 log 2
    close(class_coverage([0, 0, 1, 1], 4, reference_hist=[2, 1, 1, 0]).kl, 0.5 * math.log(2))
    assert class_coverage(np.arange(8) % 4, 4).kl == 0.0
    assert class_coverage([3], 4, reference_hist=[1, 1, 1, 0]).kl == math.inf
    collapsed = class_coverage(np.zeros(26, dtype=np.int64), 1000)
    assert collapsed.classes_covered == 1
    close(collapsed.kl, math.log(1000), rel=1e-12)


def test_class_coverage_bad_input():
    with pytest.raises(GankitError, match=r"\[0, 4\)"):
        class_coverage([0, 4], 4)
    with pytest.raises(GankitError, match="integers"):
        class_coverage([0.0, 1.0], 4)
    with pytest.raises(GankitError, match="shape"):
        class_coverage([0, 1], 4, reference_hist=[1, 1])


# ---------------------------------------------------------------- torchmetrics parity


class FirstColumns(torch.nn.Module):
    """An 'identity' extractor that also survives torchmetrics' uint8 (1, 3, 299, 299) probe."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.d = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, : self.d].double()


def test_fid_matches_torchmetrics():
    fidelity_ref.ensure_importable()  # torchmetrics imports torch-fidelity when it is installed
    tm_fid = pytest.importorskip("torchmetrics.image.fid")
    real = torch.tensor(features(300, 10, 30))
    fake = torch.tensor(features(280, 10, 31, shift=0.2, scale=1.3))
    metric = tm_fid.FrechetInceptionDistance(feature=FirstColumns(10))
    for batch in real.split(64):
        metric.update(batch, real=True)
    for batch in fake.split(64):
        metric.update(batch, real=False)
    expected = float(metric.compute())
    ours = fid_from_stats(GaussianStats.from_features(real), GaussianStats.from_features(fake))
    close(ours, expected, rel=1e-6)


def test_kid_matches_torchmetrics():
    fidelity_ref.ensure_importable()
    tm_kid = pytest.importorskip("torchmetrics.image.kid")
    real, fake = torch.tensor(features(40, 6, 32)), torch.tensor(features(40, 6, 33, shift=0.3))
    with pytest.warns(UserWarning, match="buffer"):
        metric = tm_kid.KernelInceptionDistance(feature=FirstColumns(6), subsets=1,
                                                subset_size=40)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    mean, std = metric.compute()
    ours = kid(real, fake, subsets=1, subset_size=40)  # a whole-set subset: order-free
    close(ours.mean, float(mean), rel=1e-10)
    assert float(std) == 0.0 and ours.std == 0.0


# ---------------------------------------------------------------- torch-fidelity parity
# Its metric functions themselves, loaded from the installed package (tests/fidelity_ref.py).


def fidelity(module: str):
    mod = fidelity_ref.load(module)
    if mod is None:
        pytest.skip("torch-fidelity is not installed (make install adds it with --no-deps)")
    return mod


@pytest.mark.parametrize("n_real,n_fake", [(60, 60), (70, 50)])
def test_kid_matches_torch_fidelity(n_real, n_fake):
    ref = fidelity("metric_kid")
    real = torch.tensor(features(n_real, 8, 40))
    fake = torch.tensor(features(n_fake, 8, 41, shift=0.2))
    ours = kid(real, fake, subsets=7, subset_size=20, seed=3)
    # torch-fidelity's convention: input1 = generated, input2 = real
    want = ref.kid_features_to_metric(fake, real, kid_subsets=7, kid_subset_size=20, rng_seed=3,
                                      verbose=False)
    close(ours.mean, want[ref.KEY_METRIC_KID_MEAN], rel=1e-10)
    close(ours.std, want[ref.KEY_METRIC_KID_STD], rel=1e-8)
    # with the default seeds (both 2020) too
    want = ref.kid_features_to_metric(fake, real, kid_subsets=3, kid_subset_size=20,
                                      verbose=False)
    close(kid(real, fake, subsets=3, subset_size=20).mean, want[ref.KEY_METRIC_KID_MEAN],
          rel=1e-10)


def test_is_matches_torch_fidelity():
    ref = fidelity("metric_isc")
    logits = torch.randn(53, 7, generator=torch.Generator().manual_seed(5)) * 3
    for seed in (0, 2020):
        want = ref.isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=seed)
        ours = inception_score(logits, splits=10, seed=seed)
        close(ours.mean, want[ref.KEY_METRIC_ISC_MEAN], rel=1e-12)
        close(ours.std, want[ref.KEY_METRIC_ISC_STD], rel=1e-10)
    want = ref.isc_features_to_metric(logits, splits=4, shuffle=False)
    close(inception_score(logits, splits=4, shuffle=False).mean, want[ref.KEY_METRIC_ISC_MEAN],
          rel=1e-12)
    close(inception_score(logits, splits=10).mean,  # both default to rng_seed 2020
          ref.isc_features_to_metric(logits)[ref.KEY_METRIC_ISC_MEAN], rel=1e-12)


def test_fid_matches_torch_fidelity():
    ref = fidelity("metric_fid")
    a, b = features(300, 12, 42), features(250, 12, 43, shift=0.3, scale=1.5)
    want = ref.fid_statistics_to_metric(ref.fid_features_to_statistics(torch.tensor(a)),
                                        ref.fid_features_to_statistics(torch.tensor(b)), False)
    ours = fid_from_stats(GaussianStats.from_features(a), GaussianStats.from_features(b))
    close(ours, want[ref.KEY_METRIC_FID], rel=1e-6)  # sqrtm (pytorch-fid) vs its eigenvalues


def test_precision_recall_matches_torch_fidelity():
    ref = fidelity("metric_prc")
    real = torch.tensor(features(80, 5, 44))
    fake = torch.tensor(features(70, 5, 45, shift=0.4))
    # torch-fidelity: features_1 = generated, features_2 = real
    want = ref.calculate_precision_recall_full(fake, real, neighborhood=3)
    ours = precision_recall(real, fake, k=3)
    assert (ours.precision, ours.recall) == pytest.approx(want, abs=1e-6)  # theirs: float32 mean
    assert 0 < ours.precision < 1 and 0 < ours.recall < 1
