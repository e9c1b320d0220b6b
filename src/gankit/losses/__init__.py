"""Training objectives: adversarial losses (pure functions) and gradient regularisers."""

from gankit.losses.adversarial import LOSSES, AdversarialLoss
from gankit.losses.objective import Objective
from gankit.losses.regularizers import gradient_penalty, r1_penalty

__all__ = ["LOSSES", "AdversarialLoss", "Objective", "gradient_penalty", "r1_penalty"]
