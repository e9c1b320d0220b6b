"""All mutable training state in one object, so a checkpoint is exactly this plus the config.

TrainState holds the family's named nets (raw, for saving and EMA, and possibly DDP-wrapped,
for training), an EMA of every generator-side net, one optimiser and gradient scaler per
side ("g", "d"), the counters, the latent generator, the data sampler and any running
statistic of a regulariser (`extra`, e.g. the path-length mean). `state_dict` /
`load_state_dict` use only tensors and plain containers, so checkpoints load with
torch.load(weights_only=True).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from gankit.config import Config
from gankit.data import Dataset, Sampler, make_sampler
from gankit.families import Family, data_info, make_family
from gankit.nets import NetSpec, build_net
from gankit.train.distributed import DistInfo, sync_batchnorm, wrap
from gankit.train.ema import make_ema

SIDES = ("g", "d")


@dataclass
class TrainState:
    nets: dict[str, nn.Module]  # raw nets by name: g, d, and whatever the family adds (e)
    train_nets: dict[str, nn.Module]  # the same nets, DDP-wrapped when distributed
    ema: dict[str, nn.Module]  # EMA of every generator-side net
    opts: dict[str, torch.optim.Optimizer]  # "g": all G-side nets, "d": all D-side nets
    scalers: dict[str, torch.amp.GradScaler]
    specs: dict[str, NetSpec]
    sampler: Sampler
    z_gen: torch.Generator  # latents and per-step randomness (GP alpha), CPU, per rank
    step: int = 0  # G steps done
    images_seen: int = 0  # real images shown to D, all ranks together
    best: dict = field(default_factory=dict)  # {"score", "value", "step"} of checkpoints/best.pt
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # this rank's running
    #                               statistics (pl_mean): saved per rank, like its RNG streams
    lr_scale: dict[str, float] = field(default_factory=lambda: {"g": 1.0, "d": 1.0})  # each
    #                               side's learning rate x this: lowered by health rollbacks
    health: dict = field(default_factory=dict)  # the health monitor's state (train/health.py):
    #                               streaks, histories, rollbacks; plain values, same on all ranks

    @property
    def g(self) -> nn.Module:
        return self.nets["g"]

    @property
    def d(self) -> nn.Module:
        return self.nets["d"]

    @property
    def g_ema(self) -> nn.Module:
        return self.ema["g"]

    def rng_state(self) -> dict:
        """This rank's own state: random streams (latents, torch's global RNG, data order) and
        running statistics, which differ between ranks (each sees its own batch)."""
        state = {"z": self.z_gen.get_state(), "torch": torch.get_rng_state(),
                 "sampler": self.sampler.state_dict(),
                 "extra": {k: v.detach().cpu().clone() for k, v in self.extra.items()}}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state()  # dropout on the GPU draws from it
        return state

    def load_rng_state(self, rng: dict) -> None:
        self.z_gen.set_state(rng["z"])
        torch.set_rng_state(rng["torch"])
        self.sampler.load_state_dict(rng["sampler"])
        self.extra = dict(rng.get("extra", {}))
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state(rng["cuda"])

    def state_dict(self, rng_ranks: list[dict] | None = None) -> dict:
        """Everything to continue exactly; `rng_ranks` holds every rank's streams under DDP."""
        return {
            "nets": {k: n.state_dict() for k, n in self.nets.items()},
            "ema": {k: n.state_dict() for k, n in self.ema.items()},
            "opts": {k: o.state_dict() for k, o in self.opts.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "step": self.step, "images_seen": self.images_seen, "best": dict(self.best),
            "lr_scale": dict(self.lr_scale), "health": copy.deepcopy(self.health),
            "rng_ranks": rng_ranks or [self.rng_state()],
        }

    def load_state_dict(self, sd: dict, rank: int = 0, world: int = 1) -> None:
        for group, mods in (("nets", self.nets), ("ema", self.ema), ("opts", self.opts),
                            ("scalers", self.scalers)):
            for name, mod in mods.items():
                mod.load_state_dict(sd[group][name])
        self.step, self.images_seen = int(sd["step"]), int(sd["images_seen"])
        self.best = dict(sd.get("best", {}))
        self.lr_scale = dict(sd.get("lr_scale", {"g": 1.0, "d": 1.0}))
        self.health = copy.deepcopy(sd.get("health", {}))
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


def make_state(cfg: Config, family: Family, sampler: Sampler, info: DistInfo) -> TrainState:
    """Fresh nets (same seed on every rank, so all ranks start identical), optimisers, counters."""
    torch.manual_seed(cfg.seed)
    specs = family.specs()
    nets = {}
    for name, spec in specs.items():
        net = build_net(spec).to(info.device)
        if cfg.train.channels_last and len(family.data.shape) == 3:
            net = net.to(memory_format=torch.channels_last)
        nets[name] = sync_batchnorm(net, info, cfg.train.sync_bn)
    sides = {"g": family.g_side, "d": family.d_side}
    lrs = {"g": (cfg.optim.g_lr, cfg.optim.g_betas), "d": (cfg.optim.d_lr, cfg.optim.d_betas)}
    fp16 = cfg.train.precision == "fp16"
    return TrainState(
        nets=nets,
        train_nets={k: wrap(n, info) for k, n in nets.items()},
        ema={k: make_ema(nets[k]) for k in family.g_side},
        opts={s: make_optimizer([p for k in sides[s] for p in nets[k].parameters()],
                                *lrs[s], info.device) for s in SIDES},
        scalers={s: torch.amp.GradScaler(info.device.type, enabled=fp16) for s in SIDES},
        specs=specs,
        sampler=sampler,
        z_gen=torch.Generator().manual_seed(cfg.seed * 1000 + info.rank + 7),
    )


def state_for(cfg: Config, data: Dataset, info: DistInfo) -> tuple[TrainState, Family]:
    """The configured family (checked against the data) and a fresh state for it."""
    family = make_family(cfg, data_info(data))
    sampler = make_sampler(data, cfg.train.batch_size, cfg.seed, info.rank, info.world)
    return make_state(cfg, family, sampler, info), family
