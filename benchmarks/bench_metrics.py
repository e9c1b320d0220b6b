"""Evaluation cost: feature extraction + FID/KID/PR/DC for 28x28 samples on 2 threads.

Each configuration runs in a fresh subprocess so its peak resident memory (ru_maxrss) is
its own. FID-only runs at growing n show that streaming keeps memory flat; the full run
at n = 10,000 times every metric (PR/DC compute distances one row block at a time).

    python benchmarks/bench_metrics.py --json benchmarks/results/metrics.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch


def stream(n: int, batch: int = 500):
    """n deterministic 28x28 images in [-1, 1] (mnist5k digits with per-batch noise)."""
    from gankit import data
    from gankit.config import DataConfig
    from gankit.data.base import to_unit_range

    ds = data.load(DataConfig(name="mnist5k"))
    gen = torch.Generator().manual_seed(0)
    done = 0
    while done < n:
        m = min(batch, n - done)
        idx = torch.randint(0, len(ds), (m,), generator=gen)
        x = to_unit_range(ds.x[idx]) + 0.1 * torch.randn(m, 1, 28, 28, generator=gen)
        yield x.clamp(-1, 1)
        done += m


def child(mode: str, n: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    from gankit.metrics.evaluate import extract
    from gankit.metrics.features import get_extractor
    from gankit.metrics.fid import fid_from_stats
    from gankit.metrics.kid import kid
    from gankit.metrics.prdc import prdc

    ex = get_extractor("lenet-mnist")
    real = extract(stream(5000), ex, keep=True)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out: dict = {"mode": mode, "n": n}
    t = time.perf_counter()
    fake = extract(stream(n), ex, keep=mode == "all")
    out["extract_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out["fid"] = fid_from_stats(real.stats, fake.stats)
    out["fid_s"] = time.perf_counter() - t
    if mode == "all":
        real_all = extract(stream(n), ex, keep=True)  # a real set as large as the fake one
        t = time.perf_counter()
        out["kid"] = kid(real_all.feats, fake.feats).mean
        out["kid_s"] = time.perf_counter() - t
        t = time.perf_counter()
        r = prdc(real_all.feats, fake.feats)
        out["prdc_s"] = time.perf_counter() - t
        out.update(r.to_dict())
    out["samples_per_s_extract"] = n / out["extract_s"]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_before_mb"] = base
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/metrics.json"))
    ap.add_argument("--child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.threads)))
        return
    rows = []
    for mode, n in [("fid", 2500), ("fid", 10000), ("fid", 40000), ("fid", 80000), ("all", 10000)]:
        proc = subprocess.run([sys.executable, __file__, "--threads", str(args.threads),
                               "--child", mode, str(n)], capture_output=True, text=True,
                              check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'run':<10}{'n':>7}{'extract/s':>11}{'FID s':>8}{'KID s':>8}{'PR+DC s':>9}"
          f"{'peak RSS MB':>13}")
    for r in rows:
        print(f"{r['mode']:<10}{r['n']:>7}{r['samples_per_s_extract']:>11.0f}{r['fid_s']:>8.3f}"
              f"{r.get('kid_s', float('nan')):>8.2f}{r.get('prdc_s', float('nan')):>9.2f}"
              f"{r['peak_rss_mb']:>13.0f}")
    from bench_train import machine

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "metrics_cost_28x28_lenet",
                                     "date": time.strftime("%Y-%m-%d"), "machine": machine(),
                                     "rows": rows}, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
