"""Mode collapse on Stacked MNIST over several seeds, as PacGAN's Table 3 (Lin et al. 2018).

For every seed: train PRESET (default dcgan-stacked) with KEY=VALUE overrides (or score run
folders trained before: --runs), then classify each channel of n = 26,000 samples of the EMA
generator with the shipped lenet-mnist (gankit.metrics.stacked) and report the modes hit (of
1,000) and KL(generated mode histogram || uniform), mean, std and standard error over seeds
(PacGAN reports mean +- standard error). The same count on n real stacked images is the
reference row. For scale, PacGAN's Table 3 (their DCGAN, 26k samples): D = 1/4 G 78.5 modes,
KL 5.21; D = 1/2 G 487.7 modes, KL 2.24; PacDCGAN2 484.5 / 2.61 and 840.7 / 1.00.

    python benchmarks/bench_stacked.py [PRESET] [KEY=VALUE ...] --seeds 0,1,2,3,4 \
        --threads 2 --out runs/stacked --tag dcgan
    python benchmarks/bench_stacked.py --runs runs/stacked/dcgan-stacked-* --tag rescored
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_families import machine, run_name

from gankit import config, tools
from gankit import data as data_mod
from gankit.metrics.stacked import (
    N_PAPER,
    StackedClassifier,
    load_stacked_classifier,
    sample_modes,
    stacked_modes,
)
from gankit.pipelines.generate import load
from gankit.train.loop import train

DEFAULT_PRESET = "dcgan-stacked"


def train_one(preset: str, seed: int, overrides: list[str], out: Path,
              threads: int) -> tuple[Path, float]:
    """Train PRESET-SEED into `out`; (run folder, training seconds)."""
    cfg = config.build(preset, [f"seed={seed}", "train.progress=false", "train.tensorboard=false",
                                "train.sample_every=0", f"train.threads={threads}", *overrides])
    data_mod.load(cfg.data)  # built and cached before the clock starts (lru_cache)
    t = time.perf_counter()
    run = train(cfg, out=out / f"{preset}-{seed}")
    return run, time.perf_counter() - t


def score_run(run: Path, seed: int, n: int, seconds: float | None, device: str,
              classifier: StackedClassifier) -> dict:
    """Modes and KL of n EMA samples (latent seed = the run's seed)."""
    pipe = load(run, device=device)
    t = time.perf_counter()
    r = sample_modes(pipe.sample, n=n, seed=seed, classifier=classifier)
    return {"seed": seed, "run": str(run), "steps": pipe.config.train.steps,
            "train_seconds": seconds, "score_seconds": time.perf_counter() - t,
            "modes": r.modes, "kl": r.kl, "n": r.n, "counts": list(r.counts)}


def real_reference(run: Path, n: int, classifier: StackedClassifier) -> dict:
    """The same count on n real images of the run's data (a seeded subset)."""
    data = tools.run_data(load(run))
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n]
    r = stacked_modes(data.x[idx], classifier)
    return {"data": data.name, "n": r.n, "modes": r.modes, "kl": r.kl}


def spread(vals: list[float]) -> dict[str, float]:
    """mean, sample std and standard error (std / sqrt(k)) of k values."""
    std = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return {"mean": statistics.mean(vals), "std": std, "sem": std / math.sqrt(len(vals)),
            "k": len(vals)}


def summary(rows: list[dict]) -> dict[str, dict[str, float]]:
    keys = ("modes", "kl", "train_seconds")
    return {k: spread([r[k] for r in rows if r[k] is not None]) for k in keys
            if any(r[k] is not None for r in rows)}


def print_table(rows: list[dict], summ: dict, real: dict) -> None:
    print(f"\n{'seed':>6}{'steps':>8}{'train s':>10}{'modes':>8}{'KL':>9}")
    for r in rows:
        secs = "-" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"
        print(f"{r['seed']:>6}{r['steps']:>8}{secs:>10}{r['modes']:>8}{r['kl']:>9.3f}")
    for stat in ("mean", "std", "sem"):
        cells = {k: summ[k][stat] for k in summ}
        secs = f"{cells['train_seconds']:.0f}" if "train_seconds" in cells else "-"
        print(f"{stat:>6}{'':>8}{secs:>10}{cells['modes']:>8.1f}{cells['kl']:>9.3f}")
    print(f"{'real':>6}{'':>8}{'':>10}{real['modes']:>8}{real['kl']:>9.3f}   "
          f"({real['n']} real {real['data']} images)")


def collect(args: argparse.Namespace, preset: str, overrides: list[str], out: Path,
            classifier: StackedClassifier) -> list[dict]:
    rows = []
    for run in args.runs:
        seed = run_name(run)[1]
        seed = seed if seed is not None else load(run).config.seed
        rows.append(score_run(run, seed, args.n, None, args.device, classifier))
    if not args.runs:
        for seed in (int(s) for s in args.seeds.split(",")):
            run, secs = train_one(preset, seed, overrides, out, args.threads)
            rows.append(score_run(run, seed, args.n, secs, args.device, classifier))
            print(f"seed {seed}: {rows[-1]['modes']} modes, KL {rows[-1]['kl']:.3f}, "
                  f"{secs:.0f} s training", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("preset", nargs="*", help=f"a preset (default {DEFAULT_PRESET}), then "
                    "KEY=VALUE overrides for training")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (training, scoring)")
    ap.add_argument("--n", type=int, default=N_PAPER, help="samples counted per run (papers: "
                    "26,000)")
    ap.add_argument("--device", default="cpu", help="device for sampling and scoring")
    ap.add_argument("--out", type=Path, help="keep run folders here (PRESET-SEED)")
    ap.add_argument("--runs", nargs="*", type=Path, default=[],
                    help="score these run folders (PRESET-SEED) instead of training")
    ap.add_argument("--tag", help="JSON name: benchmarks/results/stacked-TAG.json")
    args = ap.parse_intermixed_args()
    names = [p for p in args.preset if "=" not in p]
    overrides = [p for p in args.preset if "=" in p]
    if len(names) > 1:
        ap.error(f"one preset at a time, got {names}")
    preset = names[0] if names else DEFAULT_PRESET
    torch.set_num_threads(args.threads)
    classifier = load_stacked_classifier().to(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        rows = collect(args, preset, overrides, out, classifier)
        real = real_reference(Path(rows[0]["run"]), args.n, classifier)
    summ = summary(rows)
    print(f"\n## {preset} {' '.join(overrides)}: {rows[0]['steps']} steps, {args.n} samples "
          "per run, modes of 1000 and KL(generated || uniform)")
    print_table(rows, summ, real)
    write_json(args, preset, overrides, rows, summ, real)


def write_json(args: argparse.Namespace, preset: str, overrides: list[str], rows: list[dict],
               summ: dict, real: dict) -> None:
    path = Path("benchmarks/results") / f"stacked-{args.tag or time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "benchmark": "stacked_mnist", "command": shlex.join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "preset": preset,
        "overrides": overrides, "n": args.n,
        "protocol": "each channel classified by lenet-mnist; mode = 100 c_R + 10 c_G + c_B; "
                    "modes with >= 1 sample of 1000; KL(p_gen || uniform) in nats "
                    "(PacGAN Table 3); EMA generator, latent seed = run seed",
        "summary": summ, "real": real, "results": rows}, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
