"""Training-step speed of every GAN family: gankit's step vs a plain PyTorch loop, same nets.

For each family, gankit's step (`state_for` + `StepContext.from_config` + `train_step`, the
library's defaults: channels_last, fused Adam, D frozen in the G phase, EMA of G) is timed
against a plain hand-written loop that builds the SAME nets (`build_net` on the family's
`specs()`, same seed, so the same initial weights) and computes the same losses by hand,
with no gankit family or step code: default (foreach) Adam, NCHW, D not frozen, no EMA, the
fake batch of the last D update reused by G (as pytorch/examples' dcgan and gankit do).
`--check` first verifies that: equal initial weights, and equal D and G losses after one
step of each on the same batch and latents (the plain loop replays gankit's random streams).

The training paths that compose with every family are cases of their own, on the dcgan
case's model: dcgan+diffaug (DiffAugment), dcgan+ada (ADA at a fixed p), pacgan2 (PacGAN, 2
samples per D input), mbstd4 (minibatch stddev in D); their plain loops call gankit's
augmentation functions (`gankit.augment.diff_augment` / `ada_augment`) on what D sees, or
pack by a reshape, and are otherwise the dcgan loop. `sequence` is mocogan-mnist's MoCoGAN
(moving-mnist, 16 clips x 16 frames of 32x32, lazy R1 on both Ds, done by hand in its loop).

The image-to-image families take their presets' data, nets, losses and batch (16), spelled
out in CASES: pix2pix (inpaint-photos: U-Net G and PatchGAN D on random 64 px crops of the
shipped photos with mixed rectangle/stroke holes pre-filled by a harmonic fill, ns + L1 x
100), srgan (srgan-photos at scale 4, 96 px crops, with train.pretrain_steps=0 so every step
is adversarial: L1 content + 1e-3 ns + D feature matching), srresnet (the same with
train.pretrain_steps=1e9: every step is content pre-training, L1 on G alone) and cyclegan
(cyclegan-digits: mnist5k <-> digits-framed at 16 px, two ResNet Gs, two instance-norm PatchGANs,
lsgan, image pool 50, cycle 10, identity 0.5). Their plain loops make G's inputs with
gankit's data functions, as the others call gankit's augmentation: the holes with
`gankit.data.masks.mixed_masks` and their pre-fill with `gankit.data.corrupt.harmonic_fill`,
the low-res inputs with `gankit.data.corrupt.sr_degrade`, the image pool with
`gankit.families.cyclegan.pool_query`; everything else (compositing, the D pairs, losses,
linear lr decay of srgan/cyclegan) is written out by hand.

mnist5k 28x28 (sequence: moving-mnist; image-to-image: their presets' data), batch 64
(sequence: 16 clips; image-to-image: 16), fp32, `--threads` 2.
The variants (gankit, plain, and with --nchw gankit with train.channels_last=false) run in
the same process and alternate: one timed window of `--steps` G steps each (default per family, about 1-2 s), in ABBA order,
`--windows` times after one warm-up window. Reported: the median ms per G step (wall and
this process's CPU time), and gankit/plain = the median of the per-window speed ratios
(plain ms / gankit ms of adjacent windows; >= 1 means gankit is not slower). GFLOP/step
counts convolutions and matmuls (PyTorch's FLOP formulas) of one step.

On a busy machine (load average above the core count) run it with OMP_WAIT_POLICY=PASSIVE:
spinning OpenMP threads that lose their core make a 2-thread step about 15x slower (1.1 s
instead of 70 ms for the dcgan row), which measures the scheduler, not the step.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_families_speed.py --check --nchw
    python benchmarks/bench_families_speed.py --families conditional,infogan --steps 10
    python benchmarks/bench_families_speed.py --families dcgan+diffaug,dcgan+ada,sequence
    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_families_speed.py --check --threads 1 \
        --families pix2pix,srresnet,srgan,cyclegan --windows 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from gankit import config, data
from gankit.augment import ada_augment, diff_augment
from gankit.data.base import SequenceData, to_unit_range
from gankit.data.corrupt import harmonic_fill, sr_degrade
from gankit.data.masks import mixed_masks
from gankit.data.pairs import UnpairedData
from gankit.data.photos import CropData
from gankit.families.cyclegan import pool_query
from gankit.losses.adversarial import d_stats
from gankit.nets import build_net

BS = 64
COMMON = ["train.precision=fp32", "device=cpu"]  # the batch size is each case's (CASES)
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
Step = Callable[[], object]


@dataclass
class Case:
    cfg: dict  # the whole config (see CASES)
    plain: Callable  # (cfg, ds, specs, Rng) -> (nets, step)
    what: str
    steps: int  # default G steps per timed window (about 1-2 s on 2 quiet cores)
    note: str = ""  # what the reader must know about this row (printed under the table)
    check_overrides: tuple[str, ...] = ()  # config overrides for --check only (see its note)


# --------------------------------------------------------------------------- plain loops
# Each builds the nets exactly as gankit's make_state does (seed, then build_net per spec in
# specs order) and returns (nets, step); step() runs one step and returns D's and G's loss
# (detached). Everything else is written by hand. Random draws go through `Rng` only so that
# --check can replay gankit's batch and latents; by default they are plain torch calls.


class Rng:
    """Where a plain loop's randomness comes from: the global RNG and random indices (clips
    and crops: drawn from the global RNG; two domains: random indices into each), or
    (--check) a copy of gankit's latent generator and data sampler. `n` is the batch
    size."""

    def __init__(self, ds, n: int, gen: torch.Generator | None = None, sampler=None) -> None:
        self.ds, self.n, self.gen, self.sampler = ds, n, gen, sampler

    def batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.sampler is not None:
            x, y = self.sampler.next()
        elif isinstance(self.ds, (SequenceData, CropData)):
            x, y = self.ds.sample(self.n, torch.default_generator)
        elif isinstance(self.ds, UnpairedData):  # [A | B]: each domain drawn on its own
            a, b = self.ds.a.x, self.ds.b.x
            x = torch.cat([a[torch.randint(0, len(a), (self.n,))],
                           b[torch.randint(0, len(b), (self.n,))]], 1)
            y = None
        else:
            idx = torch.randint(0, len(self.ds), (self.n,))
            x, y = self.ds.x[idx], (None if self.ds.y is None else self.ds.y[idx])
        return to_unit_range(x), y

    def generator(self) -> torch.Generator:
        """For functions that take a generator (gankit.augment): gankit's stream under
        --check, else the global one."""
        return torch.default_generator if self.gen is None else self.gen

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen)

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.gen)

    def randint(self, k: int, n: int) -> torch.Tensor:
        return torch.randint(k, (n,), generator=self.gen)

    def multinomial(self, p: torch.Tensor, n: int) -> torch.Tensor:
        return torch.multinomial(p, n, replacement=True, generator=self.gen)


def _nets(cfg: config.Config, specs: dict, allow: tuple[str, ...] = ()
          ) -> dict[str, torch.nn.Module]:
    """The nets; refuses settings the calling loop does not implement (`allow`: the ones it
    does, e.g. "reg.r1_gamma", "aug.kind", "model.pack", "optim.lr_decay")."""
    reg, off = cfg.reg, ("r1_gamma", "clip_d", "pl_weight", "d_wd", "g_wd", "d_clip_grad",
                         "g_clip_grad", "ms_weight")
    unsupported = [f"reg.{k}" for k in off if getattr(reg, k, 0) and f"reg.{k}" not in allow]
    for key, on in (("aug.kind", cfg.aug.kind != "none"), ("model.pack", cfg.model.pack > 1)):
        if on and key not in allow:
            unsupported.append(key)
    if cfg.train.precision != "fp32":
        unsupported.append("train.precision")
    if cfg.optim.lr_decay != "none" and "optim.lr_decay" not in allow:
        unsupported.append("optim.lr_decay")
    if unsupported:
        raise SystemExit(f"the plain loops do not implement {', '.join(unsupported)}")
    torch.manual_seed(cfg.seed)
    return {k: build_net(s) for k, s in specs.items()}


def _opts(cfg, g_params, d_params):
    o = cfg.optim
    return (torch.optim.Adam(g_params, lr=o.g_lr, betas=tuple(o.g_betas)),
            torch.optim.Adam(d_params, lr=o.d_lr, betas=tuple(o.d_betas)))


def _lr_schedule(cfg, opt_g, opt_d) -> Callable[[], None]:
    """optim.lr_decay by hand: call it at the start of every step; under linear decay it sets
    lr = base * max(0, 1 - steps done / train.steps) on both optimisers."""
    done = 0

    def set_lrs() -> None:
        nonlocal done
        if cfg.optim.lr_decay == "linear":
            frac = max(0.0, 1.0 - done / max(cfg.train.steps, 1))
            for opt, base in ((opt_g, cfg.optim.g_lr), (opt_d, cfg.optim.d_lr)):
                for group in opt.param_groups:
                    group["lr"] = base * frac
        done += 1

    return set_lrs


def _class_freq(ds) -> torch.Tensor:
    counts = torch.bincount(ds.y).double()
    return counts / counts.sum()


def lazy_r1(out: torch.Tensor, x: torch.Tensor, gamma: float, every: int) -> torch.Tensor:
    """R1 on the real inputs x (which require grad), weighted gamma * every as lazy R1 is
    (StyleGAN2): gamma / 2 * E|grad_x D(x)|^2 * every."""
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return 0.5 * gamma * every * grad.square().flatten(1).sum(1).mean()


def plain_unconditional(cfg, ds, specs, r: Rng):
    """ns (BCE with logits) or hinge, n_critic 1: the pytorch/examples dcgan loop; with
    reg.r1_gamma, lazy R1 on the real batch every r1_every D updates, weight gamma * r1_every
    (StyleGAN2)."""
    n = _nets(cfg, specs, allow=("reg.r1_gamma",))
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    nz, hinge, bs = specs["g"]["kwargs"]["z_dim"], cfg.loss == "hinge", cfg.train.batch_size
    gamma, every, updates = cfg.reg.r1_gamma, cfg.reg.r1_every, 0
    assert cfg.loss in ("ns", "hinge") and cfg.optim.n_critic == 1

    def step():
        nonlocal updates
        real, _ = r.batch()
        fake = g(r.randn(bs, nz))
        due = gamma > 0 and updates % every == 0
        updates += 1
        real.requires_grad_(due)
        d.zero_grad()
        out_r, out_f = d(real), d(fake.detach())
        if hinge:
            loss_d = F.relu(1 - out_r).mean() + F.relu(1 + out_f).mean()
        else:
            loss_d = F.softplus(-out_r).mean() + F.softplus(out_f).mean()
        if due:
            loss_d = loss_d + lazy_r1(out_r, real, gamma, every)
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        out = d(fake)
        loss_g = -out.mean() if hinge else F.softplus(-out).mean()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_projection(cfg, ds, specs, r: Rng):
    """cGAN: cBN G(z, y), projection D(x, y), hinge; fake labels drawn from the data's
    class frequencies."""
    n = _nets(cfg, specs)
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    nz, freq, bs = specs["g"]["kwargs"]["z_dim"], _class_freq(ds), cfg.train.batch_size
    assert cfg.loss == "hinge"

    def step():
        real, y = r.batch()
        z = r.randn(bs, nz)
        yf = r.multinomial(freq, bs)
        fake = g(z, yf)
        d.zero_grad()
        loss_d = F.relu(1 - d(real, y)).mean() + F.relu(1 + d(fake.detach(), yf)).mean()
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        loss_g = -d(fake, yf).mean()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_cgan(cfg, ds, specs, r: Rng):
    """cgan-mnist: class-embedding G(z, y), projection D(x, y), ns; lazy R1 on the real batch
    (weight gamma * r1_every every r1_every D updates); MSGAN's mode-seeking term in G's loss
    over the pairs (row i, row i + N/2), whose labels are drawn once for both halves."""
    n = _nets(cfg, specs, allow=("reg.r1_gamma", "reg.ms_weight"))
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    nz, freq, bs = specs["g"]["kwargs"]["z_dim"], _class_freq(ds), cfg.train.batch_size
    gamma, every, ms, updates = cfg.reg.r1_gamma, cfg.reg.r1_every, cfg.reg.ms_weight, 0
    h = bs // 2
    assert cfg.loss == "ns" and cfg.optim.n_critic == 1 and ms > 0

    def step():
        nonlocal updates
        real, y = r.batch()
        z = r.randn(bs, nz)
        half = r.multinomial(freq, bs - h)
        yf = torch.cat([half, half[:h]])
        fake = g(z, yf)
        due = gamma > 0 and updates % every == 0
        updates += 1
        real.requires_grad_(due)
        d.zero_grad()
        out_r, out_f = d(real, y), d(fake.detach(), yf)
        loss_d = F.softplus(-out_r).mean() + F.softplus(out_f).mean()
        if due:
            loss_d = loss_d + lazy_r1(out_r, real, gamma, every)
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        ratio = (fake[:h] - fake[-h:]).abs().mean() / (z[:h] - z[-h:]).abs().mean()
        loss_g = F.softplus(-d(fake, yf)).mean() + ms / (ratio + 1e-5)
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_acgan(cfg, ds, specs, r: Rng):
    """ACGAN: cBN G(z, y), D(x) -> [adv logit | class logits], ns + class cross-entropy on
    real and fake in D, on fake in G."""
    n = _nets(cfg, specs)
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    nz, freq, w = specs["g"]["kwargs"]["z_dim"], _class_freq(ds), cfg.reg.cls_weight
    bs = cfg.train.batch_size
    assert cfg.loss == "ns"

    def step():
        real, y = r.batch()
        z = r.randn(bs, nz)
        yf = r.multinomial(freq, bs)
        fake = g(z, yf)
        d.zero_grad()
        out_r, out_f = d(real), d(fake.detach())
        loss_d = (F.softplus(-out_r[:, 0]).mean() + F.softplus(out_f[:, 0]).mean()
                  + w * (F.cross_entropy(out_r[:, 1:], y) + F.cross_entropy(out_f[:, 1:], yf)))
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        out = d(fake)
        loss_g = F.softplus(-out[:, 0]).mean() + w * F.cross_entropy(out[:, 1:], yf)
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_infogan(cfg, ds, specs, r: Rng):
    """InfoGAN: z = [noise | one-hot cat codes | cont codes ~ U(-1, 1)]; Q = D's extra
    outputs; info term (CE + unit-variance Gaussian NLL) in the D and the G phase."""
    n = _nets(cfg, specs)
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    m = cfg.model
    cats, n_cont, lam = list(m.cat_codes), m.cont_codes, cfg.reg.info_weight
    bs = cfg.train.batch_size
    assert cfg.loss == "ns"

    def info(out: torch.Tensor, idx: list[torch.Tensor], cont: torch.Tensor) -> torch.Tensor:
        loss, j = 0.0, 1
        for i, k in zip(idx, cats):
            loss = loss + F.cross_entropy(out[:, j:j + k], i)
            j += k
        if n_cont:
            nll = 0.5 * (cont - out[:, j:j + n_cont]).square() + HALF_LOG_2PI
            loss = loss + nll.sum(1).mean()
        return lam * loss

    def step():
        real, _ = r.batch()
        noise = r.randn(bs, m.z_dim)
        idx = [r.randint(k, bs) for k in cats]
        cont = r.rand(bs, n_cont) * 2 - 1
        z = torch.cat([noise, *[F.one_hot(i, k).float() for i, k in zip(idx, cats)], cont], 1)
        fake = g(z)
        d.zero_grad()
        out_r, out_f = d(real), d(fake.detach())
        loss_d = (F.softplus(-out_r[:, 0]).mean() + F.softplus(out_f[:, 0]).mean()
                  + info(out_f, idx, cont))
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        out = d(fake)
        loss_g = F.softplus(-out[:, 0]).mean() + info(out, idx, cont)
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_bigan(cfg, ds, specs, r: Rng):
    """BiGAN: D(x, z) on (x, E(x)) vs (G(z), z); G and E stepped by one Adam with the labels
    swapped (ns)."""
    n = _nets(cfg, specs)
    g, d, e = n["g"], n["d"], n["e"]
    opt_ge, opt_d = _opts(cfg, [*g.parameters(), *e.parameters()], d.parameters())
    nz, cycle, bs = specs["g"]["kwargs"]["z_dim"], cfg.reg.cycle_weight, cfg.train.batch_size
    assert cfg.loss == "ns"

    def step():
        real, _ = r.batch()
        z = r.randn(bs, nz)
        fake, enc = g(z), e(real)
        d.zero_grad()
        loss_d = (F.softplus(-d(real, enc.detach())).mean()
                  + F.softplus(d(fake.detach(), z)).mean())
        loss_d.backward()
        opt_d.step()
        opt_ge.zero_grad()
        loss_ge = F.softplus(-d(fake, z)).mean() + F.softplus(d(real, enc)).mean()
        if cycle > 0:  # ALICE's cycle terms, when reg.cycle_weight is set
            loss_ge = loss_ge + cycle * ((g(enc) - real).square().mean()
                                         + (e(fake) - z).square().mean())
        loss_ge.backward()
        opt_ge.step()
        return loss_d.detach(), loss_ge.detach()

    return n, step


def plain_wgan_gp(cfg, ds, specs, r: Rng):
    """WGAN-GP: n_critic critic updates (-D(x) + D(G(z)) + lambda GP on interpolates), then
    one G update (-D(G(z))) on the last critic update's fake batch."""
    n = _nets(cfg, specs)
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    nz, lam, n_critic = specs["g"]["kwargs"]["z_dim"], cfg.reg.gp_lambda, cfg.optim.n_critic
    bs = cfg.train.batch_size
    assert cfg.loss == "wgan" and lam > 0

    def step():
        for i in range(n_critic):
            real, _ = r.batch()
            z = r.randn(bs, nz)
            with torch.set_grad_enabled(i == n_critic - 1):
                fake = g(z)
            d.zero_grad()
            alpha = r.rand(bs).view(-1, 1, 1, 1)
            x_hat = (real + alpha * (fake.detach() - real)).requires_grad_(True)
            loss_d = -d(real).mean() + d(fake.detach()).mean()
            (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
            loss_d = loss_d + lam * (grad.flatten(1).norm(dim=1) - 1).square().mean()
            loss_d.backward()
            opt_d.step()
        g.zero_grad()
        loss_g = -d(fake).mean()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_diffaug(cfg, ds, specs, r: Rng):
    """The dcgan loop with DiffAugment (Zhao et al. 2020): every image D sees, real and fake,
    in the D and the G update, goes through gankit.augment.diff_augment first."""
    n = _nets(cfg, specs, allow=("aug.kind",))
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    nz, bs = specs["g"]["kwargs"]["z_dim"], cfg.train.batch_size
    policy, gen = tuple(cfg.aug.policy.split(",")), r.generator()
    assert cfg.loss == "ns" and cfg.optim.n_critic == 1 and cfg.aug.kind == "diffaug"

    def step():
        real, _ = r.batch()
        fake = g(r.randn(bs, nz))
        d.zero_grad()
        out_r = d(diff_augment(real, policy, gen))
        out_f = d(diff_augment(fake.detach(), policy, gen))
        loss_d = F.softplus(-out_r).mean() + F.softplus(out_f).mean()
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        loss_g = F.softplus(-d(diff_augment(fake, policy, gen))).mean()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_ada(cfg, ds, specs, r: Rng):
    """The dcgan loop with ADA's augmentation (Karras et al. 2020) at a fixed p: every image
    D sees, real and fake, in the D and the G update, goes through gankit.augment.ada_augment
    first. No p controller (the case sets aug.target=0, so gankit's p stays fixed too)."""
    n = _nets(cfg, specs, allow=("aug.kind",))
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    nz, bs = specs["g"]["kwargs"]["z_dim"], cfg.train.batch_size
    p, pipe, gen = cfg.aug.p, cfg.aug.pipe, r.generator()
    assert cfg.loss == "ns" and cfg.optim.n_critic == 1 and cfg.aug.kind == "ada"
    assert cfg.aug.target == 0, "the plain loop keeps p fixed: set aug.target=0"

    def step():
        real, _ = r.batch()
        fake = g(r.randn(bs, nz))
        d.zero_grad()
        out_r = d(ada_augment(real, p, pipe, gen))
        out_f = d(ada_augment(fake.detach(), p, pipe, gen))
        loss_d = F.softplus(-out_r).mean() + F.softplus(out_f).mean()
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        loss_g = F.softplus(-d(ada_augment(fake, p, pipe, gen))).mean()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_pacgan(cfg, ds, specs, r: Rng):
    """PacGAN (Lin et al. 2018): the dcgan loop with D (built for pack x C input channels)
    judging packs of `pack` samples joined on the channel axis, real and fake alike."""
    n = _nets(cfg, specs, allow=("model.pack",))
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    nz, bs, m = specs["g"]["kwargs"]["z_dim"], cfg.train.batch_size, cfg.model.pack
    assert cfg.loss == "ns" and cfg.optim.n_critic == 1

    def pack(x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N / m, m * C, H, W)
        return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])

    def step():
        real, _ = r.batch()
        fake = g(r.randn(bs, nz))
        d.zero_grad()
        out_r, out_f = d(pack(real)), d(pack(fake.detach()))
        loss_d = F.softplus(-out_r).mean() + F.softplus(out_f).mean()
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        loss_g = F.softplus(-d(pack(fake))).mean()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_sequence(cfg, ds, specs, r: Rng):
    """MoCoGAN: G(z) -> clips (N, T, C, H, W); image D on model.d_frames random frames per
    clip (real and fake each get their own frame indices, drawn per step; G's update uses the
    same fake frames), video D on the clips; ns on both, G's loss the sum of both; lazy R1 on
    the real frames (image D) and the real clips (video D), every r1_every steps with weight
    gamma * r1_every; one Adam over both Ds."""
    n = _nets(cfg, specs, allow=("reg.r1_gamma",))
    g, d, dv = n["g"], n["d"], n["dv"]
    opt_g, opt_d = _opts(cfg, g.parameters(), [*d.parameters(), *dv.parameters()])
    kw, bs, t = specs["g"]["kwargs"], cfg.train.batch_size, cfg.data.frames
    nz = kw["content_dim"] + kw["motion_dim"] * (t + 1)  # [content | h_0 | eps_1 .. eps_T]
    gamma, every, k = cfg.reg.r1_gamma, cfg.reg.r1_every, cfg.model.d_frames
    rows, updates = torch.arange(bs).repeat_interleave(k), 0  # clip of each picked frame
    assert cfg.loss == "ns" and cfg.optim.n_critic == 1

    def step():
        nonlocal updates
        real, _ = r.batch()
        z = r.randn(bs, nz)
        i_real, i_fake = r.randint(t, bs * k), r.randint(t, bs * k)  # (bs, k), clip by clip
        fake = g(z)
        due = gamma > 0 and updates % every == 0
        updates += 1
        real_frames = real[rows, i_real].requires_grad_(due)
        real.requires_grad_(due)
        d.zero_grad()
        dv.zero_grad()
        out_r, out_f = d(real_frames), d(fake[rows, i_fake].detach())
        vid_r, vid_f = dv(real), dv(fake.detach())
        loss_d = (F.softplus(-out_r).mean() + F.softplus(out_f).mean()
                  + F.softplus(-vid_r).mean() + F.softplus(vid_f).mean())
        if due:
            loss_d = (loss_d + lazy_r1(out_r, real_frames, gamma, every)
                      + lazy_r1(vid_r, real, gamma, every))
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        loss_g = F.softplus(-d(fake[rows, i_fake])).mean() + F.softplus(-dv(fake)).mean()
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_pix2pix(cfg, ds, specs, r: Rng):
    """pix2pix inpainting: holes m (1 = hole) from gankit.data.masks.mixed_masks; U-Net G on
    [x (1 - m) | m], or with model.prefill on [f | m], f = gankit.data.corrupt.harmonic_fill
    (x, m); G's output (with prefill: f + output, clamped to [-1, 1]) in the holes only, x's
    known pixels exactly; PatchGAN D on [G's input | image], real x against the output; ns
    on every patch logit; G: adv_weight x ns + l1_weight x L1(output, x)."""
    n = _nets(cfg, specs)
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    bs, kind, gen, reg = cfg.train.batch_size, cfg.data.masks, r.generator(), cfg.reg
    assert cfg.loss == "ns" and cfg.optim.n_critic == 1 and cfg.data.pairs == "inpaint"
    assert cfg.train.pretrain_steps == 0 and reg.adv_weight > 0 and reg.content == "l1"

    prefill = cfg.model.prefill

    def step():
        x, _ = r.batch()
        m = mixed_masks(bs, x.shape[2], x.shape[3], gen, kind)
        base = harmonic_fill(x, m) if prefill else x * (1 - m)
        inp = torch.cat([base, m], 1)
        fill = (base + g(inp)).clamp(-1, 1) if prefill else g(inp)
        out = torch.where(m == 0, x, fill)
        d.zero_grad()
        out_r, out_f = d(torch.cat([inp, x], 1)), d(torch.cat([inp, out.detach()], 1))
        loss_d = F.softplus(-out_r).mean() + F.softplus(out_f).mean()
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        loss_g = (reg.adv_weight * F.softplus(-d(torch.cat([inp, out], 1))).mean()
                  + reg.l1_weight * F.l1_loss(out, x))
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_srgan(cfg, ds, specs, r: Rng):
    """SRGAN: low-res input = gankit.data.corrupt.sr_degrade(HR crop); SRResNet G; PatchGAN D
    (SN) on HR images, ns; G: l1_weight x content + adv_weight x ns + fm_weight x the sum over
    D's feature maps of L1(features(output), features(HR) under no_grad), in superres.py's
    order of D calls (D(output), features(HR), features(output): SN's power iterations
    follow the calls); linear lr decay as gankit's."""
    n = _nets(cfg, specs, allow=("optim.lr_decay",))
    g, d = n["g"], n["d"]
    opt_g, opt_d = _opts(cfg, g.parameters(), d.parameters())
    set_lrs = _lr_schedule(cfg, opt_g, opt_d)
    s, dc, reg, gen = cfg.model.scale, cfg.data, cfg.reg, r.generator()
    content = F.mse_loss if reg.content == "mse" else F.l1_loss
    assert cfg.loss == "ns" and cfg.optim.n_critic == 1 and reg.adv_weight > 0
    assert cfg.train.pretrain_steps == 0, "srgan times the adversarial step: pretrain_steps=0"

    def step():
        set_lrs()
        hr, _ = r.batch()
        lr = sr_degrade(hr, s, gen, dc.degrade_blur, dc.degrade_noise)
        out = g(lr)
        d.zero_grad()
        loss_d = F.softplus(-d(hr)).mean() + F.softplus(d(out.detach())).mean()
        loss_d.backward()
        opt_d.step()
        g.zero_grad()
        loss_g = (reg.l1_weight * content(out, hr)
                  + reg.adv_weight * F.softplus(-d(out)).mean())
        if reg.fm_weight > 0:
            with torch.no_grad():
                real = d.features(hr)
            loss_g = loss_g + reg.fm_weight * sum(
                F.l1_loss(f, t) for f, t in zip(d.features(out), real))
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


