"""Mode-collapse remedies on the 2-D mixtures: plain D vs PacGAN vs minibatch stddev.

For each preset (mlp-ring8, mlp-grid25), variant and seed: train the preset with the
variant's switch at the same number of steps, then score the EMA generator on 2,500 samples
with gankit's mode coverage (Srivastava et al. 2017 as PacGAN counts it: modes hit by a
high-quality sample, the share of high-quality samples, KL of the mode histogram to
uniform). Variants: plain; PacGAN with m = 2 (Lin et al. 2018, `model.pack=2`); minibatch
stddev with group 4 (Karras et al. 2018, `model.mbstd=4`).

    python benchmarks/bench_remedies.py --presets mlp-ring8,mlp-grid25 --seeds 0,1,2,3,4 \\
        --threads 1 [KEY=VALUE ...]

Prints a table (mean ± std over seeds) and writes benchmarks/results/remedies-TAG.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import machine

from gankit import config, tools
from gankit.metrics.evaluate import evaluate
from gankit.pipelines.generate import load
from gankit.train.loop import train

VARIANTS = {"plain": [], "pacgan2": ["model.pack=2"], "mbstd4": ["model.mbstd=4"]}
SCORES = ("modes", "hq", "mode_kl")
N = 2500


def one(preset: str, variant: str, seed: int, overrides: list[str], tmp: Path) -> dict:
    cfg = config.build(preset, [f"seed={seed}", "train.progress=false", "train.tensorboard=false",
                                "train.sample_every=0", *VARIANTS[variant], *overrides])
    t = time.perf_counter()
    run = train(cfg, out=tmp / f"{preset}-{variant}-{seed}")
    seconds = time.perf_counter() - t
    pipe = load(run)
    res = evaluate(pipe.sample, tools.run_data(pipe),
                   config.EvalConfig(metrics="modes", n=N, seed=seed), floor=False)
    return {"seed": seed, "steps": cfg.train.steps, "train_seconds": seconds,
            "scores": {k: res.scores[k] for k in SCORES}}


def summary(rows: list[dict]) -> dict:
    out = {}
    for k in SCORES:
        vals = [r["scores"][k] for r in rows]
        out[k] = {"mean": statistics.mean(vals),
                  "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="mlp-ring8,mlp-grid25")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tag", default=time.strftime("%Y%m%d-%H%M%S"))
    ap.add_argument("overrides", nargs="*", help="config overrides applied to every run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            for variant in args.variants.split(","):
                rows = [one(preset, variant, int(s), args.overrides, Path(tmp))
                        for s in args.seeds.split(",")]
                results[f"{preset} {variant}"] = {"rows": rows, "summary": summary(rows)}
                s = results[f"{preset} {variant}"]["summary"]
                print(f"{preset:<11} {variant:<8} steps {rows[0]['steps']:>6}  "
                      + "  ".join(f"{k} {s[k]['mean']:.4g} ± {s[k]['std']:.2g}" for k in SCORES)
                      + "  per seed: " + " ".join(
                          f"{r['scores']['modes']:.0f}/{r['scores']['hq']:.3f}"
                          for r in rows), flush=True)
    path = Path("benchmarks/results") / f"remedies-{args.tag}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "benchmark": "remedies", "command": shlex.join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "n": N,
        "variants": VARIANTS, "overrides": args.overrides, "results": results}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
