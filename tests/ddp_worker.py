"""Run by torchrun in test_distributed.py: train, then dump this rank's weights."""

import sys
from pathlib import Path

import torch

from gankit import config
from gankit.train import distributed
from gankit.train.loop import run_steps

out = Path(sys.argv[1])
info = distributed.setup("cpu")
cfg = config.build(None, sys.argv[2:])
st = run_steps(cfg, out / "run", None, info)
torch.save({"g": st.g.state_dict(), "d": st.d.state_dict(), "g_ema": st.g_ema.state_dict()},
           out / f"rank{info.rank}.pt")
distributed.teardown(info)
distributed.exit_process(0)  # as `python -m gankit` ends a rank (no interpreter teardown)
