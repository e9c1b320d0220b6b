"""Command line: parse -> config -> library call. No logic of its own.

    gankit train PRESET_OR_YAML [key=value ...] --out RUN_DIR
    gankit train --resume RUN_DIR [train.steps=N ...]
    gankit sample RUN_OR_CKPT --n 64 --seed 0 --out grid.png | samples.npz | folder/
    gankit sample RUN --class 3 | --code c0=3 --code c1=0.5 | --truncation 0.7
    gankit interpolate RUN --seeds 0,1,2 [--code c1]
    gankit sample SEQUENCE_RUN --n 8 --frames 32 --out clips.png   (strip + clips-clipK.gif)
    gankit encode RUN IMAGES --out z.npz
    gankit reconstruct RUN IMAGES --out recon.png
    gankit inpaint RUN --image photo.png --mask mask.png --out filled.png
    gankit upscale RUN --image small.png --out big.png
    gankit translate RUN --image x.png|DIR --out y.png|DIR --direction a2b|b2a
    gankit doctor RUN
    gankit report RUN [RUN ...] --out report.html
    gankit serve [RUNS_DIR] [--host 127.0.0.1] [--port 7860]
    gankit list
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from gankit.errors import GankitError

if TYPE_CHECKING:
    import torch

    from gankit.pipelines.generate import GeneratorPipeline


IMAGE_N, SEQUENCE_N = 64, 8  # default --n of `sample`: images, or clips of a sequence model


def _train(args: argparse.Namespace) -> None:
    from gankit import config
    from gankit.train.loop import train

    if args.resume:
        if args.source and "=" not in args.source:
            raise GankitError("with --resume give only key=value overrides, not a preset")
        if args.out:
            raise GankitError("--resume continues RUN in its own folder; --out is for new runs")
        overrides = ([args.source] if args.source else []) + args.overrides
        run = train(None, resume=args.resume, overrides=overrides)  # type: ignore[arg-type]
    else:
        if not args.source:
            raise GankitError("give a preset or YAML file (see `gankit list`), or --resume RUN")
        cfg = config.build(args.source, args.overrides)
        run = train(cfg, out=args.out)
    print(f"run folder: {run}")


def _sample(args: argparse.Namespace) -> None:
    from gankit.pipelines.generate import load
    from gankit.train.runs import check_output

    pipe = load(args.run, device=args.device, ema=not args.no_ema)
    pipe.check_frames(args.frames)
    args.n = args.n or (SEQUENCE_N if pipe.is_sequence else IMAGE_N)
    kind = pipe.output_kind(args.out)
    check_output(args.out, "--out", folder=kind == "folder")
    given = _sample_options(args)
    # a self-conditioned model's classes are clusters its user never chose: its default grid
    # is a plain sample over the clusters' sizes, as from an unconditional model
    clustered = pipe.config.data.clusters > 0 and not args.classes
    by_class = (pipe.is_image and pipe.num_classes > 0 and len(args.classes or []) != 1
                and not clustered)
    if args.reject:
        samples = _rejection_samples(args, pipe)
    elif kind == "image" and by_class:
        grid = pipe.class_grid(args.n, args.seed, args.classes, **given)
        pipe.save(grid.samples, args.out, nrow=grid.columns)
        print(f"wrote {args.out}: one row per class ({len(grid.classes)} rows x {grid.columns} "
              "columns, the same latent down each column)")
        return
    else:
        samples = pipe.sample(args.n, seed=args.seed, classes=args.classes, frames=args.frames,
                              **given)
    paths = pipe.save(samples, args.out)
    print(f"wrote {len(paths)} file(s): {paths[0]}" + (" ..." if len(paths) > 1 else ""))


def _rejection_samples(args: argparse.Namespace, pipe: GeneratorPipeline) -> torch.Tensor:
    from gankit import tools
    from gankit.pipelines.critic import load_critic

    pipe.require_stills("--reject")
    if args.classes or args.code or args.truncation is not None:
        raise GankitError("--reject draws from the plain prior; it does not combine with "
                          "--class, --code or --truncation")
    sample, drs = tools.drs_source(pipe, load_critic(args.run, args.device),
                                   tools.run_data(pipe), args.n, args.seed, args.gamma_percentile)
    print(f"rejection sampling: acceptance rate {drs.acceptance_rate:.3f} "
          f"over {drs.proposed} proposals")
    return sample(args.n, args.seed)


def _sample_options(args: argparse.Namespace) -> dict:
    """--code, --truncation and --truncation-mode as GeneratorPipeline.sample's arguments."""
    codes: dict[str, float] = {}
    for name, value in args.code or []:
        if name in codes:
            raise GankitError(f"--code {name} is given twice")
        codes[name] = value
    if args.truncation_mode and args.truncation is None:
        raise GankitError(f"--truncation-mode {args.truncation_mode} needs --truncation (psi, or "
                          "the threshold for resample)")
    return {"codes": codes, "truncation": args.truncation,
            "truncation_mode": args.truncation_mode or "psi"}


