"""Training health: statistics, diagnoses, actions (warn/stop/recover), kept checkpoints,
`gankit doctor`. Each condition is provoked on purpose at toy size."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch
from conftest import TINY_MLP, assert_same

from gankit import checkpoint, config
from gankit.cli import main
from gankit.config import HealthConfig
from gankit.errors import GankitError
from gankit.health import rules
from gankit.health.doctor import diagnose, render
from gankit.health.stats import Reference, sample_stats
from gankit.train import state as state_mod
from gankit.train import step as step_mod
from gankit.train.hooks import TrainingUnhealthy
from gankit.train.loop import train

# checks every 10 steps, judged from step 0, 3 in a row; log every 5 steps
HEALTH = ["health.every=10", "health.warmup=0", "health.patience=3", "health.n=64",
          "train.log_every=5", "train.ckpt_every=20", "train.sample_every=0"]
ONLY_DIVERGENCE = ["health.warmup=1000000"]  # toy runs look collapsed: judge NaN/gradients only


def events(run, kind=None):
    rows = [json.loads(x) for x in (run / "health.jsonl").read_text().splitlines()]
    return [r for r in rows if kind is None or r["event"] == kind]


# ------------------------------------------------------------------------------ statistics

def test_sample_stats_see_a_collapsed_batch_and_a_healthy_one():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(128, 8, generator=gen)
    labels = torch.arange(128) % 4
    ref = Reference.of(real, labels, 4, None)
    same = sample_stats(torch.randn(128, 8, generator=gen), labels.flip(0), ref)
    assert 0.9 < same["diversity"] < 1.1 and same["duplicates"] < 0.05 and same["classes"] == 1
    one = sample_stats(real[:1].repeat(128, 1), torch.zeros(128, dtype=torch.long), ref)
    assert one["diversity"] == 0 and one["duplicates"] == 1 and one["classes"] == 0.25
    assert one["class_kl"] == pytest.approx(math.log(130 / 32.5))  # real counts + 0.5
    assert math.isnan(sample_stats(torch.full((4, 8), float("nan")), None, ref)["diversity"])


# ------------------------------------------------------------------------------ the rules

def test_collapse_fires_after_patience_checks_and_names_its_numbers():
    h, state = HealthConfig(patience=3, warmup=0), rules.new_state()
    bad = {"diversity": 0.1, "classes": 0.2}
    assert rules.update(state, {"diversity": 0.9}, h, 100) == []
    assert rules.update(state, bad, h, 200) == [] and not state["ok"]
    assert rules.update(state, bad, h, 300) == []
    fired = rules.update(state, bad, h, 400)
    assert [f.cause for f in fired] == ["collapse"] and fired[0].since == 200
    text = fired[0].text(h)
    assert "Mode collapse from step 200" in text and "0.10" in text and "20%" in text
    assert "near-duplicates" not in text  # only the failing criteria are named
    assert rules.update(state, bad, h, 500) == []  # once per streak
    rules.update(state, {"diversity": 0.9}, h, 600)
    assert state["ok"] and state["streaks"] == {}


def test_warmup_suppresses_collapse_but_not_divergence():
    h, state = HealthConfig(patience=1, warmup=1000), rules.new_state()
    assert rules.update(state, {"diversity": 0.0, "d_acc_real": 1, "d_acc_fake": 1}, h, 500) == []
    fired = rules.update(state, {"d_grad_norm": float("nan")}, h, 600)
    assert [f.cause for f in fired] == ["nonfinite"]


def test_d_overpowered_exploding_and_rising_fid():
    h, state = HealthConfig(patience=2, warmup=0, grad_factor=100), rules.new_state()
    for step in (1, 2, 3):
        rules.update(state, {"d_grad_norm": 1.0 + step, "fid_proxy": 10.0 / step}, h, step)
    fired = rules.update(state, {"d_grad_norm": 1e4, "d_acc_real": 1.0, "d_acc_fake": 0.995,
                                 "g_grad_norm": 1e-5, "fid_proxy": 6.0}, h, 4)
    assert [f.cause for f in fired] == []  # patience 2
    fired = rules.update(state, {"d_grad_norm": 1e4, "d_acc_real": 1.0, "d_acc_fake": 1.0,
                                 "g_grad_norm": 1e-5, "fid_proxy": 7.0}, h, 5)
    causes = {f.cause: f for f in fired}
    assert set(causes) == {"exploding", "d_overpowered", "fid_rising"}
    assert "D gradient norm 1e+04" in causes["exploding"].text(h)
    assert "G gradient norm 1e-05" in causes["d_overpowered"].text(h)
    assert "reg.r1_gamma=10" in causes["d_overpowered"].text(h)
    assert "best 3.33 at step 3" in causes["fid_rising"].text(h)
    assert state["grad"]["d"] == [2.0, 3.0, 4.0]  # exploded norms stay out of the median


# ------------------------------------------------------------------------------ provoked runs

class Constant(torch.nn.Module):
    """A generator forced to one output whatever z: total mode collapse."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, z, c=None):
        return self.net(torch.zeros_like(z))


