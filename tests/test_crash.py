"""Crash safety: a training process killed with SIGKILL (no clean-up, no `finally`) during
training or in the middle of a checkpoint write resumes from its last complete checkpoint
and ends with the same weights, optimiser states and random streams as a run that was never
interrupted.

The kill during training is sent by the test at whatever step the process has reached (the
reference run is trained afterwards to match, so the test does not depend on timing); the
kill during a checkpoint write is made deterministic by `KILL_IN_SAVE`, a wrapper around the
CLI whose `checkpoint.save` writes half of the step-N checkpoint to the temporary file the real
one uses and then SIGKILLs its own process, as a power cut or the OOM killer would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_MLP, assert_same

from gankit import checkpoint, config
from gankit.cli import main
from gankit.train.loop import train

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals only")

# one thread in the killed process too, so both halves of a run do the same float arithmetic
CRASH_MLP = [*TINY_MLP, "train.threads=1"]


KILL_IN_SAVE = """
import io, os, signal, sys
from pathlib import Path
import torch
from gankit import checkpoint
real_save, kill_step = checkpoint.save, int(sys.argv.pop(1))
def save(payload, path):
    if payload["state"]["step"] == kill_step:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = io.BytesIO()
        torch.save({"format": checkpoint.FORMAT, "version": checkpoint.VERSION, **payload}, blob)
        with open(path.with_name(f".{path.name}.tmp{os.getpid()}"), "wb") as fh:
            fh.write(blob.getvalue()[: blob.tell() // 2])
            fh.flush()
            os.fsync(fh.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
    real_save(payload, path)
checkpoint.save = save
from gankit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def start_training(run: Path, overrides: list[str], kill_in_save: int | None = None
                   ) -> subprocess.Popen:
    """`gankit train` in a subprocess; its stderr goes to RUN.stderr (a pipe could fill up)."""
    entry = ["-m", "gankit"] if kill_in_save is None else ["-c", KILL_IN_SAVE, str(kill_in_save)]
    cmd = [sys.executable, *entry, "train", "mlp-ring8", *overrides, "--out", str(run)]
    with open(run.with_suffix(".stderr"), "w") as err:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)


def stderr_of(run: Path) -> str:
    return run.with_suffix(".stderr").read_text()[-3000:]


def logged_steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def reference(tmp_path: Path, overrides: list[str]) -> dict:
    run = train(config.build("mlp-ring8", overrides), out=tmp_path / "ref")
    return checkpoint.load(run)["state"]


def test_sigkill_during_training_resumes_exactly(tmp_path):
    run = tmp_path / "run"
    long = [*CRASH_MLP, "train.steps=1000000", "train.ckpt_every=5", "train.log_every=1",
            "train.sample_every=0"]
    proc = start_training(run, long)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            log = run / "metrics.jsonl"
            if log.is_file() and log.read_text().count("\n") >= 12:  # past the step-10 checkpoint
                break
            time.sleep(0.01)
        assert proc.poll() is None, f"training stopped before the kill: {stderr_of(run)}"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    at = checkpoint.load(run)["state"]["step"]
    assert at >= 10 and at % 5 == 0
    end = at + 7  # not a multiple of ckpt_every: the last step writes its own checkpoint
    assert main(["train", "--resume", str(run), f"train.steps={end}"]) == 0
    assert_same(reference(tmp_path, [*long, f"train.steps={end}"]), checkpoint.load(run)["state"])
    assert logged_steps(run) == list(range(1, end + 1))  # no torn, lost or duplicated line


@pytest.mark.parametrize("kill_step", [3, 6])
def test_sigkill_during_a_checkpoint_write_resumes_exactly(tmp_path, kill_step):
    """Killed while writing the step-6 checkpoint: last.pt stays the step-3 one. Killed while
    writing the first one (step 3): no checkpoint at all, and `--resume` starts the run again."""
    run = tmp_path / "run"
    proc = start_training(run, CRASH_MLP, kill_in_save=kill_step)
    assert proc.wait(timeout=120) == -signal.SIGKILL, stderr_of(run)
    torn = list((run / "checkpoints").glob(".last.pt.tmp*"))
    assert len(torn) == 1 and torn[0].stat().st_size > 0  # half a checkpoint on disk
    if kill_step == 3:
        assert not (run / "checkpoints" / "last.pt").exists()
    else:
        assert checkpoint.load(run)["state"]["step"] == kill_step - 3
    assert main(["train", "--resume", str(run)]) == 0
    assert_same(reference(tmp_path, CRASH_MLP), checkpoint.load(run)["state"])
    assert logged_steps(run) == [2, 4, 6]
    assert not list((run / "checkpoints").glob(".*tmp*"))  # the torn file was cleaned up
