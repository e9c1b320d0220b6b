"""The plain PyTorch loops of benchmarks/bench_families_speed.py compute what gankit computes.

The speed table compares gankit's step with a hand-written loop of the same nets and losses;
it means something only while both do the same work. Each case's `--check` (same initial
weights, equal D and G losses after one step on the same batch and latents) runs here at
width 8 and batch 8, so a loop that drifts from its family (a term left out, another label
draw, R1 on other steps) fails the suite, not only a benchmark run. The check compares the
first step's losses with the benchmark's tolerance: a change that moves them by less (other
frames of the same clips, judged by a D at its initial weights) can pass.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from gankit import config, data

_PATH = Path(__file__).parents[1] / "benchmarks" / "bench_families_speed.py"
_spec = importlib.util.spec_from_file_location("bench_families_speed", _PATH)
bfs = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_families_speed", bfs)  # its dataclasses look the module up
_spec.loader.exec_module(bfs)

SMALL = ["model.g_width=8", "model.d_width=8", "train.batch_size=8"]


@pytest.mark.parametrize("name", list(bfs.CASES))
def test_plain_loop_matches_gankit(name):
    case = bfs.CASES[name]
    cfg = config.build(case.cfg, [*bfs.COMMON, "train.channels_last=true",
                                  *case.check_overrides, *SMALL])
    res = bfs.check_case(name, cfg, data.load(cfg.data))
    assert res["initial_weights_max_abs_diff"] == 0
    assert res["ok"], res  # D and G losses equal to rel 1e-4 / abs 1e-5