def _eval(args: argparse.Namespace) -> None:
    import json

    from gankit import tools
    from gankit.metrics.evaluate import evaluate
    from gankit.pipelines.critic import load_critic
    from gankit.pipelines.generate import load
    from gankit.train.runs import check_output

    if args.json:
        check_output(args.json, "--json")
    pipe = load(args.run, device=args.device)
    changes = {k: v for k, v in [("metrics", args.metrics), ("n", args.n),
                                 ("extractor", args.extractor), ("seed", args.seed),
                                 ("inception_weights", args.inception_weights),
                                 ("protocol", args.protocol)] if v is not None}
    ecfg = tools.eval_config(pipe, changes)
    if args.reject:
        pipe.require_stills("--reject")
    data = tools.run_data(pipe)
    res = tools.evaluate_run(pipe, ecfg, data, args.device)
    out = {"run": str(args.run), **res.to_dict()}
    cols = {"generated": res.scores}
    if args.reject:
        sample, drs = tools.drs_source(pipe, load_critic(args.run, args.device), data, ecfg.n,
                                       ecfg.seed, args.gamma_percentile)
        rej = evaluate(sample, data, ecfg, device=args.device, floor=False)
        cols["rejection"] = rej.scores
        out["rejection_sampling"] = {"scores": rej.scores, "acceptance_rate": drs.acceptance_rate,
                                     "gamma_percentile": args.gamma_percentile}
    cols["real-vs-real"] = res.floor
    print(f"{'score':<16}" + "".join(f"{c:>14}" for c in cols))
    for key in res.scores:
        print(f"{key:<16}" + "".join(f"{col.get(key, float('nan')):14.4f}" for col in cols.values()))
    p = res.protocol
    proto = f" ({p['inception_protocol']} protocol)" if p.get("inception_protocol") else ""
    print(f"protocol: extractor {p['extractor']}{proto}, {p['n_fake']} generated vs "
          f"{p['n_real']} real ({p['data']}), floor {p['floor']}, seed {p['seed']}")
    if args.reject:
        print(f"rejection sampling acceptance rate: {drs.acceptance_rate:.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
        print(f"wrote {args.json}")


def _score(args: argparse.Namespace) -> None:
    import json

    from gankit import tools
    from gankit.pipelines import score
    from gankit.pipelines.critic import load_critic
    from gankit.pipelines.generate import load
    from gankit.train.runs import check_output

    if args.json:
        check_output(args.json, "--json")
        if Path(args.json).resolve() == Path(args.images).resolve():
            raise GankitError(f"--json {args.json} would overwrite the images being scored")
    pipe = load(args.run, device=args.device)
    pipe.require_stills("gankit score")
    critic = load_critic(args.run, args.device)
    names, images = score.load_images(args.images, critic.data_shape)
    ranking = score.rank(critic, names, images)
    shown = ranking
    if len(ranking) > 2 * args.top:  # --top >= 1 (argparse), so ranking[-top:] is the tail
        shown = ranking[:args.top] + [("...", float("nan"))] + ranking[-args.top:]
    print(f"{'D logit':>9}  image (most real-looking first)")
    for name, val in shown:
        print(f"{val:9.3f}  {name}")
    real = tools.real_samples(tools.run_data(pipe), args.n)
    hist = score.histogram(critic.logits(real), critic.logits(pipe.sample(len(real), seed=1)))
    print(f"D's logits on {len(real)} real vs {len(real)} generated samples:")
    print(hist.table())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"ranking": ranking, "histogram": vars(hist)}, fh, indent=2)
        print(f"wrote {args.json}")


