"""The command line: exit codes and one-line errors (never a traceback), checked output paths
and run folders that are never overwritten.

A few tests run `python -m gankit` in a subprocess (end to end, as a user would); the many
user-mistake cases call `gankit.cli.main` in this process, which is as strict (an exception
other than the one-line user error fails the test) and a second faster each.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_DCGAN, TINY_MLP
from PIL import Image
from test_crash import assert_same

from gankit import checkpoint, config
from gankit.cli import main
from gankit.train.loop import train

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")


def gankit(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120, check=False)


def cli(capsys, *args) -> subprocess.CompletedProcess:
    """`gankit ARGS` in this process: (returncode, stdout, stderr) like a subprocess."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = exc.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


def assert_user_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    """Exit code 2, no traceback, and one line naming the problem (argparse's too)."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), proc.stderr


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return train(config.build("dcgan-digits", TINY_DCGAN), out=tmp_path_factory.mktemp("d") / "run")


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    return train(config.build("mlp-ring8", TINY_MLP), out=tmp_path_factory.mktemp("m") / "run")


def case_id(value):
    """Test ids that show the command line (without the tiny configs), e.g. `sample_RUN_--n_0`."""
    if isinstance(value, list):
        return "_".join(a for a in value if a not in TINY_MLP + TINY_DCGAN) or "none"
    return None


def snapshot(run) -> dict:
    return {p.relative_to(run): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- end to end, in a subprocess


def test_list_shows_everything():
    proc = gankit("list")
    assert proc.returncode == 0, proc.stderr
    entries = {line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")}
    assert {"mnist5k", "digits", "ring8", "grid25", "dcgan", "mlp", "hinge", "lsgan", "normal",
            "dcgan-mnist", "mlp-grid25", "folder:PATH", "npz:PATH"} <= entries


def test_train_resume_sample_round_trip(tmp_path, capsys):
    run = tmp_path / "run"
    proc = gankit("train", "mlp-ring8", *TINY_MLP, "--out", str(run))
    assert proc.returncode == 0, proc.stderr
    assert (run / "samples" / "step-0000006.png").is_file()
    proc = cli(capsys, "train", "--resume", run, "train.steps=8")
    assert proc.returncode == 0, proc.stderr
    assert "steps 6 -> 8" in proc.stdout and checkpoint.load(run)["state"]["step"] == 8
    proc = cli(capsys, "sample", run, "--n", "10", "--seed", "1", "--out", tmp_path / "s.npz")
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "s.npz") as z:
        assert z["x"].shape == (10, 2)


def test_a_mistake_in_a_subprocess_is_one_line(tmp_path):
    assert_user_error(gankit("interpolate", str(tmp_path), "--seeds", "a,b"), "'a' is not a seed")
    assert_user_error(gankit("train", "mlp-ring8", "optim.g_lr=nan", "--out", str(tmp_path / "x")),
                      "optim.g_lr: must be a finite number")
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- train: config and data


def _bad_inputs(tmp_path) -> dict:
    """Files a hurried user points training at, by placeholder name."""
    (tmp_path / "noimages").mkdir()
    (tmp_path / "noimages" / "notes.txt").write_text("no images here")
    (tmp_path / "badimages").mkdir()
    (tmp_path / "badimages" / "a.png").write_bytes(b"not a png")
    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 2), np.float32))
    np.savez(tmp_path / "empty_images.npz", x=np.zeros((0, 8, 8), np.float32))
    np.savez(tmp_path / "nan.npz", x=np.full((64, 2), np.nan, np.float32))
    np.savez(tmp_path / "text.npz", x=np.array([["a", "b"]] * 64))
    np.savez(tmp_path / "neg_labels.npz", x=np.zeros((64, 2), np.float32), y=-np.ones(64, int))
    np.savez(tmp_path / "no_x.npz", images=np.zeros((64, 2), np.float32))
    np.save(tmp_path / "array.npy", np.zeros((64, 2), np.float32))
    (tmp_path / "array.npy").rename(tmp_path / "array.npz")
    (tmp_path / "cut.npz").write_bytes((tmp_path / "nan.npz").read_bytes()[:100])
    unlabelled = np.random.default_rng(0).integers(0, 255, (64, 1, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "unlabelled.npz", x=unlabelled)
    (tmp_path / "afile").write_text("")
    (tmp_path / "userdir").mkdir()
    (tmp_path / "userdir" / "photo.jpg").write_bytes(b"")
    return {name: str(tmp_path / name) for name in (
        "noimages", "badimages", "empty.npz", "empty_images.npz", "nan.npz", "text.npz",
        "neg_labels.npz", "no_x.npz", "array.npz", "cut.npz", "unlabelled.npz", "afile",
        "userdir")}


MLP_EVAL = ["mlp-ring8", *TINY_MLP, "train.eval_every=2", "eval.n=50"]
DCGAN = ["dcgan-digits", *TINY_DCGAN]


@pytest.mark.parametrize("args,needle", [
    (["dcgan-mnist", "train.stepz=3"], "unknown config key train.stepz"),
    (["dcgan-mnist", "loss=hing"], "allowed: hinge, lsgan, minimax"),
    (["dcgan-mnist", "train.batch_size=-4"], "train.batch_size: must be > 0"),
    (["nope-preset"], "neither a preset"),
    (["dcgan-mnist", "data.name=folder:/no/such/dir"], "does not exist"),
    (["dcgan-mnist", "train.precision=fp16", "device=cpu"], "fp16 needs a CUDA GPU"),
    (["dcgan-mnist", "data.name=digits", "data.resolution=30"], "dcgan cannot make 30x30"),
    (["dcgan-mnist", "train.steps=0"], "train.steps: must be > 0"),
    (["mlp-ring8", "optim.g_lr=nan"], "optim.g_lr: must be a finite number, got nan"),
    (["mlp-ring8", "optim.d_lr=inf"], "optim.d_lr: must be a finite number, got inf"),
    (["mlp-ring8", "reg.r1_gamma=.nan"], "reg.r1_gamma: must be a finite number"),
    (["mlp-ring8", f"seed={2**64}"], "seed: must be an integer in 0..4294967295"),
    (["mlp-ring8", "seed=-1"], "seed: must be an integer in 0..4294967295"),
    (["mlp-ring8", "device=foo"], "device: 'foo' is not allowed"),
    pytest.param(["mlp-ring8", *TINY_MLP, "device=cuda"], "no CUDA GPU is available",
                 marks=NO_CUDA),
    ([*DCGAN, "data.name=folder:noimages"], "has no images"),
    ([*DCGAN, "data.name=folder:badimages"], "data.skip_bad=true"),
    ([*DCGAN, "data.name=npz:empty.npz"], "'x' of shape (0, 2) is empty"),
    ([*DCGAN, "data.name=npz:empty_images.npz"], "'x' of shape (0, 8, 8) is empty"),
    ([*DCGAN, "data.name=npz:nan.npz"], "'x' holds NaN or infinite values"),
    ([*DCGAN, "data.name=npz:text.npz"], "'x' must hold real numbers"),
    ([*DCGAN, "data.name=npz:neg_labels.npz"], "'y' labels must be >= 0"),
    ([*DCGAN, "data.name=npz:no_x.npz"], "has no array 'x' (found: images)"),
    ([*DCGAN, "data.name=npz:array.npz"], "is a single array (.npy)"),
    ([*DCGAN, "data.name=npz:cut.npz"], "cannot read npz file"),
    # evaluation settings are checked when training starts, not at the first eval_every step
    ([*MLP_EVAL, "eval.metrics=is"], "the Inception Score needs an extractor with class logits"),
    ([*MLP_EVAL, "eval.metrics=pr", "eval.n=3"], "k = 3 nearest neighbours need at least 4"),
    ([*MLP_EVAL, "eval.metrics=fid", "eval.best=hq"], "eval.best=hq is not among the scores"),
    ([*DCGAN, "train.eval_every=2", "eval.extractor=inception"], "Inception weights"),
    ([*DCGAN, "train.eval_every=2", "eval.extractor=inception",
      "eval.inception_weights=missing.pth"], "missing.pth does not exist"),
    ([*DCGAN, "data.name=npz:unlabelled.npz", "train.eval_every=2", "eval.metrics=modes",
      "eval.extractor=lenet-digits"], "the modes metric needs 2-D mixture data, or labelled"),
], ids=case_id)
def test_train_mistakes_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys, args, needle):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GANKIT_INCEPTION_WEIGHTS", raising=False)
    _bad_inputs(tmp_path)  # named relative to the working folder
    assert_user_error(cli(capsys, "train", *args, "--out", "x"), needle)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("out,needle", [
    ("afile", "exists and is not a folder"),
    ("afile/run", "afile is a file, not a folder"),
    ("userdir", "is a folder with other files in it"),
    ("", "give a folder name"),
], ids=case_id)
def test_train_out_is_checked_before_training(tmp_path, monkeypatch, capsys, out, needle):
    monkeypatch.chdir(tmp_path)
    _bad_inputs(tmp_path)
    before = snapshot(tmp_path)
    assert_user_error(cli(capsys, "train", "mlp-ring8", *TINY_MLP, "--out", out), needle)
    assert snapshot(tmp_path) == before


# ---------------------------------------------------------------- train: run folders


def test_existing_run_and_corrupt_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli(capsys, "train", "mlp-ring8", *TINY_MLP, "--out", run).returncode == 0
    before = snapshot(run)
    assert_user_error(cli(capsys, "train", "mlp-ring8", *TINY_MLP, "--out", run),
                      "already holds a run")
    assert snapshot(run) == before  # nothing overwritten
    ckpt = run / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    assert_user_error(cli(capsys, "sample", run), "truncated, corrupt")
    assert_user_error(cli(capsys, "train", "--resume", run, "train.steps=9"), "truncated, corrupt")


@pytest.mark.parametrize("args,needle", [
    (["--resume", "/no/such/run"], "neither a run folder nor a checkpoint"),
    (["--resume", "RUN/config.yaml"], "give a run folder (or its checkpoints/last.pt)"),
    (["--resume", "RUN", "train.steps=6"], "is at step 6 and train.steps=6: nothing to train"),
    (["--resume", "RUN", "train.steps=3"], "nothing to train"),
    (["--resume", "RUN", "--out", "elsewhere", "train.steps=9"], "--out is for new runs"),
    (["--resume", "RUN", "optim.g_lr=0.1", "train.steps=9"], "optim.g_lr was 0.0002"),
    (["mlp-ring8", "--resume", "RUN"], "give only key=value overrides"),
    ([], "give a preset or YAML file"),
], ids=case_id)
def test_resume_mistakes_leave_the_run_alone(mlp_run, tmp_path, monkeypatch, capsys, args,
                                             needle):
    monkeypatch.chdir(tmp_path)
    before = snapshot(mlp_run)
    args = [a.replace("RUN", str(mlp_run)) for a in args]
    assert_user_error(cli(capsys, "train", *args), needle)
    assert snapshot(mlp_run) == before
    assert not (tmp_path / "elsewhere").exists()


def test_resume_from_the_last_checkpoint_file(tmp_path, capsys):
    run = train(config.build("mlp-ring8", TINY_MLP), out=tmp_path / "run")
    proc = cli(capsys, "train", "--resume", run / "checkpoints" / "last.pt", "train.steps=8")
    assert proc.returncode == 0, proc.stderr
    assert checkpoint.load(run)["state"]["step"] == 8 and not (run / "checkpoints" / "run").exists()


def test_resume_after_a_crash_tore_the_last_log_line(tmp_path, capsys):
    run = train(config.build("mlp-ring8", [*TINY_MLP, "train.steps=3"]), out=tmp_path / "run")
    with open(run / "metrics.jsonl", "a") as fh:  # killed half-way through writing step 4
        fh.write('{"step": 4, "images_seen": 128, "d_re')
    proc = cli(capsys, "train", "--resume", run, "train.steps=6")
    assert proc.returncode == 0, proc.stderr
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [2, 3, 4, 6]


@pytest.mark.parametrize("how", ["--resume", "--out"])
def test_a_run_that_died_before_its_first_checkpoint_starts_again(tmp_path, monkeypatch, capsys,
                                                                  how):
    def killed(payload, path):  # dies as it starts the first checkpoint
        raise KeyboardInterrupt

    run = tmp_path / "run"
    save = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", killed)
    assert cli(capsys, "train", "mlp-ring8", *TINY_MLP, "--out", run).returncode == 130
    monkeypatch.setattr(checkpoint, "save", save)
    assert (run / "config.yaml").is_file() and (run / "metrics.jsonl").is_file()
    assert not (run / "checkpoints").exists()
    assert_user_error(cli(capsys, "sample", run), f"starts again with `gankit train --resume {run}`")
    again = ["--resume", run] if how == "--resume" else ["mlp-ring8", *TINY_MLP, "--out", run]
    proc = cli(capsys, "train", *again)
    assert proc.returncode == 0, proc.stderr
    fresh = train(config.build("mlp-ring8", TINY_MLP), out=tmp_path / "fresh")
    assert_same(checkpoint.load(fresh)["state"], checkpoint.load(run)["state"])
    assert (run / "metrics.jsonl").read_text().count("\n") == 3  # steps 2, 4, 6 once each


def test_point_data_with_one_coordinate(tmp_path, capsys):
    np.savez(tmp_path / "line.npz", x=np.random.default_rng(0).normal(size=(256, 1)))
    run = tmp_path / "run"
    proc = cli(capsys, "train", "mlp-ring8", *TINY_MLP, f"data.name=npz:{tmp_path / 'line.npz'}",
               "--out", run)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(run / "samples" / "step-0000006.png").size == (512, 512)
    for cmd in (["sample", run, "--out", tmp_path / "s.png"],
                ["interpolate", run, "--out", tmp_path / "i.png"]):
        proc = cli(capsys, *cmd)
        assert proc.returncode == 0 and (tmp_path / cmd[-1].name).is_file(), proc.stderr


# ---------------------------------------------------------------- the tools on a trained run


def test_eval_prints_a_table_and_writes_json(digits_run, tmp_path, capsys):
    out = tmp_path / "e.json"
    proc = cli(capsys, "eval", digits_run, "--metrics", "fid,kid,is,pr,dc,modes", "--n", "300",
               "--json", out, "--reject")
    assert proc.returncode == 0, proc.stderr
    assert "real-vs-real" in proc.stdout and "rejection" in proc.stdout
    doc = json.loads(out.read_text())
    assert {"fid", "kid", "is", "precision", "recall", "density", "coverage", "classes",
            "class_kl"} <= set(doc["scores"])
    assert doc["protocol"]["extractor"] == "lenet-digits" and doc["protocol"]["n_fake"] == 300
    assert doc["real_vs_real_floor"]["fid"] < doc["scores"]["fid"]
    assert 0 < doc["rejection_sampling"]["acceptance_rate"] < 1


def test_tools_commands(digits_run, tmp_path, capsys):
    proc = cli(capsys, "sample", digits_run, "--reject", "--n", "8", "--out", tmp_path / "r.png")
    assert proc.returncode == 0 and "acceptance rate" in proc.stdout, proc.stderr
    assert Image.open(tmp_path / "r.png").size == (2 + 3 * 10, 2 + 3 * 10)  # 8 digits, 3 a row
    proc = cli(capsys, "interpolate", digits_run, "--seeds", "0,1", "--steps", "5",
               "--out", tmp_path / "i.png")
    assert proc.returncode == 0 and Image.open(tmp_path / "i.png").size == (52, 12), proc.stderr
    proc = cli(capsys, "nearest", digits_run, "--n", "2", "--k", "3", "--out", tmp_path / "n.png",
               "--device", "auto")  # "auto" reaches the extractor as a real device
    assert proc.returncode == 0 and "sample 1: nearest" in proc.stdout, proc.stderr
    proc = cli(capsys, "score", digits_run, digits_run / "samples", "--n", "200",
               "--json", tmp_path / "s.json")
    assert proc.returncode == 0, proc.stderr
    ranked = json.loads((tmp_path / "s.json").read_text())["ranking"]
    assert sorted(name for name, _ in ranked) == sorted(
        str(p) for p in (digits_run / "samples").iterdir())


def test_rejection_sampling_refuses_a_non_positive_n(digits_run):
    """The library call behind `sample --reject` (on the command line argparse refuses --n 0)."""
    import gankit
    from gankit import tools
    from gankit.errors import GankitError
    from gankit.pipelines.critic import drs_sample, load_critic

    pipe = gankit.load(digits_run)
    real = tools.real_samples(tools.run_data(pipe), 10)
    with pytest.raises(GankitError, match="n must be positive, got 0"):
        drs_sample(pipe, load_critic(digits_run), real, 0)


def _tool_inputs(tmp_path) -> dict:
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "notes.txt").write_text("hello")
    np.savez(tmp_path / "rgba.npz", x=np.zeros((4, 8, 8, 4), np.uint8))
    np.savez(tmp_path / "points.npz", x=np.zeros((4, 2), np.float32))
    np.savez(tmp_path / "none.npz", x=np.zeros((0, 1, 8, 8), np.uint8))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "one.png")
    return {k: str(tmp_path / k) for k in ("empty", "broken", "notes.txt", "rgba.npz",
                                           "points.npz", "none.npz", "one.png")}


@pytest.mark.parametrize("args,needle", [
    # sample
    (["sample", "RUN", "--reject", "--n", "0"], "argument --n: '0' is not a positive integer"),
    (["sample", "RUN", "--n", "-3"], "argument --n: '-3' is not a positive integer"),
    (["sample", "RUN", "--seed", str(2**64)], "is not a seed; give an integer in 0..4294967295"),
    (["sample", "RUN", "--reject", "--gamma-percentile", "150"], "not a percentile in [0, 100]"),
    (["sample", "RUN", "--reject", "--gamma-percentile", "nan"], "not a percentile in [0, 100]"),
    (["sample", "MLP", "--out", "x.txt"], ".npz for arrays"),
    (["sample", "MLP", "--out", "pngs"], "single PNGs need image samples"),
    (["sample", "RUN", "--out", "x.txt"], "a folder name for single PNGs"),
    (["sample", "RUN", "--out", "missing/x.png"], "folder missing does not exist"),
    (["sample", "RUN", "--out", "RUN"], "is a run folder; give a new folder"),
    (["sample", "RUN", "--out", "RUN/samples"], "would overwrite the run's own samples"),
    (["sample", "RUN", "--out", "RUN/checkpoints/last.png"], "belongs to the run"),
    (["sample", "RUN", "--out", ""], "--out: give a path"),
    (["sample", "RUN", "--device", "foo"], "device 'foo' is not allowed"),
    (["sample", "RUN", "--device", "cuda:x"], "device 'cuda:x' is not allowed"),
    pytest.param(["sample", "RUN", "--device", "cuda"], "no CUDA GPU is available", marks=NO_CUDA),
    pytest.param(["eval", "RUN", "--device", "cuda"], "no CUDA GPU is available", marks=NO_CUDA),
    # interpolate
    (["interpolate", "RUN", "--seeds", "a,b"], "argument --seeds: 'a' is not a seed"),
    (["interpolate", "RUN", "--seeds", "0,,1"], "argument --seeds: '' is not a seed"),
    (["interpolate", "RUN", "--seeds", "0"], "at least 2 seeds and 2 steps; got 1 seed(s)"),
    (["interpolate", "RUN", "--steps", "1"], "and 1 step(s)"),
    (["interpolate", "RUN", "--mode", "foo"], "choose lerp or slerp"),
    (["interpolate", "MLP", "--out", "x.txt"], "an image file needs one of the suffixes"),
    (["interpolate", "RUN", "--out", "RUN/samples/x.png"], "belongs to the run"),
    # nearest
    (["nearest", "RUN", "--n", "0"], "argument --n: '0' is not a positive integer"),
    (["nearest", "RUN", "--k", "-1"], "argument --k: '-1' is not a positive integer"),
    (["nearest", "RUN", "--k", "5000"], "k must be in 1..1797, got 5000"),
    (["nearest", "RUN", "--extractor", "foo"], "choose pixels or one of"),
    (["nearest", "RUN", "--out", "n.txt"], "an image file needs one of the suffixes"),
    (["nearest", "MLP"], "nearest neighbours need image data"),
    # score
    (["score", "RUN", "/no/such/images"], "does not exist"),
    (["score", "RUN", "empty"], "has no images"),
    (["score", "RUN", "broken"], "cannot read image"),
    (["score", "RUN", "notes.txt"], "is not an .npz or an image file"),
    (["score", "RUN", "rgba.npz"], "cannot find a channel axis of size 1 or 3"),
    (["score", "RUN", "points.npz"], "holds samples of shape (2,); this run models images"),
    (["score", "RUN", "none.npz"], "is empty"),
    (["score", "MLP", "one.png"], "this run models 2-D points"),
    (["score", "RUN", "one.png", "--top", "0"], "argument --top: '0' is not a positive"),
    (["score", "RUN", "one.png", "--top", "-1"], "argument --top: '-1' is not a positive"),
    (["score", "RUN", "one.png", "--n", "-5"], "argument --n: '-5' is not a positive integer"),
    (["score", "RUN", "one.png", "--json", "missing/s.json"], "folder missing does not exist"),
    (["score", "RUN", "one.png", "--json", "RUN/checkpoints/best.pt"], "belongs to the run"),
    (["score", "RUN", "points.npz", "--json", "points.npz"], "would overwrite the images"),
    # eval (the other checks of its settings are in test_evaluate.py)
    (["eval", "RUN", "--n", "0"], "argument --n: '0' is not a positive integer"),
    (["eval", "RUN", "--seed", "-1"], "argument --seed: '-1' is not a seed"),
    (["eval", "RUN", "--reject", "--gamma-percentile", "101"], "not a percentile in [0, 100]"),
    (["eval", "RUN", "--metrics", "fid,fd"], "unknown metric 'fd'"),
    (["eval", "RUN", "--extractor", "inception"], "GANKIT_INCEPTION_WEIGHTS"),
    (["eval", "RUN", "--extractor", "vgg"], "unknown feature extractor 'vgg'"),
    # --json is checked before the evaluation (which here would fail on the missing weights)
    (["eval", "RUN", "--extractor", "inception", "--json", "missing/e.json"],
     "--json missing/e.json: folder missing does not exist"),
    (["eval", "RUN", "--json", "RUN/config.yaml"], "would overwrite the run's own config.yaml"),
    (["eval", "RUN", "--json", "RUN/checkpoints/last.pt"], "belongs to the run"),
    (["eval", "RUN", "--json", "RUN"], "is a folder; give a file name"),
    # extractor-train: --out is checked before the training
    (["extractor-train", "vgg", "--out", "x.pt"], "unknown classifier"),
    (["extractor-train", "lenet-digits", "--out", "missing/x.pt"], "folder missing does not exist"),
    (["extractor-train", "lenet-digits", "--out", "RUN/checkpoints/last.pt"], "belongs to the run"),
    (["extractor-train", "lenet-digits", "--out", "RUN/config.yaml"], "run's own config.yaml"),
    # the commands themselves
    (["list", "extra"], "unrecognized arguments: extra"),
    ([], "the following arguments are required: command"),
], ids=case_id)
def test_tool_mistakes_exit_2_and_write_nothing(digits_run, mlp_run, tmp_path, monkeypatch,
                                                capsys, args, needle):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GANKIT_INCEPTION_WEIGHTS", raising=False)
    files = _tool_inputs(tmp_path)
    runs = {"RUN": str(digits_run), "MLP": str(mlp_run)}
    args = [files.get(a, a) for a in args]
    args = [a.replace("RUN", runs["RUN"]).replace("MLP", runs["MLP"]) for a in args]
    before = snapshot(tmp_path), snapshot(digits_run), snapshot(mlp_run)
    assert_user_error(cli(capsys, *args), needle)
    assert (snapshot(tmp_path), snapshot(digits_run), snapshot(mlp_run)) == before


# ---------------------------------------------------------------- found in review


def test_eval_seed_out_of_range_is_refused_before_any_work(mlp_run, capsys):
    before = snapshot(mlp_run)
    for seed in ("-5", "4294967296"):
        assert_user_error(cli(capsys, "train", "--resume", mlp_run, "train.steps=9",
                              f"eval.seed={seed}", "train.eval_every=3"), "eval.seed: must be")
    assert snapshot(mlp_run) == before


def test_out_folder_with_the_users_own_config_is_not_reused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    mine = "# my settings\nseed: 3\ntrain: {steps: 4}\n"
    (tmp_path / "config.yaml").write_text(mine)
    proc = cli(capsys, "train", "config.yaml", *TINY_MLP, "--out", ".")
    assert_user_error(proc, "other files in it")
    assert (tmp_path / "config.yaml").read_text() == mine


def test_json_never_overwrites_a_checkpoint(mlp_run, tmp_path, capsys):
    ckpt = mlp_run / "checkpoints" / "last.pt"
    copy = tmp_path / "copy.pt"
    copy.write_bytes(ckpt.read_bytes())
    assert_user_error(cli(capsys, "eval", copy, "--json", copy, "--n", "50"), "is a torch file")
    assert_user_error(cli(capsys, "score", copy, copy, "--json", copy), "is a torch file")
    assert copy.read_bytes() == ckpt.read_bytes()


def test_write_errors_are_one_line(mlp_run, capsys):
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    assert_user_error(cli(capsys, "eval", mlp_run, "--n", "50", "--metrics", "modes",
                          "--json", "/dev/full"), "No space left on device")
