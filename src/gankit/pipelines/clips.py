"""Clips from a sequence model (MoCoGAN, Tulyakov et al. 2018): their latents at any length,
and how they are written: an animated GIF per clip (Pillow) and a frame strip, one row per
clip and one column per frame.

Latents at sampling time: the training layout [content | h_0 | eps_1 .. eps_T] comes from
the seed as for any model; a clip longer than T takes its extra per-frame noise from a
second stream of the same seed, and a shorter one drops the tail. So a seed gives the same
content, initial state and first frames at every length, and the GRU just runs on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data.base import to_uint8
from gankit.errors import GankitError
from gankit.images import IMAGE_SUFFIXES, save_grid
from gankit.nets.latent import Latent

GIF_FRAME_MS = 100  # display time of each GIF frame (10 frames per second)
EXTRA_MOTION_SEED = 2**32  # offset of the seed stream that motion beyond T is drawn from
CLIP_SUFFIXES = (*IMAGE_SUFFIXES, ".gif", ".npz")


def clip_latents(latent: Latent, clip: dict, n: int, seed: int, frames: int | None,
                 truncation: float | None = None, mode: str = "psi") -> torch.Tensor:
    """n latents for clips of `frames` frames (None: the training length clip["frames"]).
    `latent` is the training layout; `clip` the family's record (content_dim, motion_dim,
    frames)."""
    t_train, m = clip["frames"], clip["motion_dim"]
    t = t_train if frames is None else frames
    if t < 2:
        raise GankitError(f"--frames {t}: a clip needs >= 2 frames")
    z = latent.sample(n, torch.Generator().manual_seed(seed), truncation=truncation, mode=mode)
    head = clip["content_dim"] + m  # content and h_0
    if t <= t_train:
        return z[:, :head + t * m].contiguous()
    extra = Latent((t - t_train) * m, latent.prior)
    gen = torch.Generator().manual_seed(seed + EXTRA_MOTION_SEED)
    return torch.cat([z, extra.sample(n, gen, truncation=truncation, mode=mode)], 1)


def save_gif(clip: torch.Tensor, path: str | Path, frame_ms: int = GIF_FRAME_MS) -> Path:
    """uint8 (T, C, H, W), C in {1, 3} -> an animated GIF that loops. Pillow merges identical
    consecutive frames into one (their display times add up)."""
    path = Path(path)
    arr = clip.permute(0, 2, 3, 1).cpu().numpy()
    frames = [Image.fromarray(np.ascontiguousarray(a[:, :, 0] if a.shape[2] == 1 else a))
              for a in arr]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=frame_ms,
                       loop=0)
    except (ValueError, OSError) as exc:
        raise GankitError(f"cannot write {path}: {exc}") from None
    return path


def gif_path(out: Path, k: int) -> Path:
    """Where clip k of an output named `out` goes: OUT-clipK.gif beside it."""
    return out.with_name(f"{out.stem}-clip{k}.gif")


def clip_output_kind(out: str | Path) -> str:
    """npz, image (a frame strip and a GIF per clip beside it), gif (GIFs only) or folder
    (one GIF per clip); a GankitError for any other suffix."""
    suffix = Path(out).suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix == ".gif":
        return "gif"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix:
        raise GankitError(f"--out {out}: for clips use {'/'.join(IMAGE_SUFFIXES)} (a frame strip "
                          "and a GIF per clip), .gif (GIFs only), .npz for arrays, or a folder "
                          "name for one GIF per clip")
    return "folder"


def save_clips(clips: torch.Tensor, out: str | Path) -> list[Path]:
    """Write clips (N, T, C, H, W) in [-1, 1] as `clip_output_kind(out)` says; returns the
    files written (the strip first). The npz case is the caller's (arrays are generic)."""
    out = Path(out)
    kind = clip_output_kind(out)
    images = to_uint8(clips)
    paths: list[Path] = []
    if kind == "image":
        save_grid(images.flatten(0, 1), out, nrow=images.shape[1])
        paths.append(out)
    if kind == "folder":
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GankitError(f"cannot create folder {out}: {exc}") from None
        return [save_gif(clip, out / f"{k:06d}.gif") for k, clip in enumerate(images)]
    return paths + [save_gif(clip, gif_path(out, k)) for k, clip in enumerate(images)]
