"""Inference from a checkpoint: rebuild G (the EMA weights by default) and draw samples.

Needs neither the data set nor the training state: a checkpoint records G's constructor
spec, the latent prior and its size, so `load(path).sample(n)` works anywhere. What G is
given can be fixed: the class (conditional models), the latent codes (InfoGAN, Chen et al.
2016) and the truncation of the noise (psi, Karras et al. 2019; resampling, Brock et al.
2019); a BiGAN's encoder maps images back to latents. A sequence model (MoCoGAN) makes
clips (N, T, C, H, W) of any length T (`frames`; see pipelines/clips.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gankit import checkpoint
from gankit.config import Config, from_dict
from gankit.data.base import to_uint8
from gankit.devices import resolve_device
from gankit.errors import GankitError
from gankit.images import IMAGE_SUFFIXES, save_array, save_grid, scatter
from gankit.nets import build_net
from gankit.nets.latent import Latent


@dataclass
class ClassGrid:
    """Samples laid out one row per class, the same latent down each column."""

    samples: torch.Tensor  # (rows * columns, *data_shape), row by row
    classes: list[int]  # the class of each row
    columns: int


@dataclass
class GeneratorPipeline:
    g: nn.Module  # in eval mode
    config: Config
    data_shape: tuple[int, ...]
    device: torch.device
    family: dict = field(default_factory=dict)  # the checkpoint's family record (see checkpoint)
    e: nn.Module | None = None  # BiGAN encoder x -> z, in eval mode

    def __post_init__(self) -> None:
        if not self.family:
            m = self.config.model
            self.family = {"name": m.family, "num_classes": 0, "class_freq": [],
                           "latent": {"noise": m.z_dim, "prior": m.prior, "cat": list(m.cat_codes),
                                      "cont": m.cont_codes},
                           "conditional_g": False, "encoder": None}
        lat = self.family["latent"]
        self.latent = Latent(lat["noise"], lat["prior"], tuple(lat["cat"]), lat["cont"])

    @property
    def is_image(self) -> bool:
        return len(self.data_shape) == 3

    @property
    def is_sequence(self) -> bool:
        """True for a model whose samples are clips (N, T, C, H, W)."""
        return bool(self.family.get("clip"))

    def require_stills(self, what: str) -> None:
        """A GankitError, before any work, for a sequence model in a tool made for images."""
        if self.is_sequence:
            raise GankitError(f"{what} works on image and point models; this run is "
                              f"model.family={self.family['name']} (clips)")

    def check_frames(self, frames: int | None) -> None:
        """A clip length (`frames`) is only for a sequence model: a GankitError otherwise."""
        if frames is not None and not self.is_sequence:
            raise GankitError(f"--frames needs a sequence model (model.family=sequence); "
                              f"this run is model.family={self.family['name']}")

    @property
    def num_classes(self) -> int:
        """Classes G is conditioned on; 0 for a model that takes no class."""
        return self.family["num_classes"] if self.family["conditional_g"] else 0

    def latents(self, n: int, seed: int = 0, truncation: float | None = None,
                truncation_mode: str = "psi", frames: int | None = None) -> torch.Tensor:
        """n latents from the seeded prior; truncation (psi, or a truncated-normal threshold
        with truncation_mode="resample") applies to the noise part only. `frames` sets the
        clip length of a sequence model (default: its training length)."""
        self.check_frames(frames)
        if self.is_sequence:
            from gankit.pipelines.clips import clip_latents

            return clip_latents(self.latent, self.family["clip"], n, seed, frames, truncation,
                                truncation_mode)
        gen = torch.Generator().manual_seed(seed)
        return self.latent.sample(n, gen, truncation=truncation, mode=truncation_mode)

    def labels(self, n: int, seed: int = 0,
               classes: int | Sequence[int] | None = None) -> torch.Tensor | None:
        """G's class labels: `classes` repeated to n, or drawn from the data's class shares."""
        if classes is None:
            if not self.num_classes:
                return None
            gen = torch.Generator().manual_seed(seed + 1)
            freq = torch.tensor(self.family["class_freq"], dtype=torch.float64)
            return torch.multinomial(freq, n, replacement=True, generator=gen)
        if not self.num_classes:
            raise GankitError(f"--class needs a class-conditional model; this run is "
                              f"model.family={self.family['name']} (no classes)")
        wanted = [classes] if isinstance(classes, int) else list(classes)
        bad = [k for k in wanted if not 0 <= int(k) < self.num_classes]
        if bad or not wanted:
            raise GankitError(f"--class {bad[0] if bad else '(none)'}: this model has "
                              f"{self.num_classes} classes, 0..{self.num_classes - 1}")
        return torch.tensor(wanted, dtype=torch.long).repeat((n + len(wanted) - 1) // len(wanted))[:n]

    def code_size(self, name: str) -> int:
        """Check a code name (c0, c1, ...): its number of values for a categorical code, 0 for
        a continuous one."""
        ncat, ncont = len(self.latent.cat), self.latent.cont
        if ncat + ncont == 0:
            raise GankitError(f"--code needs a model with latent codes (model.cat_codes / "
                              f"model.cont_codes); this {self.family['name']} model has none")
        idx = int(name[1:]) if name[:1] == "c" and name[1:].isdigit() else -1
        if not 0 <= idx < ncat + ncont:
            raise GankitError(f"--code {name}: unknown code; this model has "
                              f"c0..c{ncat + ncont - 1}")
        return self.latent.cat[idx] if idx < ncat else 0

    def set_codes(self, z: torch.Tensor, codes: dict[str, float] | None) -> torch.Tensor:
        """Fix latent codes by name: c0.. are the categorical codes (value = category), then
        the continuous ones (value in [-1, 1] as in training; finite values outside it
        extrapolate)."""
        if not codes:
            return z
        ncat = len(self.latent.cat)
        cat, cont = {}, {}
        for name, value in codes.items():
            k = self.code_size(name)
            idx = int(name[1:])
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                raise GankitError(f"--code {name}: give a finite number, not {codes[name]!r}")
            if k:
                if float(value) != int(value) or not 0 <= value < k:
                    raise GankitError(f"--code {name}={value:g}: a categorical code takes a "
                                      f"whole number 0..{k - 1}")
                cat[idx] = int(value)
            else:
                cont[idx - ncat] = float(value)
        return self.latent.with_codes(z, cat, cont)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, c: torch.Tensor | None = None,
                 batch_size: int = 256) -> torch.Tensor:
        """Latents (N, z_dim) and labels (N,) or None -> samples (N, *data_shape), float32 in
        [-1, 1] for images."""
        out = []
        for i, chunk in enumerate(z.split(batch_size)):
            zc = chunk.to(self.device)
            if c is None:
                out.append(self.g(zc).float().cpu())
            else:
                cc = c[i * batch_size:i * batch_size + len(chunk)].to(self.device)
                out.append(self.g(zc, cc).float().cpu())
        return torch.cat(out)

    def sample(self, n: int, seed: int = 0, batch_size: int = 256,
               classes: int | Sequence[int] | None = None, codes: dict[str, float] | None = None,
               truncation: float | None = None, truncation_mode: str = "psi",
               frames: int | None = None) -> torch.Tensor:
        """n samples from the seeded prior; the same seed gives the same samples. `classes`
        (conditional models) and `codes` (models with latent codes) fix what G is given;
        `frames` the clip length T of a sequence model, whose samples are (n, T, C, H, W)."""
        if n <= 0:
            raise GankitError(f"n must be positive, got {n}")
        c = self.labels(n, seed, classes)
        z = self.set_codes(self.latents(n, seed, truncation, truncation_mode, frames), codes)
        return self.generate(z, c, batch_size)

    def metric_samples(self, n: int, seed: int = 0) -> torch.Tensor:
        """n samples for the image metrics: `sample(n, seed)`, or for a sequence model the
        frames of ceil(n / T) clips of the training length T (as `data.eval_data` scores
        real clips)."""
        if not self.is_sequence:
            return self.sample(n, seed)
        t = self.family["clip"]["frames"]
        return self.sample(-(-n // t), seed).flatten(0, 1)[:n]

    def class_grid(self, n: int, seed: int = 0, classes: Sequence[int] | None = None,
                   codes: dict[str, float] | None = None, truncation: float | None = None,
                   truncation_mode: str = "psi") -> ClassGrid:
        """One row per class (all of them, or `classes`) and n // rows columns (at least 1);
        column j uses latent j of the seed in every row, so rows differ by the class only."""
        if not self.num_classes:
            raise GankitError(f"a class grid needs a class-conditional model; this run is "
                              f"model.family={self.family['name']} (no classes)")
        rows = list(range(self.num_classes)) if classes is None else list(classes)
        labels = self.labels(len(rows), seed, rows)  # checks the class numbers
        cols = max(1, n // len(rows))
        z = self.set_codes(self.latents(cols, seed, truncation, truncation_mode), codes)
        samples = self.generate(z.repeat(len(rows), 1), labels.repeat_interleave(cols))
        return ClassGrid(samples, rows, cols)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Images in [-1, 1] (N, *data_shape) -> latents (N, z_dim) with the BiGAN encoder."""
        self.require_encoder()
        if tuple(x.shape[1:]) != tuple(self.data_shape):
            raise GankitError(f"encode: images of shape {tuple(x.shape[1:])} do not fit this "
                              f"model, which takes {tuple(self.data_shape)}")
        return torch.cat([self.e(chunk.to(self.device)).float().cpu()
                          for chunk in x.split(batch_size)])

    def require_encoder(self, what: str = "encode") -> None:
        """A GankitError, before any work, for a model without an encoder."""
        if self.e is None:
            raise GankitError(f"{what} needs a model with an encoder (model.family=bigan); this "
                              f"run is model.family={self.family['name']}")

    def output_kind(self, out: str | Path) -> str:
        """How `save` writes to `out` (npz, image or folder); a GankitError, before any work,
        for a path these samples cannot be written to."""
        out = Path(out)
        suffix = out.suffix.lower()
        if self.is_sequence:
            from gankit.pipelines.clips import clip_output_kind

            return clip_output_kind(out)
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

    def save(self, samples: torch.Tensor, out: str | Path, nrow: int | None = None) -> list[Path]:
        """Write samples as a grid (.png/.jpg, `nrow` images a row, default as square as
        possible; a scatter plot for points), an array file (.npz: x in [-1, 1], and uint8
        images) or, for a path without a suffix, a folder of PNGs. Clips (sequence models):
        see pipelines.clips.save_clips (a frame strip and a GIF per clip)."""
        out = Path(out)
        kind = self.output_kind(out)
        if kind != "npz" and self.is_sequence:  # a frame strip and/or a GIF per clip
            from gankit.pipelines.clips import save_clips

            return save_clips(samples, out)
        if kind == "npz":
            arrays = {"x": samples.numpy()}
            if self.is_image or self.is_sequence:
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
                save_grid(to_uint8(samples), out, nrow=nrow)
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
            save_array(img.permute(1, 2, 0).numpy(), path)  # the image itself, no grid border
            paths.append(path)
        return paths