def constant_g(monkeypatch):
    build = state_mod.build_net

    def patched(spec):
        net = build(spec)
        return Constant(net) if spec["name"] == "mlp-g" else net

    monkeypatch.setattr(state_mod, "build_net", patched)


def test_a_constant_generator_is_diagnosed_as_collapse_and_stopped(tmp_path, monkeypatch, capsys):
    constant_g(monkeypatch)
    cfg = config.build(None, [*TINY_MLP, *HEALTH, "train.steps=100", "health.action=stop"])
    with pytest.raises(TrainingUnhealthy, match="Mode collapse from step 10") as exc:
        train(cfg, out=tmp_path / "run")
    assert exc.value.exit_code == 3
    stop = events(tmp_path / "run", "stop")
    assert len(stop) == 1 and stop[0]["step"] == 30 and stop[0]["cause"] == "collapse"
    assert stop[0]["values"]["diversity"] < 0.01  # the numbers that triggered it
    assert checkpoint.load(tmp_path / "run")["state"]["step"] == 20  # last.pt untouched
    rep = diagnose(tmp_path / "run")
    assert rep.status == "stopped" and "Mode collapse from step 10" in rep.findings[0]
    assert main(["doctor", str(tmp_path / "run")]) == 0
    assert "stopped by the health monitor at step 30" in capsys.readouterr().out


def test_warn_never_changes_the_training(tmp_path, monkeypatch):
    """The monitor only reads: a warned run equals the same run with health off, bit for bit."""
    constant_g(monkeypatch)
    base = [*TINY_MLP, *HEALTH, "train.steps=40"]
    warned = train(config.build(None, base), out=tmp_path / "warn")
    assert events(warned, "warn") and events(warned, "warn")[0]["cause"] == "collapse"
    off = train(config.build(None, [*base, "health.every=0"]), out=tmp_path / "off")
    a, b = checkpoint.load(warned)["state"], checkpoint.load(off)["state"]
    assert_same(a["nets"], b["nets"])
    assert_same(a["rng_ranks"], b["rng_ranks"])


@pytest.mark.parametrize("extra, cause", [
    (["optim.d_lr=10"], "d_overpowered"),
    (["model.d_width=184", "optim.d_lr=1e-3"], "d_overpowered"),  # D: 98x G's parameters
])
def test_an_overpowering_d_is_diagnosed(tmp_path, extra, cause):
    cfg = config.build(None, [*TINY_MLP, *HEALTH, "train.steps=60", *extra])
    run = train(cfg, out=tmp_path / "run")
    warned = [e for e in events(run, "warn") if e["cause"] == cause]
    assert warned and warned[0]["step"] - warned[0]["since"] == 20  # the 3rd check in a row
    assert "D overpowered G" in render(diagnose(run))
    assert warned[0]["values"]["d_acc_real"] >= 0.99


def nan_at(monkeypatch, step: int):
    """Poison D's weights once, after `step`, in a run that has not rolled back yet."""
    real_step = step_mod.train_step

    def poisoned(st, ctx):
        out = real_step(st, ctx)
        if st.step == step and st.health.get("rollbacks", 0) == 0:
            with torch.no_grad():
                next(st.nets["d"].parameters()).fill_(float("nan"))
        return out

    monkeypatch.setattr("gankit.train.loop.train_step", poisoned)


