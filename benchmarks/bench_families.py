"""What each GAN family is for, measured over several seeds with the shipped lenet-mnist.

For every preset and seed: train with the preset's defaults (seed overridden), or score run
folders trained before (--runs), then measure the EMA generator:
- every family: FID/KID/precision/recall/density/coverage/classes (gankit's `evaluate`, lenet
  features, n samples against the run's training data) and training seconds;
- conditional G: class agreement (share of n samples, n/10 per requested class, that lenet
  classifies as that class) and per-class recall (improved recall, k=5, of each class's
  samples against that class's real digits in lenet feature space: mean and minimum);
- InfoGAN: n/k samples per value of the first categorical code c0, the k x 10 table of code
  value against lenet class, and the best one-to-one code->class assignment (Hungarian):
  accuracy = matched / total (target >= 0.80);
- BiGAN: 1,000 held-out images x (data.holdout; training images, labelled so, without one):
  lenet class agreement of x and G(E(x)) (target >= 0.60; random pairs ~0.10) and the mean
  squared reconstruction error in [-1, 1] pixel units.

    python benchmarks/bench_families.py cgan-mnist acgan-mnist infogan-mnist bigan-mnist \
        --seeds 0,1,2,3,4 --threads 2 --out runs/families [KEY=VALUE ...]
    python benchmarks/bench_families.py --runs runs/families/* --tag rescored
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from gankit import config, tools
from gankit import data as data_mod
from gankit.data.base import to_unit_range
from gankit.metrics.evaluate import evaluate
from gankit.metrics.features import Extractor, get_extractor
from gankit.metrics.lenet import this_machine
from gankit.metrics.prdc import precision_recall
from gankit.pipelines.generate import GeneratorPipeline, load
from gankit.train.loop import train

RECALL_K = 3  # as gankit.metrics.prdc (Kynkaanniemi et al. 2019, k=3)
TARGETS = {"infogan_accuracy": ">= 0.80", "recon_agreement": ">= 0.60"}


# ---- pure metric functions (tests/test_bench_families.py) ----

def class_agreement(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Share of positions where two label vectors agree."""
    if pred.shape != target.shape or pred.numel() == 0:
        raise ValueError(f"label vectors of shapes {tuple(pred.shape)} and {tuple(target.shape)}")
    return float((pred == target).double().mean())


def contingency(codes: torch.Tensor, classes: torch.Tensor, k: int, c: int) -> np.ndarray:
    """(k, c) counts of (code value, class) pairs."""
    return np.bincount((codes * c + classes).numpy(), minlength=k * c).reshape(k, c)


def hungarian_accuracy(table: np.ndarray) -> tuple[float, dict[int, int]]:
    """Best one-to-one assignment of rows (code values) to columns (classes), maximising the
    matched counts: (matched / total, {row: column}). Unassigned rows count as misses."""
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum()), {int(r): int(c) for r, c in
                                                           zip(rows, cols)}


def per_class_recall(real: torch.Tensor, real_y: torch.Tensor, fake: torch.Tensor,
                     fake_y: torch.Tensor, k: int = RECALL_K) -> dict[int, float]:
    """Improved recall (Kynkaanniemi et al. 2019) of each class's fakes against its reals."""
    return {int(c): precision_recall(real[real_y == c], fake[fake_y == c], k=k).recall
            for c in torch.unique(fake_y)}


# ---- measuring a run ----

def classify(lenet: Extractor, x: torch.Tensor, batch: int = 500) -> tuple[torch.Tensor, ...]:
    """Images in [-1, 1] -> (lenet features, predicted classes)."""
    out = [lenet(chunk) for chunk in x.split(batch)]
    return torch.cat([f for f, _ in out]), torch.cat([lg for _, lg in out]).argmax(1)


def conditional_scores(pipe: GeneratorPipeline, lenet: Extractor, data, n: int,
                       seed: int) -> tuple[dict, dict]:
    m = n // pipe.num_classes
    x = torch.cat([pipe.sample(m, seed=seed * 1000 + k, classes=[k])
                   for k in range(pipe.num_classes)])
    want = torch.arange(pipe.num_classes).repeat_interleave(m)
    feats, pred = classify(lenet, x)
    scores = {"class_agreement": class_agreement(pred, want)}
    details: dict = {"samples_per_class": m}
    if data.y is not None:
        real_feats, _ = classify(lenet, to_unit_range(data.x))
        rec = per_class_recall(real_feats, data.y.long(), feats, want)
        scores.update(class_recall_mean=statistics.mean(rec.values()),
                      class_recall_min=min(rec.values()))
        details["class_recall"] = rec
    return scores, details


