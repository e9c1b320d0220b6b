"""Data sets: built-in (mnist5k, digits, ring8, grid25, moving-mnist, photos), `folder:PATH`,
`npz:PATH`, `pairs:A_DIR,B_DIR`, and two domains (`data.name` and `data.name_b`).

`load(cfg)` returns a TensorData (finite, in memory; PairData for aligned pairs), an
UnpairedData (two domains), a MixtureData, a SequenceData (clips) or a CropData (random
crops of large images; the last three sampled on the fly); `make_sampler` turns any of them
into an endless, seeded, resumable stream of batches.
"""

from __future__ import annotations

import dataclasses

import torch

from gankit.config import DataConfig
from gankit.data import moving  # noqa: F401  (registers moving-mnist in DATASETS)
from gankit.data.base import (
    Dataset,
    MixtureData,
    SequenceData,
    TensorData,
    convert_channels,
    resize_square,
)
from gankit.data.builtin import DATASETS
from gankit.data.clusters import ClusteredData, with_clusters
from gankit.data.folder import load_folder, load_npz
from gankit.data.pairs import PairData, UnpairedData, load_pairs
from gankit.data.photos import CropData, load_folder_crops
from gankit.data.sampler import Sampler, make_sampler
from gankit.errors import GankitError

__all__ = [
    "DATASETS",
    "CropData",
    "Dataset",
    "MixtureData",
    "PairData",
    "Sampler",
    "SequenceData",
    "TensorData",
    "UnpairedData",
    "check_name",
    "eval_data",
    "load",
    "load_holdout",
    "make_sampler",
]

PREFIXES = ("folder:", "npz:", "pairs:")


def check_name(name: str) -> None:
    if name.startswith(PREFIXES) and len(name.split(":", 1)[1]) > 0:
        return
    if name not in DATASETS:
        raise GankitError(f"data.name: unknown data set {name!r}; allowed: "
                          f"{', '.join(DATASETS.names())}, folder:PATH, npz:PATH, "
                          "pairs:A_DIR,B_DIR")


# Built-in data sets whose mirror image is not a sample: data.flip is refused on them.
MIRROR_WRONG = {"mnist5k": "a mirrored digit is not a digit",
                "digits": "a mirrored digit is not a digit",
                "digits-framed": "a mirrored digit is not a digit",
                "stacked-mnist": "a mirrored digit is not a digit",
                "moving-mnist": "a mirrored digit is not a digit"}


def load(cfg: DataConfig) -> Dataset:
    """Load the data set named in `cfg`, converted to its channels and resolution, without
    the `cfg.holdout` held-out samples (see `load_holdout`), limited to `cfg.limit` samples,
    labelled by `cfg.clusters` k-means clusters when set (see data/clusters.py)."""
    if cfg.flip and cfg.name in MIRROR_WRONG and not cfg.allow_flip:
        raise GankitError(f"data.flip=true on {cfg.name}: {MIRROR_WRONG[cfg.name]}; set "
                          "data.allow_flip=true to flip anyway")
    if cfg.name_b is not None:
        return _two_domains(cfg, load)
    data = load_all(cfg)
    if cfg.holdout:
        data = _subset(data, _split(cfg, data)[1])
    data = _limit(cfg, data) if cfg.limit else data
    if cfg.clusters:
        if not isinstance(data, TensorData):
            raise GankitError(f"data.clusters={cfg.clusters}: {cfg.name} is not a finite set of "
                              "images to cluster")
        data = with_clusters(data, cfg.clusters, cfg.name)
    return data


def _two_domains(cfg: DataConfig, loader) -> UnpairedData:
    """Domain A (data.name) and B (data.name_b), each loaded like a data set of its own, at a
    common resolution (data.resolution, else A's) and channels (data.channels, else the
    larger)."""
    one = dataclasses.replace(cfg, name_b=None)
    a = loader(one)
    b = loader(dataclasses.replace(one, name=cfg.name_b))
    for which, d in (("data.name", a), ("data.name_b", b)):
        if not isinstance(d, TensorData) or not d.is_image:
            name = cfg.name if which == "data.name" else cfg.name_b
            raise GankitError(f"{which}={name}: a domain of unpaired translation must be a "
                              "finite set of images (built-in digits, folder:PATH, npz:PATH)")
    size, ch = cfg.resolution or a.shape[1], cfg.channels or max(a.shape[0], b.shape[0])
    a, b = (TensorData(d.name, resize_square(convert_channels(d.x, ch), size), d.y,
                       d.num_classes) for d in (a, b))
    return UnpairedData(f"{cfg.name}+{cfg.name_b}", a, b)


