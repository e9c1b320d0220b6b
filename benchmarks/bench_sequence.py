"""Motion and identity of a trained sequence model (MoCoGAN, Tulyakov et al. 2018) on
moving-mnist, next to the same statistics of real clips.

(a) motion: the digit's centre of mass (pixels above mid-grey, weighted by brightness) per
    frame; the mean and spread of its per-frame displacement, and the share of clips whose
    digit moves at all (mean displacement > 0.25 px/frame).
(b) identity: gankit's lenet-mnist classifier on the digit_size x digit_size crop centred on
    the centre of mass (resized to 28 x 28 by the extractor: an MNIST-like framing) in every
    frame; a clip keeps its identity when >= 90% of its frames show a digit (mass above
    MIN_MASS) of its majority class, so blank clips do not pass. Meaningful for one digit per
    clip (moving-mnist) only.

    python benchmarks/bench_sequence.py RUN [--n 64] [--frames T] [--note TEXT] [--json PATH]

Prints a table and writes JSON (default benchmarks/results/sequence.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_train import machine

from gankit import tools
from gankit.data.base import to_unit_range
from gankit.metrics.features import get_extractor
from gankit.pipelines.generate import load

MOVING_PX = 0.25  # a clip "moves" when its mean displacement exceeds this (px per frame)
IDENTITY_SHARE = 0.9  # share of frames that must agree with the clip's majority class
MIN_MASS = 0.5  # a frame shows a digit when its pixels above mid-grey sum to more than this
#                (a white pixel counts 1; real 14 px digits: median 12, 1st percentile 0.8)


def centre_of_mass(clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips in [-1, 1] (N, T, C, H, W) -> (N, T, 2) centre (row, col) of the pixels above
    mid-grey, weighted by brightness (the canvas centre for an empty frame), and (N, T) their
    mass."""
    w = clips.float().mean(2).clamp_min(0)  # (N, T, H, W)
    h, wd = w.shape[-2:]
    rows = torch.arange(h, dtype=torch.float32)
    cols = torch.arange(wd, dtype=torch.float32)
    mass = w.sum((-2, -1))
    safe = mass.clamp_min(1e-6)
    com = torch.stack([(w.sum(-1) * rows).sum(-1) / safe, (w.sum(-2) * cols).sum(-1) / safe], -1)
    centre = torch.tensor([(h - 1) / 2, (wd - 1) / 2])
    return torch.where(mass[..., None] > 0, com, centre), mass


def crops(clips: torch.Tensor, com: torch.Tensor, size: int) -> torch.Tensor:
    """size x size windows centred on `com`, kept inside the canvas: (N * T, C, size, size)."""
    n, t, _, h, w = clips.shape
    top = (com.round().long() - size // 2).clamp_min(0)
    top = torch.minimum(top, torch.tensor([h - size, w - size]))
    offs = torch.arange(size)
    rows = (top[..., 0, None] + offs)[:, :, :, None]  # (N, T, s, 1)
    cols = (top[..., 1, None] + offs)[:, :, None, :]  # (N, T, 1, s)
    ni = torch.arange(n).view(n, 1, 1, 1)
    ti = torch.arange(t).view(1, t, 1, 1)
    x = clips.permute(0, 1, 3, 4, 2)[ni, ti, rows, cols]  # (N, T, s, s, C)
    return x.permute(0, 1, 4, 2, 3).flatten(0, 1)


def motion_stats(com: torch.Tensor) -> dict[str, float]:
    step = (com[:, 1:] - com[:, :-1]).norm(dim=-1)  # (N, T - 1) px per frame
    per_clip = step.mean(1)
    return {"displacement_px": float(step.mean()), "displacement_std_px": float(step.std()),
            "moving_clips": float((per_clip > MOVING_PX).float().mean())}


def identity_stats(clips: torch.Tensor, com: torch.Tensor, digit: torch.Tensor, size: int,
                   extractor) -> dict[str, float]:
    """`digit` (N, T): frames that show a digit; the others count as disagreeing."""
    logits = torch.cat([extractor(b)[1] for b in crops(clips, com, size).split(512)])
    classes = logits.argmax(1).view(clips.shape[0], clips.shape[1])
    classes = torch.where(digit, classes, -1)
    majority = classes.mode(1).values
    agree = ((classes == majority[:, None]) & (majority[:, None] >= 0)).float().mean(1)
    return {"frames_with_digit": float(digit.float().mean()),
            "frames_agreeing": float(agree.mean()),
            "clips_keeping_identity": float((agree >= IDENTITY_SHARE).float().mean())}


def measure(clips: torch.Tensor, size: int, extractor) -> dict[str, float]:
    com, mass = centre_of_mass(clips)
    return {**motion_stats(com), **identity_stats(clips, com, mass > MIN_MASS, size,
                                                  extractor)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="run folder or checkpoint of a model.family=sequence run")
    ap.add_argument("--n", type=int, default=64, help="clips per side")
    ap.add_argument("--frames", type=int, help="clip length (default: the training length)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--note", default="", help="what the run is (recorded in the JSON)")
    ap.add_argument("--json", default=str(Path(__file__).parent / "results" / "sequence.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    pipe = load(args.run)
    data = tools.run_data(pipe)
    if args.frames is not None and args.frames != data.shape[0]:
        data = data.configure(args.frames, data.resolution, data.channels)
    fake = pipe.sample(args.n, seed=args.seed, frames=data.shape[0])
    real = to_unit_range(data.sample(args.n, torch.Generator().manual_seed(args.seed + 1))[0])
    lenet = get_extractor("lenet-mnist")
    rows = {"real": measure(real, data.digit_size, lenet),
            "generated": measure(fake, data.digit_size, lenet)}
    keys = list(rows["real"])
    print(f"{'statistic':<24}{'real':>12}{'generated':>12}")
    for k in keys:
        print(f"{k:<24}{rows['real'][k]:12.3f}{rows['generated'][k]:12.3f}")
    ckpt_cfg = pipe.config
    out = {"run": str(args.run), "note": args.note, "steps": ckpt_cfg.train.steps, "data": data.name,
           "clips": args.n, "frames": data.shape[0], "seed": args.seed, "scores": rows,
           "thresholds": {"moving_px": MOVING_PX, "identity_share": IDENTITY_SHARE},
           "machine": machine(), "seconds": round(time.perf_counter() - t0, 1),
           "command": " ".join(sys.argv)}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
