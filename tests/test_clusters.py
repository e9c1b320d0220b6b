"""Self-conditioning (`data.clusters`): labels made by k-means of the pixels, no real labels
used; the conditional family trains on them, resumes exactly, and samples unconditionally."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest
import torch
from conftest import HEALTH_ON, TINY_DCGAN, train_full_and_resumed
from test_cli import cli

import gankit
from gankit import checks, config, data
from gankit.data.base import TensorData
from gankit.data.builtin import digits
from gankit.data.clusters import _fit, with_clusters
from gankit.errors import GankitError


def _purity(clusters: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images whose cluster's majority label is their own."""
    hit = sum(int(torch.bincount(labels[clusters == c]).max()) for c in clusters.unique())
    return hit / len(labels)


def test_clusters_come_from_the_pixels_not_the_labels():
    d = digits()
    perm = torch.randperm(len(d), generator=torch.Generator().manual_seed(0))
    a = with_clusters(d, 10, "digits")
    b = with_clusters(TensorData("digits", d.x, d.y[perm], 10), 10, "digits")  # labels shuffled
    assert a.num_classes == 10 and torch.equal(a.y, b.y)  # the labels played no part
    assert torch.equal(a.x, d.x)
    assert sorted(a.y.unique().tolist()) == list(range(10))
    # pixel clusters follow the digits far better than chance (~0.1 for 10 random groups)
    assert _purity(a.y, d.y) > 0.6
    assert _purity(a.y, d.y[perm]) < 0.2


def test_clusters_do_not_depend_on_the_thread_count():
    # without the fit's one-thread limit these two fits differ in 1,796 of 1,797 labels on
    # a 2-core machine (OpenMP's k-means sums follow torch's thread setting)
    x = digits().x
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _fit(x, 3)
        torch.set_num_threads(2)
        two = _fit(x, 3)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_load_labels_the_training_images_by_cluster():
    cfg = config.build(None, [*TINY_DCGAN, "model.family=conditional", "data.clusters=4",
                              "data.holdout=97"])
    d = data.load(cfg.data)
    assert len(d) == len(digits()) - 97 and d.num_classes == 4
    assert torch.equal(d.y, _fit(d.x, 4))  # the training images' clusters (uncached fit)
    # the metrics see the data set's own labels: they count the extractor's classes
    real = data.eval_data(d, 100)
    assert real.num_classes == 10 and torch.equal(real.x, d.x)
    assert torch.equal(real.y, data.load(dataclasses.replace(cfg.data, clusters=0)).y)