def _interpolate(args: argparse.Namespace) -> None:
    from gankit.data.base import to_uint8
    from gankit.images import check_image_path, save_grid, scatter
    from gankit.pipelines.generate import load
    from gankit.pipelines.interpolate import code_sweep, interpolate, motion_sweep
    from gankit.train.runs import check_output

    check_output(check_image_path(args.out), "--out")
    if args.code and args.mode:
        raise GankitError("--mode shapes the paths between seeds; a --code sweep has none")
    pipe = load(args.run, device=args.device)
    pipe.check_frames(args.frames)
    seeds = args.seeds
    if pipe.is_sequence and not args.code:
        if args.mode:
            raise GankitError("--mode shapes the paths between seeds; a sequence model's "
                              "interpolate draws one motion per seed under a fixed content")
        grid = motion_sweep(pipe, seeds, args.frames)
        save_grid(to_uint8(grid.flatten(0, 1)), args.out, nrow=grid.shape[1])
        print(f"wrote {args.out}: {len(seeds)} motion draw(s) x {grid.shape[1]} frames, the "
              f"content of seed {seeds[0]} in every row")
        return
    if args.code:
        grid = code_sweep(pipe, args.code, seeds, args.steps)
        what = f"{len(seeds)} seed(s) x {grid.shape[1]} values of {args.code}"
    else:
        grid = interpolate(pipe, seeds, args.steps, args.mode or "slerp")
        what = f"{len(seeds) - 1} path(s) x {args.steps} steps ({args.mode or 'slerp'})"
    if pipe.is_image:
        save_grid(to_uint8(grid.flatten(0, 1)), args.out, nrow=grid.shape[1])
    else:
        scatter(grid.flatten(0, 1), args.out)
    print(f"wrote {args.out}: {what}")


def _encode(args: argparse.Namespace) -> None:
    from gankit.pipelines.encode import load_images, save_latents
    from gankit.pipelines.generate import load
    from gankit.train.runs import check_output

    if Path(args.out).suffix.lower() != ".npz":
        raise GankitError(f"--out {args.out}: encode writes an .npz file (arrays z and files)")
    _check_not_input(check_output(args.out, "--out"), args.images)
    pipe = load(args.run, device=args.device, ema=not args.no_ema)
    pipe.require_encoder("encode")
    names, x = load_images(args.images, pipe.data_shape)
    z = pipe.encode(x)
    save_latents(args.out, z, names)
    print(f"wrote {args.out}: z {tuple(z.shape)} and files for {len(names)} image(s)")


def _reconstruct(args: argparse.Namespace) -> None:
    from gankit.images import check_image_path
    from gankit.pipelines.encode import load_images, reconstruct, save_pairs
    from gankit.pipelines.generate import load
    from gankit.train.runs import check_output

    _check_not_input(check_output(check_image_path(args.out), "--out"), args.images)
    pipe = load(args.run, device=args.device, ema=not args.no_ema)
    pipe.require_encoder("reconstruct")
    names, x = load_images(args.images, pipe.data_shape)
    rec = reconstruct(pipe, x[:args.n])
    per_row = save_pairs(rec, args.out)
    print(f"wrote {args.out}: {len(rec.x)} of {len(names)} image(s), each beside G(E(x)), "
          f"{per_row} pair(s) a row; mean squared error {float(rec.mse.mean()):.4f} "
          "(images in [-1, 1])")


def _check_not_input(out: Path, images: str) -> None:
    """An output may not replace the input images, nor land among them."""
    src = Path(images).expanduser().resolve()
    if out.resolve() == src or src in out.resolve().parents:
        raise GankitError(f"--out {out} would write over or among the input images {images}")


