"""DCGAN generator and discriminator (Radford et al. 2015; pytorch/examples dcgan/main.py)
for any square resolution s0 * 2^k with s0 in 4..7 and k >= 1 (8, 16, 28, 32, 48, 64, ...).

G: z -> ConvT(s0 x s0) -> [ConvT 4x4 stride 2, BN, ReLU] ... -> ConvT 4x4 stride 2 -> tanh;
channels halve at each doubling and end at `width` before the output layer.
D mirrors it: Conv 4x4 stride 2 + LeakyReLU(0.2) (no norm on the input layer), then
[Conv 4x4 stride 2, norm, LeakyReLU] down to s0 x s0, then Conv(s0 x s0) -> one logit.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.nets.layers import dcgan_init, no_condition


def factor_resolution(resolution: int) -> tuple[int, int]:
    """resolution -> (s0, k) with resolution = s0 * 2^k, 4 <= s0 <= 7, k >= 1."""
    size, k = resolution, 0
    while size > 7 and size % 2 == 0:
        size, k = size // 2, k + 1
    if k == 0 or not 4 <= size <= 7:
        raise GankitError(f"dcgan cannot make {resolution}x{resolution} images; the resolution "
                          "must be s*2^k with s in 4..7 (e.g. 8, 16, 28, 32, 48, 64): set "
                          "data.resolution")
    return size, k


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64) -> None:
        super().__init__()
        s0, k = factor_resolution(resolution)
        ch = width * 2 ** (k - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, ch, s0, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch), nn.ReLU(inplace=True)]
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(ch // 2), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        no_condition(c, "DCGANGenerator")
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, resolution: int, width: int = 64,
                 norm: str = "batch") -> None:
        super().__init__()
        s0, k = factor_resolution(resolution)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, inplace=True)]
        ch = width
        for _ in range(k - 1):
            layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, s0, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        no_condition(c, "DCGANDiscriminator")
        return self.net(x).flatten()