@pytest.mark.parametrize("extra, message", [
    (["data.clusters=1"], "data.clusters: must be 0 (off) or >= 2, got 1"),
    (["data.clusters=-3"], "data.clusters: must be 0 (off) or >= 2"),
    (["data.clusters=4"], ("data.clusters is for model.family=conditional; model.family is "
                           "unconditional")),
])
def test_bad_cluster_settings_are_refused(extra, message):
    with pytest.raises(GankitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        checks.check(config.build(None, [*TINY_DCGAN, *extra]))


@pytest.mark.parametrize("extra, message", [
    (["data.name=ring8", "data.clusters=4"], "ring8 is not a finite set of images"),
    (["data.limit=10", "data.clusters=20"], "digits has only 10 training images"),
])
def test_data_that_cannot_be_clustered_is_named(extra, message):
    cfg = config.build(None, [*TINY_DCGAN, "model.family=conditional", *extra])
    with pytest.raises(GankitError, match=message):
        data.load(cfg.data)


def test_self_conditioned_run_resumes_exactly_and_samples_without_classes(tmp_path, capsys):
    extra = [*TINY_DCGAN, *HEALTH_ON, "model.family=conditional", "data.clusters=3",
             "train.steps=4"]
    full, _ = train_full_and_resumed(tmp_path, extra)
    res = cli(capsys, "sample", full, "--n", "6", "--out", tmp_path / "plain.png")
    assert res.returncode == 0, res.stderr
    assert "one row per class" not in res.stdout  # a plain grid over the clusters
    res = cli(capsys, "sample", full, "--n", "6", "--out", tmp_path / "rows.png", "--class", "0,2")
    assert res.returncode == 0 and "one row per class (2 rows" in res.stdout
    # the plain sample is the unconditional draw: clusters by their sizes, as in Python
    res = cli(capsys, "sample", full, "--n", "6", "--out", tmp_path / "plain.npz")
    assert res.returncode == 0, res.stderr
    pipe = gankit.load(str(full))
    assert pipe.num_classes == 3
    want = pipe.sample(6, seed=0)
    got = torch.from_numpy(np.load(tmp_path / "plain.npz")["x"])
    assert torch.allclose(got, want.float().cpu(), atol=1e-6)
    # `gankit eval` counts lenet-digits' 10 classes, not the 3 clusters (it failed with
    # "pred_labels must lie in [0, 3)" before the metrics got the real labels)
    res = cli(capsys, "eval", full, "--metrics", "modes", "--n", "64", "--json",
              tmp_path / "eval.json")
    assert res.returncode == 0, res.stderr
    scores = json.loads((tmp_path / "eval.json").read_text())["scores"]
    assert scores["num_classes"] == 10 and 1 <= scores["classes"] <= 10


def test_a_resume_with_other_cluster_labels_stops(tmp_path):
    from gankit import checkpoint
    from gankit.train.loop import train

    run = train(config.build(None, [*TINY_DCGAN, "model.family=conditional", "data.clusters=3",
                                    "train.steps=2"]), out=tmp_path / "run")
    last = run / "checkpoints" / "last.pt"
    ckpt = torch.load(last, weights_only=True)
    assert ckpt["clusters_sha1"] == hashlib.sha1(
        _fit(digits().x, 3).numpy().tobytes()).hexdigest()
    train(None, resume=run, overrides=["train.steps=3"])  # the same labels: resumes
    ckpt = checkpoint.load(run)
    ckpt["clusters_sha1"] = "0" * 40  # as if k-means had come out otherwise on this machine
    torch.save(ckpt, last)
    with pytest.raises(GankitError, match="k-means labels of digits differ from those the run"):
        train(None, resume=run, overrides=["train.steps=4"])


def test_ranks_whose_cluster_labels_differ_stop(monkeypatch):
    """DDP ranks fit their own k-means; labels that differ between ranks stop the run before
    step 0 instead of training each class embedding on other clusters."""
    from gankit.train import loop
    from gankit.train.distributed import DistInfo

    cfg = config.build(None, [*TINY_DCGAN, "model.family=conditional", "data.clusters=3"])
    ds = data.load(cfg.data)
    loop._same_clusters(cfg, ds, DistInfo())  # one process: nothing to compare
    mine = hashlib.sha1(ds.y.contiguous().numpy().tobytes()).hexdigest()
    monkeypatch.setattr(loop.distributed, "gather", lambda obj, info: [obj, obj])
    loop._same_clusters(cfg, ds, DistInfo())  # two ranks that agree
    monkeypatch.setattr(loop.distributed, "gather", lambda obj, info: [obj, "0" * 40, obj])
    with pytest.raises(GankitError, match=r"differ between ranks \(rank 0 and rank\(s\) 1"):
        loop._same_clusters(cfg, ds, DistInfo())
    assert mine == loop.labels_digest(ds)


def test_training_compares_the_ranks_cluster_labels(tmp_path, monkeypatch):
    """`train` runs the rank comparison: a rank with other labels stops it before a checkpoint
    is written."""
    from gankit.train import loop

    monkeypatch.setattr(loop.distributed, "gather", lambda obj, info: [obj, "0" * 40])
    cfg = config.build(None, [*TINY_DCGAN, "model.family=conditional", "data.clusters=3",
                              "train.steps=2"])
    with pytest.raises(GankitError, match="differ between ranks"):
        loop.train(cfg, out=tmp_path / "run")
    assert not list((tmp_path / "run").rglob("*.pt"))
