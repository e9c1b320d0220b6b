"""Adversarial losses as pure functions of D's logits (float32), each with its formula.

Every loss is a pair: `d(real, fake)` returns the two terms of D's loss (summed by the
objective, logged separately) and `g(fake)` returns G's loss. sigma is the logistic
function, and softplus(t) = log(1 + e^t) = -log(sigmoid(-t)), computed stably.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gankit.registry import Registry

Pair = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class AdversarialLoss:
    d: Callable[[torch.Tensor, torch.Tensor], Pair]  # (real logits, fake logits) -> terms
    g: Callable[[torch.Tensor], torch.Tensor]  # fake logits -> G loss
    # D calls a logit "real" above this (lsgan: halfway between its targets 0 and 1);
    # None: halfway between the batch's mean real and mean fake logit (a critic's outputs
    # have no fixed zero)
    threshold: float | None = 0.0


LOSSES: Registry[AdversarialLoss] = Registry("loss")


def logistic_d(real: torch.Tensor, fake: torch.Tensor) -> Pair:
    # -log(sigmoid(D(x))) and -log(1 - sigmoid(D(G(z))))
    return F.softplus(-real).mean(), F.softplus(fake).mean()


def minimax_g(fake: torch.Tensor) -> torch.Tensor:
    # log(1 - sigmoid(D(G(z)))): the original, saturating objective of Goodfellow et al. 2014
    return -F.softplus(fake).mean()


def ns_g(fake: torch.Tensor) -> torch.Tensor:
    # -log(sigmoid(D(G(z)))): the non-saturating heuristic of the same paper
    return F.softplus(-fake).mean()


def lsgan_d(real: torch.Tensor, fake: torch.Tensor) -> Pair:
    # 1/2 (D(x) - 1)^2 and 1/2 D(G(z))^2  (Mao et al. 2017, a=0, b=c=1)
    return 0.5 * (real - 1).square().mean(), 0.5 * fake.square().mean()


def lsgan_g(fake: torch.Tensor) -> torch.Tensor:
    # 1/2 (D(G(z)) - 1)^2
    return 0.5 * (fake - 1).square().mean()


def wgan_d(real: torch.Tensor, fake: torch.Tensor) -> Pair:
    # -D(x) and D(G(z)): the critic maximises E[D(x)] - E[D(G(z))] (Arjovsky et al. 2017)
    return -real.mean(), fake.mean()


def hinge_d(real: torch.Tensor, fake: torch.Tensor) -> Pair:
    # max(0, 1 - D(x)) and max(0, 1 + D(G(z)))  (Lim & Ye 2017; BigGAN's default)
    return F.relu(1 - real).mean(), F.relu(1 + fake).mean()


def d_stats(real: torch.Tensor, fake: torch.Tensor, threshold: float | None
            ) -> dict[str, torch.Tensor]:
    """Health statistics of D's logits (detached, no host sync): its accuracy on the real and
    on the fake batch, their mean logits and the spread of all logits."""
    real, fake = real.detach().float().flatten(), fake.detach().float().flatten()
    t = (real.mean() + fake.mean()) / 2 if threshold is None else threshold
    both = torch.cat([real, fake])
    return {"acc_real": (real > t).float().mean(), "acc_fake": (fake <= t).float().mean(),
            "logit_real": real.mean(), "logit_fake": fake.mean(),
            "logit_spread": both.std() if both.numel() > 1 else both.new_zeros(())}


def critic_g(fake: torch.Tensor) -> torch.Tensor:
    # -D(G(z)): G of the Wasserstein and hinge objectives
    return -fake.mean()


LOSSES.register("minimax", "saturating minimax (Goodfellow et al. 2014)")(
    AdversarialLoss(logistic_d, minimax_g))
LOSSES.register("ns", "non-saturating logistic (Goodfellow et al. 2014)")(
    AdversarialLoss(logistic_d, ns_g))
LOSSES.register("lsgan", "least squares (Mao et al. 2017)")(AdversarialLoss(lsgan_d, lsgan_g, 0.5))
LOSSES.register("wgan", "Wasserstein critic (Arjovsky et al. 2017); pair with reg.gp_lambda")(
    AdversarialLoss(wgan_d, critic_g, None))
LOSSES.register("hinge", "hinge (Lim & Ye 2017; Miyato et al. 2018)")(
    AdversarialLoss(hinge_d, critic_g))
