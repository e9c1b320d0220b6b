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

    @classmethod
    def from_names(cls, loss: str, r1_gamma: float = 0.0, gp_lambda: float = 0.0) -> Objective:
        return cls(LOSSES.get(loss), r1_gamma, gp_lambda)

    def d_losses(self, d: Net, real: torch.Tensor, fake: torch.Tensor,
                 gen: torch.Generator) -> dict[str, torch.Tensor]:
        """D's terms on a real batch and a detached fake batch."""
        if self.r1_gamma > 0:
            real = real.detach().requires_grad_(True)
        real_logits = d(real)
        fake_logits = d(fake)
        loss_real, loss_fake = self.adv.d(real_logits.float(), fake_logits.float())
        out = {"d_real": loss_real, "d_fake": loss_fake}
        if self.r1_gamma > 0:
            out["d_r1"] = r1_penalty(real_logits, real, self.r1_gamma)
        if self.gp_lambda > 0:
            alpha = torch.rand(real.shape[0], generator=gen).to(real.device)
            out["d_gp"] = gradient_penalty(d, real, fake, alpha, self.gp_lambda)
        return out

    def g_losses(self, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"g_adv": self.adv.g(fake_logits.float())}
