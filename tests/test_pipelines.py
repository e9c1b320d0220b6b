"""Inference tools: rejection sampling, D scoring, interpolation, nearest neighbours."""

import math

import pytest
import torch

import gankit
from gankit import config, tools
from gankit.pipelines import critic as C
from gankit.pipelines.interpolate import interpolate, slerp
from gankit.pipelines.nearest import nearest
from gankit.pipelines.score import histogram, load_images, rank
from gankit.train.loop import train


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from conftest import TINY_DCGAN

    out = tmp_path_factory.mktemp("runs") / "run"
    return train(config.build(None, TINY_DCGAN + ["train.steps=20"]), out=out)


def test_slerp_endpoints_and_norm():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.allclose(path[0, 0], a[0]) and torch.allclose(path[0, -1], b[0], atol=1e-6)
    assert torch.allclose(path.norm(dim=2), torch.ones(1, 5), atol=1e-6)
    mid = path[0, 2]
    assert torch.allclose(mid, torch.tensor([math.sqrt(0.5), math.sqrt(0.5)]), atol=1e-6)
    same = slerp(a, a, torch.linspace(0, 1, 3))  # parallel vectors fall back to lerp
    assert torch.allclose(same, a.expand(3, 2)[None])


def test_interpolation_shapes_and_endpoints(digits_run):
    pipe = gankit.load(digits_run)
    path = interpolate(pipe, [0, 1, 2], steps=4, mode="lerp")
    assert path.shape == (2, 4, 1, 8, 8)
    assert torch.allclose(path[0, 0], pipe.sample(1, seed=0)[0], atol=1e-6)
    assert torch.allclose(path[1, -1], pipe.sample(1, seed=2)[0], atol=1e-6)
    assert torch.allclose(path[0, -1], path[1, 0], atol=1e-6)


def test_nearest_finds_exact_copies(digits_run):
    pipe = gankit.load(digits_run)
    data = tools.run_data(pipe)
    from gankit.data.base import to_unit_range

    queries = to_unit_range(data.x[[5, 77]])
    nb = nearest(queries, data, None, k=3)
    assert nb.index[:, 0].tolist() == [5, 77] and torch.all(nb.distance[:, 0] < 1e-6)
    assert torch.all(nb.distance[:, 1:] >= nb.distance[:, :1])


def test_calibration_recovers_a_known_logistic():
    gen = torch.Generator().manual_seed(0)
    # real logits ~ N(1, 1), fake ~ N(-1, 1): the true log ratio is 2x, so scale 2, shift 0
    real = torch.randn(20000, generator=gen) + 1
    fake = torch.randn(20000, generator=gen) - 1
    cal = C.calibrate(real, fake)
    assert abs(cal.scale - 2.0) < 0.1 and abs(cal.shift) < 0.05


class TablePipe:
    """A stand-in generator: `sample(n, seed)` returns a fixed (n, 1) column per seed."""

    def __init__(self, table: dict[int, list[float]]) -> None:
        self.table = table

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        x = torch.tensor(self.table[seed])[:, None]
        assert len(x) == n, (seed, n)
        return x


class ColumnCritic:
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0].clone()


def test_drs_acceptance_probabilities_by_hand(monkeypatch):
    # Azadi et al. 2019: accept x with probability sigmoid(F(x) - gamma), where
    # F(x) = D~(x) - D~_M - log(1 - exp(D~(x) - D~_M - eps)), D~ = scale * logit + shift,
    # D~_M the running max of D~ (burn-in, then every proposal batch before it is scored)
    # and gamma the q-th percentile of F in the batch (so q% of a batch gets p < 1/2).
    scale, shift, eps, q = 2.0, -0.5, 1e-3, 80.0
    burn = [-1.0, 0.5, 0.0]  # D~ = -2.5, 0.5, -0.5: D~_M = 0.5
    batches = [[0.25, -0.5, 0.0, -2.0],  # D~ max 0.0 < 0.5: D~_M stays 0.5
               [0.5, 0.75, -1.0, 0.125]]  # D~ max 1.0: D~_M = 1.0 before this batch is scored
    seed = 0  # drs_sample's seeds: seed + 1 calibration fakes, seed + 2 burn-in, then batches
    pipe = TablePipe({1: [0.0, 1.0], 2: burn,
                      **{seed * 1000003 + 17 + i: b for i, b in enumerate(batches)}})

    def percentile(values: list[float], q: float) -> float:  # linear interpolation
        s = sorted(values)
        pos = q / 100 * (len(s) - 1)
        lo = math.floor(pos)
        return s[lo] + (pos - lo) * (s[min(lo + 1, len(s) - 1)] - s[lo])

    probs, d_max = [], max(scale * t + shift for t in burn)
    for batch in batches:
        d = [scale * t + shift for t in batch]
        d_max = max(d_max, *d)
        f = [v - d_max - math.log(1 - math.exp(v - d_max - eps)) for v in d]
        gamma = percentile(f, q)
        probs.append([1 / (1 + math.exp(-(v - gamma))) for v in f])
    assert d_max == 1.0 and [sum(p < 0.5 for p in ps) for ps in probs] == [3, 3]
    # uniforms just under p (accept) or just over p (reject): only the right p splits them
    keep = [[True, False, True, False], [False, True, False, True]]
    uniforms = [torch.tensor([p * (1 - 1e-7) if k else p * (1 + 1e-7) for p, k in zip(ps, ks)],
                             dtype=torch.float64) for ps, ks in zip(probs, keep)]
    monkeypatch.setattr(C, "calibrate", lambda real, fake: C.Calibration(scale, shift))
    monkeypatch.setattr(C.torch, "rand", lambda *a, **k: uniforms.pop(0))
    res = C.drs_sample(pipe, ColumnCritic(), torch.zeros(2, 1), n=4, seed=seed,
                       gamma_percentile=q, batch_size=4, burn_in=3, eps=eps, max_proposals=8)
    assert res.samples[:, 0].tolist() == [0.25, 0.0, 0.75, 0.125]
    assert res.proposed == 8 and res.acceptance_rate == 0.5 and res.log_m == 1.0


def test_drs_prefers_what_d_likes(digits_run):
    pipe = gankit.load(digits_run)
    critic = C.load_critic(digits_run)
    data = tools.run_data(pipe)
    res = C.drs_sample(pipe, critic, tools.real_samples(data, 500), n=300, seed=0,
                       burn_in=500)
    assert res.samples.shape == (300, 1, 8, 8) and 0 < res.acceptance_rate < 1
    plain = pipe.sample(300, seed=123)
    assert critic.logits(res.samples).mean() > critic.logits(plain).mean()
    again = C.drs_sample(pipe, critic, tools.real_samples(data, 500), n=300, seed=0, burn_in=500)
    assert torch.equal(res.samples, again.samples)  # seeded


def test_score_ranking_and_histogram(digits_run, tmp_path):
    import numpy as np
    from PIL import Image

    critic = C.load_critic(digits_run)
    for i in range(3):
        Image.fromarray(np.full((16, 16), 80 * i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    names, images = load_images(tmp_path, critic.data_shape)
    assert images.shape == (3, 1, 8, 8)
    ranked = rank(critic, names, images)
    logits = critic.logits(images)
    assert [r[1] for r in ranked] == sorted(logits.tolist(), reverse=True)
    h = histogram(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([2.0, 3.0]), bins=3)
    assert h.real == [1, 1, 1] and h.generated == [0, 0, 2] and len(h.edges) == 4
    with pytest.raises(Exception, match="shape"):
        critic.logits(torch.zeros(2, 1, 9, 9))