def infogan_scores(pipe: GeneratorPipeline, lenet: Extractor, n: int,
                   seed: int) -> tuple[dict, dict]:
    k = pipe.latent.cat[0]
    m = n // k
    preds = [classify(lenet, pipe.sample(m, seed=seed * 1000 + v, codes={"c0": v}))[1]
             for v in range(k)]
    table = contingency(torch.arange(k).repeat_interleave(m), torch.cat(preds), k, 10)
    acc, assign = hungarian_accuracy(table)
    return {"infogan_accuracy": acc}, {"c0_values": k, "samples_per_value": m,
                                       "assignment": assign, "table": table.tolist()}


def bigan_scores(pipe: GeneratorPipeline, lenet: Extractor, n: int,
                 seed: int) -> tuple[dict, dict]:
    if pipe.config.data.holdout:
        data, source = data_mod.load_holdout(pipe.config.data), "held-out images"
    else:
        data, source = tools.run_data(pipe), "TRAINING images (the run has no data.holdout)"
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    x = to_unit_range(data.x[idx])
    rec = pipe.generate(pipe.encode(x))
    _, px = classify(lenet, x)
    _, pr = classify(lenet, rec)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed + 1))
    scores = {"recon_agreement": class_agreement(pr, px),
              "recon_random_pairs": class_agreement(px[perm], px),
              "recon_mse": float((rec - x).square().mean())}
    if data.y is not None:
        scores["recon_label_accuracy"] = class_agreement(pr, data.y[idx].long())
    return scores, {"recon_source": source, "recon_n": len(x)}


def score_run(run: Path, seed: int, n: int, n_recon: int, seconds: float | None,
              device: str, data=None) -> dict:
    """Score a run against `data` (default: the run's own training data)."""
    pipe = load(run, device=device)
    data = data if data is not None else data_mod.eval_data(tools.run_data(pipe), n)
    lenet = get_extractor("lenet-mnist", device=device)
    ecfg = config.EvalConfig(metrics="fid,kid,pr,dc,modes", n=n, seed=seed,
                             extractor="lenet-mnist")
    res = evaluate(pipe.sample, data, ecfg, device=device, extractor=lenet)
    scores = {k: v for k, v in res.scores.items()
              if k not in ("kid_std", "kid_subset_size", "num_classes")}
    details: dict = {}
    if seconds is not None:
        scores["train_seconds"] = seconds
    for wanted, fn, args in ((pipe.family.get("conditional_g"), conditional_scores,
                              (pipe, lenet, data, n, seed)),
                             (pipe.latent.cat, infogan_scores, (pipe, lenet, n, seed)),
                             (pipe.e is not None, bigan_scores, (pipe, lenet, n_recon, seed))):
        if fn is conditional_scores and pipe.config.data.clusters:
            continue  # a self-conditioned G's classes are clusters, not lenet's digits
        if wanted:
            s, d = fn(*args)
            scores.update(s)
            details.update(d)
    return {"seed": seed, "run": str(run), "family": pipe.family["name"],
            "steps": pipe.config.train.steps, "scores": scores, "floor": res.floor,
            "details": details, "protocol": res.protocol}


# ---- driver ----

def run_name(run: Path) -> tuple[str, int | None]:
    """PRESET-SEED -> (PRESET, SEED); other names -> (name, None)."""
    head, _, tail = run.name.rpartition("-")
    return (head, int(tail)) if head and tail.isdigit() else (run.name, None)


def train_one(preset: str, seed: int, overrides: list[str], out: Path, threads: int) -> tuple:
    cfg = config.build(preset, [f"seed={seed}", "train.progress=false", "train.tensorboard=false",
                                "train.sample_every=0", f"train.threads={threads}", *overrides])
    t = time.perf_counter()
    run = train(cfg, out=out / f"{preset}-{seed}")
    seconds = time.perf_counter() - t
    (out / f"{preset}-{seed}.train.json").write_text(json.dumps(
        {"train_seconds": seconds, "overrides": overrides, "threads": threads}))
    return run, seconds


