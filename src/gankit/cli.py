"""Command line: parse -> config -> library call. No logic of its own.

    gankit train PRESET_OR_YAML [key=value ...] --out RUN_DIR
    gankit train --resume RUN_DIR [train.steps=N ...]
    gankit sample RUN_OR_CKPT --n 64 --seed 0 --out grid.png | samples.npz | folder/
    gankit list
"""

from __future__ import annotations

import argparse
import sys

from gankit.errors import GankitError


def _train(args: argparse.Namespace) -> None:
    from gankit import config
    from gankit.train.loop import train

    if args.resume:
        if args.source and "=" not in args.source:
            raise GankitError("with --resume give only key=value overrides, not a preset")
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

    pipe = load(args.run, device=args.device, ema=not args.no_ema)
    paths = pipe.save(pipe.sample(args.n, seed=args.seed), args.out)
    print(f"wrote {len(paths)} file(s): {paths[0]}" + (" ..." if len(paths) > 1 else ""))


def _list(_: argparse.Namespace) -> None:
    from gankit import config, data, losses, nets

    sections = [("data sets", data.DATASETS), ("models (model.arch)", nets.ARCHS),
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gankit", description="Train, measure and use GANs.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a GAN, or resume a run")
    t.add_argument("source", nargs="?", help="preset name or YAML file")
    t.add_argument("overrides", nargs="*", help="config overrides, e.g. train.steps=500 loss=hinge")
    t.add_argument("--out", help="new run folder")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its checkpoint")
    t.set_defaults(func=_train)
    s = sub.add_parser("sample", help="draw samples from a trained generator")
    s.add_argument("run", help="run folder or checkpoint file")
    s.add_argument("--n", type=int, default=64, help="number of samples")
    s.add_argument("--seed", type=int, default=0, help="latent seed")
    s.add_argument("--out", default="samples.png",
                   help="grid image (.png), arrays (.npz) or a folder for single PNGs")
    s.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    s.add_argument("--no-ema", action="store_true", help="use G's raw weights, not the EMA")
    s.set_defaults(func=_sample)
    ls = sub.add_parser("list", help="list data sets, models, losses and presets")
    ls.set_defaults(func=_list)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "train" and args.source and "=" in args.source and not args.resume:
        raise SystemExit(parser().error("the first argument of train is a preset or YAML file"))
    try:
        args.func(args)
    except GankitError as exc:
        print(f"gankit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted; continue with `gankit train --resume RUN_DIR`",
              file=sys.stderr)
        return 130
    return 0
