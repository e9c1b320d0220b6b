"""Training throughput: gankit's loop vs a plain hand-written PyTorch loop, same model.

DCGAN-28 on mnist5k, batch 64, 2 CPU threads. Every variant runs `--steps` steps; the
rate is the median over 50-step windows after the first (warm-up) window, and the whole
set of variants is repeated `--rounds` times, interleaved, reporting the median round.
Also printed: achieved GFLOP/s (PyTorch's FLOP counter on one step) beside a plain fp32
and bf16 matmul's GFLOP/s on the same machine.

    python benchmarks/bench_train.py --json benchmarks/results/train.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from gankit import config, data
from gankit.data.base import to_unit_range
from gankit.nets import ARCHS, build_net
from gankit.train.loop import train

WINDOW = 50
# The model the throughput tables were measured with (the issue-2 dcgan-mnist: BN in D, no
# R1), so both loops run the same network and objective whatever the preset becomes.
ISSUE2_MODEL = ["model.d_norm=batch", "reg.r1_gamma=0"]


def matmul_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def plain_loop(steps: int, precision: str, channels_last: bool, seed: int = 0) -> tuple[float, float]:
    """The loop a user would write from pytorch/examples' dcgan: BCE-with-logits, Adam,
    D on real then fake.detach(), then G through D with the same fake batch.
    Returns (images/s, FLOPs per step)."""
    torch.manual_seed(seed)
    cfg = config.build("dcgan-mnist", ISSUE2_MODEL)
    ds = data.load(cfg.data)
    g_spec, d_spec = ARCHS.get("dcgan")(cfg.model, ds.shape)
    g, d = build_net(g_spec), build_net(d_spec)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g, d = g.to(memory_format=fmt), d.to(memory_format=fmt)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bs, nz = 64, cfg.model.z_dim
    ones, zeros = torch.ones(bs), torch.zeros(bs)
    amp = precision == "bf16"

    def step() -> None:
        idx = torch.randint(0, len(ds), (bs,))
        real = to_unit_range(ds.x[idx]).contiguous(memory_format=fmt)
        d.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            fake = g(torch.randn(bs, nz))
            out_real, out_fake = d(real), d(fake.detach())
        loss_d = (F.binary_cross_entropy_with_logits(out_real.float(), ones)
                  + F.binary_cross_entropy_with_logits(out_fake.float(), zeros))
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = d(fake)
        F.binary_cross_entropy_with_logits(out.float(), ones).backward()
        opt_g.step()

    with FlopCounterMode(display=False) as counter:
        step()
    rates, t = [], time.perf_counter()
    for i in range(1, steps + 1):
        step()
        if i % WINDOW == 0:
            now = time.perf_counter()
            rates.append(WINDOW * bs / (now - t))
            t = now
    return (statistics.median(rates[1:]) if len(rates) > 1 else 0.0), float(counter.get_total_flops())


def gankit_flops(precision: str, channels_last: bool) -> float:
    """FLOPs of one gankit step (D phase + G phase + EMA), counted like the plain loop's."""
    from gankit.train.distributed import DistInfo
    from gankit.train.state import state_for
    from gankit.train.step import StepContext, train_step

    cfg = config.build("dcgan-mnist", [*ISSUE2_MODEL, f"train.precision={precision}",
                                       f"train.channels_last={str(channels_last).lower()}",
                                       "train.batch_size=64", "train.ema_beta=0.99"])
    ds = data.load(cfg.data)
    st, family = state_for(cfg, ds, DistInfo())
    ctx = StepContext.from_config(cfg, family, torch.device("cpu"))
    with FlopCounterMode(display=False) as counter:
        train_step(st, ctx)
    return float(counter.get_total_flops())


def gankit_loop(steps: int, precision: str, channels_last: bool) -> float:
    """The real library loop (hooks, logging, EMA, final checkpoint): median window rate."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config.build("dcgan-mnist", [
            *ISSUE2_MODEL, f"train.steps={steps}", f"train.log_every={WINDOW}",
            "train.sample_every=0",
            f"train.ckpt_every={steps}", "train.progress=false", f"train.precision={precision}",
            f"train.channels_last={str(channels_last).lower()}", "device=cpu"])
        run = train(cfg, out=Path(tmp) / "run")
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["images_per_s"] for r in rows[1:])


VARIANTS = [  # (name, runner, precision, channels_last)
    ("plain loop fp32", "plain", "fp32", False),
    ("gankit fp32 (NCHW)", "gankit", "fp32", False),
    ("gankit fp32 (default, channels_last)", "gankit", "fp32", True),
    ("plain loop bf16 + channels_last", "plain", "bf16", True),
    ("gankit bf16 (channels_last)", "gankit", "bf16", True),
]


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in subprocess.run(["lscpu"], check=False, capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": cpu, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/train.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rates: dict[str, list[float]] = {v[0]: [] for v in VARIANTS}
    flops: dict[str, float] = {}
    for name, runner, prec, cl in VARIANTS:
        flops[name] = (plain_loop(2, prec, cl)[1] if runner == "plain" else gankit_flops(prec, cl))
    for _ in range(args.rounds):
        for name, runner, prec, cl in VARIANTS:
            rate = (plain_loop(args.steps, prec, cl)[0] if runner == "plain"
                    else gankit_loop(args.steps, prec, cl))
            rates[name].append(rate)
    mm32, mm16 = matmul_gflops(torch.float32), matmul_gflops(torch.bfloat16)
    base = statistics.median(rates[VARIANTS[0][0]])
    rows = []
    for name, *_ in VARIANTS:
        rate = statistics.median(rates[name])
        gflops = flops[name] / 64 * rate / 1e9
        rows.append({"variant": name, "images_per_s": rate, "ratio_vs_plain_fp32": rate / base,
                     "gflop_per_step": flops[name] / 1e9, "achieved_gflops": gflops,
                     "all_rounds": rates[name]})
    print(f"{'variant':<40} {'img/s':>8} {'x plain fp32':>13} {'GFLOP/step':>11} {'GFLOP/s':>8}")
    for r in rows:
        print(f"{r['variant']:<40} {r['images_per_s']:8.0f} {r['ratio_vs_plain_fp32']:13.2f} "
              f"{r['gflop_per_step']:11.2f} {r['achieved_gflops']:8.1f}")
    print(f"plain matmul 2048^2: fp32 {mm32:.1f} GFLOP/s, bf16 {mm16:.1f} GFLOP/s "
          f"({mm16 / mm32:.2f}x)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "benchmark": "train_dcgan28_mnist5k_batch64", "date": time.strftime("%Y-%m-%d"),
        "machine": machine(), "steps": args.steps, "rounds": args.rounds,
        "matmul_gflops": {"fp32": mm32, "bf16": mm16}, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