def _inpaint(args: argparse.Namespace) -> None:
    from gankit.data.masks import load_mask
    from gankit.data.photos import read_image
    from gankit.pipelines.restore import load_image_model

    out = _image_out(args)
    if out.expanduser().resolve() == Path(args.mask).expanduser().resolve():
        raise GankitError(f"--out {out} is the mask; choose another name")
    pipe = load_image_model(args.run, device=args.device, ema=not args.no_ema)
    pipe.require("inpaint", ("inpaint",), "a model trained with data.pairs=inpaint")
    image = read_image(args.image, pipe.input_channels())
    mask = load_mask(args.mask, tuple(image.shape[-2:]))
    _save_image(pipe.inpaint(image, mask, args.tile, name=args.image), out)
    print(f"wrote {out}: {image.shape[2]}x{image.shape[1]} px, {int(mask.sum())} hole pixel(s) "
          "filled, every other pixel kept")


def _upscale(args: argparse.Namespace) -> None:
    from gankit.data.photos import read_image
    from gankit.pipelines.restore import load_image_model

    out = _image_out(args)
    pipe = load_image_model(args.run, device=args.device, ema=not args.no_ema)
    pipe.check_upscale(args.scale)
    image = read_image(args.image, pipe.input_channels())
    big = pipe.upscale(image, args.scale, args.tile, name=args.image)
    _save_image(big, out)
    print(f"wrote {out}: {image.shape[2]}x{image.shape[1]} -> {big.shape[2]}x{big.shape[1]} px "
          f"(x{pipe.scale})")


def _translate(args: argparse.Namespace) -> None:
    from gankit.data.folder import list_images
    from gankit.data.photos import read_image
    from gankit.pipelines.restore import load_image_model
    from gankit.train.runs import check_output

    src = Path(args.image).expanduser()
    folder = src.is_dir()
    if not folder:
        out = _image_out(args)
    else:
        out = check_output(args.out, "--out", folder=True)
        _check_not_input(out, args.image)
    pipe = load_image_model(args.run, device=args.device, ema=not args.no_ema)
    pipe.check_translate(args.direction)
    files = list_images(src)[0] if folder else [src]
    if folder:  # a.jpg and a.png would both become a.png: refuse before writing anything
        seen: dict[Path, Path] = {}
        for f in files:
            key = f.relative_to(src).with_suffix(".png")
            if key in seen:
                raise GankitError(f"{seen[key]} and {f} would both be written as {out / key}; "
                                  "rename one")
            seen[key] = f
    ch = pipe.input_channels(args.direction)
    for f in files:
        y = pipe.translate(read_image(f, ch), args.direction, args.tile, name=str(f))
        target = out / f.relative_to(src).with_suffix(".png") if folder else out
        _save_image(y, target)
    print(f"wrote {out}: {len(files)} image(s) translated {args.direction}")


def _image_out(args: argparse.Namespace) -> Path:
    """--out: an image path that is neither the input nor inside a run, checked before work."""
    from gankit.images import check_image_path
    from gankit.train.runs import check_output

    out = check_output(check_image_path(args.out), "--out")
    if out.expanduser().resolve() == Path(args.image).expanduser().resolve():
        raise GankitError(f"--out {out} is the input image; choose another name")
    return out


def _save_image(image, path: Path) -> None:
    from gankit.images import save_array

    save_array(image.permute(1, 2, 0).numpy(), path)


def _nearest(args: argparse.Namespace) -> None:
    import torch

    from gankit import tools
    from gankit.data.base import to_uint8, to_unit_range
    from gankit.images import check_image_path, save_grid
    from gankit.metrics.features import EXTRACTORS, default_extractor, get_extractor
    from gankit.pipelines.generate import load
    from gankit.pipelines.nearest import nearest
    from gankit.train.runs import check_output

    check_output(check_image_path(args.out), "--out")
    if args.extractor not in (None, "pixels", *EXTRACTORS.names()):
        raise GankitError(f"--extractor {args.extractor!r}: choose pixels or one of "
                          f"{', '.join(EXTRACTORS.names())}")
    pipe = load(args.run, device=args.device)
    pipe.require_stills("gankit nearest")
    data = tools.run_data(pipe)
    name = args.extractor or default_extractor(data.name, tuple(data.shape))
    ex = None if name == "pixels" else get_extractor(name, device=args.device)
    nb = nearest(pipe.sample(args.n, seed=args.seed), data, ex, k=args.k)
    rows = [torch.cat([nb.samples[i:i + 1], to_unit_range(data.x[nb.index[i]])])
            for i in range(args.n)]
    save_grid(to_uint8(torch.cat(rows)), args.out, nrow=args.k + 1)
    print(f"wrote {args.out}: each row = a generated sample, then its {args.k} nearest training "
          f"images by {name} distance")
    for i in range(args.n):
        print(f"sample {i}: nearest {nb.index[i].tolist()}  distance "
              + " ".join(f"{d:.3f}" for d in nb.distance[i].tolist()))


