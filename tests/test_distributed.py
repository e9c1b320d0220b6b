"""Data-parallel training with torchrun on 2 CPU processes (gloo)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_DCGAN

from gankit.train import checkpoint

HERE = Path(__file__).parent


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_ranks_hold_identical_weights(tmp_path):
    torchrun(str(HERE / "ddp_worker.py"), str(tmp_path), *TINY_DCGAN, cwd=tmp_path)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for net in ("g", "d", "g_ema"):
        for name, value in r0[net].items():
            if "running" in name or "num_batches" in name:
                continue  # batch-norm statistics are per rank (documented)
            assert torch.equal(value, r1[net][name]), f"{net}.{name} differs between ranks"
    start = torch.load(tmp_path / "rank0.pt", weights_only=True)["g"]["net.0.weight"]
    assert start.abs().sum() > 0
    log = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6]  # one writer: rank 0
    assert log[-1]["images_seen"] == 6 * 16 * 2


@pytest.mark.parametrize("extra", [["reg.r1_gamma=1.0", "model.d_norm=none"]])
def test_cli_torchrun_resume_matches_uninterrupted(tmp_path, extra):
    args = ["-m", "gankit", "train", "dcgan-digits", *TINY_DCGAN, *extra]
    torchrun(*args, "--out", "full", cwd=tmp_path)
    torchrun(*args, "train.steps=3", "--out", "half", cwd=tmp_path)
    torchrun("-m", "gankit", "train", "--resume", "half", "train.steps=6", cwd=tmp_path)
    full, half = checkpoint.load(tmp_path / "full"), checkpoint.load(tmp_path / "half")
    assert half["state"]["step"] == 6
    for net in ("g", "d", "g_ema"):
        for name, value in full["state"][net].items():
            assert torch.equal(value, half["state"][net][name]), f"{net}.{name}"
