"""The command line: real subprocess runs, exit codes and one-line errors (never a traceback)."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY_MLP


def gankit(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def assert_user_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr, proc.stderr


def test_list_shows_everything():
    out = gankit("list").stdout
    for name in ("mnist5k", "digits", "ring8", "grid25", "dcgan", "mlp", "hinge", "lsgan",
                 "dcgan-mnist", "mlp-grid25", "folder:PATH", "npz:PATH"):
        assert name in out


def test_train_resume_sample_round_trip(tmp_path):
    run = tmp_path / "run"
    proc = gankit("train", "mlp-ring8", *TINY_MLP, "--out", str(run))
    assert proc.returncode == 0, proc.stderr
    assert (run / "samples" / "step-0000006.png").is_file()
    proc = gankit("train", "--resume", str(run), "train.steps=8")
    assert proc.returncode == 0, proc.stderr
    proc = gankit("sample", str(run), "--n", "10", "--seed", "1", "--out", str(tmp_path / "s.npz"))
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "s.npz") as z:
        assert z["x"].shape == (10, 2)


@pytest.mark.parametrize("args,needle", [
    (["train", "dcgan-mnist", "train.stepz=3", "--out", "x"], "unknown config key train.stepz"),
    (["train", "dcgan-mnist", "loss=hing", "--out", "x"], "allowed: hinge, lsgan, minimax"),
    (["train", "dcgan-mnist", "train.batch_size=-4", "--out", "x"], "train.batch_size: must be > 0"),
    (["train", "nope-preset", "--out", "x"], "neither a preset"),
    (["train", "dcgan-mnist", "data.name=folder:/no/such/dir", "--out", "x"], "does not exist"),
    (["train", "dcgan-mnist", "train.precision=fp16", "device=cpu", "--out", "x"],
     "fp16 needs a CUDA GPU"),
    (["train", "dcgan-mnist", "data.name=digits", "data.resolution=30", "--out", "x"],
     "dcgan cannot make 30x30"),
    (["sample", "/no/such/run"], "neither a run folder nor a checkpoint"),
    (["train", "--resume", "/no/such/run"], "neither a run folder nor a checkpoint"),
])
def test_user_mistakes_exit_2_with_one_line(tmp_path, args, needle):
    assert_user_error(gankit(*args, cwd=tmp_path), needle)
    assert not (tmp_path / "x" / "checkpoints").exists()


def test_corrupt_checkpoint_and_existing_run(tmp_path):
    run = tmp_path / "run"
    assert gankit("train", "mlp-ring8", *TINY_MLP, "--out", str(run)).returncode == 0
    assert_user_error(gankit("train", "mlp-ring8", *TINY_MLP, "--out", str(run)),
                      "already holds a run")
    ckpt = run / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    assert_user_error(gankit("sample", str(run)), "truncated, corrupt")
    assert_user_error(gankit("train", "--resume", str(run)), "truncated, corrupt")


def test_sample_bad_output_suffix(tmp_path):
    run = tmp_path / "run"
    assert gankit("train", "mlp-ring8", *TINY_MLP, "--out", str(run)).returncode == 0
    assert_user_error(gankit("sample", str(run), "--out", str(tmp_path / "a.txt")), ".npz")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from conftest import TINY_DCGAN

    run = tmp_path_factory.mktemp("cli") / "run"
    proc = gankit("train", "dcgan-digits", *TINY_DCGAN, "--out", str(run))
    assert proc.returncode == 0, proc.stderr
    return run


def test_eval_prints_a_table_and_writes_json(digits_run, tmp_path):
    import json

    out = tmp_path / "e.json"
    proc = gankit("eval", str(digits_run), "--metrics", "fid,kid,is,pr,dc,modes", "--n", "600",
                  "--json", str(out), "--reject")
    assert proc.returncode == 0, proc.stderr
    assert "real-vs-real" in proc.stdout and "rejection" in proc.stdout
    doc = json.loads(out.read_text())
    assert {"fid", "kid", "is", "precision", "recall", "density", "coverage", "classes",
            "class_kl"} <= set(doc["scores"])
    assert doc["protocol"]["extractor"] == "lenet-digits" and doc["protocol"]["n_fake"] == 600
    assert doc["real_vs_real_floor"]["fid"] < doc["scores"]["fid"]
    assert 0 < doc["rejection_sampling"]["acceptance_rate"] < 1


def test_tools_commands(digits_run, tmp_path):
    proc = gankit("sample", str(digits_run), "--reject", "--n", "8", "--out", str(tmp_path / "r.png"))
    assert proc.returncode == 0 and "acceptance rate" in proc.stdout, proc.stderr
    proc = gankit("interpolate", str(digits_run), "--seeds", "0,1", "--steps", "5",
                  "--out", str(tmp_path / "i.png"))
    assert proc.returncode == 0 and (tmp_path / "i.png").is_file(), proc.stderr
    proc = gankit("nearest", str(digits_run), "--n", "2", "--k", "3", "--out", str(tmp_path / "n.png"))
    assert proc.returncode == 0 and "sample 1: nearest" in proc.stdout, proc.stderr
    proc = gankit("score", str(digits_run), str(digits_run / "samples"), "--n", "200")
    assert proc.returncode == 0 and "generated" in proc.stdout, proc.stderr


@pytest.mark.parametrize("args,needle", [
    (["eval", "RUN", "--metrics", "fid,fd"], "unknown metric 'fd'"),
    (["eval", "RUN", "--extractor", "inception"], "GANKIT_INCEPTION_WEIGHTS"),
    (["eval", "RUN", "--extractor", "vgg"], "unknown feature extractor 'vgg'"),
    (["interpolate", "RUN", "--mode", "cubic"], "choose lerp or slerp"),
    (["score", "RUN", "/no/such/images"], "does not exist"),
    (["extractor-train", "vgg", "--out", "x.pt"], "unknown classifier"),
])
def test_tool_mistakes_exit_2(digits_run, args, needle, monkeypatch):
    monkeypatch.delenv("GANKIT_INCEPTION_WEIGHTS", raising=False)
    args = [str(digits_run) if a == "RUN" else a for a in args]
    assert_user_error(gankit(*args), needle)
