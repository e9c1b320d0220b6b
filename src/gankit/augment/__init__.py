"""Batched, differentiable image augmentation for GAN discriminators: DiffAugment (Zhao et
al. 2020), ADA (Karras et al. 2020) and data-level crop/flip. Pure functions; all randomness
comes from a caller-owned CPU `torch.Generator`, so checkpointing its state makes resume exact.
"""

from gankit.augment.ada import ADA_PIPE_LETTERS, ada_augment, ada_update, parse_pipe
from gankit.augment.data import random_crop, random_flip, shift_images
from gankit.augment.diffaug import DIFFAUG_POLICIES, diff_augment, parse_policy

__all__ = [
    "ADA_PIPE_LETTERS",
    "DIFFAUG_POLICIES",
    "ada_augment",
    "ada_update",
    "diff_augment",
    "parse_pipe",
    "parse_policy",
    "random_crop",
    "random_flip",
    "shift_images",
]
