"""Device names from configs and the CLI (auto | cpu | cuda | cuda:N) -> torch devices.

Shared by training and inference, so pipelines need no training module to pick a device.
"""

from __future__ import annotations

import torch

from gankit.errors import GankitError


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """auto | cpu | cuda | cuda:N -> a device that exists here, or a GankitError naming it."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    index = name[5:] if name.startswith("cuda:") else None
    if name != "cuda" and not (index is not None and index.isdigit()):
        raise GankitError(f"device {name!r} is not allowed; choose auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise GankitError(f"device={name}: no CUDA GPU is available here; use device=cpu")
    count = torch.cuda.device_count()
    if index is None:
        return torch.device("cuda", local_rank % count)
    if int(index) >= count:
        raise GankitError(f"device={name}: this machine has {count} CUDA GPU(s), "
                          f"cuda:0..cuda:{count - 1}")
    return torch.device("cuda", int(index))