def plain_srresnet(cfg, ds, specs, r: Rng):
    """SRGAN's content pre-training (SRResNet): G on sr_degrade(HR crop), l1_weight x L1 to
    the HR crop, Adam on G; D is built (same init order as gankit) and idles; linear lr
    decay as gankit's."""
    n = _nets(cfg, specs, allow=("optim.lr_decay",))
    g = n["g"]
    opt_g, opt_d = _opts(cfg, g.parameters(), n["d"].parameters())
    set_lrs = _lr_schedule(cfg, opt_g, opt_d)
    s, dc, reg, gen = cfg.model.scale, cfg.data, cfg.reg, r.generator()
    content = F.mse_loss if reg.content == "mse" else F.l1_loss
    assert cfg.train.pretrain_steps >= 10**6, "srresnet: every timed step must be content-only"

    def step():
        set_lrs()
        hr, _ = r.batch()
        out = g(sr_degrade(hr, s, gen, dc.degrade_blur, dc.degrade_noise))
        g.zero_grad()
        loss_g = reg.l1_weight * content(out, hr)
        loss_g.backward()
        opt_g.step()
        return torch.zeros(()), loss_g.detach()

    return n, step


def plain_cyclegan(cfg, ds, specs, r: Rng):
    """CycleGAN: batch [A | B]; g: A -> B, g_ba: B -> A; each D (d on B, d_a on A) on its
    real images against fakes from an image pool (gankit.families.cyclegan.pool_query, the
    CycleGAN code's ImagePool), lsgan; G (both Gs under one Adam): lsgan adversarial of both
    directions + cycle_weight x (|g_ba(g(a)) - a|_1 + |g(g_ba(b)) - b|_1) + identity_weight x
    cycle_weight x (|g(b) - b|_1 + |g_ba(a) - a|_1); linear lr decay as gankit's."""
    n = _nets(cfg, specs, allow=("optim.lr_decay",))
    g, g_ba, d, d_a = n["g"], n["g_ba"], n["d"], n["d_a"]
    opt_g, opt_d = _opts(cfg, [*g.parameters(), *g_ba.parameters()],
                         [*d.parameters(), *d_a.parameters()])
    set_lrs = _lr_schedule(cfg, opt_g, opt_d)
    (ca, cb), reg, gen, pools = ds.parts, cfg.reg, r.generator(), {}
    cyc, idt, adv = reg.cycle_weight, reg.identity_weight * reg.cycle_weight, reg.adv_weight
    assert cfg.loss == "lsgan" and cfg.optim.n_critic == 1 and cyc > 0 and idt > 0
    assert ca == cb, "identity terms need A and B of the same channels"

    def step():
        set_lrs()
        x, _ = r.batch()
        a, b = x[:, :ca], x[:, ca:ca + cb]
        fake_b, fake_a = g(a), g_ba(b)
        pooled_b = pool_query(pools, "b", fake_b.detach(), reg.pool_size, gen)
        pooled_a = pool_query(pools, "a", fake_a.detach(), reg.pool_size, gen)
        opt_d.zero_grad()
        loss_d = (0.5 * (d(b) - 1).square().mean() + 0.5 * d(pooled_b).square().mean()
                  + 0.5 * (d_a(a) - 1).square().mean() + 0.5 * d_a(pooled_a).square().mean())
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = (adv * (0.5 * (d(fake_b) - 1).square().mean()
                         + 0.5 * (d_a(fake_a) - 1).square().mean())
                  + cyc * (F.l1_loss(g_ba(fake_b), a) + F.l1_loss(g(fake_a), b))
                  + idt * (F.l1_loss(g(b), b) + F.l1_loss(g_ba(a), a)))
        loss_g.backward()
        opt_g.step()
        return loss_d.detach(), loss_g.detach()

    return n, step


