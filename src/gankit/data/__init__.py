"""Data sets: built-in (mnist5k, digits, ring8, grid25, moving-mnist), `folder:PATH`, `npz:PATH`.

`load(cfg)` returns a TensorData (finite, in memory), a MixtureData or a SequenceData (clips;
both sampled on the fly); `make_sampler` turns any of them into an endless, seeded,
resumable stream of batches.
"""

from __future__ import annotations

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
from gankit.data.folder import load_folder, load_npz
from gankit.data.sampler import Sampler, make_sampler
from gankit.errors import GankitError

__all__ = [
    "DATASETS",
    "Dataset",
    "MixtureData",
    "Sampler",
    "SequenceData",
    "TensorData",
    "check_name",
    "eval_data",
    "load",
    "load_holdout",
    "make_sampler",
]

PREFIXES = ("folder:", "npz:")


def check_name(name: str) -> None:
    if name.startswith(PREFIXES) and len(name.split(":", 1)[1]) > 0:
        return
    if name not in DATASETS:
        raise GankitError(f"data.name: unknown data set {name!r}; allowed: "
                          f"{', '.join(DATASETS.names())}, folder:PATH, npz:PATH")


# Built-in data sets whose mirror image is not a sample: data.flip is refused on them.
MIRROR_WRONG = {"mnist5k": "a mirrored digit is not a digit",
                "digits": "a mirrored digit is not a digit",
                "stacked-mnist": "a mirrored digit is not a digit",
                "moving-mnist": "a mirrored digit is not a digit"}


def load(cfg: DataConfig) -> Dataset:
    """Load the data set named in `cfg`, converted to its channels and resolution, without
    the `cfg.holdout` held-out samples (see `load_holdout`), limited to `cfg.limit` samples."""
    if cfg.flip and cfg.name in MIRROR_WRONG and not cfg.allow_flip:
        raise GankitError(f"data.flip=true on {cfg.name}: {MIRROR_WRONG[cfg.name]}; set "
                          "data.allow_flip=true to flip anyway")
    data = load_all(cfg)
    if cfg.holdout:
        data = _subset(data, _split(cfg, data)[1])
    return _limit(cfg, data) if cfg.limit else data


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
    data = load_all(cfg)
    if not cfg.holdout:
        raise GankitError("data.holdout is 0: this run has no held-out samples")
    return _subset(data, _split(cfg, data)[0])


HOLDOUT_SEED = 20181  # the held-out subset is the same for every run and every seed


def _split(cfg: DataConfig, data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(held-out, training) indices: a fixed random subset of size cfg.holdout, both sorted.
    Random, not the last N: built-in data sets are ordered by class."""
    if isinstance(data, MixtureData | SequenceData) or cfg.holdout >= len(data):
        size = ("an endless 2-D mixture" if isinstance(data, MixtureData) else
                "an endless stream of clips" if isinstance(data, SequenceData) else
                f"{len(data)} samples")
        raise GankitError(f"data.holdout={cfg.holdout}: {cfg.name} has {size}; the holdout must "
                          "leave training data")
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    return perm[:cfg.holdout].sort().values, perm[cfg.holdout:].sort().values


def _subset(data: TensorData, idx: torch.Tensor) -> TensorData:
    y = None if data.y is None else data.y[idx]
    return TensorData(data.name, data.x[idx], y, data.num_classes)


def load_all(cfg: DataConfig) -> Dataset:
    """Every sample of the data set named in `cfg`, converted to its channels and resolution."""
    check_name(cfg.name)
    if cfg.name.startswith("folder:"):
        return load_folder(cfg.name[7:], cfg.resolution, cfg.channels, cfg.skip_bad, cfg.cache_dir)
    if cfg.name.startswith("npz:"):
        return load_npz(cfg.name[4:], cfg.resolution, cfg.channels)
    data = DATASETS.get(cfg.name)()
    if isinstance(data, MixtureData):
        if cfg.resolution is not None or cfg.channels is not None:
            raise GankitError(f"data.resolution / data.channels do not apply to 2-D {cfg.name}")
        return data
    if isinstance(data, SequenceData):
        return data.configure(cfg.frames, cfg.resolution, cfg.channels)
    x = resize_square(convert_channels(data.x, cfg.channels), cfg.resolution)
    return TensorData(data.name, x, data.y, data.num_classes)


def eval_data(data: Dataset, n: int) -> Dataset:
    """What the image metrics score against for n samples: the data themselves, or for
    clips a fixed set of frames, enough for the scored set and the real-vs-real floor."""
    return data.frame_data(2 * n) if isinstance(data, SequenceData) else data
