"""Inpainting, super-resolution and unpaired translation: gankit against the classical
baselines, on data no run trained on. Prints tables, writes JSON and the figures.

Runs (trained here unless `--runs DIR/NAME` already holds a finished run; each `gankit
train` at 1 thread in its own process, CPU time from getrusage):
  inpaint   inpaint-photos: pix2pix on 64 px crops of the 8 training photos
  sr4, sr2  srgan-photos at x4 and x2 (x2 with 8 blocks and fewer steps: each
            costs about 2x x4's):
            train.pretrain_steps of content loss (checkpoints/content.pt = the content-loss
            model, SRResNet), then adversarial fine-tuning (checkpoints/last.pt = the GAN model)
  cyclegan  cyclegan-digits: mnist5k <-> digits-framed at 16 px

Scored on the 3 held-out photos (chelsea, coffee, flower; data/photos.py):
- inpainting: 24 fixed 64 px crops per photo (the training crop size), each with a fixed
  rectangle mask and a fixed brush-stroke mask of the training distributions, filled by
  gankit and by scikit-image's inpaint_biharmonic; PSNR/SSIM inside the hole and over the
  crop (RGB, [0, 1]).
- super-resolution: each whole photo (cropped to a multiple of the scale) bicubic-downscaled
  (antialiased, 8-bit), then upscaled by bicubic, the content model and the GAN model;
  PSNR/SSIM on the Y channel with `scale` border pixels cropped, as SR papers report.
- translation: the 500 held-out mnist5k digits A -> B and the 500 held-out digits B -> A
  (the preset's data.holdout: no run saw them): the class is kept when the target domain's
  shipped classifier (lenet-digits at 8 px on the digit's box for B, lenet-mnist at 28 px
  for A) predicts the source's label (and, beside it, when an MLP fitted on the labelled
  training images of both sets does: it reads either style); the domain is the target's
  when a logistic regression fitted on the training images of both sets (16 px pixels; its
  accuracy on the held-out reals is reported) says so. Reference rows: the untranslated images, and real images of the target
  domain (what the classifier and the judge give on the real thing).

    python benchmarks/restoration.py --runs /work/runs_i2i
    python benchmarks/restoration.py --runs runs/restoration --only sr2 --train
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gankit import config
from gankit import data as data_mod
from gankit.data import corrupt, masks
from gankit.data.base import to_uint8, to_unit_range
from gankit.data.builtin import DIGIT_BOX
from gankit.data.photos import photo_images
from gankit.images import save_grid
from gankit.metrics.restoration import psnr, ssim
from gankit.pipelines.restore import load_image_model

RUNS = {
    "inpaint": ("inpaint-photos", []),
    "sr4": ("srgan-photos", []),
    "sr2": ("srgan-photos", ["model.scale=2", "model.blocks=8", "train.pretrain_steps=1450",
                             "train.steps=1750"]),
    "cyclegan": ("cyclegan-digits", []),
}
CROP, CROPS_PER_PHOTO, EVAL_SEED = 64, 24, 2024
RESULTS = Path(__file__).parent / "results"


def train_run(name: str, root: Path, retrain: bool) -> dict:
    """Train runs[name] in a subprocess at 1 thread unless it is there; its CPU seconds."""
    run = root / name
    info = run / "bench_train.json"
    if (run / "checkpoints" / "last.pt").is_file() and not retrain:
        return json.loads(info.read_text()) if info.is_file() else {}
    preset, extra = RUNS[name]
    cmd = [sys.executable, "-m", "gankit", "train", preset, *extra, "train.threads=1",
           "train.progress=false", "--out", str(run)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rec = {"command": " ".join(cmd[2:]), "wall_s": time.perf_counter() - t0,
           "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}
    info.write_text(json.dumps(rec, indent=1))
    return rec


def phase_seconds(run: Path) -> dict:
    """Wall seconds of the content and the adversarial phase, from metrics.jsonl's rates
    (1 thread: an upper bound on their CPU time)."""
    cfg = config.build(str(run / "config.yaml"))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "images_per_s" in r]
    out, prev = {"content_s": 0.0, "adversarial_s": 0.0}, 0
    for r in rows:
        imgs = (r["step"] - prev) * cfg.train.batch_size
        key = "content_s" if r["step"] <= cfg.train.pretrain_steps else "adversarial_s"
        out[key] += imgs / max(r["images_per_s"], 1e-9)
        prev = r["step"]
    return out


# ------------------------------------------------------------------ inpainting


def _biharmonic(img: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    from skimage.restoration import inpaint_biharmonic

    x = img.permute(1, 2, 0).numpy().astype(np.float64) / 255
    y = inpaint_biharmonic(x, hole.numpy().astype(bool), channel_axis=-1)
    return torch.from_numpy(np.rint(np.clip(y, 0, 1) * 255).astype(np.uint8)).permute(2, 0, 1)


def eval_inpaint(run: Path) -> tuple[dict, list]:
    pipe = load_image_model(run)
    gen = torch.Generator().manual_seed(EVAL_SEED)
    scores: dict = {}
    figure = []
    for _, photo in photo_images("heldout"):
        h, w = photo.shape[1:]
        tops = torch.randint(h - CROP + 1, (CROPS_PER_PHOTO,), generator=gen)
        lefts = torch.randint(w - CROP + 1, (CROPS_PER_PHOTO,), generator=gen)
        kinds = {"rect": masks.rect_masks(CROPS_PER_PHOTO, CROP, CROP, gen),
                 "stroke": masks.stroke_masks(CROPS_PER_PHOTO, CROP, CROP, gen)}
        for i in range(CROPS_PER_PHOTO):
            crop = photo[:, tops[i]:tops[i] + CROP, lefts[i]:lefts[i] + CROP]
            for kind, m in kinds.items():
                hole = m[i, 0]
                x = to_unit_range(crop[None])
                preds = {"biharmonic": _biharmonic(crop, hole),
                         "harmonic": to_uint8(corrupt.harmonic_fill(x, hole[None, None]))[0],
                         "gankit": pipe.inpaint(crop, hole)}
                for method, pred in preds.items():
                    s = scores.setdefault((kind, method), [])
                    s.append({"psnr_hole": psnr(pred, crop, mask=hole),
                              "ssim_hole": ssim(pred, crop, mask=hole),
                              "psnr": psnr(pred, crop), "ssim": ssim(pred, crop)})
                if i < 2 and len(figure) < 8:
                    masked = to_uint8(masks.apply_mask(to_unit_range(crop[None]), hole[None, None]))[0]
                    figure += [masked, preds["biharmonic"], preds["gankit"], crop]
    table = {f"{kind}/{method}": {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
             for (kind, method), rows in scores.items()}
    return table, figure


# ------------------------------------------------------------------ super-resolution


def eval_sr(run: Path) -> tuple[dict, list]:
    models = {"content": load_image_model(run / "checkpoints" / "content.pt"),
              "gan": load_image_model(run)}
    s = models["gan"].scale
    rows: dict = {}
    figure = []
    for name, photo in photo_images("heldout"):
        h, w = (d // s * s for d in photo.shape[1:])
        hr = photo[:, :h, :w]
        lr = to_uint8(corrupt.bicubic_down(to_unit_range(hr[None]), s))[0]
        preds = {"bicubic": to_uint8(corrupt.bicubic_up(to_unit_range(lr[None]), s))[0],
                 **{k: m.upscale(lr) for k, m in models.items()}}
        for method, pred in preds.items():
            rows.setdefault(method, []).append(
                {"psnr_y": psnr(pred, hr, border=s, y_channel=True),
                 "ssim_y": ssim(pred, hr, border=s, y_channel=True)})
        if name == "chelsea.png":  # the cat's face and whiskers
            y0, x0, size = 40, 150, 96
            figure = [p[:, y0:y0 + size, x0:x0 + size] for p in
                      (preds["bicubic"], preds["content"], preds["gan"], hr)]
    return {m: {k: float(np.mean([r[k] for r in v])) for k in v[0]} for m, v in rows.items()}, figure


# ------------------------------------------------------------------ translation


# The shipped classifier that reads each domain's digits: (name, its input size, the share of
# the frame the digit's box fills: digits-framed puts the 8x8 digit in MNIST's 20/28 box).
DIGIT_CLASSIFIERS = {"mnist5k": ("lenet-mnist", 28, 1.0), "digits": ("lenet-digits", 8, 1.0),
                     "digits-framed": ("lenet-digits", 8, DIGIT_BOX / 28)}


def read_digits(classifier, size: int, box: float, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities of `classifier` on the central `box` of each image at its size
    (the box's margin rounded to whole pixels: exact at 16 and 28 px, the sizes used)."""
    x = to_unit_range(x)
    s = x.shape[-1]
    p = round(s * (1 - box) / 2)
    x = x[..., p:s - p, p:s - p]
    small = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)
    with torch.no_grad():
        return classifier(small)[1].softmax(1)