# Every case is spelled out here, not taken from a preset, so that a preset's later tuning
# does not change what is measured. Common to all: mnist5k 28x28, seed 0, batch 64, fp32,
# EMA beta 0.99 (with the default ramp-up), Adam.
ADAM = {"g_lr": 2e-4, "d_lr": 2e-4, "g_betas": [0.5, 0.999], "d_betas": [0.5, 0.999]}
DC32 = {"arch": "dcgan", "g_width": 32, "d_width": 32}


DCGAN_NS = {**DC32, "z_dim": 100, "d_norm": "batch"}  # the dcgan case's model


def _cfg(loss: str, model: dict, reg: dict | None = None, optim: dict | None = None,
         aug: dict | None = None, data: dict | None = None, batch: int = BS) -> dict:
    return {"seed": 0, "loss": loss, "data": data or {"name": "mnist5k"}, "model": model,
            "reg": reg or {}, "aug": aug or {}, "optim": {**ADAM, **(optim or {})},
            "train": {"batch_size": batch, "ema_beta": 0.99, "precision": "fp32"}}


# The image-to-image cases: their presets' settings as of this writing (the train.* keys
# that only pace logs, samples and checkpoints left out), batch 16. srgan/srresnet override
# train.pretrain_steps to time one phase each.
INPAINT_PHOTOS = {  # presets/inpaint-photos.yaml
    "seed": 0, "loss": "ns",
    "data": {"name": "photos", "resolution": 64, "pairs": "inpaint", "masks": "mixed"},
    "model": {"family": "image2image", "g_width": 32, "d_width": 32, "d_norm": "batch",
              "dropout": 0.5, "prefill": True},
    "reg": {"l1_weight": 100.0, "adv_weight": 1.0},
    "optim": {"g_lr": 2e-4, "d_lr": 2e-4},
    "train": {"steps": 4000, "batch_size": 16, "ema_beta": 0.999, "precision": "fp32"}}
