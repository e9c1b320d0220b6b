"""Inference with the discriminator: D's logits for any images, and discriminator
rejection sampling (Azadi et al. 2019, "Discriminator Rejection Sampling").

DRS keeps a generated sample x with probability sigmoid(F(x)), where
    F(x) = D~(x) - D~_M - log(1 - exp(D~(x) - D~_M - eps)) - gamma,
D~ is D's logit calibrated on real vs generated samples (Platt scaling: a 1-D logistic
regression, so that D~ estimates log p_data(x) / p_G(x)), D~_M the largest D~ seen so far
(a burn-in set, then updated online), and gamma the `gamma_percentile`-th percentile of F
in each proposal batch (the paper's dynamic shift, which sets the acceptance rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gankit import checkpoint
from gankit.config import Config, from_dict
from gankit.devices import resolve_device
from gankit.errors import GankitError
from gankit.nets import build_net
from gankit.pipelines.generate import GeneratorPipeline


@dataclass
class Critic:
    d: nn.Module  # in eval mode (batch norm uses its running statistics)
    config: Config
    data_shape: tuple[int, ...]
    device: torch.device

    @torch.no_grad()
    def logits(self, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """D's raw logits for samples in [-1, 1] (images) or points, shape (N,)."""
        if tuple(x.shape[1:]) != self.data_shape:
            raise GankitError(f"D expects samples of shape {self.data_shape}, got "
                              f"{tuple(x.shape[1:])}")
        out = torch.cat([self.d(c.to(self.device)).float().cpu() for c in x.split(batch_size)])
        return out if out.dim() == 1 else out[:, 0]  # column 0: the adversarial logit


def load_critic(path: str | Path, device: str = "cpu") -> Critic:
    dev = resolve_device(str(device))
    ckpt = checkpoint.load(path, device="cpu")
    d_kwargs = ckpt["specs"]["d"]["kwargs"]
    if d_kwargs.get("cond", "none") != "none":
        raise GankitError(f"{path}: D-scoring needs a D that scores images alone; this "
                          f"model.family={ckpt['family']['name']} D scores pairs "
                          f"({d_kwargs['cond']} condition)")
    pack, mbstd = ckpt["family"].get("pack", 1), d_kwargs.get("mbstd", 0)
    if pack > 1 or mbstd:
        how = (f"judges packs of {pack} samples (model.pack={pack}, PacGAN)" if pack > 1 else
               f"sees the spread of each batch (model.mbstd={mbstd}, minibatch stddev)")
        raise GankitError(f"{path}: D-scoring needs a D that scores images alone; this D {how}")
    try:
        d = build_net(ckpt["specs"]["d"])
        d.load_state_dict(ckpt["state"]["nets"]["d"])
        cfg = from_dict(Config, ckpt["config"])
    except (KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise GankitError(f"checkpoint {path} does not match its recorded model: {first}") from None
    return Critic(d.to(dev).eval(), cfg, tuple(ckpt["data_shape"]), dev)


@dataclass(frozen=True)
class Calibration:
    """D~ = scale * logit + shift, fitted on real (label 1) vs generated (label 0)."""

    scale: float
    shift: float

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.double() * self.scale + self.shift


def calibrate(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    x = torch.cat([real_logits, fake_logits]).double().numpy()[:, None]
    y = np.r_[np.ones(len(real_logits)), np.zeros(len(fake_logits))]
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(x, y)
    return Calibration(float(lr.coef_[0, 0]), float(lr.intercept_[0]))


@dataclass
class DRSResult:
    samples: torch.Tensor
    acceptance_rate: float  # accepted / proposed
    proposed: int
    calibration: Calibration
    log_m: float  # final D~_M


def drs_sample(pipe: GeneratorPipeline, critic: Critic, real: torch.Tensor, n: int,
               seed: int = 0, gamma_percentile: float = 80.0, batch_size: int = 500,
               burn_in: int = 2000, eps: float = 1e-6, max_proposals: int | None = None
               ) -> DRSResult:
    """n samples by discriminator rejection sampling; `real` calibrates D (in [-1, 1])."""
    if n <= 0:
        raise GankitError(f"n must be positive, got {n}")
    if not 0 <= gamma_percentile <= 100:
        raise GankitError(f"gamma percentile must be in [0, 100], got {gamma_percentile}")
    if len(real) < 2:
        raise GankitError("rejection sampling needs real samples to calibrate D")
    gen = torch.Generator().manual_seed(seed + 7919)
    cal_fake = pipe.sample(len(real), seed=seed + 1)  # as many generated as real samples
    cal = calibrate(critic.logits(real), critic.logits(cal_fake))
    log_m = float(cal(critic.logits(pipe.sample(burn_in, seed=seed + 2))).max())
    kept, proposed, i = [], 0, 0
    limit = max_proposals or max(100 * n, 10000)
    while sum(len(k) for k in kept) < n:
        if proposed >= limit:
            raise GankitError(f"rejection sampling accepted too few of {proposed} proposals; "
                              "lower the gamma percentile")
        x = pipe.sample(batch_size, seed=seed * 1000003 + 17 + i)
        d_tilde = cal(critic.logits(x))
        log_m = max(log_m, float(d_tilde.max()))
        delta = d_tilde - log_m
        f = delta - torch.log1p(-torch.exp(delta - eps))
        f = f - float(np.percentile(f.numpy(), gamma_percentile))
        accept = torch.rand(len(x), generator=gen, dtype=torch.float64) < torch.sigmoid(f)
        kept.append(x[accept])
        proposed, i = proposed + len(x), i + 1
    samples = torch.cat(kept)[:n]
    return DRSResult(samples, sum(len(k) for k in kept) / proposed, proposed, cal, log_m)
