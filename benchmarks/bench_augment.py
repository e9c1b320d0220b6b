"""Small data: does augmenting what D sees help a GAN trained on 500 digits?

For each preset, augmentation setting and seed: train on a fixed 500-image subset of mnist5k
(`data.limit=500`, the same images for every run) with no augmentation, DiffAugment (Zhao et
al. 2020) or ADA (Karras et al. 2020), the same number of steps, then score the EMA
generator with the shipped lenet-mnist features against ALL 5,000 mnist5k digits (the
distribution, not the 500 images D could memorise): FID, KID, precision, recall.

    python benchmarks/bench_augment.py dcgan-mnist sngan-mnist --seeds 0,1,2,3,4 \\
        --threads 1 --out runs/augment [KEY=VALUE ...]

Writes benchmarks/results/augment-TAG.json and prints a table per preset with the mean and
spread over seeds and the relative FID change of each augmentation against none. Runs split
over several processes (one setting and seed each, side by side) are joined into one table:

    python benchmarks/bench_augment.py --merge results/augment-A.json ... --tag TAG
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
from bench_families import machine, score_run, train_one

from gankit import data as data_mod
from gankit.config import DataConfig

SETTINGS = {
    "none": [],
    "diffaug": ["aug.kind=diffaug", "aug.policy=color,translation,cutout"],
    "ada": ["aug.kind=ada", "aug.pipe=bgc"],
}
SCORES = ("fid", "kid", "precision", "recall")


def relative_gain(base: float, other: float) -> float:
    """(base - other) / base: the share by which `other` lowers a score (FID) below base."""
    return (base - other) / base


def table(preset: str, rows: dict[str, list[dict]]) -> dict:
    """Mean and spread per setting, and each setting's FID gain over none (mean FIDs)."""
    out: dict = {}
    for setting, rs in rows.items():
        out[setting] = {k: {"mean": statistics.mean(r["scores"][k] for r in rs),
                            "std": statistics.stdev([r["scores"][k] for r in rs]) if len(rs) > 1
                            else 0.0} for k in (*SCORES, "train_seconds")}
    if "none" in out:
        for stats in out.values():
            stats["fid_gain_vs_none"] = relative_gain(out["none"]["fid"]["mean"],
                                                      stats["fid"]["mean"])
    print(f"\n## {preset}, data.limit=500, seeds {[r['seed'] for r in next(iter(rows.values()))]}")
    print(f"{'setting':<10}" + "".join(f"{k:>18}" for k in SCORES) + f"{'FID gain':>10}")
    for setting, s in out.items():
        cells = "".join(f"{s[k]['mean']:>10.4g} ± {s[k]['std']:<5.2g}" for k in SCORES)
        print(f"{setting:<10}{cells}{s.get('fid_gain_vs_none', 0):>10.1%}")
    return out


def merge(files: list[Path]) -> tuple[dict, dict, dict]:
    """The rows of several augment JSONs joined per preset and setting (sorted by seed), the
    summary tables recomputed, and a header naming each source's command and date (they
    must share the overrides)."""
    heads = [json.loads(f.read_text()) for f in files]
    if len({json.dumps([h["overrides"], h["limit"], h["n"]]) for h in heads}) > 1:
        raise SystemExit("--merge: the files differ in overrides, limit or n")
    results: dict = {}
    for h in heads:
        for preset, rows in h["results"].items():
            for setting, rs in rows.items():
                results.setdefault(preset, {}).setdefault(setting, []).extend(rs)
    for preset, rows in results.items():
        order = [k for k in SETTINGS if k in rows] + [k for k in rows if k not in SETTINGS]
        results[preset] = {k: sorted(rows[k], key=lambda r: r["seed"]) for k in order}
    sources = [{"file": f.name, "command": h["command"], "date": h["date"]}
               for f, h in zip(files, heads)]
    head = {k: heads[0][k] for k in ("machine", "n", "limit", "settings", "overrides")}
    return {**head, "merged": sources}, results, {p: table(p, rows) for p, rows in results.items()}


def write(tag: str, header: dict, summaries: dict, results: dict) -> None:
    path = Path("benchmarks/results") / f"augment-{tag}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "benchmark": "augment", "command": shlex.join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), **header,
        "summary": summaries, "results": results}, indent=2))
    print(f"\nwrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("presets", nargs="*", help="presets, then KEY=VALUE overrides for training")
    ap.add_argument("--merge", nargs="+", type=Path, help="join these augment JSONs instead")
    ap.add_argument("--settings", default="none,diffaug,ada")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n", type=int, default=5000, help="generated samples per measurement")
    ap.add_argument("--out", type=Path, help="keep run folders here")
    ap.add_argument("--tag", default=time.strftime("%Y%m%d-%H%M%S"))
    args = ap.parse_intermixed_args()
    if args.merge:
        header, results, summaries = merge(args.merge)
        write(args.tag, header, summaries, results)
        return
    if not args.presets:
        ap.error("give presets to train, or --merge FILES")
    presets = [p for p in args.presets if "=" not in p]
    overrides = [p for p in args.presets if "=" in p]
    torch.set_num_threads(args.threads)
    real = data_mod.load(DataConfig(name="mnist5k"))
    results: dict = {}
    summaries: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        for preset in presets:
            rows: dict[str, list[dict]] = {}
            for setting in args.settings.split(","):
                where = out / setting
                where.mkdir(parents=True, exist_ok=True)
                for seed in (int(s) for s in args.seeds.split(",")):
                    extra = [f"data.limit={args.limit}", *SETTINGS[setting], *overrides]
                    run, secs = train_one(preset, seed, extra, where, args.threads)
                    row = score_run(run, seed, args.n, 0, secs, "cpu", data=real)
                    rows.setdefault(setting, []).append(row)
                    print(f"{preset} {setting} seed {seed}: " + ", ".join(
                        f"{k} {row['scores'][k]:.4g}" for k in SCORES), flush=True)
            results[preset] = rows
            summaries[preset] = table(preset, rows)
    write(args.tag, {"machine": machine(), "n": args.n, "limit": args.limit,
                     "settings": SETTINGS, "overrides": overrides}, summaries, results)


if __name__ == "__main__":
    main()
