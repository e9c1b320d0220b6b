"""Shared building blocks and the DCGAN weight initialisation (Radford et al. 2015)."""

from __future__ import annotations

from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """Conv/linear weights ~ N(0, 0.02), biases 0; batch-norm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def no_condition(c: object, name: str) -> None:
    """Unconditional nets take c=None (the G(z, c) / D(x, c) contract) and nothing else."""
    if c is not None:
        raise ValueError(f"{name} is unconditional; got a condition c")