SRGAN_PHOTOS = {  # presets/srgan-photos.yaml
    "seed": 0, "loss": "ns", "data": {"name": "photos", "resolution": 96},
    "model": {"family": "superres", "scale": 4, "g_width": 32, "d_width": 32, "blocks": 16,
              "upsampler": "espcn", "d_norm": "none", "d_sn": True},
    "reg": {"l1_weight": 1.0, "content": "l1", "adv_weight": 0.001, "fm_weight": 1.0},
    "optim": {"g_lr": 5e-4, "d_lr": 2e-4, "g_betas": [0.9, 0.999], "d_betas": [0.9, 0.999],
              "lr_decay": "linear"},
    "train": {"steps": 3700, "pretrain_steps": 3400, "batch_size": 16, "ema_beta": 0.999,
              "precision": "fp32"}}
CYCLEGAN_DIGITS = {  # presets/cyclegan-digits.yaml (timed before B became digits-framed: the
    "seed": 0, "loss": "lsgan",  # same 1x16x16 batches, so the same step)
    "data": {"name": "mnist5k", "name_b": "digits-framed", "resolution": 16, "channels": 1},
    "model": {"family": "cyclegan", "g_width": 16, "d_width": 32, "blocks": 4,
              "d_norm": "instance"},
    "reg": {"cycle_weight": 10.0, "identity_weight": 0.5, "pool_size": 50},
    "optim": {"g_lr": 2e-4, "d_lr": 2e-4, "lr_decay": "linear"},
    "train": {"steps": 3000, "batch_size": 16, "ema_beta": 0.999, "precision": "fp32"}}


