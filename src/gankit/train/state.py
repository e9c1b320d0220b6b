"""All mutable training state in one object, so a checkpoint is exactly this plus the config.

TrainState holds the raw nets (for saving and EMA), their possibly DDP-wrapped forms (for
training), the EMA of G, both optimisers and gradient scalers, the counters, the latent
generator and the data sampler. `state_dict` / `load_state_dict` use only tensors and plain
containers, so checkpoints load with torch.load(weights_only=True).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from gankit.config import Config
from gankit.data import Sampler
from gankit.nets import ARCHS, NetSpec, build_net
from gankit.train.distributed import DistInfo, sync_batchnorm, wrap
from gankit.train.ema import make_ema


@dataclass
class TrainState:
    g: nn.Module
    d: nn.Module
    g_ema: nn.Module
    g_train: nn.Module  # g, or DDP(g)
    d_train: nn.Module  # d, or DDP(d)
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    scaler_g: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler
    specs: dict[str, NetSpec]
    sampler: Sampler
    z_gen: torch.Generator  # latents and per-step randomness (GP alpha), CPU, per rank
    step: int = 0  # G steps done
    images_seen: int = 0  # real images shown to D, all ranks together
    best: dict = field(default_factory=dict)  # {"score", "value", "step"} of checkpoints/best.pt

    def rng_state(self) -> dict:
        """This rank's random streams: latents, torch's global RNG, data order."""
        return {"z": self.z_gen.get_state(), "torch": torch.get_rng_state(),
                "sampler": self.sampler.state_dict()}

    def load_rng_state(self, rng: dict) -> None:
        self.z_gen.set_state(rng["z"])
        torch.set_rng_state(rng["torch"])
        self.sampler.load_state_dict(rng["sampler"])

    def state_dict(self, rng_ranks: list[dict] | None = None) -> dict:
        """Everything to continue exactly; `rng_ranks` holds every rank's streams under DDP."""
        return {
            "g": self.g.state_dict(), "d": self.d.state_dict(), "g_ema": self.g_ema.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(), "scaler_d": self.scaler_d.state_dict(),
            "step": self.step, "images_seen": self.images_seen, "best": dict(self.best),
            "rng_ranks": rng_ranks or [self.rng_state()],
        }

    def load_state_dict(self, sd: dict, rank: int = 0, world: int = 1) -> None:
        self.g.load_state_dict(sd["g"])
        self.d.load_state_dict(sd["d"])
        self.g_ema.load_state_dict(sd["g_ema"])
        self.opt_g.load_state_dict(sd["opt_g"])
        self.opt_d.load_state_dict(sd["opt_d"])
        self.scaler_g.load_state_dict(sd["scaler_g"])
        self.scaler_d.load_state_dict(sd["scaler_d"])
        self.step, self.images_seen = int(sd["step"]), int(sd["images_seen"])
        self.best = dict(sd.get("best", {}))
        ranks = sd["rng_ranks"]
        if len(ranks) != world:
            warnings.warn(f"checkpoint was written by {len(ranks)} process(es), resuming with "
                          f"{world}: data order and latents will differ from an uninterrupted "
                          "run", stacklevel=2)
        if rank < len(ranks):
            self.load_rng_state(ranks[rank])


def make_optimizer(params, lr: float, betas: tuple[float, float],
                   device: torch.device) -> torch.optim.Optimizer:
    """Adam, fused (one kernel for all parameters) on CPU and CUDA."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=device.type in ("cpu", "cuda"))


def make_state(cfg: Config, shape: tuple[int, ...], sampler: Sampler, info: DistInfo) -> TrainState:
    """Fresh nets (same seed on every rank, so all ranks start identical), optimisers, counters."""
    torch.manual_seed(cfg.seed)
    g_spec, d_spec = ARCHS.get(cfg.model.arch)(cfg.model, shape)
    g, d = build_net(g_spec).to(info.device), build_net(d_spec).to(info.device)
    if cfg.train.channels_last and len(shape) == 3:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    g = sync_batchnorm(g, info, cfg.train.sync_bn)
    d = sync_batchnorm(d, info, cfg.train.sync_bn)
    g_ema = make_ema(g)
    fp16 = cfg.train.precision == "fp16"
    return TrainState(
        g=g, d=d, g_ema=g_ema,
        g_train=wrap(g, info), d_train=wrap(d, info),
        opt_g=make_optimizer(g.parameters(), cfg.optim.g_lr, cfg.optim.g_betas, info.device),
        opt_d=make_optimizer(d.parameters(), cfg.optim.d_lr, cfg.optim.d_betas, info.device),
        scaler_g=torch.amp.GradScaler(info.device.type, enabled=fp16),
        scaler_d=torch.amp.GradScaler(info.device.type, enabled=fp16),
        specs={"g": g_spec, "d": d_spec},
        sampler=sampler,
        z_gen=torch.Generator().manual_seed(cfg.seed * 1000 + info.rank + 7),
    )