def load(path: str | Path, device: str = "cpu", ema: bool = True) -> GeneratorPipeline:
    """A run folder or checkpoint file -> a ready-to-sample generator (EMA weights by default)."""
    dev = resolve_device(str(device))
    ckpt = checkpoint.load(path, device="cpu")
    image = ckpt["family"].get("image")
    if image:  # an image-to-image model: G takes images, not latents
        tool = {"inpaint": "inpaint", "superres": "upscale"}.get(image["task"], "translate")
        raise GankitError(f"{path} is model.family={ckpt['family']['name']}: it maps images to "
                          f"images and draws no samples; use gankit {tool}")
    try:
        cfg = from_dict(Config, ckpt["config"])
        group = "ema" if ema else "nets"
        g = build_net(ckpt["specs"]["g"])
        g.load_state_dict(ckpt["state"][group]["g"])
        e = None
        if ckpt["family"].get("encoder"):
            name = ckpt["family"]["encoder"]
            e = build_net(ckpt["specs"][name])
            e.load_state_dict(ckpt["state"][group][name])
            e = e.to(dev).eval()
    except (KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise GankitError(f"checkpoint {path} does not match its recorded model: {first}") from None
    return GeneratorPipeline(g.to(dev).eval(), cfg, tuple(ckpt["data_shape"]), dev,
                             ckpt["family"], e)
