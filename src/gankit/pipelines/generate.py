"""Inference from a checkpoint: rebuild G (the EMA weights by default) and draw samples.

Needs neither the data set nor the training state: a checkpoint records G's constructor
spec, the latent prior and its size, so `load(path).sample(n)` works anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gankit.config import Config, from_dict
from gankit.data.base import to_uint8
from gankit.errors import GankitError
from gankit.images import IMAGE_SUFFIXES, save_grid, scatter
from gankit.nets import PRIORS, build_net
from gankit.train import checkpoint
from gankit.train.distributed import resolve_device


@dataclass
class GeneratorPipeline:
    g: nn.Module  # in eval mode
    config: Config
    data_shape: tuple[int, ...]
    device: torch.device

    @property
    def is_image(self) -> bool:
        return len(self.data_shape) == 3

    def latents(self, n: int, seed: int = 0) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return PRIORS.get(self.config.model.prior)(n, self.config.model.z_dim, gen)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Latents (N, z_dim) -> samples (N, *data_shape), float32 in [-1, 1] for images."""
        out = [self.g(chunk.to(self.device)).float().cpu() for chunk in z.split(batch_size)]
        return torch.cat(out)

    def sample(self, n: int, seed: int = 0, batch_size: int = 256) -> torch.Tensor:
        """n samples from the seeded prior; the same seed gives the same samples."""
        if n <= 0:
            raise GankitError(f"n must be positive, got {n}")
        return self.generate(self.latents(n, seed), batch_size)

    def output_kind(self, out: str | Path) -> str:
        """How `save` writes to `out` (npz, image or folder); a GankitError, before any work,
        for a path these samples cannot be written to."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix == ".npz":
            return "npz"
        if suffix in IMAGE_SUFFIXES:
            return "image"
        if suffix:
            raise GankitError(f"--out {out}: use {'/'.join(IMAGE_SUFFIXES)} for a "
                              f"{'grid' if self.is_image else 'scatter plot'}, .npz for arrays"
                              + (", or a folder name for single PNGs" if self.is_image else ""))
        if not self.is_image:
            raise GankitError(f"--out {out}: single PNGs need image samples; this run models "
                              f"{self.data_shape[0]}-D points: use .npz or .png")
        return "folder"

    def save(self, samples: torch.Tensor, out: str | Path) -> list[Path]:
        """Write samples as a grid (.png/.jpg; a scatter plot for points), an array file (.npz:
        x in [-1, 1], and uint8 images) or, for a path without a suffix, a folder of PNGs."""
        out = Path(out)
        kind = self.output_kind(out)
        if kind == "npz":
            arrays = {"x": samples.numpy()}
            if self.is_image:
                arrays["images"] = to_uint8(samples).numpy()
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                with open(out, "wb") as fh:  # a file object: np.savez would add ".npz" to X.NPZ
                    np.savez(fh, **arrays)
            except OSError as exc:
                raise GankitError(f"cannot write {out}: {exc}") from None
            return [out]
        if kind == "image":
            if self.is_image:
                save_grid(to_uint8(samples), out)
            else:
                scatter(samples, out)
            return [out]
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GankitError(f"cannot create folder {out}: {exc}") from None
        paths = []
        for i, img in enumerate(to_uint8(samples)):
            path = out / f"{i:06d}.png"
            save_grid(img[None], path, nrow=1)
            paths.append(path)
        return paths


def load(path: str | Path, device: str = "cpu", ema: bool = True) -> GeneratorPipeline:
    """A run folder or checkpoint file -> a ready-to-sample generator (EMA weights by default)."""
    dev = resolve_device(str(device))
    ckpt = checkpoint.load(path, device="cpu")
    try:
        cfg = from_dict(Config, ckpt["config"])
        g = build_net(ckpt["specs"]["g"])
        g.load_state_dict(ckpt["state"]["g_ema" if ema else "g"])
    except (KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise GankitError(f"checkpoint {path} does not match its recorded model: {first}") from None
    return GeneratorPipeline(g.to(dev).eval(), cfg, tuple(ckpt["data_shape"]), dev)
