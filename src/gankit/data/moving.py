"""Moving MNIST (Srivastava et al. 2015, "Unsupervised Learning of Video Representations
using LSTMs"), generated on the fly: mnist5k digits bouncing inside a square canvas.

As in the original generator, each digit starts at a uniform random position, moves in a
uniform random direction with a constant speed, and bounces off the canvas edges; two
digits are composited by the pixel-wise maximum. The original puts 28 px digits on a 64 px
canvas; here the digit is resized to 7/16 of the canvas (14 px on the default 32 px canvas,
28 px at data.resolution=64), so the free range is the same fraction of the canvas.

Everything is drawn from the sampler's torch.Generator (digit, start, direction, speed per
clip), the trajectory is closed-form (a triangle wave: no loop over frames) and the digits
are pasted with one indexed assignment per digit, so a clip depends only on the generator
state and a resumed run draws exactly the clips it would have drawn.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from gankit.data.base import SequenceData
from gankit.data.builtin import DATASETS, mnist5k
from gankit.errors import GankitError

DIGIT_SHARE = 7 / 16  # digit side / canvas side (Moving MNIST: 28 px on 64 px)
MIN_DIGIT_PX = 4  # smallest digit drawn, whatever the canvas
SPEED_RANGE = (1 / 32, 5 / 64)  # pixels per frame / canvas side: 1..2.5 px on 32 px
DEFAULT_RESOLUTION = 32
MIN_RESOLUTION = 8  # the digit must leave room to move


class Paths(NamedTuple):
    """Where each digit of each clip is: what `MovingDigits.render` draws."""

    index: torch.Tensor  # int64 (n, D): which mnist5k digit
    pos: torch.Tensor  # float32 (n, T, D, 2): top-left corner (row, col) in px, unrounded
    velocity: torch.Tensor  # float32 (n, D, 2): px per frame (row, col) before any bounce


def bounce(start: torch.Tensor, velocity: torch.Tensor, frames: int,
           free: float) -> torch.Tensor:
    """Positions p_t in [0, free] of points moving from `start` with `velocity` that reflect
    off 0 and `free`: a triangle wave of start + t * velocity with period 2 * free.
    start, velocity: (n, D, 2) -> (n, T, D, 2)."""
    t = torch.arange(frames, dtype=torch.float32).view(1, -1, 1, 1)
    q = torch.remainder(start[:, None] + t * velocity[:, None], 2 * free)
    return torch.where(q > free, 2 * free - q, q)


@dataclass
class MovingDigits(SequenceData):
    """Clips of `n_digits` mnist5k digits bouncing in a `resolution`-px square canvas."""

    name: str
    n_digits: int = 1
    frames: int = 16
    resolution: int = DEFAULT_RESOLUTION
    channels: int = 1

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.frames, self.channels, self.resolution, self.resolution)

    @property
    def num_classes(self) -> int:
        """10 with one digit per clip (its class is the clip's label), else 0."""
        return 10 if self.n_digits == 1 else 0

    @property
    def digit_size(self) -> int:
        return max(MIN_DIGIT_PX, round(self.resolution * DIGIT_SHARE))

    @property
    def free(self) -> float:
        """How far (px) the digit's top-left corner can move along each axis."""
        return float(self.resolution - self.digit_size)

    @functools.cached_property
    def sprites(self) -> tuple[torch.Tensor, torch.Tensor]:
        """mnist5k digits resized to digit_size (uint8 (K, s, s)) and their labels (K,)."""
        data = mnist5k()
        s = self.digit_size
        x = F.interpolate(data.x.float(), size=(s, s), mode="bilinear", antialias=True,
                          align_corners=False)
        return x.round().clamp(0, 255).to(torch.uint8)[:, 0], data.y

    def configure(self, frames: int, resolution: int | None,
                  channels: int | None) -> MovingDigits:
        res = DEFAULT_RESOLUTION if resolution is None else resolution
        if res < MIN_RESOLUTION:
            raise GankitError(f"data.resolution={res}: {self.name} needs a canvas of at least "
                              f"{MIN_RESOLUTION} px for the digits to move")
        if frames < 2:
            raise GankitError(f"data.frames: a clip needs >= 2 frames, got {frames}")
        return dataclasses.replace(self, frames=frames, resolution=res, channels=channels or 1)

    def paths(self, n: int, generator: torch.Generator) -> Paths:
        """Draw n clips' digits and motions: digit index, start, direction, speed (this
        order, per digit), then the bouncing trajectories."""
        k, d = len(self.sprites[0]), self.n_digits
        index = torch.randint(k, (n, d), generator=generator)
        start = torch.rand(n, d, 2, generator=generator) * self.free
        angle = torch.rand(n, d, generator=generator) * (2 * math.pi)
        lo, hi = (f * self.resolution for f in SPEED_RANGE)
        speed = lo + torch.rand(n, d, generator=generator) * (hi - lo)
        velocity = torch.stack([angle.sin(), angle.cos()], -1) * speed[..., None]
        return Paths(index, bounce(start, velocity, self.frames, self.free), velocity)

    def render(self, paths: Paths) -> torch.Tensor:
        """Paste each digit at its rounded position in every frame: uint8 (n, T, C, H, W)."""
        sprites = self.sprites[0]
        n, t = paths.pos.shape[:2]
        s, res = self.digit_size, self.resolution
        canvas = torch.zeros(n, t, res, res, dtype=torch.uint8)
        top_left = paths.pos.round().long()  # (n, T, D, 2), inside [0, res - s]
        offs = torch.arange(s)
        ni = torch.arange(n).view(n, 1, 1, 1)
        ti = torch.arange(t).view(1, t, 1, 1)
        for d in range(paths.index.shape[1]):  # one indexed paste per digit, all frames at once
            rows = (top_left[:, :, d, 0, None] + offs)[:, :, :, None]  # (n, T, s, 1)
            cols = (top_left[:, :, d, 1, None] + offs)[:, :, None, :]  # (n, T, 1, s)
            img = sprites[paths.index[:, d]][:, None]  # (n, 1, s, s)
            canvas[ni, ti, rows, cols] = torch.maximum(canvas[ni, ti, rows, cols], img)
        return canvas[:, :, None].expand(-1, -1, self.channels, -1, -1).contiguous()

    def sample(self, n: int, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n clips uint8 (n, T, C, H, W), and each clip's digit class with one digit."""
        paths = self.paths(n, generator)
        labels = self.sprites[1][paths.index[:, 0]] if self.n_digits == 1 else None
        return self.render(paths), labels


@DATASETS.register("moving-mnist", "Moving MNIST: one mnist5k digit bouncing in a 32x32 "
                   "canvas, data.frames frames (Srivastava et al. 2015)")
def moving_mnist() -> MovingDigits:
    return MovingDigits("moving-mnist", n_digits=1)


@DATASETS.register("moving-mnist2", "Moving MNIST with two digits per clip (max-composited)")
def moving_mnist2() -> MovingDigits:
    return MovingDigits("moving-mnist2", n_digits=2)