def eval_translate(run: Path, n: int = 1000) -> dict:
    """Class kept and domain judged on held-out images of both sets (data.holdout of the
    run's config: never shown to it); the judges are fitted on the training images.

    class_kept: the target domain's shipped classifier gives the source's label.
    class_kept_both: so does an MLP fitted on the labelled training images of both sets,
    which reads either style (lenet-digits reads only about half of MNIST's untranslated
    digits, so class_kept of A -> B also measures how close G(a) comes to the 8x8 set's
    shapes, not only whether the digit survived)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    from gankit.metrics.lenet import load_classifier

    pipe = load_image_model(run)
    cfg = config.build(str(run / "config.yaml"))
    seen, held = data_mod.load(cfg.data), data_mod.load_holdout(cfg.data)
    def feats(x: torch.Tensor) -> np.ndarray:
        return x.reshape(len(x), -1).float().numpy() / 255

    both_x = np.concatenate([feats(seen.a.x), feats(seen.b.x)])
    judge = LogisticRegression(max_iter=2000).fit(
        both_x, np.concatenate([np.zeros(len(seen.a)), np.ones(len(seen.b))]))
    both = MLPClassifier((256,), max_iter=300, random_state=0).fit(
        both_x, np.concatenate([seen.a.y.numpy(), seen.b.y.numpy()]))
    out = {"judge_accuracy_heldout": float(judge.score(
        np.concatenate([feats(held.a.x), feats(held.b.x)]),
        np.concatenate([np.zeros(len(held.a)), np.ones(len(held.b))]))),
        "both_classifier_accuracy_heldout": float(both.score(
            np.concatenate([feats(held.a.x), feats(held.b.x)]),
            np.concatenate([held.a.y.numpy(), held.b.y.numpy()]))),
        "n_heldout": [len(held.a), len(held.b)]}
    names = {"a": cfg.data.name, "b": cfg.data.name_b}
    for src, dst, direction in (("a", "b", "a2b"), ("b", "a", "b2a")):
        part = getattr(held, src)
        x, labels = part.x[:n], part.y[:n]
        name, size, box = DIGIT_CLASSIFIERS[names[dst]]
        model = load_classifier(name)
        for method in ("untranslated", "gankit", "real target"):
            if method == "real target":  # the classifiers and judge on real target images
                tgt = getattr(held, dst)
                y, labels_m = tgt.x[:n], tgt.y[:n]
            else:
                labels_m = labels
                y = x if method == "untranslated" else torch.stack(
                    [pipe.translate(img, direction) for img in x])
            prob = read_digits(model, size, box, y)
            out[f"{direction}/{method}"] = {
                "class_kept": float((prob.argmax(1) == labels_m).float().mean()),
                "class_kept_both": float(np.mean(both.predict(feats(y)) == labels_m.numpy())),
                "target_confidence": float(prob.max(1).values.mean()),
                "judged_target": float(np.mean(judge.predict(feats(y)) == (dst == "b")))}
    return out


# ------------------------------------------------------------------ main


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "nproc": os.cpu_count(), "torch": torch.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", default="runs/restoration", help="folder of the runs")
    ap.add_argument("--only", default=",".join(RUNS), help="comma-separated: " + ",".join(RUNS))
    ap.add_argument("--train", action="store_true", help="retrain runs that exist")
    ap.add_argument("--json", default=str(RESULTS / "restoration.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(args.runs)
    root.mkdir(parents=True, exist_ok=True)
    out_path = Path(args.json)
    report = json.loads(out_path.read_text()) if out_path.is_file() else {}
    report["machine"] = machine()
    for name in args.only.split(","):
        rec = {"train": train_run(name, root, args.train), "run": str(root / name)}
        run = root / name
        if name.startswith("sr"):
            rec["phases"] = phase_seconds(run)
            rec["scores"], fig = eval_sr(run)
            save_grid(torch.stack(fig).repeat_interleave(2, -1).repeat_interleave(2, -2),
                      RESULTS / f"sr-x{name[2:]}-crops.png", nrow=4)
            print(f"\n{name}: PSNR-Y / SSIM-Y on the held-out photos (border = scale)")
            for m, v in rec["scores"].items():
                print(f"  {m:<10} {v['psnr_y']:7.2f} dB  {v['ssim_y']:.4f}")
        elif name == "inpaint":
            rec["scores"], fig = eval_inpaint(run)
            save_grid(torch.stack(fig), RESULTS / "inpaint-crops.png", nrow=4)
            print("\ninpaint: PSNR / SSIM in the hole and over the 64 px crop")
            for m, v in rec["scores"].items():
                print(f"  {m:<18} hole {v['psnr_hole']:6.2f} dB {v['ssim_hole']:.4f}   "
                      f"image {v['psnr']:6.2f} dB {v['ssim']:.4f}")
        else:
            rec["scores"] = eval_translate(run)
            print(f"\ncyclegan (judge accuracy on held-out reals "
                  f"{rec['scores']['judge_accuracy_heldout']:.3f})")
            for m, v in rec["scores"].items():
                if isinstance(v, dict):
                    print(f"  {m:<18} class kept {v['class_kept']:.3f} (both-style MLP "
                          f"{v['class_kept_both']:.3f})  judged target "
                          f"{v['judged_target']:.3f}  target confidence "
                          f"{v['target_confidence']:.3f}")
        report[name] = rec
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {out_path}")


if __name__ == "__main__":
    main()
