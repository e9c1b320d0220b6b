"""Large images trained on as random crops: the built-in `photos`, and `folder:` with
`data.crops=true`.

A handful of big photographs is a usable data set for inpainting, super-resolution and
translation when each step draws fresh random crops of `data.resolution` px (as the pix2pix,
SRGAN and BasicSR training scripts do). `photos` are the RGB photographs that scikit-image
and scikit-learn ship inside their packages (no download), split into training and
held-out images by a fixed list, so every benchmark scores on photos no run trained on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from gankit.data.base import TensorData, convert_channels
from gankit.data.builtin import DATASETS
from gankit.errors import GankitError

# (package, file): skimage's files live in skimage/data, sklearn's in sklearn/datasets/images
PHOTOS_TRAIN = (("skimage", "astronaut.png"), ("skimage", "hubble_deep_field.jpg"),
                ("skimage", "ihc.png"), ("skimage", "motorcycle_left.png"),
                ("skimage", "motorcycle_right.png"), ("skimage", "retina.jpg"),
                ("skimage", "rocket.jpg"), ("sklearn", "china.jpg"))
PHOTOS_HELD_OUT = (("skimage", "chelsea.png"), ("skimage", "coffee.png"),
                   ("sklearn", "flower.jpg"))
PHOTOS_CROP = 128  # crop side when data.resolution is not set


def _package_dir(package: str) -> Path:
    if package == "skimage":
        import skimage

        return Path(skimage.__file__).parent / "data"
    import sklearn.datasets

    return Path(sklearn.datasets.__file__).parent / "images"


def read_image(path: str | Path, channels: int | None = None) -> torch.Tensor:
    """One image file at full size -> uint8 (C, H, W): grey (1) or RGB (3); a GankitError
    naming the file when it is not a readable image."""
    from gankit.data.folder import GREY_MODES, convert_mode

    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)  # a phone photo upright, as viewers show it
            if channels is None:
                channels = 1 if img.mode in GREY_MODES else 3
            arr = np.array(convert_mode(img, "RGB" if channels == 3 else "L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise GankitError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def photo_images(split: str = "train") -> list[tuple[str, torch.Tensor]]:
    """(file name, uint8 (3, H, W)) of the shipped photographs: split = train | heldout."""
    files = {"train": PHOTOS_TRAIN, "heldout": PHOTOS_HELD_OUT}[split]
    return [(name, read_image(_package_dir(pkg) / name, 3)) for pkg, name in files]


@dataclass
class CropData:
    """Images of any sizes, sampled as random square crops of side `crop` (uint8)."""

    name: str
    images: list[torch.Tensor]  # uint8 (C, H, W) each, every side >= crop
    crop: int
    is_image = True
    num_classes = 0

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.images[0].shape[0], self.crop, self.crop)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, None]:
        """n crops: an image drawn uniformly (each image equally often, so one very large
        image does not make most of the crops), then a uniform position in it. 3 draws per
        crop whatever the images, so the stream resumes exactly."""
        u = torch.rand(n, 3, generator=generator, dtype=torch.float64)
        spans = torch.tensor([[im.shape[1] - self.crop + 1, im.shape[2] - self.crop + 1]
                              for im in self.images], dtype=torch.float64)
        which = (u[:, 0] * len(self.images)).long().clamp_max(len(self.images) - 1)
        top = (u[:, 1] * spans[which, 0]).long()
        left = (u[:, 2] * spans[which, 1]).long()
        out = torch.stack([self.images[int(k)][:, t:t + self.crop, s:s + self.crop]
                           for k, t, s in zip(which, top, left)])
        return out, None

    def fixed(self, n: int, seed: int = 0) -> TensorData:
        """A finite set of n crops drawn from `seed` (the same every time): what image
        metrics and batch-norm statistics use."""
        return TensorData(f"{self.name}:crops", self.sample(n, torch.Generator().manual_seed(seed))[0])

    def configure(self, crop: int | None, channels: int | None) -> CropData:
        crop = crop or self.crop
        small = [i for i, im in enumerate(self.images) if min(im.shape[1:]) < crop]
        if small:
            im = self.images[small[0]]
            raise GankitError(f"data.resolution={crop}: {self.name} has an image of "
                              f"{im.shape[2]}x{im.shape[1]} px, smaller than one crop")
        images = [convert_channels(im[None], channels)[0] for im in self.images]
        return CropData(self.name, images, crop)


@DATASETS.register("photos", f"{len(PHOTOS_TRAIN)} RGB photographs shipped in scikit-image and "
                   f"scikit-learn, as random {PHOTOS_CROP} px crops (data.resolution); "
                   f"{len(PHOTOS_HELD_OUT)} more held out")
@functools.lru_cache(maxsize=1)
def photos() -> CropData:
    return CropData("photos", [im for _, im in photo_images("train")], PHOTOS_CROP)


def load_folder_crops(root: str, crop: int | None, channels: int | None) -> CropData:
    """Every image below `root` at full size, as a CropData (data.crops=true)."""
    from gankit.data.folder import list_images

    files, _ = list_images(Path(root).expanduser())
    images = [read_image(p, channels) for p in files]
    if channels is None and len({im.shape[0] for im in images}) > 1:
        images = [convert_channels(im[None], 3)[0] for im in images]
    if crop is None:
        raise GankitError("data.crops=true needs data.resolution (the crop side in px)")
    return CropData(f"folder:{root}", images, crop).configure(crop, None)
