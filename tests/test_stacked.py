"""Stacked MNIST (PacGAN Table 3 set-up): the built-in data set, mode counting with the shipped
lenet-mnist on each channel, KL(generated || uniform), and the `modes` metric of `evaluate`."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gankit import config
from gankit.cli import main
from gankit.config import EvalConfig
from gankit.data import DATASETS, load
from gankit.data.base import to_unit_range
from gankit.data.builtin import STACKED_N, mnist5k, stacked_indices, stacked_mnist
from gankit.errors import GankitError
from gankit.metrics.evaluate import evaluate
from gankit.metrics.features import default_extractor, get_extractor
from gankit.metrics.stacked import (
    count_modes,
    joint_log_probs,
    mode_ids,
    sample_modes,
    stacked_modes,
)
from gankit.train.loop import train

LN_1000 = math.log(1000)


@pytest.fixture(scope="module")
def data():
    return load(config.DataConfig(name="stacked-mnist"))


def real_sampler(data):
    """sample(n, seed) -> n real stacked images in [-1, 1], seeded."""
    def sample(n: int, seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randint(0, len(data), (n,), generator=gen)
        return to_unit_range(data.x[idx])
    return sample


# ---- the data set ----

def test_shape_dtype_and_balanced_modes(data):
    assert "stacked-mnist" in DATASETS.names()
    assert data.x.shape == (STACKED_N, 3, 28, 28) and data.x.dtype == torch.uint8
    assert data.y.dtype == torch.int64 and data.num_classes == 1000
    assert (torch.bincount(data.y, minlength=1000) == STACKED_N // 1000).all()
    assert data.x.float().mean() > 20  # digits, not blank channels
    assert stacked_mnist() is stacked_mnist()  # cached like mnist5k


def test_each_channel_is_a_mnist5k_digit_of_its_label(data):
    labels, idx = stacked_indices()
    src = mnist5k()
    assert torch.equal(labels, data.y) and idx.shape == (STACKED_N, 3)
    assert torch.equal(mode_ids(src.y[idx]), data.y)  # 100 d_R + 10 d_G + d_B
    for c in range(3):
        assert torch.equal(data.x[:, c], src.x[idx[:, c], 0])
    assert len(torch.unique(idx)) > 4900  # nearly every mnist5k digit is used


def test_fixed_seed_independent_of_the_run_seed():
    torch.manual_seed(1)
    a = stacked_indices(n=3000)
    torch.manual_seed(2)
    b = stacked_indices(n=3000)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    other = stacked_indices(n=3000, seed=5)
    assert not torch.equal(a[1], other[1])
    labels, idx = stacked_indices(n=250, channels=2)
    assert idx.shape == (250, 2) and labels.max() < 100


# ---- KL formula and mode ids ----

def test_kl_against_hand_computed_histograms():
    one = count_modes(torch.full((500,), 371))
    assert one.modes == 1 and one.kl == pytest.approx(LN_1000, abs=1e-12)
    uniform = count_modes(torch.arange(1000).repeat(26))
    assert uniform.modes == 1000 and uniform.kl == pytest.approx(0.0, abs=1e-12)
    two = count_modes(torch.tensor([3, 3, 3, 999]))  # p = (3/4, 1/4)
    assert two.modes == 2 and two.n == 4 and two.counts[3] == 3 and two.counts[999] == 1
    assert two.kl == pytest.approx(0.75 * math.log(750) + 0.25 * math.log(250), abs=1e-12)
    assert two.to_dict() == {"modes": 2, "num_modes": 1000, "mode_kl": two.kl, "n": 4}


def test_joint_log_probs_index_and_normalisation():
    logits = torch.randn(6, 3, 10, generator=torch.Generator().manual_seed(0))
    joint = joint_log_probs(logits)
    lp = torch.log_softmax(logits, -1)
    assert joint.shape == (6, 1000)
    torch.testing.assert_close(joint.logsumexp(1), torch.zeros(6), atol=1e-5, rtol=0)
    assert torch.equal(joint.argmax(1), mode_ids(logits.argmax(2)))
    torch.testing.assert_close(joint[2, 100 * 4 + 10 * 7 + 1], lp[2, 0, 4] + lp[2, 1, 7] + lp[2, 2, 1])


def test_bad_input_is_a_user_error(data):
    with pytest.raises(GankitError, match=r"\[0, 1000\)"):
        count_modes(torch.tensor([0, 1000]))
    with pytest.raises(GankitError, match="integers"):
        count_modes(torch.tensor([0.5]))
    with pytest.raises(GankitError, match=r"\(N, 3, H, W\)"):
        stacked_modes(torch.zeros(4, 1, 28, 28))
    with pytest.raises(GankitError, match="shape"):
        stacked_modes(torch.zeros(4, 28))
    with pytest.raises(GankitError, match="positive"):
        sample_modes(real_sampler(data), n=0)
    with pytest.raises(GankitError, match="3-channel"):
        get_extractor("lenet-stacked")(torch.zeros(2, 1, 28, 28))
    with pytest.raises(GankitError, match="lenet-stacked"):  # a 10-class extractor
        evaluate(real_sampler(data), data, EvalConfig(metrics="modes", n=50,
                                                      extractor="lenet-mnist"), floor=False)


# ---- counting modes ----

def test_extractor_shapes():
    ex = get_extractor("lenet-stacked")
    feats, logits = ex(torch.rand(4, 3, 28, 28) * 2 - 1)
    assert feats.shape == (4, 192) and logits.shape == (4, 1000)
    feats, logits = ex(torch.rand(2, 3, 32, 32) * 2 - 1)  # other sizes are resized per channel
    assert feats.shape == (2, 192) and logits.shape == (2, 1000)
    assert default_extractor("stacked-mnist") == "lenet-stacked"
    assert ex.identity != get_extractor("lenet-mnist").identity


def test_real_stacked_digits_cover_nearly_every_mode(data):
    # 5,000 real images (about 5 s on one thread); measured: 994-998 modes, KL 0.086-0.097 over
    # 6 subsets (multinomial sampling alone: ~1000 (1 - e^-5) = 993 modes, KL ~0.09)
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:5000]
    r = stacked_modes(data.x[idx])
    assert 990 <= r.modes <= 1000 and 0.07 <= r.kl <= 0.11
    truth = count_modes(data.y[idx])  # the labels themselves: the classifier adds little
    assert abs(r.kl - truth.kl) < 0.01


@pytest.mark.slow
def test_26000_real_stacked_digits_as_the_papers(data):
    # the papers' sample count (about 30 s on one thread); measured: 1000 modes, KL 0.0099-0.0102
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:26000]
    r = stacked_modes(data.x[idx])
    assert r.modes >= 998 and 0.006 <= r.kl <= 0.015


def test_one_digit_triple_is_one_mode(data):
    image = to_unit_range(data.x[:1])

    def same(n: int, seed: int) -> torch.Tensor:
        return image.repeat(n, 1, 1, 1)

    r = sample_modes(same, n=600)
    assert r.modes == 1 and r.counts[int(data.y[0])] == 600
    assert r.kl == pytest.approx(LN_1000, abs=1e-9)
    res = evaluate(same, data, EvalConfig(metrics="modes", n=600))
    assert res.scores["modes"] == 1 and res.scores["mode_kl"] == pytest.approx(LN_1000, abs=1e-9)
    assert res.scores["num_modes"] == 1000 and "classes" not in res.scores
    assert res.floor["modes"] > 400 and res.floor["mode_kl"] < 1.0  # 600 real images
    assert res.protocol["extractor"] == "lenet-stacked"


def test_evaluate_counts_the_same_modes_as_sample_modes(data):
    sample = real_sampler(data)
    direct = sample_modes(sample, n=800, seed=3)
    res = evaluate(sample, data, EvalConfig(metrics="modes", n=800, seed=3), floor=False)
    assert res.scores["modes"] == direct.modes
    assert res.scores["mode_kl"] == pytest.approx(direct.kl, abs=1e-12)


def test_tiny_run_is_scored_by_gankit_eval(tmp_path, capsys, tiny_dcgan):
    run = train(config.build(None, [*tiny_dcgan, "data.name=stacked-mnist", "train.steps=2"]),
                out=tmp_path / "run")
    capsys.readouterr()
    code = main(["eval", str(run), "--metrics", "modes", "--n", "200", "--json",
                 str(tmp_path / "eval.json")])
    out = capsys.readouterr().out
    assert code in (0, None)
    assert "mode_kl" in out and "lenet-stacked" in out
    scores = json.loads((tmp_path / "eval.json").read_text())["scores"]
    assert 1 <= scores["modes"] <= 200 and 0 <= scores["mode_kl"] <= LN_1000 + 1e-9
