"""One tuning probe on a kept run: train a preset with overrides, then score the EMA G and the
raw G, and DRS at the 80th/90th/95th percentiles; for digits also print the generated and
real class histograms (lenet-mnist). The dcgan-mnist trials in results/tuning-mnist.jsonl
and the 28,000-step mlp-grid25 probe were made with it (seed 0, 1 thread):

    python benchmarks/tune_probe.py THREADS NAME PRESET [key=value ...]
    python benchmarks/tune_probe.py 1 m_r1 dcgan-mnist model.d_norm=none reg.r1_gamma=1.0 \
        reg.r1_every=4 train.eval_every=1000 eval.metrics=fid,modes

The run is kept in runs/tune/NAME (re-running only re-scores it); with train.eval_every the
class KL over training is in its metrics.jsonl.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from gankit import config, tools
from gankit.metrics.evaluate import evaluate
from gankit.metrics.features import get_extractor
from gankit.pipelines.critic import load_critic
from gankit.pipelines.generate import load
from gankit.train.loop import train

KEEP = ("hq", "modes", "fid", "class_kl", "classes")


def class_histograms(out: Path, n: int) -> dict[str, list[int]]:
    """Predicted-class counts of n generated and n real digits under lenet-mnist."""
    pipe = load(out)
    ex = get_extractor("lenet-mnist")
    fake = pipe.sample(n, pipe.config.seed)
    real = tools.real_samples(tools.run_data(pipe), n, 0)

    def hist(x: torch.Tensor) -> list[int]:
        preds = torch.cat([ex(c)[1].argmax(1) for c in x.split(500)])
        return torch.bincount(preds, minlength=10).tolist()

    return {"gen_hist": hist(fake), "real_hist": hist(real)}


def main() -> None:
    threads, name, preset, overrides = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    torch.set_num_threads(threads)
    out = Path("runs/tune") / name
    mixture = preset.startswith("mlp")
    metrics, n = ("modes", 2500) if mixture else ("fid,modes", 5000)
    seconds = -1.0
    if not (out / "checkpoints" / "last.pt").exists():
        cfg = config.build(preset, ["train.progress=false", "train.tensorboard=false",
                                    "train.sample_every=0", f"train.threads={threads}",
                                    *overrides])
        t = time.time()
        train(cfg, out=out)
        seconds = time.time() - t
    res: dict = {"name": name, "ov": " ".join(overrides), "sec": round(seconds)}
    for ema in (True, False):
        pipe = load(out, ema=ema)
        data = tools.run_data(pipe)
        ecfg = config.EvalConfig(metrics=metrics, n=n, seed=pipe.config.seed)
        scores = evaluate(pipe.sample, data, ecfg, floor=False).scores
        res["ema" if ema else "raw"] = {k: round(v, 4) for k, v in scores.items() if k in KEEP}
        if not ema:
            continue
        for pct in (80.0, 90.0, 95.0):
            sample, drs = tools.drs_source(pipe, load_critic(out), data, n, pipe.config.seed, pct)
            scores = evaluate(sample, data, ecfg, floor=False).scores
            res[f"drs{int(pct)}"] = {k: round(v, 4) for k, v in scores.items() if k in KEEP}
            res[f"drs{int(pct)}"]["acc"] = round(drs.acceptance_rate, 3)
    if not mixture:
        res.update(class_histograms(out, n))
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
