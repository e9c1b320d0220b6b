"""Images -> latents with a BiGAN/ALI encoder (Donahue et al. 2017; Dumoulin et al. 2017),
and reconstructions G(E(x)) beside their inputs.

Images are read at the model's own size: a folder (all images below it, sorted), one image
file, or an .npz with `x` (the formats `data.name=npz:` takes). They are never resized, so
an image of another size is an error naming the size the model takes; grey and colour
images are converted to the model's channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data.base import to_uint8, to_unit_range
from gankit.data.folder import IMAGE_EXTS, _decode, list_images, load_npz
from gankit.errors import GankitError
from gankit.images import save_grid
from gankit.pipelines.generate import GeneratorPipeline


@dataclass
class Reconstruction:
    x: torch.Tensor  # the inputs (N, C, H, W) in [-1, 1]
    z: torch.Tensor  # E(x) (N, z_dim)
    x_hat: torch.Tensor  # G(E(x)) (N, C, H, W) in [-1, 1]

    @property
    def mse(self) -> torch.Tensor:
        """Mean squared error per image, in [-1, 1] units (N,)."""
        return (self.x - self.x_hat).pow(2).flatten(1).mean(1)

    def pairs(self) -> torch.Tensor:
        """x0, G(E(x0)), x1, G(E(x1)), ... (2N, C, H, W)."""
        return torch.stack([self.x, self.x_hat], dim=1).flatten(0, 1)


def _size_error(what: str, h: int, w: int, res: int) -> GankitError:
    return GankitError(f"{what} {w}x{h}; this model takes {res}x{res} images "
                       "(resize or crop them first)")


def _read(path: Path, mode: str, res: int) -> np.ndarray:
    """One image at exactly res x res -> uint8 (H, W, C) in the model's channels."""
    try:
        with Image.open(path) as img:
            w, h = img.size
        arr = _decode(path, mode, res) if (w, h) == (res, res) else None  # only the mode changes
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise GankitError(f"cannot read image {path}: {exc}") from None
    if arr is None:
        raise _size_error(f"image {path} is", h, w, res)
    return arr


def load_images(path: str | Path, shape: tuple[int, ...]) -> tuple[list[str], torch.Tensor]:
    """(names, float images in [-1, 1] of `shape`) from a folder, an image file or an .npz.
    Names are paths relative to the folder, the file's name, or `file.npz[i]`."""
    p = Path(path).expanduser()
    if not p.exists():
        raise GankitError(f"{p} does not exist; give an image folder, an image file or an .npz")
    suffix = p.suffix.lower()
    if p.is_file() and suffix != ".npz" and suffix not in IMAGE_EXTS:
        raise GankitError(f"{p} is not an .npz or an image file ({', '.join(sorted(IMAGE_EXTS))})")
    images = len(shape) == 3
    if suffix == ".npz":
        data = load_npz(str(p), None, shape[0] if images else None)
        got = tuple(data.shape)
        if images and len(got) == 3 and got[1:] != tuple(shape[1:]):
            raise _size_error(f"npz file {p} holds images of size", got[1], got[2], shape[1])
        if got != tuple(shape):
            kind = "images" if images else f"{shape[0]}-D points"
            raise GankitError(f"npz file {p} holds samples of shape {got}; this model takes "
                              f"{kind} of shape {tuple(shape)}")
        return [f"{p.name}[{i}]" for i in range(len(data))], to_unit_range(data.x)
    if not images:
        raise GankitError(f"this model takes {shape[0]}-D points: give an .npz file with an "
                          "(N, D) array x, not images")
    files = [p] if p.is_file() else list_images(p)[0]
    mode = "RGB" if shape[0] == 3 else "L"
    x = np.stack([_read(f, mode, shape[1]) for f in files])
    names = [f.name if p.is_file() else str(f.relative_to(p)) for f in files]
    return names, to_unit_range(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())


def reconstruct(pipe: GeneratorPipeline, x: torch.Tensor, batch_size: int = 256) -> Reconstruction:
    """Images in [-1, 1] (N, *data_shape) -> their latents E(x) and reconstructions G(E(x))."""
    z = pipe.encode(x, batch_size)
    return Reconstruction(x.float(), z, pipe.generate(z, None, batch_size))


def save_latents(out: str | Path, z: torch.Tensor, names: list[str]) -> Path:
    """An .npz with `z` (N, z_dim) float32 and `files` (N,) strings, loadable without pickle."""
    out = Path(out)
    try:
        with open(out, "wb") as fh:  # a file object: np.savez would add ".npz" to X.NPZ
            np.savez(fh, z=z.numpy().astype(np.float32), files=np.array(names, dtype=str))
    except OSError as exc:
        raise GankitError(f"cannot write {out}: {exc}") from None
    return out


def save_pairs(rec: Reconstruction, out: str | Path) -> int:
    """A grid of (x, G(E(x))) pairs side by side, ceil(sqrt(N)) pairs a row; returns the
    number of pairs a row."""
    per_row = max(1, math.ceil(math.sqrt(len(rec.x))))
    save_grid(to_uint8(rec.pairs()), out, nrow=2 * per_row)
    return per_row