def _pretrain(cfg: dict, steps: int) -> dict:
    return {**cfg, "train": {**cfg["train"], "pretrain_steps": steps}}


# presets/mocogan-mnist.yaml's nets and recipe before model.motion=translate (the preset now
# also draws with G width 32, 32 clips a batch and d_frames 1; the translate case keeps these)
MOCOGAN = {"family": "sequence", "arch": "dcgan", "z_dim": 32, "motion_dim": 10, "g_width": 16,
           "d_width": 16, "d_norm": "none", "d_frames": 4, "g_upsample": "resize"}
MOCOGAN_REST = ({"r1_gamma": 1.0, "r1_every": 4},
                {"g_lr": 1e-3, "d_lr": 1e-3, "g_betas": [0.0, 0.99], "d_betas": [0.0, 0.99]})
MOVING = {"name": "moving-mnist", "frames": 16, "resolution": 32}

CASES: dict[str, Case] = {
    # bench_train.py's issue-2 dcgan-mnist model (BN in D, no R1), 32 channels instead of 64
    "dcgan": Case(_cfg("ns", DCGAN_NS), plain_unconditional,
                  "unconditional DCGAN, BN in D, ns", 20),
    "conditional": Case(_cfg("hinge", {**DC32, "family": "conditional", "z_dim": 64,
                                       "d_norm": "none", "g_cond": "cbn",
                                       "d_cond": "projection", "d_sn": True}),
                        plain_projection, "cBN G, projection D with SN, hinge", 20),
    # presets/cgan-mnist.yaml as of this writing (issue 8's recipe)
    "cgan-mnist": Case(_cfg("ns", {**DC32, "family": "conditional", "z_dim": 64,
                                   "d_norm": "none", "g_upsample": "resize", "g_cond": "embed",
                                   "d_cond": "projection"},
                            {"ms_weight": 0.02, "r1_gamma": 1.0, "r1_every": 4},
                            {"g_lr": 1e-3, "d_lr": 1e-3, "g_betas": [0.0, 0.99],
                             "d_betas": [0.0, 0.99]}),
                       plain_cgan, "the cgan-mnist preset: embedding G (resize), projection "
                       "D without norm + lazy R1, ns, mode-seeking 0.02", 20,
                       "both do lazy R1 on the same steps (--steps a multiple of 4 makes every "
                       "window hold the same number)"),
    "acgan": Case(_cfg("ns", {**DC32, "family": "conditional", "z_dim": 64, "d_norm": "batch",
                              "g_cond": "cbn", "d_cond": "acgan"}, {"cls_weight": 1.0}),
                  plain_acgan, "cBN G, ACGAN head on D, ns + class CE", 20),
    "infogan": Case(_cfg("ns", {**DC32, "family": "infogan", "z_dim": 62, "cat_codes": [10],
                                "cont_codes": 2, "d_norm": "batch"}, {"info_weight": 1.0},
                         {"g_lr": 1e-3}),
                    plain_infogan, "cat [10] + cont 2, Q = D's extra outputs, ns", 20),
    "bigan": Case(_cfg("ns", {**DC32, "family": "bigan", "z_dim": 32, "d_norm": "batch"},
                       {"cycle_weight": 0.0}),
                  plain_bigan, "G + E under one Adam, D on (x, z), ns", 15),
    "sngan": Case(_cfg("hinge", {"arch": "resnet", "z_dim": 64, "g_width": 16, "d_width": 16,
                                 "d_sn": True},
                       optim={"g_betas": [0.0, 0.9], "d_betas": [0.0, 0.9]}),
                  plain_unconditional, "ResNet G/D 16 ch, SN D, hinge", 6),
    "wgan-gp": Case(_cfg("wgan", {**DC32, "z_dim": 64, "d_norm": "none"}, {"gp_lambda": 10.0},
                         {"g_lr": 1e-4, "d_lr": 1e-4, "g_betas": [0.5, 0.9],
                          "d_betas": [0.5, 0.9], "n_critic": 5}),
                    plain_wgan_gp, "DCGAN, no norm in D, wgan + GP 10, n_critic 5", 3),
    # presets/dcgan-mnist.yaml (the demo) as of this writing: resize-upsampling G, no norm in
    # D with lazy R1 (gamma 1 every 4), Adam 1e-3 with betas (0, 0.99)
    "dcgan-mnist": Case(_cfg("ns", {**DC32, "z_dim": 100, "d_norm": "none",
                                    "g_upsample": "resize"},
                             {"r1_gamma": 1.0, "r1_every": 4},
                             {"g_lr": 1e-3, "d_lr": 1e-3, "g_betas": [0.0, 0.99],
                              "d_betas": [0.0, 0.99]}),
                        plain_unconditional, "the demo preset: resize G, no-norm D + lazy R1, "
                        "ns", 20, "both do lazy R1 on the same steps (--steps a multiple of 4 "
                        "makes every window hold the same number)"),
    # The training paths that compose with every family, on the dcgan case's model
    "dcgan+diffaug": Case(_cfg("ns", DCGAN_NS, aug={"kind": "diffaug",
                                                    "policy": "color,translation,cutout"}),
                          plain_diffaug, "dcgan + DiffAugment color,translation,cutout", 15),
    "dcgan+ada": Case(_cfg("ns", DCGAN_NS, aug={"kind": "ada", "pipe": "bgc", "p": 0.3,
                                                "target": 0.0}),
                      plain_ada, "dcgan + ADA bgc at a fixed p = 0.3", 15,
                      "ADA's p is fixed at 0.3 (aug.target=0) so that both sides augment with "
                      "the same p; gankit still gathers ADA's sign statistic of D(real) every "
                      "D update (a few scalar ops); the plain loop has no p controller"),
    "pacgan2": Case(_cfg("ns", {**DCGAN_NS, "pack": 2}), plain_pacgan,
                    "dcgan + PacGAN: D on packs of 2 samples (2 x C input channels)", 30),
    "mbstd4": Case(_cfg("ns", {**DCGAN_NS, "mbstd": 4}), plain_unconditional,
                   "dcgan + minibatch-stddev layer (group 4) in D", 20,
                   "the plain loop is the dcgan one: only D's class differs (mbstd=4 in both)"),
    # mocogan-mnist's model, data and batch before the translate motion (16 clips x 16 frames)
    "sequence": Case(_cfg("ns", MOCOGAN, *MOCOGAN_REST, data=MOVING, batch=16),
                     plain_sequence, "MoCoGAN: GRU + resize-upsampling DCGAN frame G, image D "
                     "on 4 frames per clip, 3-D conv video D, ns, lazy R1 1 every 4 on both "
                     "Ds, Adam 1e-3 (0, 0.99)", 8,
                     "moving-mnist 16 clips x 16 frames of 32x32 per batch (the preset's); "
                     "gankit keeps clips in NCHW (channels_last is for images only), so both "
                     "sides run NCHW; both do lazy R1 on the same steps, so adjacent windows hold "
                     "the same number of R1 steps (--steps a multiple of 4 makes every window "
                     "hold the same number)"),
    "sequence+translate": Case(_cfg("ns", {**MOCOGAN, "g_width": 32, "motion": "translate",
                                           "sprite_res": 16, "sprite_snap": True},
                                    *MOCOGAN_REST, data=MOVING, batch=16),
                               plain_sequence, "the sequence case with model.motion=translate, "
                               "16 px sprites at whole pixels, G width 32: the frame G draws "
                               "once per clip from the content, the GRU's motion latents place "
                               "it in each frame", 8,
                               "as the sequence case; the plain loop calls the same G module"),
    # The image-to-image families, on their presets (batch 16)
    "pix2pix": Case(INPAINT_PHOTOS, plain_pix2pix, "inpaint-photos: U-Net G on 64 px crops "
                    "with mixed holes pre-filled, BN PatchGAN D on (input, output), ns + L1 x "
                    "100", 10,
                    "holes by gankit.data.masks.mixed_masks and their pre-fill by gankit.data."
                    "corrupt.harmonic_fill on both; --check runs gankit NCHW "
                    "(train.channels_last=false): dropout draws its mask from torch's global "
                    "RNG in memory order, so the same stream drops other units of a "
                    "channels_last tensor (with model.dropout=0 channels_last matches too)",
                    ("train.channels_last=false",)),
    "srresnet": Case(_pretrain(SRGAN_PHOTOS, 10**9), plain_srresnet,
                     "srgan-photos x4, content pre-training: SRResNet G, L1 only", 6,
                     "train.pretrain_steps=1e9: every step is a content-only G step (D idles); "
                     "low-res inputs by gankit.data.corrupt.sr_degrade on both; linear lr decay "
                     "over train.steps=2100 on both"),
    "srgan": Case(_pretrain(SRGAN_PHOTOS, 0), plain_srgan,
                  "srgan-photos x4, adversarial: L1 + 1e-3 ns + D feature matching, SN D", 4,
                  "train.pretrain_steps=0: every step is adversarial; low-res inputs by "
                  "gankit.data.corrupt.sr_degrade on both; linear lr decay on both"),
    "cyclegan": Case(CYCLEGAN_DIGITS, plain_cyclegan, "cyclegan-digits: mnist5k <-> digits-framed 16 "
                     "px, 2 ResNet Gs + 2 IN PatchGANs, lsgan, pool 50, cycle 10, idt 0.5", 20,
                     "image pool by gankit.families.cyclegan.pool_query on both (a Python loop "
                     "over the batch); linear lr decay over train.steps=3000 on both"),
}
ALIASES = {"unconditional": "dcgan", "projection": "conditional", "wgangp": "wgan-gp",
           "diffaug": "dcgan+diffaug", "ada": "dcgan+ada", "pacgan": "pacgan2",
           "mbstd": "mbstd4", "mocogan": "sequence", "image2image": "pix2pix",
           "superres": "srgan"}