LIMIT_SEED = 20182  # the data.limit subset is the same for every run and every seed


def _limit(cfg: DataConfig, data: Dataset) -> TensorData:
    """A fixed random subset of cfg.limit training samples (random: built-ins are ordered by
    class), so small-data runs of every seed and setting see the same images."""
    if not isinstance(data, TensorData) or cfg.limit > len(data):
        size = f"{len(data)} training samples" if isinstance(data, TensorData) else \
            "samples drawn on the fly, not a finite set"
        raise GankitError(f"data.limit={cfg.limit}: {cfg.name} has {size}")
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(LIMIT_SEED))
    return _subset(data, perm[:cfg.limit].sort().values)


def load_holdout(cfg: DataConfig) -> TensorData:
    """The held-out samples: never shown to a run trained with this data config."""
    if not cfg.holdout:
        raise GankitError("data.holdout is 0: this run has no held-out samples")
    if cfg.name_b is not None:
        return _two_domains(cfg, load_holdout)
    data = load_all(cfg)
    return _subset(data, _split(cfg, data)[0])


HOLDOUT_SEED = 20181  # the held-out subset is the same for every run and every seed


def _split(cfg: DataConfig, data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(held-out, training) indices: a fixed random subset of size cfg.holdout, both sorted.
    Random, not the last N: built-in data sets are ordered by class."""
    if isinstance(data, MixtureData | SequenceData | CropData) or cfg.holdout >= len(data):
        size = ("an endless 2-D mixture" if isinstance(data, MixtureData) else
                "an endless stream of clips" if isinstance(data, SequenceData) else
                "random crops of a few images (photos holds out its own)"
                if isinstance(data, CropData) else f"{len(data)} samples")
        raise GankitError(f"data.holdout={cfg.holdout}: {cfg.name} has {size}; the holdout must "
                          "leave training data")
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    return perm[:cfg.holdout].sort().values, perm[cfg.holdout:].sort().values


def _subset(data: TensorData, idx: torch.Tensor) -> TensorData:
    """The samples at `idx` (a PairData stays one)."""
    y = None if data.y is None else data.y[idx]
    return dataclasses.replace(data, x=data.x[idx], y=y)


def load_all(cfg: DataConfig) -> Dataset:
    """Every sample of the data set named in `cfg`, converted to its channels and resolution."""
    check_name(cfg.name)
    if cfg.crops and not cfg.name.startswith("folder:"):
        raise GankitError(f"data.crops=true takes random crops of a folder's full-size images; "
                          f"data.name={cfg.name} is not folder:PATH (photos are always cropped)")
    if cfg.name.startswith("folder:") and cfg.crops:
        return load_folder_crops(cfg.name[7:], cfg.resolution, cfg.channels)
    if cfg.name.startswith("folder:"):
        return load_folder(cfg.name[7:], cfg.resolution, cfg.channels, cfg.skip_bad, cfg.cache_dir)
    if cfg.name.startswith("pairs:"):
        return load_pairs(cfg.name[6:], cfg.resolution, cfg.channels, cfg.skip_bad, cfg.cache_dir)
    if cfg.name.startswith("npz:"):
        return load_npz(cfg.name[4:], cfg.resolution, cfg.channels)
    data = DATASETS.get(cfg.name)()
    if isinstance(data, MixtureData):
        if cfg.resolution is not None or cfg.channels is not None:
            raise GankitError(f"data.resolution / data.channels do not apply to 2-D {cfg.name}")
        return data
    if isinstance(data, SequenceData):
        return data.configure(cfg.frames, cfg.resolution, cfg.channels)
    if isinstance(data, CropData):
        return data.configure(cfg.resolution, cfg.channels)
    x = resize_square(convert_channels(data.x, cfg.channels), cfg.resolution)
    return TensorData(data.name, x, data.y, data.num_classes)


def eval_data(data: Dataset, n: int) -> Dataset:
    """What the image metrics score against for n samples: the data themselves, or for
    clips a fixed set of frames (for crops of large images a fixed set of crops), enough for the scored set and the real-vs-real floor."""
    if isinstance(data, SequenceData):
        return data.frame_data(2 * n)
    if isinstance(data, ClusteredData):  # the metrics count the data set's own classes
        return data.unclustered()
    return data.fixed(2 * n) if isinstance(data, CropData) else data
