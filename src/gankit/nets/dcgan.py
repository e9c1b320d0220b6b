"""DCGAN generator and discriminator (Radford et al. 2015; pytorch/examples dcgan/main.py)
for any square resolution s0 * 2^k with s0 in 4..7 and k >= 1 (8, 16, 28, 32, 48, 64, ...).

G: z -> ConvT(s0 x s0) -> [ConvT 4x4 stride 2, BN, ReLU] ... -> ConvT 4x4 stride 2 -> tanh;
channels halve at each doubling and end at `width` before the output layer.
D mirrors it: Conv 4x4 stride 2 + LeakyReLU(0.2) (no norm on the input layer), then
[Conv 4x4 stride 2, norm, LeakyReLU] down to s0 x s0, then Conv(s0 x s0) -> out_dim logits.

Options (all off by default, which rebuilds the original nets module for module, so seeded
weights and checkpoint keys are unchanged): class conditioning (G: embedding concatenated to
z, or conditional BN; D: projection, or a BiGAN joint head on (x, c)), extra D outputs,
SAGAN self-attention after the layer of a given resolution, spectral norm, and G's
upsampling: upsample="resize" replaces each ConvT 4x4 stride 2 by a nearest 2x upsample and
a 3x3 conv (Odena, Dumoulin & Olah 2016), whose kernels overlap evenly, so G draws no
checkerboard into smooth strokes.
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError
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
    dcgan_init,
    project,
)


def factor_resolution(resolution: int, arch: str = "dcgan") -> tuple[int, int]:
    """resolution -> (s0, k) with resolution = s0 * 2^k, 4 <= s0 <= 7, k >= 1."""
    size, k = resolution, 0
    while size > 7 and size % 2 == 0:
        size, k = size // 2, k + 1
    if k == 0 or not 4 <= size <= 7:
        raise GankitError(f"{arch} cannot make {resolution}x{resolution} images; the resolution "
                          "must be s*2^k with s in 4..7 (e.g. 8, 16, 28, 32, 48, 64): set "
                          "data.resolution")
    return size, k


G_UPSAMPLES = ("deconv", "resize")


def upsample_2x(cin: int, cout: int, how: str) -> list[nn.Module]:
    """Double the resolution: ConvT 4x4 stride 2 (DCGAN) or nearest 2x + conv 3x3 (resize)."""
    if how == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=False)]
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)]


class DCGANGenerator(nn.Module):
    """DCGAN G(z, c=None); see the module docstring for the layout."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64, *,
                 n_classes: int = 0,  # classes of the labels c (cond embed|cbn); else unused
                 cond: str = "none",  # none | embed (class embedding ++ z) | cbn (cond. BN)
                 embed_dim: int = 32,  # size of the class embedding concatenated to z (embed)
                 attn_res: int | None = None,  # self-attention after the maps of this size
                 sn: bool = False,  # spectral norm on every conv/linear/embedding
                 upsample: str = "deconv",  # deconv (ConvT 4x4 s2) | resize (nearest + 3x3)
                 ) -> None:
        super().__init__()
        name = "DCGANGenerator"
        check_net_kwargs(name, cond, G_CONDS, n_classes)
        if upsample not in G_UPSAMPLES:
            raise GankitError(f"{name}: unknown upsample {upsample!r}; choose one of: "
                              + ", ".join(G_UPSAMPLES))
        self.cond = cond
        s0, k = factor_resolution(resolution)
        check_attn_res(attn_res, [s0 * 2**i for i in range(k)], name)
        bn_classes = n_classes if cond == "cbn" else 0
        in_dim = z_dim + (embed_dim if cond == "embed" else 0)
        ch, res = width * 2 ** (k - 1), s0
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, ch, s0, 1, 0, bias=False),
                                   batch_norm_2d(ch, bn_classes), nn.ReLU(inplace=True)]
        for _ in range(k - 1):
            if res == attn_res:
                layers.append(SelfAttention2d(ch))
            layers += [*upsample_2x(ch, ch // 2, upsample),
                       batch_norm_2d(ch // 2, bn_classes), nn.ReLU(inplace=True)]
            ch, res = ch // 2, res * 2
        if res == attn_res:
            layers.append(SelfAttention2d(ch))
        layers += [*upsample_2x(ch, channels, upsample), nn.Tanh()]
        self.net = CondSequential(*layers)
        self.embed = nn.Embedding(n_classes, embed_dim) if cond == "embed" else None
        dcgan_init(self)  # the class embedding keeps N(0, 1), the scale of z
        if sn:
            add_spectral_norm(self)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        check_condition(c, self.cond, "DCGANGenerator")
        if self.embed is not None:
            z = torch.cat([z, self.embed(c)], 1)
        return self.net(z[:, :, None, None], c)


class DCGANDiscriminator(nn.Module):
    """DCGAN D(x, c=None) -> (N,) logits, or (N, out_dim) with column 0 the adversarial one.

    With cond="projection", h is the sum-pooled s0 x s0 feature map and <embed(c), h> is
    added to column 0; psi stays the s0 x s0 conv. With cond="latent" that conv outputs C
    features of x instead, and a JointHead scores them with the float vector c.
    """

    def __init__(self, channels: int, resolution: int, width: int = 64, norm: str = "batch", *,
                 n_classes: int = 0,  # classes of the labels c (cond projection); else unused
                 cond: str = "none",  # none | projection (labels) | latent (float c, BiGAN)
                 c_dim: int = 0,  # size of the float vector c (cond latent); else unused
                 out_dim: int = 1,  # outputs: 1 -> (N,); >1 -> (N, out_dim), column 0 = adv.
                 attn_res: int | None = None,  # self-attention after the maps of this size
                 sn: bool = False,  # spectral norm on every conv/linear/embedding
                 mbstd: int = 0,  # minibatch-stddev group before the last conv; 0 = none
                 ) -> None:
        super().__init__()
        name = "DCGANDiscriminator"
        check_net_kwargs(name, cond, D_CONDS, n_classes, c_dim, out_dim)
        if norm not in ("batch", "none"):
            raise GankitError(f"{name}: unknown norm {norm!r}; choose one of: batch, none")
        self.cond, self.out_dim = cond, out_dim
        s0, k = factor_resolution(resolution)
        check_attn_res(attn_res, [resolution // 2**i for i in range(1, k + 1)], name)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, inplace=True)]
        ch, res = width, resolution // 2
        for _ in range(k - 1):
            if res == attn_res:
                layers.append(SelfAttention2d(ch))
            layers.append(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch, res = ch * 2, res // 2
        if res == attn_res:
            layers.append(SelfAttention2d(ch))
        feat = ch
        if mbstd:
            layers.append(MinibatchStddev(mbstd))
            feat += 1
        layers.append(nn.Conv2d(feat, ch if cond == "latent" else out_dim, s0, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        self.embed = nn.Embedding(n_classes, feat) if cond == "projection" else None
        self.joint = JointHead(ch, c_dim, out_dim) if cond == "latent" else None
        dcgan_init(self)
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)  # the scale of psi's weights
        if sn:
            add_spectral_norm(self)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        check_condition(c, self.cond, "DCGANDiscriminator")
        if self.embed is None:
            out = self.net(x).flatten(1)
        else:
            feat = self.net[:-1](x)
            out = project(self.net[-1](feat).flatten(1), self.embed(c), feat.sum((2, 3)))
        if self.joint is not None:
            out = self.joint(out, c)
        return d_output(out, self.out_dim)
