"""Run folders: create a new one without overwriting anything, or reopen one to resume.

A resume takes its config from the run's last checkpoint; only keys that cannot change the
training trajectory may be overridden (length, intervals, logging, threads, device).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from gankit import config as C
from gankit.errors import GankitError
from gankit.train import checkpoint

RESUMABLE_KEYS = {"train.steps", "train.log_every", "train.sample_every", "train.ckpt_every",
                  "train.n_samples", "train.progress", "train.tensorboard", "train.threads",
                  "device", "train.eval_every"}  # and every eval.* key


def new_run(out: str | Path) -> Path:
    run = Path(out).expanduser()
    if (run / "config.yaml").exists() or (run / "checkpoints").exists():
        raise GankitError(f"{run} already holds a run; continue it with "
                          f"`gankit train --resume {run}` or choose another --out")
    if run.exists() and not run.is_dir():
        raise GankitError(f"--out {run} exists and is not a folder")
    return run


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def resume_config(run: str | Path, overrides: list[str]) -> tuple[C.Config, dict]:
    """(config to continue with, checkpoint) for a run folder and the user's overrides."""
    ckpt = checkpoint.load(run)
    saved = C.to_dict(C.from_dict(C.Config, ckpt["config"]))
    cfg = C.validate(C.from_dict(C.Config, C.apply_overrides(yaml.safe_load(yaml.safe_dump(saved)),
                                                             overrides)))
    old, new = _flatten(saved), _flatten(C.to_dict(cfg))
    changed = [k for k in new if new[k] != old.get(k) and k not in RESUMABLE_KEYS
               and not k.startswith("eval.")]
    if changed:
        k = changed[0]
        raise GankitError(f"cannot resume {run}: {k} was {old.get(k)!r} in the run and is "
                          f"{new[k]!r} now; only {', '.join(sorted(RESUMABLE_KEYS))} may change "
                          "(start a new run for anything else)")
    return cfg, ckpt


def write_config(run: Path, cfg: C.Config) -> None:
    run.mkdir(parents=True, exist_ok=True)
    tmp = run / f".config.yaml.tmp{os.getpid()}"
    tmp.write_text(C.dump(cfg))
    os.replace(tmp, run / "config.yaml")


def trim_log(run: Path, step: int) -> None:
    """Drop metrics.jsonl records past `step` (written after the checkpoint we resume from)."""
    log = run / "metrics.jsonl"
    if not log.is_file():
        return
    keep = [line for line in log.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step]
    tmp = run / f".metrics.jsonl.tmp{os.getpid()}"
    tmp.write_text("".join(f"{line}\n" for line in keep))
    os.replace(tmp, log)
