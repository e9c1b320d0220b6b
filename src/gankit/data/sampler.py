"""Endless, seeded, resumable batch streams.

Finite data sets are shuffled per epoch by PyTorch's DistributedSampler (with one replica
when not distributed), so each rank reads its own shard and the order depends only on
(seed, epoch). The state is (epoch, position) for finite data and the generator state for
data drawn on the fly (mixtures, clips); restoring it continues the stream exactly where it
stopped.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch.utils.data import DistributedSampler

from gankit.data.base import Dataset, MixtureData, SequenceData, TensorData
from gankit.data.pairs import UnpairedData, UnpairedSampler
from gankit.data.photos import CropData
from gankit.errors import GankitError


class Sampler(Protocol):
    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


class IndexSampler:
    """Batches of a TensorData, drawn without replacement within each epoch."""

    def __init__(self, data: TensorData, batch_size: int, seed: int, rank: int = 0,
                 world: int = 1) -> None:
        self.data, self.batch_size = data, batch_size
        self._sampler = DistributedSampler(range(len(data)), num_replicas=world, rank=rank,
                                           shuffle=True, seed=seed, drop_last=True)
        if self._sampler.num_samples < batch_size:
            raise GankitError(f"train.batch_size={batch_size} is larger than the data set's "
                              f"{self._sampler.num_samples} samples per rank")
        self.epoch, self.pos = 0, 0
        self._order = self._epoch_order()

    def _epoch_order(self) -> torch.Tensor:
        self._sampler.set_epoch(self.epoch)
        return torch.tensor(list(iter(self._sampler)), dtype=torch.long)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.pos + self.batch_size > len(self._order):
            self.epoch, self.pos = self.epoch + 1, 0
            self._order = self._epoch_order()
        idx = self._order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        y = self.data.y[idx] if self.data.y is not None else None
        return self.data.x[idx], y

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._epoch_order()


class MixtureSampler:
    """Fresh samples of data drawn on the fly (MixtureData, SequenceData, CropData) from a seeded
    generator (one stream per rank)."""

    def __init__(self, data: MixtureData | SequenceData | CropData, batch_size: int, seed: int, rank: int = 0) -> None:
        self.data, self.batch_size = data, batch_size
        self.gen = torch.Generator().manual_seed(seed * 1000 + rank + 1)

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.data.sample(self.batch_size, self.gen)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


def make_sampler(data: Dataset, batch_size: int, seed: int, rank: int = 0,
                 world: int = 1) -> Sampler:
    if isinstance(data, MixtureData | SequenceData | CropData):
        return MixtureSampler(data, batch_size, seed, rank)
    if isinstance(data, UnpairedData):
        return UnpairedSampler(data, batch_size, seed, rank, world)
    return IndexSampler(data, batch_size, seed, rank, world)
