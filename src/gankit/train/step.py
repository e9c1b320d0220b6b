"""One training step, generic over the GAN family: `n_critic` D updates, one G update, EMA.

    D phase: fake = family.fake(nets, batch); terms = family.d_terms(nets, batch, fake.detach())
             (+ weight decay) -> backward -> clip -> step D
    G phase: terms = family.g_terms(nets, batch, fake) (+ path length, weight decay)
             -> backward -> clip -> step G

The fake batch of the last D update is made with gradients and reused by the G phase
(G's weights have not changed in between), which saves one forward pass of G per step.
D-side nets are frozen during the G phase so no gradient is computed for them. At steps
where the family says D does not train (`family.adversarial(step)` False: SRResNet-style
content pre-training), the step is one G update on `family.content_terms` alone.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch

from gankit.augment import random_crop, random_flip
from gankit.config import AugConfig, Config, DataConfig, RegConfig, health_every
from gankit.data.base import to_unit_range
from gankit.errors import GankitError
from gankit.families import Batch, Fake, Family, PhaseCtx
from gankit.losses.regularizers import (
    clip_grad_norm,
    path_length_noise,
    path_length_penalty,
    weight_decay_penalty,
)
from gankit.train.d_input import ada_observe, ada_p, d_view, make_augment
from gankit.train.ema import ema_beta, update_ema
from gankit.train.state import TrainState

PL_DECAY = 0.01  # StyleGAN2's running-mean decay of the path length
PL_BATCH_SHRINK = 2  # StyleGAN2: the path-length batch is half the training batch


@dataclass
class StepContext:
    """What a step needs besides the state: fixed for the whole run."""

    family: Family
    reg: RegConfig
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
    aug: AugConfig = field(default_factory=AugConfig)  # augmentation of what D sees
    pack: int = 1  # PacGAN: samples per D input
    data: DataConfig = field(default_factory=DataConfig)  # data-level crop / flip
    grad_norm_every: int = 0  # measure gradient norms on the step before each multiple; 0 = never

    @classmethod
    def from_config(cls, cfg: Config, family: Family, device: torch.device,
                    world: int = 1) -> StepContext:
        return cls(family=family, reg=cfg.reg, n_critic=cfg.optim.n_critic,
                   ema_beta=cfg.train.ema_beta, ema_rampup=cfg.train.ema_rampup, device=device,
                   precision=cfg.train.precision, channels_last=cfg.train.channels_last,
                   world=world, total_steps=cfg.train.steps, lr_decay=cfg.optim.lr_decay,
                   base_lrs=(cfg.optim.g_lr, cfg.optim.d_lr), aug=cfg.aug,
                   pack=cfg.model.pack, data=cfg.data,
                   grad_norm_every=cfg.train.log_every if health_every(cfg) else 0)

    def measure(self, step: int) -> bool:
        """Whether the step from `step` records gradient norms: the last step of each log
        window, so every log line of a health-checked run carries one."""
        return bool(self.grad_norm_every) and (step + 1) % self.grad_norm_every == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)


def _real_batch(st: TrainState, ctx: StepContext) -> Batch:
    x, y = st.sampler.next()
    if ctx.data.crop_pad > 0:  # data-level augmentation, drawn from the step's stream
        x = random_crop(x, ctx.data.crop_pad, st.z_gen)
    if ctx.data.flip:
        x = random_flip(x, st.z_gen)
    x = to_unit_range(x.to(ctx.device, non_blocking=True))
    if ctx.channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return Batch(x, None if y is None else y.to(ctx.device, non_blocking=True))


def _side_params(st: TrainState, names: tuple[str, ...]) -> list[torch.nn.Parameter]:
    return [p for k in names for p in st.nets[k].parameters()]


def _backward_step(st: TrainState, side: str, names: tuple[str, ...],
                   terms: dict[str, torch.Tensor], wd: float, max_norm: float,
                   measure: bool = False) -> None:
    """Sum the loss terms (plus coupled weight decay), backpropagate, clip, step, zero the
    grads. Detached entries (D's accuracy and logit statistics) are logged, not summed.
    `measure` records the gradient norm without clipping (for the health monitor)."""
    if wd > 0:
        terms[f"{side}_wd"] = weight_decay_penalty(_side_params(st, names), wd)
    opt, scaler = st.opts[side], st.scalers[side]
    scaler.scale(sum(v for v in terms.values() if v.requires_grad)).backward()
    if max_norm > 0:
        scaler.unscale_(opt)
        terms[f"{side}_grad_norm"] = clip_grad_norm(_side_params(st, names), max_norm)
    elif measure:
        scaler.unscale_(opt)
        grads = [p.grad for p in _side_params(st, names) if p.grad is not None]
        if grads:
            terms[f"{side}_grad_norm"] = torch.nn.utils.get_total_norm(grads).float()
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)


def d_phase(st: TrainState, ctx: StepContext) -> tuple[dict[str, torch.Tensor], Batch, Fake]:
    """n_critic D updates; returns the last terms, real batch and fake (with G's graph).

    Lazy R1 counts D updates (step * n_critic + i), a function of the step only, so resume
    stays exact; the returned d_r1 is its mean over this step's D updates.
    """
    fam, reg = ctx.family, ctx.reg
    r1_terms = []
    for i in range(ctx.n_critic):
        batch = _real_batch(st, ctx)
        with ctx.autocast(), torch.set_grad_enabled(i == ctx.n_critic - 1):
            fake = fam.fake(st.train_nets, batch, st.z_gen)
        update = st.step * ctx.n_critic + i  # D updates done: lazy intervals count these
        pctx = PhaseCtx(st.z_gen, update % reg.r1_every == 0, extra=st.extra)
        with ctx.autocast():
            terms = fam.d_terms(seen_by_d(st, ctx, st.train_nets), batch, fake.detach(), pctx)
        if ctx.aug.kind == "ada":
            if pctx.real_sign is None:
                raise GankitError(f"aug.kind=ada: model.family={fam.name} does not report D's "
                                  "real logits, which ADA's p follows")
            ada_observe(st.extra, ctx.aug, pctx.real_sign, update,
                        batch.x.shape[0] * ctx.world, ctx.device)
        _backward_step(st, "d", fam.d_side, terms, reg.d_wd, reg.d_clip_grad,
                       ctx.measure(st.step) and i == ctx.n_critic - 1)
        if reg.clip_d > 0:
            for k in fam.d_side:
                clip_weights(st.nets[k], reg.clip_d)
        if "d_r1" in terms:
            r1_terms.append(terms["d_r1"].detach())
    if len(r1_terms) > 1:
        terms["d_r1"] = torch.stack(r1_terms).mean()
    return terms, batch, fake


def seen_by_d(st: TrainState, ctx: StepContext, nets: dict) -> dict:
    """`nets` with the D-side nets behind this update's augmentation and packing."""
    aug = make_augment(ctx.aug, st.z_gen, ada_p(st.extra, ctx.aug))
    return d_view(nets, ctx.family.d_side, aug, ctx.pack)


@torch.no_grad()
def clip_weights(net: torch.nn.Module, c: float) -> None:
    """WGAN (Arjovsky et al. 2017): clamp every parameter of the critic to [-c, c]."""
    for p in net.parameters():
        p.clamp_(-c, c)


def path_length_term(st: TrainState, ctx: StepContext, fake: Fake) -> torch.Tensor:
    """StyleGAN2's path-length penalty on z (no mapping network), lazy: weight pl_weight * N.

    A fresh forward of G on half the batch's latents, made leaves; the running mean of the
    path length lives in the TrainState so a resumed run continues it exactly."""
    n = max(1, fake.z.shape[0] // PL_BATCH_SHRINK)
    z = fake.z[:n].detach().requires_grad_(True)
    c = None if fake.c is None else fake.c[:n]
    with ctx.autocast():
        x = st.train_nets["g"](z) if c is None else st.train_nets["g"](z, c)
    noise = path_length_noise(torch.empty(x.shape), st.z_gen).to(x.device)  # CPU stream
    mean = st.extra.get("pl_mean", torch.zeros(())).to(x.device)
    penalty, st.extra["pl_mean"] = path_length_penalty(x, z, mean, noise, PL_DECAY)
    return penalty * (ctx.reg.pl_weight * ctx.reg.pl_every)


def g_phase(st: TrainState, ctx: StepContext, batch: Batch, fake: Fake
            ) -> dict[str, torch.Tensor]:
    """One G update through the (frozen) raw D-side nets: their gradients are neither needed
    nor synced."""
    fam, reg = ctx.family, ctx.reg
    nets = seen_by_d(st, ctx, {**st.train_nets, **{k: st.nets[k] for k in fam.d_side}})
    for k in fam.d_side:
        st.nets[k].requires_grad_(False)
    with ctx.autocast():
        terms = fam.g_terms(nets, batch, fake)
    if reg.pl_weight > 0:  # lazy: the term is 0 between its steps, so logs keep their keys
        due = st.step % reg.pl_every == 0
        terms["g_pl"] = path_length_term(st, ctx, fake) if due else fake.x.new_zeros((), dtype=torch.float32)
    _backward_step(st, "g", fam.g_side, terms, reg.g_wd, reg.g_clip_grad, ctx.measure(st.step))
    for k in fam.d_side:
        st.nets[k].requires_grad_(True)
    return terms


def content_phase(st: TrainState, ctx: StepContext) -> tuple[dict[str, torch.Tensor], Batch]:
    """One G update on the family's content terms alone (D idles)."""
    fam, reg = ctx.family, ctx.reg
    batch = _real_batch(st, ctx)
    with ctx.autocast():
        fake = fam.fake(st.train_nets, batch, st.z_gen)
        terms = fam.content_terms(st.train_nets, batch, fake)
    _backward_step(st, "g", fam.g_side, terms, reg.g_wd, reg.g_clip_grad, ctx.measure(st.step))
    return terms, batch


def set_learning_rates(st: TrainState, ctx: StepContext) -> None:
    """lr(step) = base * (1 - step / total) under linear decay, times the health monitor's
    rollback scale: a function of the state only, so a resumed run follows the same
    schedule."""
    if ctx.lr_decay != "linear" and st.lr_scale == {"g": 1.0, "d": 1.0}:
        return
    frac = max(0.0, 1.0 - st.step / max(ctx.total_steps, 1)) if ctx.lr_decay == "linear" else 1.0
    for side, base in (("g", ctx.base_lrs[0]), ("d", ctx.base_lrs[1])):
        for group in st.opts[side].param_groups:
            group["lr"] = base * frac * st.lr_scale[side]


def train_step(st: TrainState, ctx: StepContext) -> dict[str, torch.Tensor]:
    """One full step; returns the detached loss terms (no host sync here)."""
    set_learning_rates(st, ctx)
    if ctx.family.adversarial(st.step):
        d_terms, batch, fake = d_phase(st, ctx)
        g_terms = g_phase(st, ctx, batch, fake)
        n_real = batch.x.shape[0] * ctx.n_critic
    else:
        d_terms, (g_terms, batch) = {}, content_phase(st, ctx)
        n_real = batch.x.shape[0]
    beta = ema_beta(ctx.ema_beta, st.step, ctx.ema_rampup)
    for name, ema in st.ema.items():
        update_ema(ema, st.nets[name], beta)
    st.step += 1
    st.images_seen += n_real * ctx.world
    out = {k: v.detach() for k, v in {**d_terms, **g_terms}.items()}
    if ctx.aug.kind == "ada":
        out["aug_p"] = st.extra["ada_p"].float()
    return out

