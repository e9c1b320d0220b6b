"""Checkpoints: atomic writes, safe loads, clear errors for truncated or foreign files.

A checkpoint is {"format", "version", "config", "specs", "data_shape", "state"}: the
resolved config, the networks' constructor specs, and TrainState.state_dict(). It holds
only tensors and plain containers and is read with torch.load(weights_only=True), so no
code is ever unpickled. Writes go to a temporary file in the same folder, are flushed to
disk, then renamed over the target: a crash leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gankit.errors import GankitError

FORMAT = "gankit-checkpoint"
VERSION = 1


def save(payload: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save({"format": FORMAT, "version": VERSION, **payload}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def find(path: str | Path) -> Path:
    """A run folder (-> its last checkpoint) or a checkpoint file -> the file."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "checkpoints" / "last.pt"
        if not p.is_file():
            raise GankitError(f"no checkpoint in run folder {path} (looked for {p})")
    elif not p.is_file():
        raise GankitError(f"{path} is neither a run folder nor a checkpoint file")
    return p


def load(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """Read and check a gankit checkpoint (run folder or file)."""
    p = find(path)
    try:
        ckpt = torch.load(p, map_location=device, weights_only=True)
    except Exception as exc:  # truncated zip, bad magic, unsafe pickle: all unusable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GankitError(f"checkpoint {p} is truncated, corrupt or not a safe torch file "
                          f"({first})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GankitError(f"{p} is not a gankit checkpoint")
    if ckpt.get("version") != VERSION:
        raise GankitError(f"checkpoint {p} has format version {ckpt.get('version')}; "
                          f"this gankit reads version {VERSION}")
    return ckpt
