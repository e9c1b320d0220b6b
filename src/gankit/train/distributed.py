"""The only module that knows about ranks: process-group set-up, device choice, DDP wrapping.

Launched by `torchrun`, the environment carries RANK / WORLD_SIZE / LOCAL_RANK; we join a
process group (gloo on CPU, NCCL on CUDA). Without them, world size is 1 and nothing is
wrapped. Batch norm statistics stay per rank unless `train.sync_bn=true` (CUDA only), and
DDP's buffer broadcast is off so D can be called on real and fake batches separately.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from gankit.devices import resolve_device
from gankit.errors import GankitError


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


# set once this process has joined a process group: see `exit_process`
_joined = False


def setup(device: str) -> DistInfo:
    """Join the process group if launched by torchrun; pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        global _joined
        _joined = True
    return DistInfo(rank, world, local_rank, dev)


def teardown(info: DistInfo, together: bool = True) -> None:
    """Leave the process group. together=True (a run that ended normally) waits for every
    rank first: a rank that tears gloo down while its peer is still finishing (rank 0
    closing TensorBoard) can abort the peer's connection thread. After an error a peer may
    be gone, so no waiting then."""
    if info.enabled and dist.is_initialized():
        try:
            if together:
                dist.barrier()
        finally:
            dist.destroy_process_group()


def exit_process(code: int) -> None:
    """Leave the process with `code` without tearing the interpreter down, if it ever joined a
    process group; return otherwise (then the caller exits as usual).

    DDP's reducer keeps the process group, and so gloo's worker threads, alive after
    `destroy_process_group` until the process ends. Interpreter finalisation with those
    threads alive can abort a rank ("terminate called without an active exception",
    SIGABRT: pytorch/pytorch#179291), failing a run whose files are all written. Everything
    is closed by now, so the rank flushes its streams and ends here, as a killed one would,
    and torchrun sees `code`."""
    if not _joined:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said on it
            pass
    os._exit(code)


def sync_batchnorm(module: nn.Module, info: DistInfo, sync_bn: bool) -> nn.Module:
    """Swap BatchNorm for SyncBatchNorm when asked to and distributed."""
    if not (sync_bn and info.enabled):
        return module
    if info.device.type != "cuda":
        raise GankitError("train.sync_bn=true needs CUDA GPUs; on CPU batch norm is per rank")
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)


def wrap(module: nn.Module, info: DistInfo) -> nn.Module:
    """DDP-wrap `module` when distributed; otherwise return it unchanged."""
    if not info.enabled:
        return module
    ids = [info.device.index] if info.device.type == "cuda" else None
    with warnings.catch_warnings():
        # torch 2.13 deprecates broadcast_buffers, but its replacement (forward_sync_buffers)
        # still syncs buffers at init; per-rank batch-norm statistics need this one
        warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
        return nn.parallel.DistributedDataParallel(module, device_ids=ids,
                                                   broadcast_buffers=False)


def any_flag(flag: bool, info: DistInfo) -> bool:
    """True on every rank if `flag` is true on any rank (e.g. a non-finite loss)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def gather(obj: object, info: DistInfo) -> list:
    """Every rank's `obj`, in rank order, on every rank (in memory only, never to a file)."""
    if not info.enabled:
        return [obj]
    out: list = [None] * info.world
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: object, info: DistInfo) -> object:
    """Rank 0's `obj` on every rank (in memory only)."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_sum(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The sum of `t` over ranks (a CPU tensor in, a CPU tensor out); `t` itself when not
    distributed."""
    if not (dist.is_available() and dist.is_initialized()):
        return t
    x = t.to(device)
    dist.all_reduce(x)
    return x.cpu()
