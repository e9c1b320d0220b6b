"""The objective: combines an adversarial loss with regularisers into named loss terms.

Returns dicts of float32 tensors (one entry per logged term) and never calls backward, so
the training step owns summing, scaling and stepping, and every term is testable alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from gankit.losses.adversarial import LOSSES, AdversarialLoss, d_stats
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
        """D's terms on a real batch and a detached fake batch (unconditional D)."""
        return self.d_terms_outputs(d, real, fake, gen, r1)[0]

    def d_terms_outputs(self, d: Callable[..., torch.Tensor], real: torch.Tensor,
                        fake: torch.Tensor, gen: torch.Generator, r1: bool = True,
                        c_real: torch.Tensor | None = None, c_fake: torch.Tensor | None = None,
                        logit: Callable[[torch.Tensor], torch.Tensor] = lambda o: o,
                        ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """D's terms, and D's full outputs on the real and the fake batch.

        D is called as d(x) when its condition is None, else d(x, c); `logit` picks the
        adversarial logit from D's output (D may have auxiliary heads). Lazy R1 (StyleGAN2,
        Karras et al. 2020): with r1=False the double backward is skipped and d_r1 is 0;
        with r1=True it weighs gamma * r1_every, so the penalty per D update is the same on
        average. The term is always present, so logs keep their keys. GP evaluates D on the
        interpolates with the real batch's condition.
        """
        def call(x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
            return d(x) if c is None else d(x, c)

        r1 = r1 and self.r1_gamma > 0
        if r1:
            real = real.detach().requires_grad_(True)
        real_out = call(real, c_real)
        fake_out = call(fake, c_fake)
        real_logits, fake_logits = logit(real_out), logit(fake_out)
        loss_real, loss_fake = self.adv.d(real_logits.float(), fake_logits.float())
        out = {"d_real": loss_real, "d_fake": loss_fake}
        # detached statistics beside the loss terms (the step sums only terms with a graph)
        out.update({f"d_{k}": v for k, v in d_stats(real_logits, fake_logits,
                                                     self.adv.threshold).items()})
        if r1:
            out["d_r1"] = r1_penalty(real_logits, real, self.r1_gamma * self.r1_every)
        elif self.r1_gamma > 0:
            out["d_r1"] = loss_real.new_zeros(())
        if self.gp_lambda > 0:
            alpha = torch.rand(real.shape[0], generator=gen).to(real.device)
            out["d_gp"] = gradient_penalty(lambda x: logit(call(x, c_real)), real, fake, alpha,
                                           self.gp_lambda)
        return out, real_out, fake_out

    def g_losses(self, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"g_adv": self.adv.g(fake_logits.float())}
