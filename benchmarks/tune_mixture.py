"""One tuning trial for the mixture presets: train with overrides, report mode coverage.

Prints one JSON line: the overrides, training seconds (1 thread), modes and high-quality
share on 2,500 samples, plain and with discriminator rejection sampling (80th percentile).
The trials behind the shipped presets are in benchmarks/results/tuning-mixtures.jsonl.

    python benchmarks/tune_mixture.py mlp-ring8 train.steps=16000
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from gankit import config, tools
from gankit.metrics.evaluate import evaluate
from gankit.pipelines.critic import load_critic
from gankit.pipelines.generate import load
from gankit.train.loop import train


def main() -> None:
    torch.set_num_threads(1)
    preset, overrides = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config.build(preset, ["train.progress=false", "train.tensorboard=false",
                                    "train.sample_every=0", "train.threads=1", *overrides])
        t = time.time()
        run = train(cfg, out=Path(tmp) / "run")
        seconds = time.time() - t
        pipe = load(run)
        data = tools.run_data(pipe)
        ecfg = config.EvalConfig(metrics="modes", n=2500, seed=cfg.seed)
        plain = evaluate(pipe.sample, data, ecfg, floor=False).scores
        sample, drs = tools.drs_source(pipe, load_critic(run), data, 2500, cfg.seed, 80.0)
        rej = evaluate(sample, data, ecfg, floor=False).scores
    print(json.dumps({"p": preset, "ov": " ".join(overrides), "sec": round(seconds),
                      "modes": plain["modes"], "hq": round(plain["hq"], 4),
                      "drs_modes": rej["modes"], "drs_hq": round(rej["hq"], 4),
                      "acc": round(drs.acceptance_rate, 3)}))


if __name__ == "__main__":
    main()
