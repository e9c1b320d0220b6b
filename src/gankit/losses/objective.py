"""The objective: combines an adversarial loss with regularisers into named loss terms.

Returns dicts of float32 tensors (one entry per logged term) and never calls backward, so
the training step owns summing, scaling and stepping, and every term is testable alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from gankit.losses.adversarial import LOSSES, AdversarialLoss
from gankit.losses.regularizers import gradient_penalty, r1_penalty

Net = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Objective:
    adv: AdversarialLoss
    r1_gamma: float = 0.0  # 0 disables R1
    gp_lambda: float = 0.0  # 0 disables the WGAN-GP penalty
    r1_every: int = 1  # lazy R1: the caller passes r1=True every r1_every D updates

    @classmethod
    def from_names(cls, loss: str, r1_gamma: float = 0.0, gp_lambda: float = 0.0,
                   r1_every: int = 1) -> Objective:
        return cls(LOSSES.get(loss), r1_gamma, gp_lambda, r1_every)

    def d_losses(self, d: Net, real: torch.Tensor, fake: torch.Tensor,
                 gen: torch.Generator, r1: bool = True) -> dict[str, torch.Tensor]:
        """D's terms on a real batch and a detached fake batch.

        Lazy R1 (StyleGAN2, Karras et al. 2020): with r1=False the double backward is
        skipped and d_r1 is 0; with r1=True it weighs gamma * r1_every, so the penalty per D
        update is the same on average. The term is always present, so logs keep their keys.
        """
        r1 = r1 and self.r1_gamma > 0
        if r1:
            real = real.detach().requires_grad_(True)
        real_logits = d(real)
        fake_logits = d(fake)
        loss_real, loss_fake = self.adv.d(real_logits.float(), fake_logits.float())
        out = {"d_real": loss_real, "d_fake": loss_fake}
        if r1:
            out["d_r1"] = r1_penalty(real_logits, real, self.r1_gamma * self.r1_every)
        elif self.r1_gamma > 0:
            out["d_r1"] = loss_real.new_zeros(())
        if self.gp_lambda > 0:
            alpha = torch.rand(real.shape[0], generator=gen).to(real.device)
            out["d_gp"] = gradient_penalty(d, real, fake, alpha, self.gp_lambda)
        return out

    def g_losses(self, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"g_adv": self.adv.g(fake_logits.float())}
