"""Multilayer perceptrons for 2-D points and tiny images (flattened).

G: z -> [Linear, ReLU] x depth -> Linear -> tanh for images (data in [-1, 1]) or identity
for points. D: x -> [Linear, LeakyReLU(0.2)] x depth -> Linear -> out_dim logits.

Options (off by default, which rebuilds the original nets module for module): G takes a
class embedding concatenated to z (conditional GAN, Mirza & Osindero 2014); D takes a
projection term (Miyato & Koyama 2018) or scores (x, c) pairs with a BiGAN joint head
(Donahue et al. 2017), returns out_dim outputs, and either may use spectral norm.
There is no batch norm and no feature map, so cond="cbn" and attn_res are rejected.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.nets.layers import (
    D_CONDS,
    JointHead,
    MinibatchStddev,
    add_spectral_norm,
    check_condition,
    check_net_kwargs,
    d_output,
    project,
)


def _no_attention(attn_res: int | None, name: str) -> None:
    if attn_res is not None:
        raise GankitError(f"{name} has no feature maps for self-attention: attn_res must be "
                          f"None (got {attn_res}); use model.arch=dcgan or resnet")


class MLPGenerator(nn.Module):
    """MLP G(z, c=None) -> (N, *out_shape)."""

    def __init__(self, z_dim: int, out_shape: list[int], width: int = 256, depth: int = 3,
                 tanh: bool = True, *,
                 n_classes: int = 0,  # classes of the labels c (cond embed); else unused
                 cond: str = "none",  # none | embed (class embedding concatenated to z)
                 embed_dim: int = 32,  # size of the class embedding (cond embed)
                 attn_res: int | None = None,  # must stay None: an MLP has no feature maps
                 sn: bool = False,  # spectral norm on every linear/embedding
                 ) -> None:
        super().__init__()
        name = "MLPGenerator"
        if cond == "cbn":
            raise GankitError(f"{name} has no batch norm, so cond='cbn' is not possible; "
                              "use cond='embed' or model.arch=dcgan|resnet")
        check_net_kwargs(name, cond, ("none", "embed"), n_classes)
        _no_attention(attn_res, name)
        self.cond = cond
        self.out_shape = tuple(out_shape)
        layers: list[nn.Module] = []
        fan_in = z_dim + (embed_dim if cond == "embed" else 0)
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU(inplace=True)]
            fan_in = width
        layers.append(nn.Linear(fan_in, math.prod(out_shape)))
        if tanh:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.embed = nn.Embedding(n_classes, embed_dim) if cond == "embed" else None
        if sn:
            add_spectral_norm(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        check_condition(c, self.cond, "MLPGenerator")
        if self.embed is not None:
            z = torch.cat([z, self.embed(c)], 1)
        return self.net(z).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """MLP D(x, c=None) -> (N,) logits, or (N, out_dim) with column 0 the adversarial one.

    h is the last hidden layer (the flattened input when depth=0): projection adds
    <embed(c), h> to column 0; with cond="latent" the last Linear outputs `width` features of
    x instead, and a JointHead scores them with the float vector c.
    """

    def __init__(self, in_shape: list[int], width: int = 256, depth: int = 3, *,
                 n_classes: int = 0,  # classes of the labels c (cond projection); else unused
                 cond: str = "none",  # none | projection (labels) | latent (float c, BiGAN)
                 c_dim: int = 0,  # size of the float vector c (cond latent); else unused
                 out_dim: int = 1,  # outputs: 1 -> (N,); >1 -> (N, out_dim), column 0 = adv.
                 attn_res: int | None = None,  # must stay None: an MLP has no feature maps
                 sn: bool = False,  # spectral norm on every linear/embedding
                 mbstd: int = 0,  # minibatch-stddev group before the last linear; 0 = none
                 ) -> None:
        super().__init__()
        name = "MLPDiscriminator"
        check_net_kwargs(name, cond, D_CONDS, n_classes, c_dim, out_dim)
        _no_attention(attn_res, name)
        self.cond, self.out_dim = cond, out_dim
        layers: list[nn.Module] = []
        fan_in = math.prod(in_shape)
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.LeakyReLU(0.2, inplace=True)]
            fan_in = width
        if mbstd:
            layers.append(MinibatchStddev(mbstd))
            fan_in += 1
        layers.append(nn.Linear(fan_in, width if cond == "latent" else out_dim))
        self.net = nn.Sequential(*layers)
        self.embed = nn.Embedding(n_classes, fan_in) if cond == "projection" else None
        self.joint = JointHead(width, c_dim, out_dim) if cond == "latent" else None
        if self.embed is not None:
            nn.init.xavier_uniform_(self.embed.weight)  # as SNGAN-projection / mimicry
        if sn:
            add_spectral_norm(self)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        check_condition(c, self.cond, "MLPDiscriminator")
        if self.embed is None:
            out = self.net(x.flatten(1))
        else:
            h = self.net[:-1](x.flatten(1))
            out = project(self.net[-1](h), self.embed(c), h)
        if self.joint is not None:
            out = self.joint(out, c)
        return d_output(out, self.out_dim)