def add(results: dict[str, list[dict]], preset: str, row: dict) -> None:
    """Group rows by preset and family (a preset trained with another model.family, or run
    folders of one name from several places, are never averaged together)."""
    results.setdefault(f"{preset} [{row['family']}]", []).append(row)


def summary(rows: list[dict]) -> dict[str, dict]:
    keys = list(dict.fromkeys(k for r in rows for k in r["scores"]))
    out = {}
    for k in keys:
        vals = [r["scores"][k] for r in rows if k in r["scores"]]
        out[k] = {"mean": statistics.mean(vals),
                  "std": statistics.stdev(vals) if len(vals) > 1 else 0.0, "n": len(vals)}
    return out


def print_table(preset: str, rows: list[dict], summ: dict) -> None:
    secs = [r["scores"]["train_seconds"] for r in rows if "train_seconds" in r["scores"]]
    print(f"\n## {preset}: {rows[0]['steps']} steps, seeds "
          f"{[r['seed'] for r in rows]}, "
          + (f"{statistics.mean(secs):.0f} s training (mean)" if secs else "trained beforehand"))
    def cell(v: float | None) -> str:
        return f" {'-' if v is None else f'{v:.4f}' if abs(v) < 1000 else f'{v:.5g}':>10}"

    seeds = "".join(f" {'seed ' + str(r['seed']):>10}" for r in rows)
    print(f"{'score':<21}{'mean':>11}{'std':>11}{'real/real':>11}{'target':>9}{seeds}")
    for k, s in summ.items():
        cells = "".join(cell(r["scores"].get(k)) for r in rows)
        print(f"{k:<21}{cell(s['mean'])}{cell(s['std'])}{cell(rows[0]['floor'].get(k))}"
              f"{TARGETS.get(k, ''):>9}{cells}")
    for r in rows:
        d = r["details"]
        if "assignment" in d:
            print(f"seed {r['seed']} c0->class: {d['assignment']}")
        if "recon_source" in d and d["recon_source"] != "held-out images":
            print(f"seed {r['seed']} reconstructions of {d['recon_source']}")


def machine() -> dict:
    m = this_machine()
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": m.cpu, "cpu_kernels": m.kernels,
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("presets", nargs="*", help="presets, then KEY=VALUE overrides for training")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (training, scoring)")
    ap.add_argument("--n", type=int, default=5000, help="generated samples per measurement")
    ap.add_argument("--n-recon", type=int, default=1000, help="BiGAN images reconstructed")
    ap.add_argument("--device", default="cpu", help="device for scoring")
    ap.add_argument("--out", type=Path, help="keep run folders here (PRESET-SEED)")
    ap.add_argument("--runs", nargs="*", type=Path, default=[],
                    help="score these run folders (PRESET-SEED) instead of training")
    ap.add_argument("--tag", help="JSON name: benchmarks/results/families-TAG.json")
    args = ap.parse_intermixed_args()
    presets = [p for p in args.presets if "=" not in p]
    overrides = [p for p in args.presets if "=" in p]
    if not presets and not args.runs:
        ap.error("name presets to train, or --runs RUN_DIR ...")
    torch.set_num_threads(args.threads)
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        for run in (r for r in args.runs if not r.name.endswith(".train.json")):  # DIR/*
            preset, seed = run_name(run)
            seed = seed if seed is not None else load(run).config.seed
            meta = run.parent / f"{run.name}.train.json"
            secs = json.loads(meta.read_text())["train_seconds"] if meta.is_file() else None
            add(results, preset, score_run(run, seed, args.n, args.n_recon, secs, args.device))
        for preset in presets:
            for seed in (int(s) for s in args.seeds.split(",")):
                run, secs = train_one(preset, seed, overrides, out, args.threads)
                add(results, preset, score_run(run, seed, args.n, args.n_recon, secs,
                                               args.device))
    summaries = {}
    for preset, rows in results.items():
        summaries[preset] = summary(rows)
        print_table(preset, rows, summaries[preset])
    path = Path("benchmarks/results") / f"families-{args.tag or time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "benchmark": "families", "command": shlex.join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "n": args.n,
        "n_recon": args.n_recon, "recall_k": RECALL_K, "overrides": overrides,
        "targets": TARGETS, "summary": summaries, "results": results}, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
