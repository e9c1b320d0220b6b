"""Rank images by D's output, and compare D's score histograms on real vs generated data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data.base import to_unit_range
from gankit.data.folder import IMAGE_EXTS, _decode, list_images, load_npz
from gankit.errors import GankitError
from gankit.pipelines.critic import Critic


def load_images(path: str | Path, shape: tuple[int, ...]) -> tuple[list[str], torch.Tensor]:
    """(names, float images in [-1, 1]) from a folder, one image file, or an .npz file,
    converted to D's channels and resolution."""
    p = Path(path).expanduser()
    if not p.exists():
        raise GankitError(f"{p} does not exist; give an image folder, an image file or an .npz")
    if p.is_file() and p.suffix.lower() != ".npz" and p.suffix.lower() not in IMAGE_EXTS:
        raise GankitError(f"{p} is not an .npz or an image file ({', '.join(sorted(IMAGE_EXTS))})")
    if p.suffix.lower() == ".npz":
        data = load_npz(str(p), shape[1] if len(shape) == 3 else None,
                        shape[0] if len(shape) == 3 else None)
        if tuple(data.shape) != tuple(shape):
            kind = "images" if len(shape) == 3 else f"{shape[0]}-D points"
            raise GankitError(f"npz file {p} holds samples of shape {tuple(data.shape)}; this run "
                              f"models {kind} of shape {tuple(shape)}")
        return [f"{p.name}[{i}]" for i in range(len(data))], to_unit_range(data.x)
    if len(shape) != 3:
        raise GankitError(f"this run models {shape[0]}-D points: score them from an .npz "
                          "file with an (N, D) array x, not from images")
    c, res = shape[0], shape[1]
    files = [p] if p.is_file() else list_images(p)[0]
    arrays = []
    for f in files:
        try:
            arrays.append(_decode(f, "RGB" if c == 3 else "L", res))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise GankitError(f"cannot read image {f}: {exc}") from None
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return [str(f) for f in files], to_unit_range(x)


@dataclass
class Histogram:
    edges: list[float]
    real: list[int]
    generated: list[int]

    def table(self) -> str:
        rows = [f"{'D logit':>19}  {'real':>6}  {'generated':>9}"]
        for i, (r, g) in enumerate(zip(self.real, self.generated)):
            rows.append(f"[{self.edges[i]:7.2f}, {self.edges[i + 1]:7.2f})  {r:6d}  {g:9d}")
        return "\n".join(rows)


def histogram(real_logits: torch.Tensor, fake_logits: torch.Tensor, bins: int = 10) -> Histogram:
    both = torch.cat([real_logits, fake_logits]).numpy()
    edges = np.histogram_bin_edges(both, bins=bins)
    r, _ = np.histogram(real_logits.numpy(), edges)
    g, _ = np.histogram(fake_logits.numpy(), edges)
    return Histogram(edges.tolist(), r.tolist(), g.tolist())


def rank(critic: Critic, names: list[str], images: torch.Tensor) -> list[tuple[str, float]]:
    """(name, D logit) pairs, most real-looking first."""
    logits = critic.logits(images)
    order = torch.argsort(logits, descending=True, stable=True)
    return [(names[i], float(logits[i])) for i in order.tolist()]
