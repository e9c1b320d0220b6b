"""Training speed of fp32 vs bf16 autocast on this machine's CPU, for the dcgan-mnist preset.

bf16 pays off only where the CPU runs it natively (AVX512-BF16 / AMX); elsewhere it is
emulated. This measures the ratio (median of alternating repeats, after a warm-up) so that
`train.precision=auto` can be checked against numbers.

    python benchmarks/bench_precision.py --steps 20 --repeats 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import machine

from gankit import config, data
from gankit.train.distributed import DistInfo
from gankit.train.loop import native_bf16
from gankit.train.state import state_for
from gankit.train.step import StepContext, train_step


def steps_per_second(precision: str, steps: int) -> float:
    cfg = config.build("dcgan-mnist", [f"train.precision={precision}"])
    ds = data.load(cfg.data)
    info = DistInfo()
    st, family = state_for(cfg, ds, info)
    ctx = StepContext.from_config(cfg, family, info.device)
    for _ in range(3):  # warm-up (oneDNN kernel selection)
        train_step(st, ctx)
    t = time.perf_counter()
    for _ in range(steps):
        train_step(st, ctx)
    return steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/precision.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(args.repeats):
        for prec, vals in rates.items():
            vals.append(steps_per_second(prec, args.steps))
    med = {p: statistics.median(v) for p, v in rates.items()}
    native = native_bf16(torch.device("cpu"))
    print(f"native bf16 on this CPU: {native}; torch kernels {torch.backends.cpu.get_cpu_capability()}")
    print(f"{'precision':<10}{'steps/s':>10}{'images/s':>10}{'x fp32':>8}")
    for p, v in med.items():
        print(f"{p:<10}{v:>10.2f}{v * 64:>10.0f}{v / med['fp32']:>8.2f}")
    print(f"auto picks: {'bf16' if native else 'fp32'}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "precision", "date": time.strftime("%Y-%m-%d"),
                                     "machine": machine(), "native_bf16": native,
                                     "steps_per_s": rates, "median": med}, indent=2))


if __name__ == "__main__":
    main()