def _extractor_train(args: argparse.Namespace) -> None:
    from gankit.metrics import lenet
    from gankit.train.runs import check_output

    if args.name not in lenet.RECIPES:
        raise GankitError(f"unknown classifier {args.name!r}; choose: {', '.join(lenet.RECIPES)}")
    check_output(args.out, "--out")  # before the training, not after it
    model, _ = lenet.train_classifier(args.name)
    sha = lenet.save_weights(model, args.out)
    print(f"wrote {args.out} (tensor sha256 {sha})")
    print(lenet.compare_to_shipped(args.name, model).summary())


def _doctor(args: argparse.Namespace) -> None:
    from gankit.health.doctor import diagnose, render
    from gankit.train.runs import check_output

    out = check_output(args.json, "--json") if args.json else None
    rep = diagnose(args.run)
    print(render(rep))
    if out is not None:
        out.write_text(json.dumps(rep.to_dict(), indent=1))


def _report(args: argparse.Namespace) -> None:
    from gankit.report import collect, write_report
    from gankit.train.runs import check_output

    out = check_output(args.out, "--out")
    if out.suffix.lower() not in (".html", ".htm"):
        raise GankitError(f"--out {out}: the report is an HTML page; give a name ending in .html")
    if args.n is not None and args.n < 2:
        raise GankitError(f"--n {args.n}: give at least 2 samples to measure")
    recs = []
    for run in args.runs:
        if Path(run).expanduser().resolve() == out.resolve():
            raise GankitError(f"--out {out} is one of the runs")
        recs.append(collect(run, evaluate=not args.no_eval, n=args.n, device=args.device))
    write_report(recs, out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(recs)} run(s)); open it in a "
          "browser, no network needed")


def _serve(args: argparse.Namespace) -> None:
    from gankit.serve import launch

    launch.serve(args.runs_dir, args.host, args.port,
                 launch.limits(args.max_upload_mb, args.max_pixels), args.device)


def _list(_: argparse.Namespace) -> None:
    from gankit import config, data, families, losses, nets

    sections = [("data sets", data.DATASETS), ("GAN families (model.family)", families.FAMILIES),
                ("models (model.arch)", nets.ARCHS),
                ("losses (loss)", losses.LOSSES), ("latent priors (model.prior)", nets.PRIORS)]
    for title, reg in sections:
        print(f"{title}:")
        for name in reg.names():
            print(f"  {name:<10} {reg.doc(name)}")
    print("more data sets:\n  folder:PATH  images below PATH (sub-folders become labels)\n"
          "  npz:PATH     arrays x (and optional y) in an .npz file")
    print("presets:")
    for name in config.preset_names():
        print(f"  {name}")


def _seed(text: str) -> int:
    """A seed as the config takes it: an integer in 0..MAX_SEED."""
    from gankit.config import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed; give an integer in "
                                         f"0..{MAX_SEED}")
    return value


def _seeds(text: str) -> list[int]:
    """Comma-separated seeds (--seeds 0,1,2)."""
    return [_seed(part) for part in text.split(",")]


def _int_at_least(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def _count(text: str) -> int:
    """A positive integer (--n, --k, --top)."""
    return _int_at_least(text, 1, "a positive integer")


def _classes(text: str) -> list[int]:
    """Comma-separated class numbers (--class 3, --class 1,2,3); the model checks the range."""
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a class number or a comma-separated "
                                         "list of them (e.g. 3 or 1,2,3)") from None


def _code(text: str) -> tuple[str, float]:
    """NAME=VALUE of one latent code (--code c0=3, --code c1=0.5)."""
    import math

    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. c0=3 or c1=0.5)")
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"{text!r}: the value of {name} is not a finite number")
    return name.strip(), number


