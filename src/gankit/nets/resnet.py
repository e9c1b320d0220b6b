"""SNGAN ResNet generator and discriminator (Miyato et al. 2018, appendix B; the reference
Chainer code pfnet-research/sngan_projection and its PyTorch port in mimicry, sngan_32/48/64)
for any square resolution s0 * 2^k with s0 in 4..7 and k >= 1 (8, 16, 28, 32, 48, 64, ...),
one file for every size.

G: z -> Linear -> s0 x s0 x (width * 2^k) -> k GBlocks (each doubles the size, halves the
channels; BN ReLU upsample-nearest conv3x3 BN ReLU conv3x3, plus an upsampled 1x1-conv
shortcut) -> BN ReLU conv3x3 -> tanh. With width=64 this is mimicry's 48x48 and 64x64 G.
D: an optimised first DBlock (conv3x3 ReLU conv3x3 avgpool; shortcut avgpool then 1x1 conv)
-> DBlocks (ReLU conv3x3 ReLU conv3x3 avgpool; 1x1 shortcut) down to s0 x s0 -> one DBlock
without downsampling; channels width, 2 width, ... width * 2^k -> ReLU -> global sum pooling
-> Linear -> out_dim. Unlike SNGAN's CIFAR D (32 -> 16 -> 8 -> 8 -> 8, constant width) every
size downsamples to s0 and doubles the channels per block, so one rule fits all resolutions.
Init as in mimicry and the SNGAN code: xavier_uniform weights (gain sqrt(2) on the residual
3x3 convs, 1 elsewhere), zero biases (Chainer's default). SNGAN trains D with sn=True.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gankit.nets.dcgan import factor_resolution
from gankit.nets.layers import (
    D_CONDS,
    G_CONDS,
    CondSequential,
    JointHead,
    MinibatchStddev,
    SelfAttention2d,
    add_spectral_norm,
    batch_norm_2d,
    check_attn_res,
    check_condition,
    check_net_kwargs,
    d_output,
    project,
)


def _xavier(layer: nn.Conv2d | nn.Linear, gain: float = 1.0) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _conv(cin: int, cout: int, size: int, gain: float = 1.0) -> nn.Module:
    return _xavier(nn.Conv2d(cin, cout, size, 1, size // 2), gain)


class GBlock(nn.Module):
    """Up-sampling residual block of the SNGAN G; n_classes > 0 makes its BNs conditional."""

    takes_condition = True  # CondSequential hands it c (for conditional BN)

    def __init__(self, cin: int, cout: int, n_classes: int = 0) -> None:
        super().__init__()
        self.residual = CondSequential(
            batch_norm_2d(cin, n_classes), nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(cin, cout, 3, math.sqrt(2)),
            batch_norm_2d(cout, n_classes), nn.ReLU(inplace=True),
            _conv(cout, cout, 3, math.sqrt(2)))
        # 1x1 conv then nearest upsampling = upsampling then 1x1 conv, at a quarter the cost
        self.shortcut = nn.Sequential(_conv(cin, cout, 1), nn.Upsample(scale_factor=2))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.residual(x, c) + self.shortcut(x)


class DBlock(nn.Module):
    """Residual block of the SNGAN D; `first` is the optimised input block (no ReLU on x,
    shortcut pools before its 1x1 conv). Hidden channels = cin, as in the reference code."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False) -> None:
        super().__init__()
        hidden = cout if first else cin
        pool = [nn.AvgPool2d(2)] if down else []
        pre = [] if first else [nn.ReLU()]  # not in place: x also feeds the shortcut
        self.residual = nn.Sequential(*pre, _conv(cin, hidden, 3, math.sqrt(2)),
                                      nn.ReLU(inplace=True),
                                      _conv(hidden, cout, 3, math.sqrt(2)), *pool)
        if first:
            self.shortcut = nn.Sequential(*pool, _conv(cin, cout, 1))
        elif cin != cout or down:
            self.shortcut = nn.Sequential(_conv(cin, cout, 1), *pool)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class ResNetGenerator(nn.Module):
    """SNGAN ResNet G(z, c=None); see the module docstring for the layout."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64, *,
                 n_classes: int = 0,  # classes of the labels c (cond embed|cbn); else unused
                 cond: str = "none",  # none | embed (class embedding ++ z) | cbn (cond. BN)
                 embed_dim: int = 32,  # size of the class embedding concatenated to z (embed)
                 attn_res: int | None = None,  # self-attention after the maps of this size
                 sn: bool = False,  # spectral norm on every conv/linear/embedding
                 ) -> None:
        super().__init__()
        name = "ResNetGenerator"
        check_net_kwargs(name, cond, G_CONDS, n_classes)
        s0, k = factor_resolution(resolution, "resnet")
        check_attn_res(attn_res, [s0 * 2**i for i in range(k + 1)], name)
        self.cond, self.s0, self.ch0 = cond, s0, width * 2**k
        bn_classes = n_classes if cond == "cbn" else 0
        in_dim = z_dim + (embed_dim if cond == "embed" else 0)
        self.linear = _xavier(nn.Linear(in_dim, s0 * s0 * self.ch0))
        ch, res = self.ch0, s0
        layers: list[nn.Module] = []
        for _ in range(k):
            if res == attn_res:
                layers.append(SelfAttention2d(ch))
            layers.append(GBlock(ch, ch // 2, bn_classes))
            ch, res = ch // 2, res * 2
        if res == attn_res:
            layers.append(SelfAttention2d(ch))
        layers += [batch_norm_2d(ch, bn_classes), nn.ReLU(inplace=True),
                   _conv(ch, channels, 3), nn.Tanh()]
        self.net = CondSequential(*layers)
        self.embed = nn.Embedding(n_classes, embed_dim) if cond == "embed" else None
        if sn:
            add_spectral_norm(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        check_condition(c, self.cond, "ResNetGenerator")
        if self.embed is not None:
            z = torch.cat([z, self.embed(c)], 1)
        h = self.linear(z).view(z.shape[0], self.ch0, self.s0, self.s0)
        return self.net(h, c)


class ResNetDiscriminator(nn.Module):
    """SNGAN ResNet D(x, c=None) -> (N,) logits, or (N, out_dim) with column 0 adversarial.

    h is the globally sum-pooled ReLU feature vector: projection adds <embed(c), h> to
    column 0; with cond="latent" the Linear outputs C features of x and a JointHead scores
    them with the float vector c.
    """

    def __init__(self, channels: int, resolution: int, width: int = 64, *,
                 n_classes: int = 0,  # classes of the labels c (cond projection); else unused
                 cond: str = "none",  # none | projection (labels) | latent (float c, BiGAN)
                 c_dim: int = 0,  # size of the float vector c (cond latent); else unused
                 out_dim: int = 1,  # outputs: 1 -> (N,); >1 -> (N, out_dim), column 0 = adv.
                 attn_res: int | None = None,  # self-attention after the maps of this size
                 sn: bool = False,  # spectral norm on every conv/linear/embedding (SNGAN: on)
                 mbstd: int = 0,  # minibatch-stddev group before the last block; 0 = none
                 ) -> None:
        super().__init__()
        name = "ResNetDiscriminator"
        check_net_kwargs(name, cond, D_CONDS, n_classes, c_dim, out_dim)
        _, k = factor_resolution(resolution, "resnet")
        check_attn_res(attn_res, [resolution // 2**i for i in range(1, k + 1)], name)
        self.cond, self.out_dim = cond, out_dim
        layers: list[nn.Module] = [DBlock(channels, width, down=True, first=True)]
        ch, res = width, resolution // 2
        if res == attn_res:
            layers.append(SelfAttention2d(ch))
        for _ in range(k - 1):
            layers.append(DBlock(ch, ch * 2, down=True))
            ch, res = ch * 2, res // 2
            if res == attn_res:
                layers.append(SelfAttention2d(ch))
        if mbstd:
            layers.append(MinibatchStddev(mbstd))
        layers.append(DBlock(ch + (1 if mbstd else 0), ch * 2, down=False))  # keeps s0 x s0
        ch *= 2
        layers.append(nn.ReLU())
        self.trunk = nn.Sequential(*layers)
        self.head = _xavier(nn.Linear(ch, ch if cond == "latent" else out_dim))
        self.embed = nn.Embedding(n_classes, ch) if cond == "projection" else None
        self.joint = JointHead(ch, c_dim, out_dim) if cond == "latent" else None
        if self.embed is not None:
            nn.init.xavier_uniform_(self.embed.weight)  # as mimicry's cGAN-PD
        if self.joint is not None:
            for m in self.joint.modules():
                if isinstance(m, nn.Linear):
                    _xavier(m)
        if sn:
            add_spectral_norm(self)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        check_condition(c, self.cond, "ResNetDiscriminator")
        h = self.trunk(x).sum((2, 3))  # global sum pooling
        out = self.head(h)
        if self.embed is not None:
            out = project(out, self.embed(c), h)
        if self.joint is not None:
            out = self.joint(out, c)
        return d_output(out, self.out_dim)
