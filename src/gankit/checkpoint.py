"""Checkpoints: atomic writes, safe loads, clear errors for truncated or foreign files.

A checkpoint is {"format", "version", "config", "specs", "family", "data_shape", "state"}:
the resolved config, the networks' constructor specs, what inference needs to know about
the GAN family (latent layout, classes, encoder), and TrainState.state_dict(); with
`data.clusters` also "clusters_sha1", the digest of the k-means labels (checked on resume). It holds
only tensors and plain containers and is read with torch.load(weights_only=True), so no
code is ever unpickled. Writes go to a temporary file in the same folder, are flushed to
disk, then renamed over the target: a crash leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from gankit.errors import GankitError

# what torch.load raises on an empty, truncated, corrupt or unsafe file
_BAD_FILE = (OSError, EOFError, RuntimeError, ValueError, LookupError, pickle.UnpicklingError)
FORMAT = "gankit-checkpoint"
VERSION = 3  # 3: named nets of a GAN family; 2: EMA ramp-up, TF FID protocol; 1: neither
# Keys added since version 1, with the value that reproduces a version-1 run: a resumed or
# re-scored old run keeps its behaviour instead of silently taking today's defaults.
_V1_DEFAULTS = {"train": {"ema_rampup": None}, "eval": {"protocol": "pytorch-fid"}}



def save(payload: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save({"format": FORMAT, "version": VERSION, **payload}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _upgrade_state(ckpt: dict) -> None:
    """Versions 1-2 (before GAN families) held fixed fields g, d, g_ema, opt_g, ...: move them
    into version 3's named groups. They were all unconditional G(z) against D(x)."""
    st = ckpt["state"]
    ckpt["state"] = {
        "nets": {"g": st["g"], "d": st["d"]}, "ema": {"g": st["g_ema"]},
        "opts": {"g": st["opt_g"], "d": st["opt_d"]},
        "scalers": {"g": st["scaler_g"], "d": st["scaler_d"]},
        **{k: st[k] for k in ("step", "images_seen", "rng_ranks")},
        "best": st.get("best", {}),
    }
    model = ckpt["config"].setdefault("model", {})
    model.setdefault("family", "unconditional")
    ckpt["family"] = {"name": "unconditional", "num_classes": 0, "class_freq": [],
                      "latent": {"noise": model.get("z_dim", 100),
                                 "prior": model.get("prior", "normal"), "cat": [], "cont": 0},
                      "conditional_g": False, "encoder": None}


def find(path: str | Path) -> Path:
    """A run folder (-> its last checkpoint) or a checkpoint file -> the file."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "checkpoints" / "last.pt"
        if not p.is_file():
            hint = ""
            if (p.parents[1] / "config.yaml").is_file():
                hint = ("; a run that stopped before its first checkpoint starts again with "
                        f"`gankit train --resume {path}`")
            raise GankitError(f"no checkpoint in run folder {path} (looked for {p}){hint}")
    elif not p.is_file():
        raise GankitError(f"{path} is neither a run folder nor a checkpoint file")
    return p


def load(path: str | Path, device: str | torch.device = "cpu") -> dict:
    """Read and check a gankit checkpoint (run folder or file)."""
    p = find(path)
    try:
        ckpt = torch.load(p, map_location=device, weights_only=True)
    except _BAD_FILE as exc:  # truncated zip, bad magic, unsafe pickle: all unusable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GankitError(f"checkpoint {p} is truncated, corrupt or not a safe torch file "
                          f"({first})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise GankitError(f"{p} is not a gankit checkpoint")
    version = ckpt.get("version")
    if version in (1, 2):
        try:
            if version == 1:
                for section, keys in _V1_DEFAULTS.items():
                    sec = ckpt["config"].setdefault(section, {})
                    for key, value in keys.items():
                        sec.setdefault(key, value)
            _upgrade_state(ckpt)
        except (KeyError, TypeError, AttributeError) as exc:
            raise GankitError(f"checkpoint {p} is from an older gankit (format version "
                              f"{version}) and lacks {exc}; it cannot be read") from None
        ckpt["version"] = VERSION
    if ckpt.get("version") != VERSION:
        raise GankitError(f"checkpoint {p} has format version {ckpt.get('version')}; "
                          f"this gankit reads versions 1 to {VERSION}")
    return ckpt
