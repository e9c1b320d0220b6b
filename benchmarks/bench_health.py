"""Training health: recovery of runs set up to collapse, monitor overhead, false alarms.

recover: each CASE (a preset with settings known to collapse) on several seeds, once with
    health.action=warn (the monitor only reads: the same run as with health off) and once
    with health.action=recover; the final EMA generator scored (modes / classes, class KL,
    FID with gankit's LeNet features) and the events counted.
overhead: the same training with health off and on (default interval), alternated.
alarms: shipped presets at their default length; any collapse/divergence event is a false
    alarm.

    python benchmarks/bench_health.py recover --case grid25 --seeds 0,1,2,3,4
    python benchmarks/bench_health.py overhead --preset dcgan-mnist train.steps=500
    python benchmarks/bench_health.py alarms --preset mlp-grid25 --seeds 0,1,2,3,4
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
from gankit.errors import GankitError
from gankit.metrics.evaluate import evaluate
from gankit.pipelines.generate import load
from gankit.train.loop import train

QUIET = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0"]
CASES = {  # name -> (preset, overrides that make it collapse, metrics, samples scored)
    "grid25": ("mlp-grid25", ["reg.r1_gamma=0", "optim.d_lr=2e-3", "train.steps=10000",
                              "health.every=500", "health.warmup=3000", "train.ckpt_every=1000"],
               "modes", 2500),
    # the optimiser and G of the dcgan-mnist preset as it was when the table was measured
    "mnist": ("dcgan-mnist", ["loss=minimax", "reg.r1_gamma=0", "optim.d_lr=2e-3",
                              "optim.g_lr=2e-4", "optim.g_betas=[0.5,0.999]",
                              "optim.d_betas=[0.5,0.999]", "model.g_upsample=deconv",
                              "model.g_width=32", "model.d_width=32", "train.steps=2000",
                              "health.every=250", "health.warmup=500", "train.ckpt_every=250"],
              "fid,modes", 5000),
}


def _events(run: Path) -> list[dict]:
    path = run / "health.jsonl"
    if not path.is_file():
        return []
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [r for r in rows if r["event"] not in ("start", "end", "check")]


def score(run: Path, metrics: str, n: int, seed: int) -> dict:
    pipe = load(run)
    res = evaluate(pipe.sample, tools.run_data(pipe), config.EvalConfig(metrics=metrics, n=n,
                                                                        seed=seed), floor=False)
    return res.scores


def one_recover(case: str, seed: int, action: str, tmp: Path, extra: list[str]) -> dict:
    preset, overrides, metrics, n = CASES[case]
    cfg = config.build(preset, [f"seed={seed}", *QUIET, *overrides,
                                f"health.action={action}", *extra])
    out = tmp / f"{case}-{action}-{seed}"
    t = time.perf_counter()
    gave_up = False
    try:
        train(cfg, out=out)
    except GankitError as exc:  # recovery gave up: score the run as it stands
        gave_up = "gave up" in str(exc)
        if not gave_up:
            raise
    secs = time.perf_counter() - t
    ev = _events(out)
    row = {"seed": seed, "action": action, "train_seconds": secs, "gave_up": gave_up,
           "rollbacks": sum(e["event"] == "rollback" for e in ev),
           "events": [{k: e.get(k) for k in ("step", "event", "cause", "since", "to_step")}
                      for e in ev], "scores": score(out, metrics, n, seed)}
    s = row["scores"]
    share = s["modes"] / s["num_modes"] if "modes" in s else s["classes"] / s["num_classes"]
    row["modes_share"] = share
    print(f"{case} seed {seed} {action:<8} {secs:7.0f} s  rollbacks {row['rollbacks']}  "
          f"modes {100 * share:5.1f}%  " + "  ".join(f"{k} {v:.4g}" for k, v in s.items()
                                                     if k in ("modes", "hq", "mode_kl", "fid",
                                                              "classes", "class_kl")),
          flush=True)
    return row


def recover(args, tmp: Path) -> dict:
    rows = []
    for seed in args.seeds:
        for action in ("warn", "recover"):
            rows.append(one_recover(args.case, seed, action, tmp, args.overrides))
    table = {}
    for action in ("warn", "recover"):
        part = [r for r in rows if r["action"] == action]
        shares = [r["modes_share"] for r in part]
        table[action] = {"modes_share_mean": statistics.mean(shares),
                         "seeds_at_90": sum(s >= 0.9 for s in shares), "seeds": len(part),
                         "rollbacks": sum(r["rollbacks"] for r in part),
                         "train_seconds_mean": statistics.mean(r["train_seconds"] for r in part)}
        print(f"# {args.case} {action}: modes {100 * table[action]['modes_share_mean']:.1f}% "
              f"mean, >= 90% in {table[action]['seeds_at_90']} of {len(part)} seeds, "
              f"{table[action]['rollbacks']} rollbacks")
    return {"case": args.case, "preset": CASES[args.case][0], "overrides": CASES[args.case][1],
            "rows": rows, "summary": table}


def overhead(args, tmp: Path) -> dict:
    times: dict[str, list[float]] = {"off": [], "on": []}
    for r in range(args.repeats):
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            extra = ["health.every=0"] if mode == "off" else []
            cfg = config.build(args.preset, [*QUIET, "train.ckpt_every=100000", *extra,
                                             *args.overrides])
            t = time.perf_counter()
            train(cfg, out=tmp / f"over-{mode}-{r}")
            times[mode].append(time.perf_counter() - t)
            print(f"{args.preset} health {mode}: {times[mode][-1]:.1f} s", flush=True)
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    print(f"# {args.preset}: health off {off:.1f} s, on {on:.1f} s (medians of "
          f"{args.repeats}): overhead {100 * (on / off - 1):+.1f}%")
    return {"preset": args.preset, "overrides": args.overrides, "seconds": times,
            "overhead": on / off - 1}


def alarms(args, tmp: Path) -> dict:
    rows = []
    for seed in args.seeds:
        out = tmp / f"alarm-{args.preset}-{seed}"
        t = time.perf_counter()
        train(config.build(args.preset, [f"seed={seed}", *QUIET, *args.overrides]), out=out)
        ev = _events(out)
        rows.append({"seed": seed, "train_seconds": time.perf_counter() - t,
                     "events": [{k: e.get(k) for k in ("step", "event", "cause", "text")}
                                for e in ev]})
        print(f"{args.preset} seed {seed}: {len(ev)} event(s) "
              + "; ".join(e.get("text", "")[:120] for e in ev), flush=True)
    print(f"# {args.preset}: {sum(bool(r['events']) for r in rows)} of {len(rows)} seeds "
          "raised an event")
    return {"preset": args.preset, "overrides": args.overrides, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["recover", "overhead", "alarms"])
    ap.add_argument("--case", choices=list(CASES), default="grid25")
    ap.add_argument("--preset", default="dcgan-mnist")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2, 3, 4])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_intermixed_args()
    torch.set_num_threads(args.threads)
    args.overrides = [*args.overrides, f"train.threads={args.threads}"]
    with tempfile.TemporaryDirectory() as tmp:
        result = {"recover": recover, "overhead": overhead, "alarms": alarms}[args.what](args, Path(tmp))
    name = args.case if args.what == "recover" else args.preset
    path = args.json or Path(f"benchmarks/results/health-{args.what}-{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": f"health_{args.what}", "date": time.strftime("%Y-%m-%d"),
                                "machine": machine(), "seeds": args.seeds, **result}, indent=1))


if __name__ == "__main__":
    main()
