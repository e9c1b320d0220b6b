"""End-to-end training: a short run, exact resume, NaN stop, run-folder safety, sampling."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import assert_same as _assert_same
from PIL import Image

import gankit
from gankit import checkpoint, config
from gankit.errors import GankitError
from gankit.train.hooks import TrainingDiverged
from gankit.train.loop import train


def _state(run):
    return checkpoint.load(run)["state"]


def test_short_run_writes_the_documented_layout(tmp_path, tiny_dcgan):
    run = train(config.build(None, tiny_dcgan), out=tmp_path / "run")
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.pt").is_file()
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-0000003.png",
                                                                   "step-0000006.png"]
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [2, 4, 6]
    assert {"d_real", "d_fake", "g_adv", "images_per_s", "images_seen"} <= set(lines[0])
    assert lines[-1]["images_seen"] == 6 * 16
    st = _state(run)
    assert st["step"] == 6
    assert config.build(str(run / "config.yaml")) == config.build(None, tiny_dcgan)


def test_training_changes_weights_and_ema_lags(tmp_path, tiny_mlp):
    cfg = config.build(None, tiny_mlp + ["train.ema_beta=0.5"])
    run = train(cfg, out=tmp_path / "run")
    st = _state(run)
    g, ema = st["nets"]["g"], st["ema"]["g"]
    k = next(iter(g))
    assert not torch.equal(g[k], ema[k])  # EMA is a different, smoothed copy
    cfg0 = config.build(None, tiny_mlp + ["train.ema_beta=0.0"])
    st0 = _state(train(cfg0, out=tmp_path / "run0"))
    assert all(torch.equal(st0["nets"]["g"][k], st0["ema"]["g"][k]) for k in st0["nets"]["g"])


def test_same_seed_same_weights(tmp_path, tiny_dcgan):
    a = _state(train(config.build(None, tiny_dcgan), out=tmp_path / "a"))
    b = _state(train(config.build(None, tiny_dcgan), out=tmp_path / "b"))
    _assert_same(a["nets"]["g"], b["nets"]["g"])
    c = _state(train(config.build(None, tiny_dcgan + ["seed=1"]), out=tmp_path / "c"))
    assert not torch.equal(a["nets"]["g"]["net.0.weight"], c["nets"]["g"]["net.0.weight"])


@pytest.mark.parametrize("extra", [
    [],
    ["loss=wgan", "reg.gp_lambda=1.0", "optim.n_critic=2", "model.d_norm=none"],
    ["loss=hinge", "reg.r1_gamma=1.0", "reg.r1_every=2", "train.precision=bf16",
     "train.channels_last=true"],
    ["loss=wgan", "reg.gp_lambda=1.0", "model.d_norm=none", "train.precision=bf16"],
    ["loss=wgan", "reg.clip_d=0.05", "train.ema_rampup=null"],
])
def test_resume_is_exact(tmp_path, tiny_dcgan, extra):
    full = train(config.build(None, tiny_dcgan + extra), out=tmp_path / "full")
    half = train(config.build(None, tiny_dcgan + extra + ["train.steps=3"]), out=tmp_path / "half")
    assert _state(half)["step"] == 3
    train(None, resume=half, overrides=["train.steps=6"])
    _assert_same(_state(full), _state(half))
    # the log continues where it stopped, with no duplicated steps
    steps = [json.loads(x)["step"] for x in (half / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6]


def test_resume_on_mixture_data_is_exact(tmp_path, tiny_mlp):
    full = train(config.build(None, tiny_mlp), out=tmp_path / "full")
    half = train(config.build(None, tiny_mlp + ["train.steps=3"]), out=tmp_path / "half")
    train(None, resume=half, overrides=["train.steps=6"])
    _assert_same(_state(full), _state(half))


def test_resume_rejects_a_changed_config(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp), out=tmp_path / "run")
    before = (run / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(GankitError, match="cannot resume .*optim.g_lr was 0.0002"):
        train(None, resume=run, overrides=["optim.g_lr=0.1", "train.steps=9"])
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_new_run_never_overwrites(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp), out=tmp_path / "run")
    before = (run / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(GankitError, match="already holds a run"):
        train(config.build(None, tiny_mlp), out=run)
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp), out=tmp_path / "run")
    good = (run / "checkpoints" / "last.pt").read_bytes()
    ckpt = checkpoint.load(run)
    # poison G so its output (and so every loss) is NaN, then resume
    for k, v in ckpt["state"]["nets"]["g"].items():
        if k.endswith("weight"):
            v.fill_(float("nan"))
    checkpoint.save({k: v for k, v in ckpt.items() if k not in ("format", "version")},
                    tmp_path / "poisoned" / "checkpoints" / "last.pt")
    with pytest.raises(TrainingDiverged, match=r"loss d_fake became nan at step 7"):
        train(None, resume=tmp_path / "poisoned", overrides=["train.steps=12"])
    assert (run / "checkpoints" / "last.pt").read_bytes() == good
    st = checkpoint.load(tmp_path / "poisoned")["state"]
    assert st["step"] == 6  # the poisoned-but-finite checkpoint was not replaced


def test_truncated_and_foreign_checkpoints(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp), out=tmp_path / "run")
    blob = (run / "checkpoints" / "last.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(GankitError, match="truncated, corrupt"):
        gankit.load(str(cut))
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(GankitError, match="not a gankit checkpoint"):
        gankit.load(str(other))
    ckpt = checkpoint.load(run)
    ckpt["specs"]["g"]["kwargs"]["width"] = 32  # weights of another model
    payload = {k: v for k, v in ckpt.items() if k not in ("format", "version")}
    checkpoint.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(GankitError, match="does not match its recorded model"):
        gankit.load(str(tmp_path / "mismatch.pt"))


def test_pipeline_sampling(tmp_path, tiny_dcgan):
    run = train(config.build(None, tiny_dcgan), out=tmp_path / "run")
    pipe = gankit.load(str(run))
    x = pipe.sample(5, seed=3)
    assert x.shape == (5, 1, 8, 8) and x.dtype == torch.float32 and x.abs().max() <= 1
    assert torch.equal(x, pipe.sample(5, seed=3))
    assert not torch.equal(x, pipe.sample(5, seed=4))
    pipe.save(x, tmp_path / "grid.png")
    assert Image.open(tmp_path / "grid.png").size == (2 + 3 * 10, 2 + 2 * 10)  # 3 per row, 2 px padding
    pipe.save(x, tmp_path / "arr.npz")
    with np.load(tmp_path / "arr.npz") as z:
        assert z["images"].shape == (5, 1, 8, 8) and z["images"].dtype == np.uint8
    paths = pipe.save(x, tmp_path / "single")
    assert len(paths) == 5 and Image.open(paths[0]).size == (8, 8)  # no grid border


def test_resume_trims_log_lines_written_after_the_checkpoint(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp + ["train.steps=3"]), out=tmp_path / "run")
    with open(run / "metrics.jsonl", "a") as fh:  # as if the run had crashed after step 3
        fh.write(json.dumps({"step": 4, "d_real": 0.0}) + "\n")
    train(None, resume=run, overrides=["train.steps=6"])
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6]


def test_tensorboard_scalars_are_written(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp + ["train.tensorboard=true"]), out=tmp_path / "run")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"))
    acc.Reload()
    assert {"d_real", "g_adv", "images_per_s"} <= set(acc.Tags()["scalars"])
    assert [e.step for e in acc.Scalars("g_adv")] == [2, 4, 6]


def test_linear_lr_decay_reaches_zero(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp + ["optim.lr_decay=linear", "optim.g_lr=0.006"]),
                out=tmp_path / "run")
    st = _state(run)
    # the last step ran at lr = base * (1 - 5/6); Adam's state keeps no lr, the groups do
    assert st["opts"]["g"]["param_groups"][0]["lr"] == pytest.approx(0.006 / 6)


def test_extending_a_linear_decay_replans_it(tmp_path, tiny_mlp, capsys):
    """lr(step) = base * (1 - step / train.steps) with the *current* train.steps: extending a
    run re-plans the decay over the new length (as pix2pix's --epoch_count does)."""
    base = 0.008
    run = train(config.build(None, tiny_mlp + ["optim.lr_decay=linear", f"optim.g_lr={base}",
                                               "train.steps=4"]), out=tmp_path / "run")
    assert _state(run)["opts"]["g"]["param_groups"][0]["lr"] == pytest.approx(base * (1 - 3 / 4))
    capsys.readouterr()
    train(None, resume=run, overrides=["train.steps=5", "train.ckpt_every=1"])
    assert "re-planned for 5 steps" in capsys.readouterr().out
    # step 4 (the first after the resume) ran at base * (1 - 4/5), not 0 and not a new ramp
    assert _state(run)["opts"]["g"]["param_groups"][0]["lr"] == pytest.approx(base * (1 - 4 / 5))


def test_crash_then_resume_is_exact(tmp_path, tiny_mlp, monkeypatch):
    """A run killed mid-way (after its step-3 checkpoint, at step 5) resumes to the same
    weights as an uninterrupted run, with an lr schedule that depends on train.steps."""
    from gankit.train import hooks

    extra = ["loss=lsgan", "optim.lr_decay=linear", "model.prior=uniform"]
    full = train(config.build(None, tiny_mlp + extra), out=tmp_path / "full")
    original = hooks.Hooks.after_step

    def crash(self, st, terms):
        if st.step == 5:
            raise KeyboardInterrupt
        original(self, st, terms)

    monkeypatch.setattr(hooks.Hooks, "after_step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(config.build(None, tiny_mlp + extra), out=tmp_path / "crashed")
    monkeypatch.setattr(hooks.Hooks, "after_step", original)
    assert _state(tmp_path / "crashed")["step"] == 3
    train(None, resume=tmp_path / "crashed")
    _assert_same(_state(full), _state(tmp_path / "crashed"))
    steps = [json.loads(x)["step"] for x in (tmp_path / "crashed" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 4, 6]  # the step-4 line written before the crash was replaced


def test_lazy_r1_runs_on_every_nth_step(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp + ["reg.r1_gamma=1.0", "reg.r1_every=3",
                                               "train.log_every=1"]), out=tmp_path / "run")
    r1 = [json.loads(x)["d_r1"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [v > 0 for v in r1] == [(s % 3 == 0) for s in range(len(r1))]


def test_lazy_r1_counts_critic_updates(tmp_path, tiny_mlp):
    run = train(config.build(None, tiny_mlp + ["reg.r1_gamma=1.0", "reg.r1_every=3",
                                               "optim.n_critic=2", "train.log_every=1"]),
                out=tmp_path / "run")
    r1 = [json.loads(x)["d_r1"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    # D updates 2s and 2s+1 belong to step s; R1 runs on updates 0, 3, 6, 9
    assert [v > 0 for v in r1] == [True, True, False, True, True, False]


def test_a_new_best_is_saved_to_last_before_best(tmp_path, tiny_mlp, monkeypatch):
    """Killed between the two writes, a run must still resume (best.pt alone would strand it)."""
    written = []
    real = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda payload, path: (
        written.append((payload["state"]["step"], path.name)), real(payload, path)))
    train(config.build(None, tiny_mlp + ["train.eval_every=2", "train.ckpt_every=100",
                                         "eval.n=64", "eval.metrics=modes"]),
          out=tmp_path / "run")
    for i, (step, name) in enumerate(written):
        if name == "best.pt":
            assert written[i - 1] == (step, "last.pt"), written
    assert written[-1][0] == 6 and sum(n == "last.pt" for s, n in written if s == 6) == 1


V2_FIXTURE = Path(__file__).parent / "data" / "ckpt-v2-dcgan-digits.pt"
# written by gankit before GAN families (format version 2, commit d6ac80a): dcgan-digits with:
V2_OVERRIDES = ["model.g_width=8", "model.d_width=8", "train.steps=6", "train.batch_size=16",
                "model.z_dim=8", "train.tensorboard=false", "train.progress=false",
                "train.sample_every=0", "train.ckpt_every=3"]


def _old_run(tmp_path, version: int) -> Path:
    """A run folder holding the pre-families checkpoint, marked as `version`."""
    blob = torch.load(V2_FIXTURE, weights_only=True)
    assert blob["version"] == 2 and "g_ema" in blob["state"]  # the old layout
    blob["version"] = version
    if version == 1:
        del blob["config"]["train"]["ema_rampup"], blob["config"]["eval"]["protocol"]
    run = tmp_path / f"v{version}"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(blob, run / "checkpoints" / "last.pt")
    (run / "config.yaml").write_text(yaml.safe_dump(blob["config"]))
    return run


def test_version_2_checkpoints_sample_and_resume(tmp_path):
    """Old checkpoints load into the named-nets layout: the same weights a run of today's
    code reaches (the refactor changed no arithmetic), sampling, and resuming."""
    run = _old_run(tmp_path, 2)
    old = checkpoint.load(run)
    assert old["version"] == checkpoint.VERSION and old["family"]["name"] == "unconditional"
    new = _state(train(config.build("dcgan-digits", V2_OVERRIDES), out=tmp_path / "new"))
    # bit for bit with the fixture's torch, kernels (AVX2) and threads (2); here 1 thread
    # changes the order of float sums, ~1e-9 apart, while a changed step is >1e-4 apart
    same = (torch.__version__.startswith("2.13.0")
            and torch.backends.cpu.get_cpu_capability() == "AVX2")
    for group, net in (("nets", "g"), ("nets", "d"), ("ema", "g")):
        for k, v in new[group][net].items():
            torch.testing.assert_close(old["state"][group][net][k], v, rtol=0,
                                       atol=1e-6 if same else 1e-4)
    assert gankit.load(str(run)).sample(5, seed=1).shape == (5, 1, 8, 8)
    train(None, resume=run, overrides=["train.steps=8"])
    assert checkpoint.load(run)["state"]["step"] == 8


def test_version_1_checkpoints_keep_their_behaviour(tmp_path):
    run = _old_run(tmp_path, 1)
    ckpt = checkpoint.load(run)
    assert ckpt["version"] == checkpoint.VERSION
    assert ckpt["config"]["train"]["ema_rampup"] is None
    assert ckpt["config"]["eval"]["protocol"] == "pytorch-fid"
    train(None, resume=run, overrides=["train.steps=7"])
    assert config.build(str(run / "config.yaml")).train.ema_rampup is None
    assert gankit.load(str(run)).sample(3, seed=0).shape == (3, 1, 8, 8)


def test_old_checkpoint_without_its_fields_fails_clearly(tmp_path):
    run = _old_run(tmp_path, 2)
    blob = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    del blob["state"]["opt_g"]
    torch.save(blob, run / "checkpoints" / "last.pt")
    with pytest.raises(GankitError, match=r"older gankit \(format version 2\) and lacks 'opt_g'"):
        gankit.load(str(run))
