"""Multilayer perceptrons for 2-D points and tiny images (flattened).

G: z -> [Linear, ReLU] x depth -> Linear -> tanh for images (data in [-1, 1]) or identity
for points. D: x -> [Linear, LeakyReLU(0.2)] x depth -> Linear -> one logit.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.nets.layers import no_condition


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, out_shape: list[int], width: int = 256, depth: int = 3,
                 tanh: bool = True) -> None:
        super().__init__()
        self.out_shape = tuple(out_shape)
        layers: list[nn.Module] = []
        fan_in = z_dim
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU(inplace=True)]
            fan_in = width
        layers.append(nn.Linear(fan_in, math.prod(out_shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        no_condition(c, "MLPGenerator")
        return self.net(z).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, in_shape: list[int], width: int = 256, depth: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        fan_in = math.prod(in_shape)
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.LeakyReLU(0.2, inplace=True)]
            fan_in = width
        layers.append(nn.Linear(fan_in, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        no_condition(c, "MLPDiscriminator")
        return self.net(x.flatten(1)).squeeze(1)
