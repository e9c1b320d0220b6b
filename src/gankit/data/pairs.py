"""Two-part image data: aligned pairs (pix2pix) and two unpaired domains (CycleGAN).

A two-part sample is one tensor with the parts joined on the channel axis, [A | B], so the
sampler, the data-level crop/flip (the same crop for both halves of a pair) and the batch
stay those of one-part data; a family splits it again with `split_parts`.

- `pairs:A_DIR,B_DIR` (`PairData`): images of A_DIR and B_DIR with the same file names
  (relative paths) are pairs: A is G's input, B its target.
- `data.name_b` (`UnpairedData`): two data sets, each shuffled on its own; sample i holds
  the i-th image of each stream, which are unrelated (CycleGAN's unaligned mode).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.data.base import TensorData
from gankit.errors import GankitError


@dataclass
class PairData(TensorData):
    """Aligned pairs: x = [A | B] on the channel axis, A with parts[0] channels."""

    parts: tuple[int, int] = (0, 0)
    paired = True


@dataclass
class UnpairedData:
    """Two image domains of the same resolution, sampled independently."""

    name: str
    a: TensorData
    b: TensorData
    paired = False
    is_image = True
    num_classes = 0

    @property
    def parts(self) -> tuple[int, int]:
        return (self.a.shape[0], self.b.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return (sum(self.parts), *self.a.shape[1:])


def split_parts(x: torch.Tensor, parts: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """[A | B] on the channel axis -> (A, B)."""
    return x[:, :parts[0]], x[:, parts[0]:parts[0] + parts[1]]


def load_pairs(spec: str, resolution: int | None, channels: int | None, skip_bad: bool,
               cache_dir: str | None) -> PairData:
    """`A_DIR,B_DIR` -> aligned pairs matched by relative file name (extension ignored)."""
    from gankit.data.folder import list_images, load_folder

    if skip_bad:
        raise GankitError(f"data.skip_bad=true with data.name=pairs:{spec}: a skipped image "
                          "would shift every later pair; fix or remove the unreadable file")
    dirs = spec.split(",")
    if len(dirs) != 2 or not all(dirs):
        raise GankitError(f"data.name=pairs:{spec}: give two folders, pairs:A_DIR,B_DIR")
    keys = []
    for d in dirs:
        root = Path(d).expanduser()
        files, _ = list_images(root)
        keys.append([str(p.relative_to(root).with_suffix("")) for p in files])
    if keys[0] != keys[1]:
        only = sorted(set(keys[0]) ^ set(keys[1]))
        where = dirs[0] if only and only[0] in keys[0] else dirs[1]
        raise GankitError(f"data.name=pairs:{spec}: the folders must hold the same file names; "
                          f"{only[0] if only else 'the order'} is only in {where}")
    a = load_folder(dirs[0], resolution, channels, skip_bad, cache_dir)
    b = load_folder(dirs[1], resolution or a.shape[1], channels, skip_bad, cache_dir)
    if len(a) != len(b):
        raise GankitError(f"data.name=pairs:{spec}: {len(a)} readable images in {dirs[0]}, "
                          f"{len(b)} in {dirs[1]} (an unreadable file breaks a pair)")
    return PairData(f"pairs:{spec}", torch.cat([a.x, b.x], 1), None, 0,
                    parts=(a.shape[0], b.shape[0]))


class UnpairedSampler:
    """One IndexSampler per domain (their own seeds): batches [A | B]."""

    def __init__(self, data: UnpairedData, batch_size: int, seed: int, rank: int = 0,
                 world: int = 1) -> None:
        from gankit.data.sampler import IndexSampler

        self.a = IndexSampler(data.a, batch_size, seed, rank, world)
        self.b = IndexSampler(data.b, batch_size, seed + 1, rank, world)

    def next(self) -> tuple[torch.Tensor, None]:
        return torch.cat([self.a.next()[0], self.b.next()[0]], 1), None

    def state_dict(self) -> dict:
        return {"a": self.a.state_dict(), "b": self.b.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.a.load_state_dict(state["a"])
        self.b.load_state_dict(state["b"])
