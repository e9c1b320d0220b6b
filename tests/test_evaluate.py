"""The evaluation protocol end to end: exact samples score perfectly, a collapsed sampler
scores badly, the floor and the protocol are reported, real features are cached, and
training-time evaluation keeps a best checkpoint."""

import json

import pytest
import torch

from gankit import checkpoint, checks, config
from gankit.config import EvalConfig
from gankit.data import load
from gankit.data.base import TensorData, to_unit_range
from gankit.errors import GankitError
from gankit.metrics import evaluate as ev
from gankit.metrics.evaluate import better, evaluate, parse_metrics
from gankit.metrics.features import get_extractor
from gankit.metrics.inception import FIDInceptionV3
from gankit.train.loop import train


def test_exact_mixture_samples_cover_every_mode():
    data = load(config.DataConfig(name="grid25"))
    gen = torch.Generator().manual_seed(5)
    res = evaluate(lambda n, s: data.sample(n, gen)[0], data,
                   EvalConfig(metrics="modes,fid,pr", n=2500))
    assert res.scores["modes"] == 25 and abs(res.scores["hq"] - 0.9889) < 0.01
    assert res.scores["fid"] < 0.05 and res.scores["precision"] > 0.95
    assert res.floor["modes"] == 25
    assert res.protocol["extractor"] == "raw" and res.protocol["n_fake"] == 2500
    assert res.protocol["floor"] == "2500 vs 2500 independent exact samples"
    assert res.protocol["inception_protocol"] is None  # not measured with Inception


def test_collapsed_sampler_is_caught():
    data = load(config.DataConfig(name="ring8"))
    one_mode = lambda n, s: data.centers[:1].repeat(n, 1)
    res = evaluate(one_mode, data, EvalConfig(metrics="modes,pr", n=1000))
    assert res.scores["modes"] == 1 and res.scores["hq"] == 1.0
    assert res.scores["mode_kl"] == pytest.approx(torch.log(torch.tensor(8.0)).item(), abs=1e-6)
    assert res.scores["recall"] < 0.2


def test_real_images_score_like_the_floor_and_noise_does_not(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    data = load(config.DataConfig(name="digits"))
    cfg = EvalConfig(metrics="fid,kid,is,pr,dc,modes", n=800, kid_subset_size=300,
                     kid_subsets=20)
    gen = torch.Generator().manual_seed(9)

    def real_sampler(n, seed):
        return to_unit_range(data.x[torch.randint(0, len(data), (n,), generator=gen)])

    good = evaluate(real_sampler, data, cfg)
    noise = evaluate(lambda n, s: torch.rand(n, 1, 8, 8) * 2 - 1, data, cfg)
    assert good.scores["fid"] < 5 * good.floor["fid"] + 1 and noise.scores["fid"] > 50 * good.scores["fid"]
    assert good.scores["classes"] == 10 and good.scores["class_kl"] < 0.05
    assert good.scores["is"] > 5 and noise.scores["precision"] < 0.05
    assert good.scores["precision"] > 0.8 and good.scores["coverage"] > 0.8
    # 1797 images >= 2 x 800: the floor is 800 vs 800, its first half the scored real set
    assert good.protocol["floor"] == "800 vs 800 disjoint real samples"
    assert good.protocol["floor_n"] == 800 and good.protocol["n_real"] == 800
    assert len(list((tmp_path / "stats").glob("*.pt"))) == 2  # real (= floor A), floor B cached
    again = evaluate(real_sampler, data, cfg)  # from the cache: identical floor
    assert again.floor == good.floor


def _record_real_indices(monkeypatch) -> list[torch.Tensor]:
    calls = []
    real_features = ev.real_features

    def spy(data, extractor, idx, *args, **kwargs):
        calls.append(idx.clone())
        return real_features(data, extractor, idx, *args, **kwargs)

    monkeypatch.setattr(ev, "real_features", spy)
    return calls


@pytest.mark.parametrize("n", [400, 1000])
def test_floor_is_n_vs_n_or_the_largest_equal_halves(tmp_path, monkeypatch, n):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    data = load(config.DataConfig(name="digits"))  # 1797 images
    calls = _record_real_indices(monkeypatch)
    res = evaluate(lambda m, s: torch.rand(m, 1, 8, 8) * 2 - 1, data,
                   EvalConfig(metrics="fid", n=n))
    if n == 400:  # enough data: n vs n, the scored real set against n other images
        real, other = calls
        a = real
        assert res.protocol["floor"] == "400 vs 400 disjoint real samples"
        assert len(real) == len(other) == 400
    else:  # 1797 < 2 x 1000: 898 vs 898, said so
        real, a, other = calls
        assert len(real) == 1000 and len(a) == len(other) == 898 == res.protocol["floor_n"]
        assert res.protocol["floor"] == ("898 vs 898 disjoint real samples (the data hold 1797 "
                                         "images, fewer than 2 x 1000: the largest equal "
                                         "disjoint halves)")
    assert not set(a.tolist()) & set(other.tolist())
    assert res.protocol["n_real"] == len(real) and res.floor["fid"] >= 0
    no_floor = evaluate(lambda m, s: torch.rand(m, 1, 8, 8) * 2 - 1, data,
                        EvalConfig(metrics="fid", n=n), floor=False)
    assert no_floor.floor == {} and no_floor.protocol["floor"] == "not computed"


def test_real_feature_cache_is_keyed_by_the_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    paths = []
    for seed in (1, 2):  # two inception-layout files with different random weights
        torch.manual_seed(seed)
        state = {k: v for k, v in FIDInceptionV3().state_dict().items()
                 if not k.endswith("num_batches_tracked")}
        paths.append(tmp_path / f"w{seed}.pth")
        torch.save(state, paths[-1])
    data = TensorData("tiny", torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8))
    idx = torch.tensor([0, 2])
    ex1, ex2 = (get_extractor("inception", inception_weights=str(p)) for p in paths)
    assert ex1.name == ex2.name == "inception" and ex1.identity != ex2.identity
    f1 = ev.real_features(data, ex1, idx, batch_size=2, keep=True)
    f2 = ev.real_features(data, ex2, idx, batch_size=2, keep=True)
    assert len(list((tmp_path / "cache" / "stats").glob("*.pt"))) == 2
    assert not torch.equal(f1.feats, f2.feats) and not torch.equal(f1.logits, f2.logits)

    def fail(x):
        raise AssertionError("should have come from the cache")

    ex1.fn = fail  # the same weights hit the cache
    again = ev.real_features(data, ex1, idx, batch_size=2, keep=True)
    assert torch.equal(again.feats, f1.feats) and torch.equal(again.logits, f1.logits)
    other = get_extractor("inception", inception_weights=str(paths[0]), protocol="pytorch-fid")
    assert other.identity != ex1.identity and other.protocol == "pytorch-fid"


