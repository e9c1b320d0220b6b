"""Run by torchrun in test_distributed.py: D's weights turn NaN on rank 1 only, once; the
health monitor must roll every rank back together. Dumps this rank's weights."""

import sys
from pathlib import Path

import torch

from gankit import config
from gankit.train import distributed, loop
from gankit.train.loop import run_steps

POISON_STEP = 5
out = Path(sys.argv[1])
info = distributed.setup("cpu")
real_step = loop.train_step


def poisoned(st, ctx):
    terms = real_step(st, ctx)
    if info.rank == 1 and st.step == POISON_STEP and st.health.get("rollbacks", 0) == 0:
        with torch.no_grad():
            next(st.nets["d"].parameters()).fill_(float("nan"))
    return terms


loop.train_step = poisoned
cfg = config.build(None, sys.argv[2:])
st = run_steps(cfg, out / "run", None, info)
torch.save({"g": st.g.state_dict(), "d": st.d.state_dict(), "step": st.step,
            "lr_scale": st.lr_scale}, out / f"rank{info.rank}.pt")
distributed.teardown(info)
distributed.exit_process(0)  # as `python -m gankit` ends a rank (no interpreter teardown)