def test_injected_nan_is_rolled_back_and_training_recovers(tmp_path, monkeypatch):
    nan_at(monkeypatch, 47)
    cfg = config.build(None, [*TINY_MLP, *HEALTH, *ONLY_DIVERGENCE, "train.steps=80",
                              "health.action=recover", "health.lr_factor=0.5"])
    run = train(cfg, out=tmp_path / "run")
    (rb,) = events(run, "rollback")
    assert rb["cause"] == "nonfinite" and rb["to_step"] == 40 and rb["lr_scale"] == {"g": 0.5, "d": 0.5}
    assert "became nan" in rb["text"]
    st = checkpoint.load(run)["state"]
    assert st["step"] == 80 and st["lr_scale"] == {"g": 0.5, "d": 0.5} and st["health"]["rollbacks"] == 1
    assert all(torch.isfinite(p).all() for p in st["nets"]["d"].values())
    assert st["opts"]["d"]["param_groups"][0]["lr"] == pytest.approx(cfg.optim.d_lr * 0.5)
    # a D trained without a penalty gets R1 from the rollback on (health.r1_gamma)
    assert rb["r1_gamma"] == 0.1 and st["health"]["r1_gamma"] == 0.1
    logged = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert ["d_r1" in r for r in logged if r["step"] in (40, 45)] == [False, True]
    # no checkpoint lost: the kept ones are on disk, none of the abandoned branch was deleted
    kept = sorted(p.name for p in (run / "checkpoints").glob("step-*.pt"))
    # the newest 3, and step 0: the only one judged healthy (the warmup never ended)
    assert kept == ["step-0000000.pt", "step-0000040.pt", "step-0000060.pt", "step-0000080.pt"]
    assert events(run, "end")[0]["rollbacks"] == 1
    assert diagnose(run).status == "finished"


def test_a_recovered_run_resumes_exactly(tmp_path, monkeypatch):
    nan_at(monkeypatch, 27)
    base = [*TINY_MLP, *HEALTH, *ONLY_DIVERGENCE, "health.action=recover"]
    full = train(config.build(None, [*base, "train.steps=70"]), out=tmp_path / "full")
    half = train(config.build(None, [*base, "train.steps=50"]), out=tmp_path / "half")
    assert events(half, "rollback")
    train(None, resume=half, overrides=["train.steps=70"])
    assert_same(checkpoint.load(full)["state"], checkpoint.load(half)["state"])


def test_recovery_gives_up_after_max_rollbacks_keeping_every_checkpoint(tmp_path, monkeypatch):
    constant_g(monkeypatch)
    cfg = config.build(None, [*TINY_MLP, *HEALTH, "train.steps=300", "health.action=recover",
                              "health.max_rollbacks=2"])
    with pytest.raises(TrainingUnhealthy, match="gave up"):
        train(cfg, out=tmp_path / "run")
    run = tmp_path / "run"
    assert [e["to_step"] for e in events(run, "rollback")] == [0, 0]  # never healthy after 0
    assert len(events(run, "gave_up")) == 1
    moved = sorted(p.relative_to(run).as_posix() for p in (run / "rollbacks").rglob("*.pt"))
    assert moved == ["rollbacks/1/checkpoints/step-0000020.pt",
                     "rollbacks/2/checkpoints/step-0000020.pt"]
    assert (run / "rollbacks" / "1" / "metrics.jsonl").read_text()  # the abandoned log lines
    # collapse: D's learning rate alone is lowered, so G can catch up
    assert checkpoint.load(run)["state"]["lr_scale"] == {"g": 1.0, "d": 0.25}


def test_kept_checkpoints_are_the_newest_and_the_newest_healthy(tmp_path):
    from gankit.train.health import note_checkpoint, rollback_target, step_file

    health = rules.new_state()
    for step, ok, judged in [(0, True, False), (10, True, True), (20, True, False),
                             (30, False, True), (40, False, True), (50, False, True)]:
        health["ok"], health["judged"] = ok, judged
        dropped = note_checkpoint(health, step, 2)
    assert [k[0] for k in health["kept"]] == [10, 20, 40, 50] and dropped == [30]
    for k in health["kept"]:
        step_file(tmp_path, k[0]).parent.mkdir(exist_ok=True)
        step_file(tmp_path, k[0]).touch()
    assert rollback_target(tmp_path, health, "nonfinite")[0] == 20  # free of divergence
    assert rollback_target(tmp_path, health, "collapse")[0] == 10  # judged healthy


# ------------------------------------------------------------------------------ doctor

