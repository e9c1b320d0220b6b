"""One training step: `n_critic` D updates, then one G update, then the EMA update.

    D phase: fake = G(z).detach(); terms = objective.d_losses(D, real, fake)  -> step D
    G phase: terms = objective.g_losses(D(fake))                               -> step G

The fake batch of the last D update is made with gradients and reused by the G phase
(G's weights have not changed in between), which saves one forward pass of G per step.
D's parameters are frozen during the G phase so no gradient is computed for them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from gankit.data.base import to_unit_range
from gankit.losses import Objective
from gankit.nets import PRIORS
from gankit.train.ema import ema_beta, update_ema
from gankit.train.state import TrainState


@dataclass
class StepContext:
    """What a step needs besides the state: fixed for the whole run."""

    objective: Objective
    prior: str
    z_dim: int
    batch_size: int
    n_critic: int
    ema_beta: float
    device: torch.device
    precision: str  # fp32 | bf16 | fp16
    channels_last: bool
    world: int = 1
    total_steps: int = 0  # for the lr schedule
    lr_decay: str = "none"  # none | linear
    base_lrs: tuple[float, float] = (0.0, 0.0)  # (G, D) learning rates at step 0
    ema_rampup: float | None = None  # StyleGAN2 ramp-up of the EMA half-life; None disables
    clip_d: float = 0.0  # WGAN weight clipping of D after each D update; 0 disables

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)


def _real_batch(st: TrainState, ctx: StepContext) -> torch.Tensor:
    x, _ = st.sampler.next()
    x = to_unit_range(x.to(ctx.device, non_blocking=True))
    if ctx.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _latents(st: TrainState, ctx: StepContext) -> torch.Tensor:
    return PRIORS.get(ctx.prior)(ctx.batch_size, ctx.z_dim, st.z_gen).to(ctx.device)


def _backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer,
                   scaler: torch.amp.GradScaler) -> None:
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)


def d_phase(st: TrainState, ctx: StepContext) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """n_critic D updates; returns the last terms and the last fake batch (with G's graph).

    Lazy R1 counts D updates (step * n_critic + i), a function of the step only, so resume
    stays exact; the returned d_r1 is its mean over this step's D updates.
    """
    r1_terms = []
    for i in range(ctx.n_critic):
        real = _real_batch(st, ctx)
        z = _latents(st, ctx)
        with ctx.autocast(), torch.set_grad_enabled(i == ctx.n_critic - 1):
            fake = st.g_train(z)
        r1 = (st.step * ctx.n_critic + i) % ctx.objective.r1_every == 0
        with ctx.autocast():
            terms = ctx.objective.d_losses(st.d_train, real, fake.detach(), st.z_gen, r1=r1)
        _backward_step(sum(terms.values()), st.opt_d, st.scaler_d)
        if ctx.clip_d > 0:
            clip_weights(st.d, ctx.clip_d)
        if "d_r1" in terms:
            r1_terms.append(terms["d_r1"].detach())
    if len(r1_terms) > 1:
        terms["d_r1"] = torch.stack(r1_terms).mean()
    return terms, fake


@torch.no_grad()
def clip_weights(net: torch.nn.Module, c: float) -> None:
    """WGAN (Arjovsky et al. 2017): clamp every parameter of the critic to [-c, c]."""
    for p in net.parameters():
        p.clamp_(-c, c)


def g_phase(st: TrainState, ctx: StepContext, fake: torch.Tensor) -> dict[str, torch.Tensor]:
    """One G update through the (frozen) raw D: D's gradients are neither needed nor synced."""
    st.d.requires_grad_(False)
    with ctx.autocast():
        logits = st.d(fake)
    terms = ctx.objective.g_losses(logits)
    _backward_step(sum(terms.values()), st.opt_g, st.scaler_g)
    st.d.requires_grad_(True)
    return terms


def set_learning_rates(st: TrainState, ctx: StepContext) -> None:
    """lr(step) = base * (1 - step / total) under linear decay: a function of the step only,
    so a resumed run follows the same schedule."""
    if ctx.lr_decay != "linear":
        return
    frac = max(0.0, 1.0 - st.step / max(ctx.total_steps, 1))
    for opt, base in ((st.opt_g, ctx.base_lrs[0]), (st.opt_d, ctx.base_lrs[1])):
        for group in opt.param_groups:
            group["lr"] = base * frac


def train_step(st: TrainState, ctx: StepContext) -> dict[str, torch.Tensor]:
    """One full step; returns the detached loss terms (no host sync here)."""
    set_learning_rates(st, ctx)
    d_terms, fake = d_phase(st, ctx)
    g_terms = g_phase(st, ctx, fake)
    update_ema(st.g_ema, st.g, ema_beta(ctx.ema_beta, st.step, ctx.ema_rampup))
    st.step += 1
    st.images_seen += ctx.batch_size * ctx.n_critic * ctx.world
    return {k: v.detach() for k, v in {**d_terms, **g_terms}.items()}
