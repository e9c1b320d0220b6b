"""Data containers shared by all data sets, and conversion of images to training tensors.

Image data sets are held in memory as uint8 (N, C, H, W): decoded once, 4x smaller than
float, and scaled to [-1, 1] per batch. Point data (2-D mixtures, (N, D) arrays) are float32.
Clip data (SequenceData) are drawn on the fly as uint8 (N, T, C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class TensorData:
    """A finite data set held in memory: images (uint8) or points (float32), labels optional."""

    name: str
    x: torch.Tensor  # uint8 (N, C, H, W) images or float32 (N, D) points
    y: torch.Tensor | None = None  # int64 (N,) class labels, or None
    num_classes: int = 0  # 0 when unlabelled

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. (1, 28, 28) or (2,)."""
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x.dim() == 4

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class MixtureData:
    """An infinite 2-D Gaussian mixture, sampled on the fly (uniform over modes)."""

    name: str
    centers: torch.Tensor  # float32 (K, 2) mode centres
    std: float  # per-dimension standard deviation of every mode

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.centers.shape[1],)

    @property
    def num_classes(self) -> int:
        return self.centers.shape[0]

    is_image = False

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """n points and the index of the mode each came from."""
        k = torch.randint(0, self.centers.shape[0], (n,), generator=generator)
        noise = torch.randn(n, self.centers.shape[1], generator=generator)
        return self.centers[k] + self.std * noise, k


class SequenceData:
    """An endless stream of clips, uint8 (N, T, C, H, W), drawn on the fly from a seeded
    generator like MixtureData (so the sampler's generator state is all a resume needs).

    Subclasses set `name`, `shape` = (T, C, H, W) and `num_classes` (0 = unlabelled), and
    implement `sample` and `configure`. The image metrics score frames: `frame_data`.
    """

    name: str
    is_image = False  # a sample is a clip, not an image
    num_classes: int = 0

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n clips uint8 (n, T, C, H, W) and their labels (n,), or None."""
        raise NotImplementedError

    def configure(self, frames: int, resolution: int | None,
                  channels: int | None) -> SequenceData:
        """The same data with T = frames (data.frames), data.resolution, data.channels."""
        raise NotImplementedError

    def frame_data(self, n: int, seed: int = 0) -> TensorData:
        """A finite set of at least n frames: every frame of ceil(n / T) clips drawn from
        `seed` (the same set every time), labels repeated per frame."""
        t = self.shape[0]
        clips, y = self.sample(-(-n // t), torch.Generator().manual_seed(seed))
        labels = None if y is None else y.repeat_interleave(t)
        return TensorData(f"{self.name}:frames", clips.flatten(0, 1), labels,
                          self.num_classes if labels is not None else 0)


Dataset = TensorData | MixtureData | SequenceData  # and CropData, UnpairedData (photos, pairs)


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [-1, 1]; float data pass through unchanged."""
    if x.dtype == torch.uint8:
        return x.float().mul_(1.0 / 127.5).sub_(1.0)
    return x.float()


def to_uint8(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """float images in [-1, 1] -> uint8 in [0, 255] (rounded, clamped). inplace=True reuses
    x's float32 memory for the arithmetic (x is overwritten): one full-size copy less on
    very large images."""
    if inplace and x.dtype == torch.float32:
        return x.detach().clamp_(-1, 1).add_(1).mul_(127.5).round_().to(torch.uint8)
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def convert_channels(x: torch.Tensor, channels: int | None) -> torch.Tensor:
    """uint8 (N, C, H, W) to `channels`: grey -> RGB by repeat, RGB -> grey by ITU-R 601 luma."""
    if channels is None or x.shape[1] == channels:
        return x
    if channels == 3 and x.shape[1] == 1:
        return x.repeat(1, 3, 1, 1)
    if channels == 1 and x.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (x.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise ValueError(f"cannot convert {x.shape[1]} channels to {channels}")


def resize_square(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, C, size, size): scale the short side to `size`, centre-crop."""
    if size is None or (x.shape[2] == size and x.shape[3] == size):
        return x
    h, w = x.shape[2:]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    out = []
    for chunk in x.split(1024):
        y = F.interpolate(chunk.float(), size=(nh, nw), mode="bilinear", antialias=True,
                          align_corners=False)
        top, left = (nh - size) // 2, (nw - size) // 2
        out.append(y[:, :, top:top + size, left:left + size].round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)
