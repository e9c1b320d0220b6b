"""Run folders: create a new one without overwriting anything, or reopen one to resume.

A resume takes its config from the run's last checkpoint; only keys that cannot change the
training trajectory may be overridden (length, intervals, logging, threads, device). A run
that stopped before its first checkpoint holds nothing worth keeping (config.yaml, a few
log lines and grids): `--resume` starts it again from its config.yaml and `--out` reuses it.
Other commands' outputs are checked here too, so that none lands on a run's own files.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import yaml

from gankit import checkpoint
from gankit import config as C
from gankit.errors import GankitError

RESUMABLE_KEYS = {"train.steps", "train.log_every", "train.sample_every", "train.ckpt_every",
                  "train.n_samples", "train.progress", "train.tensorboard", "train.threads",
                  "device", "train.eval_every"}  # and every eval.* and health.* key
RUN_ENTRIES = {"config.yaml", "metrics.jsonl", "health.jsonl", "checkpoints", "samples", "tb",
               "rollbacks"}  # training's files
_RUN_SUBFOLDERS = {"checkpoints", "samples", "tb", "rollbacks"}


def is_run(path: Path) -> bool:
    """True for a folder that training has written to (or that looks like one)."""
    return (path / "config.yaml").is_file() or (path / "checkpoints").is_dir()


def _checkpoint_files(run: Path) -> list[Path]:
    folder = run / "checkpoints"
    return sorted(folder.glob("*.pt")) if folder.is_dir() else []


def _is_restartable(run: Path) -> bool:
    """A run that stopped before its first checkpoint: only training's own entries (and
    temporary files) and a config.yaml that gankit wrote."""
    if _checkpoint_files(run):
        return False
    names = {p.name for p in run.iterdir() if not p.name.startswith(".")}
    if not names:
        return True
    if not names <= RUN_ENTRIES or not (run / "config.yaml").is_file():
        return False
    text = (run / "config.yaml").read_text()
    try:  # gankit writes C.dump(cfg): a user's own YAML (comments, partial keys) differs
        return text == C.dump(C.from_dict(C.Config, C.load_yaml(str(run / "config.yaml"))))
    except GankitError:
        return False


def _check_parent(path: Path, what: str) -> None:
    """The nearest existing ancestor of `path` must be a folder."""
    for anc in path.absolute().parents:
        if anc.exists():
            if not anc.is_dir():
                raise GankitError(f"{what} {path}: {anc} is a file, not a folder")
            return


def new_run(out: str | Path) -> Path:
    """The folder for a new run: new, empty, or a run that stopped before its first checkpoint."""
    if str(out).strip() == "":
        raise GankitError("--out: give a folder name for the new run")
    run = Path(out).expanduser()
    if run.exists() and not run.is_dir():
        raise GankitError(f"--out {run} exists and is not a folder")
    _check_parent(run, "--out")
    if run.is_dir() and not _is_restartable(run):
        if _checkpoint_files(run):
            raise GankitError(f"{run} already holds a run; continue it with "
                              f"`gankit train --resume {run}` or choose another --out")
        raise GankitError(f"--out {run} is a folder with other files in it; give a new or "
                          "empty folder for the run")
    return run


def open_run(resume: str | Path, overrides: list[str]) -> tuple[Path, C.Config, dict | None]:
    """(run folder, config, checkpoint) for `--resume RUN` (or RUN/checkpoints/last.pt).

    The checkpoint is None for a run that stopped before its first checkpoint: it starts
    again from its config.yaml, and any override is allowed (there is no state to match).
    """
    p = Path(resume).expanduser()
    if p.is_file():
        if p.name != "last.pt" or p.parent.name != "checkpoints":
            raise GankitError(f"--resume {p}: give a run folder (or its checkpoints/last.pt); "
                              "a run continues only from its own last checkpoint")
        p = p.parent.parent
    elif not p.is_dir():
        raise GankitError(f"--resume {resume} is neither a run folder nor a checkpoint file")
    if (p / "checkpoints" / "last.pt").is_file():
        cfg, ckpt = resume_config(p, overrides)
        return p, cfg, ckpt
    if (p / "config.yaml").is_file() and _is_restartable(p):
        return p, C.build(str(p / "config.yaml"), overrides), None
    raise GankitError(f"no checkpoint in run folder {p} (looked for checkpoints/last.pt"
                      + (")" if is_run(p) else " and config.yaml)"))


def check_step(run: Path, cfg: C.Config, ckpt: dict | None) -> None:
    """A resume must have steps left to train."""
    step = int(ckpt["state"]["step"]) if ckpt is not None else 0
    if cfg.train.steps <= step:
        raise GankitError(f"run {run} is at step {step} and train.steps={cfg.train.steps}: "
                          f"nothing to train; continue with train.steps=N for N > {step}")


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
               and not k.startswith(("eval.", "health."))]
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


def _later(line: str, step: int, only_checks: bool) -> bool | None:
    """Whether a log line belongs after `step`; None for a torn line."""
    try:
        rec = json.loads(line)
        later = int(rec.get("step", 0)) > step
    except (ValueError, AttributeError, TypeError):
        return None
    return later and (not only_checks or rec.get("event") == "check")


def split_log(log: Path, step: int, moved_to: Path | None, only_checks: bool = False) -> None:
    """Move the records of a .jsonl log past `step` to `moved_to` (None: drop them), and a
    line torn by a crash; `only_checks` touches health checks only (events are history)."""
    if not log.is_file():
        return
    keep, moved = [], []
    for line in log.read_text(errors="replace").splitlines():
        later = _later(line, step, only_checks)
        if later is not None:
            (moved if later else keep).append(line)
    if moved_to is not None and moved:
        with open(moved_to, "a") as fh:
            fh.writelines(f"{x}\n" for x in moved)
    tmp = log.with_name(f".{log.name}.tmp{os.getpid()}")
    tmp.write_text("".join(f"{x}\n" for x in keep))
    os.replace(tmp, log)


def trim_log(run: Path, step: int) -> None:
    """Drop metrics.jsonl records past `step` (written after the checkpoint we resume from),
    and a last line torn by a crash."""
    split_log(run / "metrics.jsonl", step, None)


def _trim_checks(run: Path, step: int) -> None:
    """Drop health checks past `step` from health.jsonl (its events are history and stay)."""
    split_log(run / "health.jsonl", step, None, only_checks=True)


def tidy(run: Path, step: int) -> None:
    """Before training from `step`: trim the log, drop sample grids past `step` (a later state
    made them; training makes them again) and temporary files a killed process left."""
    trim_log(run, step)
    _trim_checks(run, step)
    for grid in (run / "samples").glob("step-*.png"):
        if grid.stem[5:].isdigit() and int(grid.stem[5:]) > step:
            grid.unlink()
    for folder in (run, run / "checkpoints"):
        for tmp in folder.glob(".*.tmp*"):
            if tmp.is_file():
                tmp.unlink()


def check_output(path: str | Path, what: str, folder: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot be written (its folder is missing,
    or it is a folder where a file is meant) or that would land on a run's own files:
    config.yaml, metrics.jsonl, checkpoints/, samples/, tb/, or PNGs scattered into a run."""
    if str(path).strip() == "":
        raise GankitError(f"{what}: give a path")
    p = Path(path).expanduser()
    if folder and p.exists() and not p.is_dir():
        raise GankitError(f"{what} {p} exists and is not a folder")
    if not folder and p.is_dir():
        raise GankitError(f"{what} {p} is a folder; give a file name")
    parent = p.parent
    if not parent.is_dir():
        raise GankitError(f"{what} {p}: folder {parent} does not exist")
    if folder and is_run(p):
        raise GankitError(f"{what} {p} is a run folder; give a new folder for the PNGs")
    if is_run(parent) and (p.name in _RUN_SUBFOLDERS or p.name in RUN_ENTRIES):
        raise GankitError(f"{what} {p} would overwrite the run's own {p.name}; choose another "
                          "name")
    if parent.name in _RUN_SUBFOLDERS and is_run(parent.parent):
        raise GankitError(f"{what} {p}: {parent} belongs to the run {parent.parent}; write "
                          "outside it")
    if p.is_file() and _is_torch_file(p):
        raise GankitError(f"{what} {p} is a torch file (a checkpoint or weights); gankit does "
                          "not write over it: choose another name")
    return p


def _is_torch_file(p: Path) -> bool:
    """torch.save's zip format: an archive holding a data.pkl."""
    try:
        with zipfile.ZipFile(p) as z:
            return any(n.endswith("data.pkl") for n in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