def _frames(text: str) -> int:
    """A clip length (--frames): an integer >= 2."""
    return _int_at_least(text, 2, "a clip length; give an integer >= 2")


def _percentile(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 100:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentile in [0, 100]")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (`gankit: error: ...`) and exit code 2, like
    every other user mistake; `gankit CMD --help` still shows the usage."""

    def error(self, message: str) -> NoReturn:
        cmd = self.prog.removeprefix("gankit").strip()
        print(f"gankit: error: {cmd + ': ' if cmd else ''}{message} (see `{self.prog} --help`)",
              file=sys.stderr)
        raise SystemExit(2)


def _add_train(sub) -> None:
    t = sub.add_parser("train", help="train a GAN, or resume a run")
    t.add_argument("source", nargs="?", help="preset name or YAML file")
    t.add_argument("overrides", nargs="*", help="config overrides, e.g. train.steps=500 loss=hinge")
    t.add_argument("--out", help="new run folder")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its checkpoint")
    t.set_defaults(func=_train)


def _add_sample(sub) -> None:
    s = sub.add_parser("sample", help="draw samples from a trained generator",
                       description="Draw samples. A grid image from a class-conditional model "
                       "has one row per class (all classes, or those of a --class list) and "
                       "n // rows columns, the same latent down each column.")
    s.add_argument("run", help="run folder or checkpoint file")
    s.add_argument("--n", type=_count, help=f"number of samples (default {IMAGE_N}; "
                   f"{SEQUENCE_N} clips for a sequence model)")
    s.add_argument("--seed", type=_seed, default=0, help="latent seed")
    s.add_argument("--out", default="samples.png",
                   help="grid image (.png), arrays (.npz) or a folder for single PNGs; clips: "
                   "a frame strip (.png) plus OUT-clipK.gif per clip, .gif (GIFs only), .npz "
                   "or a folder of GIFs")
    s.add_argument("--frames", type=_frames, metavar="T",
                   help="clip length of a sequence model (default: its training length)")
    s.add_argument("--class", dest="classes", type=_classes, metavar="K[,K...]",
                   help="only these classes (conditional models); one class fills the grid, a "
                   "list gives one row per class (default for a grid: every class, n // classes "
                   "columns)")
    s.add_argument("--code", type=_code, action="append", metavar="NAME=VALUE",
                   help="fix a latent code, repeatable: c0.. are the categorical codes (value = "
                   "category), then the continuous ones (values in [-1, 1] as in training)")
    s.add_argument("--truncation", type=float, metavar="T",
                   help="truncate the noise part of z: psi in (0, 1] scales it (1 = off), or "
                   "the threshold of --truncation-mode resample (default: off)")
    s.add_argument("--truncation-mode", choices=["psi", "resample"],
                   help="psi (StyleGAN; default) or resample (BigGAN: redraw |z| > T)")
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    s.add_argument("--no-ema", action="store_true", help="use G's raw weights, not the EMA")
    s.add_argument("--reject", action="store_true",
                   help="discriminator rejection sampling (Azadi et al. 2019)")
    s.add_argument("--gamma-percentile", type=_percentile, default=80.0,
                   help="DRS shift: percentile of F per proposal batch (higher = stricter)")
    s.set_defaults(func=_sample)


def _add_eval(sub) -> None:
    e = sub.add_parser("eval", help="measure a run: FID, KID, IS, PR, DC, mode coverage")
    e.add_argument("run", help="run folder or checkpoint file")
    e.add_argument("--metrics", help="comma-separated: fid,kid,is,pr,dc,modes (default: the "
                   "run's eval.metrics)")
    e.add_argument("--n", type=_count, help="generated samples (default: the run's eval.n)")
    e.add_argument("--extractor", help="lenet-mnist, lenet-digits, lenet-stacked, inception "
                   "or raw")
    e.add_argument("--inception-weights", help="path of pt_inception-2015-12-05-6726825d.pth")
    e.add_argument("--protocol", choices=["tf", "pytorch-fid"],
                   help="Inception input pipeline (default: the run's eval.protocol, tf)")
    e.add_argument("--seed", type=_seed, help="latent seed")
    e.add_argument("--json", help="write the scores and the protocol here")
    e.add_argument("--reject", action="store_true", help="also score rejection sampling")
    e.add_argument("--gamma-percentile", type=_percentile, default=80.0,
                   help="DRS shift percentile")
    e.add_argument("--device", default="cpu")
    e.set_defaults(func=_eval)


def _add_score(sub) -> None:
    sc = sub.add_parser("score", help="rank images by D's output; D's real vs generated histogram")
    sc.add_argument("run")
    sc.add_argument("images", help="image folder, image file or .npz")
    sc.add_argument("--top", type=_count, default=5, help="show this many best and worst")
    sc.add_argument("--n", type=_count, default=1000, help="samples per side of the histogram")
    sc.add_argument("--json", help="write the full ranking and histogram here")
    sc.add_argument("--device", default="cpu")
    sc.set_defaults(func=_score)


def _add_interpolate(sub) -> None:
    it = sub.add_parser("interpolate", help="latent interpolation between seeds, or a sweep of "
                        "one latent code")
    it.add_argument("run")
    it.add_argument("--seeds", type=_seeds, default="0,1,2,3",
                    help="comma-separated seeds (one path per pair; one row per seed with --code)")
    it.add_argument("--steps", type=int, default=8,
                    help="columns (a categorical --code shows all its values instead)")
    it.add_argument("--mode", help="lerp or slerp (default)")
    it.add_argument("--code", metavar="NAME", help="sweep this latent code instead: c1 from -1 "
                    "to 1 (continuous) or through all its values (categorical), the rest fixed "
                    "per row")
    it.add_argument("--frames", type=_frames, metavar="T",
                    help="sequence model: frames per row (default: its training length); its "
                    "rows are motion draws (one per seed) under the content of the first seed")
    it.add_argument("--out", default="interpolation.png")
    it.add_argument("--device", default="cpu")
    it.set_defaults(func=_interpolate)


def _add_encode(sub) -> None:
    en = sub.add_parser("encode", help="images -> latents with a BiGAN's encoder E")
    _image_inputs(en)
    en.add_argument("--out", default="latents.npz", help=".npz with z (N, z_dim) and files")
    en.set_defaults(func=_encode)
    rc = sub.add_parser("reconstruct", help="images beside their reconstructions G(E(x))")
    _image_inputs(rc)
    rc.add_argument("--out", default="reconstruction.png",
                    help="grid image; columns alternate x and G(E(x))")
    rc.add_argument("--n", type=_count, default=64, help="use the first N images")
    rc.set_defaults(func=_reconstruct)


def _image_inputs(cmd: argparse.ArgumentParser) -> None:
    """The run and the images of encode and reconstruct."""
    cmd.add_argument("run")
    cmd.add_argument("images", help="image folder, image file or .npz with x, at the model's "
                     "size (images are not resized)")
    cmd.add_argument("--no-ema", action="store_true", help="raw weights, not the EMA")
    cmd.add_argument("--device", default="cpu")


def _add_image_tools(sub) -> None:
    ip = sub.add_parser("inpaint", help="fill the holes of a photo (image2image, pairs inpaint)")
    ip.add_argument("--mask", required=True, help="PNG of the image's size, white = hole")
    up = sub.add_parser("upscale", help="enlarge an image by the model's scale (superres)")
    up.add_argument("--scale", type=int, help="check the model's scale factor (2, 3, 4)")
    tr = sub.add_parser("translate", help="translate an image or a folder (cyclegan, image2image)")
    tr.add_argument("--direction", default="a2b", help="a2b (default) or b2a (cyclegan)")
    for cmd, func, helps in ((ip, _inpaint, "filled image"), (up, _upscale, "enlarged image"),
                             (tr, _translate, "translated image, or a folder for a folder")):
        cmd.add_argument("run")
        cmd.add_argument("--image", required=True, help="input image" + (
            " or folder of images" if cmd is tr else ""))
        cmd.add_argument("--out", required=True, help=helps)
        cmd.add_argument("--tile", type=_count, help="run tiles of N input px (bounded memory; "
                         "default: upscale 256, inpaint and translate the whole image up to "
                         "1024 px; cyclegan always the whole image, its instance norm needs it)")
        cmd.add_argument("--no-ema", action="store_true", help="raw weights, not the EMA")
        cmd.add_argument("--device", default="cpu")
        cmd.set_defaults(func=func)


def _add_nearest(sub) -> None:
    nn_ = sub.add_parser("nearest", help="generated samples beside their nearest training images")
    nn_.add_argument("run")
    nn_.add_argument("--n", type=_count, default=8)
    nn_.add_argument("--k", type=_count, default=5)
    nn_.add_argument("--seed", type=_seed, default=0)
    nn_.add_argument("--extractor", help="feature space: an extractor name or pixels "
                     "(default: the data set's extractor)")
    nn_.add_argument("--out", default="nearest.png")
    nn_.add_argument("--device", default="cpu")
    nn_.set_defaults(func=_nearest)


def _add_misc(sub) -> None:
    et = sub.add_parser("extractor-train", help="re-train a shipped digit classifier from its seed")
    et.add_argument("name", help="lenet-mnist or lenet-digits")
    et.add_argument("--out", required=True)
    et.set_defaults(func=_extractor_train)
    ls = sub.add_parser("list", help="list data sets, models, losses and presets")
    ls.set_defaults(func=_list)
    dr = sub.add_parser("doctor", help="a run's health timeline and a diagnosis in plain words")
    dr.add_argument("run", help="run folder (finished, running or crashed)")
    dr.add_argument("--json", help="also write the report as JSON to this file")
    dr.set_defaults(func=_doctor)
    rp = sub.add_parser("report", help="one self-contained HTML page: samples, curves, health, "
                        "metrics; several runs compared")
    rp.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
    rp.add_argument("--out", required=True, help="the HTML file to write")
    rp.add_argument("--no-eval", action="store_true",
                    help="skip measuring the final checkpoint (FID, KID, PR, ... and the floor)")
    rp.add_argument("--n", type=int, help="samples for the final metrics (default: eval.n)")
    rp.add_argument("--device", default="cpu")
    rp.set_defaults(func=_report)
    sv = sub.add_parser("serve", help="a local web app: generate, interpolate, animate, inpaint, "
                        "upscale, translate with the runs below RUNS_DIR")
    sv.add_argument("runs_dir", nargs="?", default="runs", metavar="RUNS_DIR",
                    help="folder holding run folders, or one run (default: runs)")
    sv.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 = any free)")
    sv.add_argument("--max-upload-mb", type=float, default=16, help="size limit of one upload")
    sv.add_argument("--max-pixels", type=int, default=4096 * 4096,
                    help="pixel limit of an upload (and of an upscaled result)")
    sv.add_argument("--device", default="cpu")
    sv.set_defaults(func=_serve)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gankit", description="Train, measure and use GANs.")
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_add_train, _add_sample, _add_eval, _add_score, _add_interpolate, _add_encode,
                _add_image_tools, _add_nearest, _add_misc):
        add(sub)
    return p


def entry() -> None:
    """The `gankit` command and `python -m gankit` (what torchrun launches): run the CLI and
    exit with its code. A torchrun rank ends without interpreter teardown (see
    `distributed.exit_process`)."""
    code = main()
    ranks = sys.modules.get("gankit.train.distributed")  # not imported: no process group
    if ranks is not None:
        ranks.exit_process(code)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args, extra = p.parse_known_args(argv)
    if extra:  # `train PRESET --out DIR key=value`: overrides after an option are overrides too
        if args.command != "train" or any(e.startswith("-") or "=" not in e for e in extra):
            p.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = args.overrides + extra
    if args.command == "train" and args.source and "=" in args.source and not args.resume:
        p.error("the first argument of train is a preset or YAML file")
    try:
        if getattr(args, "device", None) is not None:  # the tools' --device, checked up front
            from gankit.devices import resolve_device

            args.device = str(resolve_device(args.device))
        args.func(args)
    except GankitError as exc:
        print(f"gankit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a disk full or a permission denied while writing a result
        print(f"gankit: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted; continue with `gankit train --resume RUN_DIR`",
              file=sys.stderr)
        return 130
    return 0