# --------------------------------------------------------------------------- gankit


def gankit_setup(cfg: config.Config, ds):
    """gankit's state and step context, as the training loop builds them; (state, step)."""
    from gankit.train.distributed import DistInfo
    from gankit.train.state import state_for
    from gankit.train.step import StepContext, train_step

    st, family = state_for(cfg, ds, DistInfo())
    ctx = StepContext.from_config(cfg, family, torch.device("cpu"))
    return st, (lambda: train_step(st, ctx))


class _Flops(TorchDispatchMode):
    """FLOPs of the aten ops that PyTorch's FlopCounterMode knows (convolutions, matmuls),
    counted without its module hooks, which refuse a double backward (gradient penalty)."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def flops_of(step: Step) -> float:
    """FLOPs of one step (which it runs)."""
    with _Flops() as counter:
        step()
    return float(counter.total)


def check_case(name: str, cfg: config.Config, ds) -> dict:
    """Same nets, same losses: the plain loop's initial weights equal gankit's, and one step
    of each on the same batch and latents (the plain loop replays gankit's sampler and latent
    generator) gives the same D and G losses."""
    from gankit.data import make_sampler

    st, step = gankit_setup(cfg, ds)
    gen = torch.Generator()
    gen.set_state(st.z_gen.get_state())
    sampler = make_sampler(ds, cfg.train.batch_size, cfg.seed)
    sampler.load_state_dict(st.sampler.state_dict())
    nets, plain = CASES[name].plain(cfg, ds, st.specs,
                                    Rng(ds, cfg.train.batch_size, gen, sampler))
    weights = max((a - b).abs().max().item() for k in nets
                  for a, b in zip(nets[k].state_dict().values(), st.nets[k].state_dict().values()))
    global_rng = torch.get_rng_state()  # dropout (pix2pix's U-Net) draws from it
    terms = step()
    torch.set_rng_state(global_rng)
    loss_d, loss_g = plain()
    terms.pop("aug_p", None)  # ADA's p: logged, not a loss
    stats = set(d_stats(torch.zeros(2), torch.zeros(2), None))  # D's health statistics: logged,
    terms = {k: v for k, v in terms.items()  # not losses (d_acc_real, dv_logit_fake, ...)
             if k.partition("_")[2] not in stats}
    # dv_: sequence's video D; da_: cyclegan's D on domain A
    d_side = [k for k in terms if k.startswith(("d_", "dv_", "da_"))]
    d_gk = float(sum(terms[k] for k in d_side))  # 0 when D idles (content pre-training)
    g_gk = float(sum(v for k, v in terms.items() if k not in d_side))
    res = {"family": name, "initial_weights_max_abs_diff": weights,
           "d_loss": [d_gk, loss_d.item()], "g_loss": [g_gk, loss_g.item()]}
    ok = weights == 0 and all(math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5)
                              for a, b in (res["d_loss"], res["g_loss"]))
    res["ok"] = ok
    print(f"check {name:<12} weights diff {weights:.1e}  D loss gankit {d_gk:.6f} plain "
          f"{loss_d.item():.6f}  G loss gankit {g_gk:.6f} plain {loss_g.item():.6f}  "
          f"{'OK' if ok else 'MISMATCH'}", file=sys.stderr, flush=True)
    return res


def run_case(name: str, args: argparse.Namespace) -> dict:
    case = CASES[name]
    overrides = [*COMMON, *args.overrides]
    cfg = config.build(case.cfg, [*overrides, "train.channels_last=true"])
    ds = data.load(cfg.data)
    check = None
    if args.check:
        cfg_check = config.build(case.cfg, [*overrides, "train.channels_last=true",
                                            *case.check_overrides])
        check = check_case(name, cfg_check, ds)
        check["overrides"] = list(case.check_overrides)
    steps: dict[str, Step] = {}
    st, steps["gankit"] = gankit_setup(cfg, ds)
    steps["plain"] = case.plain(cfg, ds, st.specs, Rng(ds, cfg.train.batch_size))[1]
    if args.nchw:
        cfg_nchw = config.build(case.cfg, [*overrides, "train.channels_last=false"])
        steps["gankit NCHW"] = gankit_setup(cfg_nchw, ds)[1]
    flops = {k: flops_of(s) for k, s in steps.items()}  # also the first step of each
    names = list(steps)
    n = args.steps or case.steps
    ms: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for w in range(args.windows + 1):  # window 0 warms up and is dropped
        order = names if w % 2 == 0 else names[::-1]  # ABBA: no side always goes first
        for k in order:
            t, c = time.perf_counter(), time.process_time()
            for _ in range(n):
                steps[k]()
            if w > 0:
                ms[k].append((time.perf_counter() - t) / n * 1e3)
                cpu[k].append((time.process_time() - c) / n * 1e3)
    row = {"family": name, "what": case.what, "note": case.note, "config": config.to_dict(cfg),
           "steps_per_window": n, "windows": args.windows, "check": check, "variants": {}}
    for k in names:
        ratios = [p / g for p, g in zip(ms["plain"], ms[k])]
        med = statistics.median(ms[k])
        row["variants"][k] = {
            "ms_per_step": med, "steps_per_s": 1e3 / med,
            "ratio_vs_plain": statistics.median(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios), "cpu_ms_per_step": statistics.median(cpu[k]),
            "cpu_ratio_vs_plain": statistics.median(cpu["plain"]) / statistics.median(cpu[k]),
            "gflop_per_step": flops[k] / 1e9,
            "all_ms": ms[k], "all_cpu_ms": cpu[k]}
    return row


# --------------------------------------------------------------------------- report


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in subprocess.run(["lscpu"], check=False, capture_output=True,
                                   text=True).stdout.splitlines():
            if line.startswith("Model name"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "load_avg_1_5_15": list(os.getloadavg()),
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), "cpu": cpu, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}


def print_table(rows: list[dict]) -> None:
    print(f"{'family':<14} {'variant':<12} {'ms/step':>8} {'steps/s':>8} {'GFLOP/step':>10} "
          f"{'gankit/plain':>12} {'(min-max)':>11} {'CPU ms':>7} {'CPU ratio':>9}")
    for r in rows:
        for k, v in r["variants"].items():
            gk = k != "plain"
            ratio = f"{v['ratio_vs_plain']:.2f}" if gk else ""
            spread = f"{v['ratio_min']:.2f}-{v['ratio_max']:.2f}" if gk else ""
            cpu_ratio = f"{v['cpu_ratio_vs_plain']:.2f}" if gk else ""
            print(f"{r['family']:<14} {k:<12} {v['ms_per_step']:8.1f} {v['steps_per_s']:8.2f} "
                  f"{v['gflop_per_step']:10.3f} {ratio:>12} {spread:>11} {v['cpu_ms_per_step']:7.1f} "
                  f"{cpu_ratio:>9}")
    for r in rows:
        if r.get("note"):
            print(f"note {r['family']}: {r['note']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(CASES),
                    help=f"comma-separated, from: {', '.join(CASES)}")
    ap.add_argument("--steps", type=int, default=None, help="G steps per timed window "
                    "(default: per family, about 1-2 s of work)")
    ap.add_argument("--windows", type=int, default=10, help="timed windows per variant "
                    "(after one warm-up window)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nchw", action="store_true",
                    help="also time gankit with train.channels_last=false")
    ap.add_argument("--check", action="store_true",
                    help="first check that each plain loop has gankit's initial weights and "
                         "gives gankit's losses on the same inputs")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/results/train-families.json"))
    ap.add_argument("overrides", nargs="*", help="KEY=VALUE config overrides for every family")
    args = ap.parse_args()
    names = [ALIASES.get(f.strip(), f.strip()) for f in args.families.split(",") if f.strip()]
    unknown = [f for f in names if f not in CASES]
    if unknown:
        ap.error(f"unknown families {unknown}; choose from: {', '.join(CASES)}")
    torch.set_num_threads(args.threads)
    load0, omp = list(os.getloadavg()), os.environ.get("OMP_WAIT_POLICY")
    if load0[0] > len(os.sched_getaffinity(0)) and (omp or "").upper() != "PASSIVE" \
            and args.threads > 1:
        print("warning: the machine is busy (load average > cores) and OMP_WAIT_POLICY is not "
              "PASSIVE: spinning OpenMP threads then make every multi-threaded step many times "
              "slower; run with OMP_WAIT_POLICY=PASSIVE", file=sys.stderr)
    rows = []
    for name in names:
        t = time.perf_counter()
        rows.append(run_case(name, args))
        rows[-1]["seconds"] = time.perf_counter() - t
        print(f"[{name}: {rows[-1]['seconds']:.0f} s]", file=sys.stderr, flush=True)
    print_table(rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "benchmark": "train_step_families_mnist5k_batch64_fp32",
        "command": (f"OMP_WAIT_POLICY={omp} " if omp else "") + shlex.join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
        "load_avg_at_start": load0,
        "plain_loop": "same nets/init (build_net on family.specs()), losses by hand, default "
                      "Adam, NCHW, D not frozen, no EMA, last D update's fake reused by G; "
                      "augmentation by gankit.augment's functions, packing by reshape, lazy R1 "
                      "by hand (sequence); image-to-image inputs by gankit.data.masks."
                      "mixed_masks + gankit.data.corrupt.harmonic_fill / sr_degrade, cyclegan's image pool by "
                      "gankit.families.cyclegan.pool_query, linear lr decay by hand",
        "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
