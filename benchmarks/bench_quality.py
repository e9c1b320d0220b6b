"""Sample quality of each shipped preset after its default training, over several seeds.

For every preset and seed: train with the preset's defaults (seed overridden), then score
the EMA generator with plain sampling and with discriminator rejection sampling (DRS), next
to the real-vs-real floor. Mixtures: mode coverage (modes, % high quality, KL) on 2,500
samples; digits: FID/KID (gankit's LeNet features) and class coverage.

    python benchmarks/bench_quality.py --presets mlp-ring8,mlp-grid25 --seeds 0,1,2,3,4
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import machine

from gankit import config, tools
from gankit import data as data_mod
from gankit.errors import GankitError
from gankit.metrics.evaluate import evaluate
from gankit.pipelines.critic import load_critic
from gankit.pipelines.generate import load
from gankit.train.loop import train

PROTOCOL = {  # preset -> (metrics, n)
    "mlp-ring8": ("modes,pr", 2500),
    "mlp-grid25": ("modes,pr", 2500),
    "dcgan-mnist": ("fid,kid,pr,dc,modes", 5000),
    "selfcond-mnist": ("fid,kid,pr,dc,modes", 5000),
    "dcgan-digits": ("fid,kid,pr,dc,modes", 1797),
}


def one(preset: str, seed: int, overrides: list[str], tmp: Path, grids: Path | None) -> dict:
    cfg = config.build(preset, [f"seed={seed}", "train.progress=false", "train.tensorboard=false",
                                "train.sample_every=0", *overrides])
    t = time.perf_counter()
    run = train(cfg, out=tmp / f"{preset}-{seed}")
    return score_run(preset, seed, run, time.perf_counter() - t, overrides, grids)


def score_run(preset: str, seed: int, run: Path, seconds: float | None, overrides: list[str],
              grids: Path | None = None) -> dict:
    """Plain and DRS scores of a trained run (also for runs trained elsewhere: --runs)."""
    metrics, n = PROTOCOL[preset]
    ecfg = config.EvalConfig(metrics=metrics, n=n, seed=seed)
    pipe = load(run)
    data = data_mod.eval_data(tools.run_data(pipe), n)  # self-conditioned: the real labels
    if grids is not None:
        tag = "-".join(o.replace("=", "_") for o in overrides) or "default"
        pipe.save(pipe.sample(64, seed=0), grids / f"{preset}-seed{seed}-{tag}.png")
    plain = evaluate(pipe.sample, data, ecfg)
    try:
        critic = load_critic(run)
    except GankitError:  # a conditional D scores (image, class) pairs: no DRS
        rej_scores, acceptance = {}, None
    else:
        sample, drs = tools.drs_source(pipe, critic, data, n, seed, 80.0)
        rej_scores = evaluate(sample, data, ecfg, floor=False).scores
        acceptance = drs.acceptance_rate
    return {"seed": seed, "train_seconds": seconds, "steps": pipe.config.train.steps,
            "precision": pipe.config.train.precision,
            "plain": plain.scores, "drs": rej_scores, "floor": plain.floor,
            "drs_acceptance": acceptance, "protocol": plain.protocol}


def summarise(rows: list[dict], key: str, part: str) -> tuple[float, float]:
    vals = [r[part][key] for r in rows if key in r[part]]
    if not vals:
        return float("nan"), 0.0
    return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="mlp-ring8,mlp-grid25,dcgan-digits,dcgan-mnist")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/quality.json"))
    ap.add_argument("--grids", type=Path, help="save a 64-sample grid of each run here")
    ap.add_argument("--runs", nargs="*", type=Path, default=[],
                    help="score these finished run folders (PRESET-SEED) instead of training")
    ap.add_argument("overrides", nargs="*", help="config overrides applied to every run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            if args.runs:
                runs = [r for r in args.runs if r.name.rsplit("-", 1)[0] == preset]
                results[preset] = [score_run(preset, int(r.name.rsplit("-", 1)[1]), r, None,
                                             args.overrides, args.grids) for r in runs]
                seeds = [r["seed"] for r in results[preset]]
            else:
                results[preset] = [one(preset, s, args.overrides, Path(tmp), args.grids)
                                   for s in seeds]
            secs = [r["train_seconds"] for r in results[preset] if r["train_seconds"]]
            print(f"# {preset}: seeds {seeds}, {results[preset][0]['steps']} steps, "
                  f"{results[preset][0]['precision']}, "
                  + (f"{statistics.mean(secs):.0f} s training each (mean)" if secs else
                     "trained beforehand"))
            keys = [k for k in results[preset][0]["plain"]
                    if k not in ("num_modes", "num_classes", "kid_std", "kid_subset_size")]
            print(f"{'score':<12}{'plain':>20}{'DRS':>20}{'real-vs-real':>20}")
            for k in keys:
                cells = [summarise(results[preset], k, part) for part in ("plain", "drs", "floor")]
                print(f"{k:<12}" + "".join(f"{m:>12.4f} ± {s:<5.3f}" for m, s in cells))
            accs = [r["drs_acceptance"] for r in results[preset] if r["drs_acceptance"] is not None]
            print(f"DRS acceptance rate: {statistics.mean(accs):.3f}" if accs else
                  "DRS: not for this model (its D scores (image, class) pairs)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"benchmark": "preset_quality", "date": time.strftime("%Y-%m-%d"),
                                     "machine": machine(), "seeds": seeds,
                                     "overrides": args.overrides, "results": results}, indent=2))


if __name__ == "__main__":
    main()
