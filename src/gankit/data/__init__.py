"""Data sets: built-in (mnist5k, digits, ring8, grid25), `folder:PATH`, `npz:PATH`.

`load(cfg)` returns a TensorData (finite, in memory) or a MixtureData (sampled on the fly);
`make_sampler` turns either into an endless, seeded, resumable stream of batches.
"""

from __future__ import annotations

from gankit.config import DataConfig
from gankit.data.base import Dataset, MixtureData, TensorData, convert_channels, resize_square
from gankit.data.builtin import DATASETS
from gankit.data.folder import load_folder, load_npz
from gankit.data.sampler import Sampler, make_sampler
from gankit.errors import GankitError

__all__ = [
    "DATASETS",
    "Dataset",
    "MixtureData",
    "Sampler",
    "TensorData",
    "check_name",
    "load",
    "make_sampler",
]

PREFIXES = ("folder:", "npz:")


def check_name(name: str) -> None:
    if name.startswith(PREFIXES) and len(name.split(":", 1)[1]) > 0:
        return
    if name not in DATASETS:
        raise GankitError(f"data.name: unknown data set {name!r}; allowed: "
                          f"{', '.join(DATASETS.names())}, folder:PATH, npz:PATH")


def load(cfg: DataConfig) -> Dataset:
    """Load the data set named in `cfg`, converted to its channels and resolution."""
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
    x = resize_square(convert_channels(data.x, cfg.channels), cfg.resolution)
    return TensorData(data.name, x, data.y, data.num_classes)
