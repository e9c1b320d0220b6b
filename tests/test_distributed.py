"""Data-parallel training with torchrun on 2 CPU processes (gloo)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_DCGAN

from gankit import checkpoint, config, data
from gankit.train import distributed
from gankit.train.distributed import DistInfo
from gankit.train.state import state_for

HERE = Path(__file__).parent


def torchrun(*args: str, cwd: Path, site: Path | None = None) -> subprocess.CompletedProcess:
    """2 ranks on CPU; `site` is a folder put first on the ranks' path (a sitecustomize).
    A rank that aborts shows its Python stack (faulthandler) in the failure message."""
    path = os.pathsep.join(str(p) for p in (site, HERE) if p is not None)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path, "PYTHONFAULTHANDLER": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           *args]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-1000:] + proc.stderr[-3000:]
    return proc


def finalisation_marker(tmp_path: Path) -> tuple[Path, Path]:
    """A sitecustomize folder whose ranks leave a file in `marks` if the interpreter runs
    its exit handlers (it finalises), and the `marks` folder."""
    site, marks = tmp_path / "site", tmp_path / "marks"
    site.mkdir()
    marks.mkdir()
    (site / "sitecustomize.py").write_text(
        "import atexit, os\n"
        "if 'RANK' in os.environ and 'LOCAL_RANK' in os.environ:\n"
        f"    atexit.register(lambda: open(os.path.join({str(marks)!r}, "
        "'rank' + os.environ['RANK']), 'w').close())\n")
    return site, marks


def read_log(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_ranks_hold_identical_weights(tmp_path):
    proc = torchrun(str(HERE / "ddp_worker.py"), str(tmp_path), *TINY_DCGAN, cwd=tmp_path)
    assert "broadcast_buffers" not in proc.stderr  # torch's deprecation note, once per rank
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for net in ("g", "d", "g_ema"):
        for name, value in r0[net].items():
            if "running" in name or "num_batches" in name:
                continue  # batch-norm statistics are per rank (documented)
            assert torch.equal(value, r1[net][name]), f"{net}.{name} differs between ranks"
    # every rank starts from these weights (same seed), so equal ranks must also have moved:
    # each rank trains on its own data shard and latents, and only DDP's gradient averaging
    # keeps them equal
    cfg = config.build(None, TINY_DCGAN)
    ds = data.load(cfg.data)
    init, _ = state_for(cfg, ds, DistInfo())
    for name, value in init.g.named_parameters():
        assert not torch.equal(value, r0["g"][name]), f"g.{name} did not train"
    log = read_log(tmp_path / "run")
    assert [r["step"] for r in log] == [2, 4, 6]  # one writer: rank 0
    assert log[-1]["images_seen"] == 6 * 16 * 2


def test_exit_process_ends_only_a_process_that_joined_a_group(monkeypatch):
    codes: list[int] = []
    monkeypatch.setattr(os, "_exit", codes.append)
    monkeypatch.setattr(distributed, "_joined", False)
    distributed.exit_process(2)  # a plain run: returns, and the CLI exits as usual
    assert codes == []
    monkeypatch.setattr(distributed, "_joined", True)
    distributed.exit_process(2)  # a torchrun rank: its exit code (2: bad input) reaches torchrun
    assert codes == [2]


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["reg.r1_gamma=1.0", "model.d_norm=none"],
                                   ["model.family=bigan", "reg.pl_weight=2", "reg.pl_every=2"],
                                   ["aug.kind=ada", "aug.p=0.2", "aug.interval=2",
                                    "aug.kimg=0.05", "model.d_norm=none"],
                                   # image-to-image: content -> adversarial switch at step 3
                                   # (the resume point), D feature matching through the raw D
                                   ["model.family=superres", "data.name=photos",
                                    "data.resolution=24", "model.scale=2", "model.blocks=1",
                                    "train.pretrain_steps=3", "reg.fm_weight=1",
                                    "model.d_norm=none"],
                                   # two Gs and two Ds, a per-rank image pool that fills and swaps
                                   ["model.family=cyclegan", "data.name=mnist5k",
                                    "data.name_b=digits", "data.resolution=16", "model.blocks=1",
                                    "model.d_norm=instance", "loss=lsgan", "reg.cycle_weight=10",
                                    "reg.pool_size=20"],
                                   # k-means labels fitted on each rank, compared across ranks
                                   ["model.family=conditional", "data.clusters=3"]],
                         ids=["r1", "bigan-pl", "ada", "superres", "cyclegan", "selfcond"])
def test_cli_torchrun_resume_matches_uninterrupted(tmp_path, extra):
    args = ["-m", "gankit", "train", "dcgan-digits", *TINY_DCGAN, *extra]
    site, marks = finalisation_marker(tmp_path)
    torchrun(*args, "--out", "full", cwd=tmp_path, site=site)
    # DDP keeps gloo's threads alive to the end, and interpreter teardown beside them can
    # abort a rank after its run is complete (SIGABRT): ranks end without it
    assert sorted(p.name for p in marks.iterdir()) == []
    torchrun(*args, "train.steps=3", "--out", "half", cwd=tmp_path)
    at3 = checkpoint.load(tmp_path / "half")["state"]
    proc = torchrun("-m", "gankit", "train", "--resume", "half", "train.steps=6", cwd=tmp_path)
    assert "steps 3 -> 6" in proc.stdout and "2 process(es)" in proc.stdout  # resumed, 2 ranks
    full, half = checkpoint.load(tmp_path / "full"), checkpoint.load(tmp_path / "half")
    assert half["state"]["step"] == 6 and at3["step"] == 3
    assert half["state"]["images_seen"] == full["state"]["images_seen"] == 6 * 16 * 2
    assert [r["step"] for r in read_log(tmp_path / "half")] == [2, 3, 4, 6]  # 3: end of part 1
    for group, net in [(grp, k) for grp in ("nets", "ema") for k in full["state"][grp]]:
        for name, value in full["state"][group][net].items():
            assert torch.equal(value, half["state"][group][net][name]), f"{group}.{net}.{name}"
    if "aug.kind=ada" in extra:  # p moved by the sign summed over both ranks: equal on both
        ranks = [r["extra"]["ada_p"] for r in full["state"]["rng_ranks"]]
        assert len(ranks) == 2 and torch.equal(ranks[0], ranks[1]) and float(ranks[0]) != 0.2
    # steps 4-6 changed the weights, so the match above is not the step-3 checkpoint's
    first = next(k for k in full["state"]["nets"]["g"] if k.endswith("weight"))
    assert not torch.equal(at3["nets"]["g"][first], full["state"]["nets"]["g"][first])


@pytest.mark.slow
def test_a_nan_on_one_rank_rolls_every_rank_back_together(tmp_path):
    extra = ["train.steps=12", "train.ckpt_every=4", "train.log_every=2", "health.every=2",
             "health.warmup=1000000", "health.action=recover", "model.d_norm=none"]
    torchrun(str(HERE / "ddp_health_worker.py"), str(tmp_path), *TINY_DCGAN, *extra, cwd=tmp_path)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["step"] == r1["step"] == 12 and r0["lr_scale"] == r1["lr_scale"] == {"g": 0.5, "d": 0.5}
    for net in ("g", "d"):
        for name, value in r0[net].items():
            if "running" not in name and "num_batches" not in name:
                assert torch.isfinite(value).all() and torch.equal(value, r1[net][name]), name
    events = [json.loads(x) for x in (tmp_path / "run" / "health.jsonl").read_text().splitlines()]
    (rb,) = [e for e in events if e["event"] == "rollback"]
    assert rb["to_step"] == 4 and "became nan" in rb["text"]  # spread by the gradient all-reduce