def test_fid_only_keeps_no_features():
    out = ev.extract(iter([torch.zeros(4, 1, 8, 8)] * 3), get_extractor("lenet-digits"), keep=False)
    assert out.feats is None and out.n == 12


def test_metric_names_are_checked():
    assert parse_metrics("fid, kid") == ["fid", "kid"]
    with pytest.raises(GankitError, match="unknown metric 'fd'"):
        parse_metrics("fid,fd")
    with pytest.raises(GankitError, match="eval.best"):
        checks.check(config.build("dcgan-mnist", ["eval.best=loss"]))
    assert better("fid", 1.0, 2.0) and not better("fid", 3.0, 2.0)
    assert better("hq", 0.9, 0.5) and not better("hq", float("nan"), None)


def test_training_eval_logs_and_keeps_best(tmp_path, tiny_mlp):
    cfg = config.build(None, tiny_mlp + ["train.eval_every=3", "eval.n=200",
                                         "eval.metrics=modes,fid", "eval.best=fid"])
    run = train(cfg, out=tmp_path / "run")
    evals = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()
             if "eval/fid" in x]
    assert [e["step"] for e in evals] == [3, 6]
    best = checkpoint.load(run / "checkpoints" / "best.pt")["state"]
    want = min(evals, key=lambda e: e["eval/fid"])
    assert best["best"] == {"score": "fid", "value": want["eval/fid"], "step": want["step"],
                            "protocol": "raw/-"}
    assert best["step"] == want["step"] and want["eval/protocol"] == "raw/-"


def test_best_restarts_when_the_protocol_changes_on_resume(tmp_path, tiny_mlp):
    """A FID under another extractor is not comparable: the first new score becomes best."""
    run = train(config.build(None, tiny_mlp + ["train.eval_every=3", "eval.n=200",
                                               "eval.metrics=fid", "train.steps=3"]),
                out=tmp_path / "run")
    old = checkpoint.load(run / "checkpoints" / "best.pt")["state"]["best"]
    old["value"] = -1.0  # unbeatable under the old protocol
    ckpt = checkpoint.load(run)
    ckpt["state"]["best"] = old
    checkpoint.save({k: v for k, v in ckpt.items() if k not in ("format", "version")},
                    run / "checkpoints" / "last.pt")
    train(None, resume=run, overrides=["train.steps=6", "eval.extractor=raw"])  # same: kept
    assert checkpoint.load(run)["state"]["best"]["step"] == 3
    ckpt = checkpoint.load(run)
    ckpt["state"]["best"]["protocol"] = "lenet-digits/-"  # as if scored by another extractor
    checkpoint.save({k: v for k, v in ckpt.items() if k not in ("format", "version")},
                    run / "checkpoints" / "last.pt")
    train(None, resume=run, overrides=["train.steps=9"])
    assert checkpoint.load(run)["state"]["best"] == {
        "score": "fid", "value": checkpoint.load(run)["state"]["best"]["value"], "step": 9,
        "protocol": "raw/-"}


def test_training_eval_keeps_resume_exact(tmp_path, tiny_mlp):
    extra = ["train.eval_every=2", "eval.n=100", "eval.metrics=modes"]
    full = train(config.build(None, tiny_mlp + extra), out=tmp_path / "full")
    half = train(config.build(None, tiny_mlp + extra + ["train.steps=3"]), out=tmp_path / "half")
    train(None, resume=half, overrides=["train.steps=6"])
    a, b = checkpoint.load(full)["state"], checkpoint.load(half)["state"]
    for k in a["nets"]["g"]:
        assert torch.equal(a["nets"]["g"][k], b["nets"]["g"][k])