def test_doctor_on_a_run_without_the_monitor_replays_the_rules(tmp_path, capsys):
    cfg = config.build(None, [*TINY_MLP, "train.steps=60", "train.log_every=2",
                              "health.every=0", "optim.d_lr=10", "health.warmup=0"])
    run = train(cfg, out=tmp_path / "run")
    assert not (run / "health.jsonl").exists()
    rep = diagnose(run)
    assert not rep.monitored and rep.status == "finished"
    assert any("D overpowered G" in f for f in rep.findings)


def test_doctor_tells_running_from_crashed(tmp_path):
    run = train(config.build(None, [*TINY_MLP, *HEALTH, "train.steps=20"]), out=tmp_path / "r")
    lines = [x for x in (run / "health.jsonl").read_text().splitlines()
             if json.loads(x)["event"] != "end"]
    start = {"time": "", "step": 20, "event": "start", "pid": os.getpid(), "host": ""}
    import socket

    start["host"] = socket.gethostname()
    (run / "health.jsonl").write_text("\n".join([*lines, json.dumps(start)]) + "\n")
    assert diagnose(run).status == "running"
    start["pid"] = 2**22 + 12345  # no such process, and a log untouched for 10 minutes
    (run / "health.jsonl").write_text("\n".join([*lines, json.dumps(start)]) + "\n{\"tor")
    old = os.stat(run / "metrics.jsonl").st_mtime - 600
    os.utime(run / "metrics.jsonl", (old, old))
    rep = diagnose(run)
    assert rep.status == "crashed" and "--resume" in rep.status_text


def test_doctor_refuses_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["doctor", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


@pytest.mark.parametrize("override, message", [
    ("health.every=7", "multiple of train.log_every"),
    ("health.lr_factor=1.5", "health.lr_factor"),
    ("health.min_diversity=2", "health.min_diversity"),
    ("health.action=fix", "health.action"),
])
def test_bad_health_settings_are_refused(override, message):
    with pytest.raises(GankitError, match=message):
        config.build(None, [*TINY_MLP, "train.log_every=5", override])


def test_samples_flying_apart_or_dead_gradients_are_divergence_not_collapse():
    h, state = HealthConfig(patience=1, warmup=0), rules.new_state()
    fired = rules.update(state, {"diversity": 40.0, "classes": 0.0}, h, 10)
    assert [f.cause for f in fired] == ["diverged"]
    assert "spread 40.0x as widely" in fired[0].text(h)
    state = rules.new_state()
    fired = rules.update(state, {"g_grad_norm": 0.0, "d_grad_norm": 1e-12, "diversity": 1.0}, h, 10)
    assert [f.cause for f in fired] == ["diverged"] and "stalled" in fired[0].text(h)


def test_a_resume_may_change_the_health_settings_and_doctor_writes_json(tmp_path, capsys):
    cfg = config.build(None, [*TINY_MLP, *HEALTH, *ONLY_DIVERGENCE, "train.steps=20"])
    run = train(cfg, out=tmp_path / "r")
    train(None, resume=run, overrides=["train.steps=40", "health.action=recover"])
    assert config.load_yaml(str(run / "config.yaml"))["health"]["action"] == "recover"
    assert main(["doctor", str(run), "--json", str(tmp_path / "d.json")]) == 0
    rep = json.loads((tmp_path / "d.json").read_text())
    assert rep["status"] == "finished" and [r["step"] for r in rep["timeline"]] == [10, 20, 30, 40]


def test_a_nan_saved_in_a_kept_checkpoint_is_skipped_by_the_rollback(tmp_path, monkeypatch):
    """D's weights turn NaN in the very update before a checkpoint (the losses logged were
    computed before it): that checkpoint is no rollback target; the one before is."""
    nan_at(monkeypatch, 40)
    cfg = config.build(None, [*TINY_MLP, *HEALTH, *ONLY_DIVERGENCE, "train.steps=60",
                              "health.action=recover"])
    run = train(cfg, out=tmp_path / "run")
    (rb,) = events(run, "rollback")
    assert rb["to_step"] == 20 and checkpoint.load(run)["state"]["step"] == 60


def test_pix2pix_with_health_checks_trains_exactly_as_without(tmp_path):
    from test_image2image import PIX2PIX

    runs = [train(config.build(None, [*PIX2PIX, "health.every=2", "health.warmup=0", *extra]),
                  out=tmp_path / str(i)) for i, extra in enumerate([[], ["health.every=0"]])]
    a, b = (checkpoint.load(r)["state"] for r in runs)
    assert_same(a["nets"], b["nets"])
