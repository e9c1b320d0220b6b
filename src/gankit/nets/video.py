"""MoCoGAN's networks (Tulyakov et al. 2018, "MoCoGAN: Decomposing Motion and Content for
Video Generation"; reference code sergeytulyakov/mocogan models.py).

SequenceGenerator G(z, c=None) -> clips (N, T, C, H, W):
    z = [z_C (content_dim) | h_0 (motion_dim) | eps_1 .. eps_T (T * motion_dim)], all from the
    latent prior. A GRU cell turns the per-frame noise into motion latents,
    h_t = GRU(eps_t, h_{t-1}), z_M^(t) = h_t (the reference code's `recurrent` GRUCell with
    input and hidden size dim_z_motion and a random initial state); frame t is
    G_I([z_C | z_M^(t)]) with any image generator G_I (gankit's DCGAN G by default), so the
    content is fixed per clip and the motion varies per frame. T is read from z's width: a
    longer z runs the GRU longer than it was trained (`latent_dim(frames)` gives the width).

    motion="translate" (gankit's option, not the paper's): G_I draws `sprites` layers from z_C
    alone, once per clip, and a linear head turns each z_M^(t) into one position per layer
    (tanh: the layer's centre anywhere in the canvas); frame t is the layers, each placed at
    its position (bilinear, black = -1 beyond a layer's edge), composited by the pixel-wise
    maximum as Moving MNIST composites its digits. The motion latent then cannot change what
    is drawn, only where: the paper's G_I([z_C | z_M]) ties the digit's shape to its motion
    latent and morphs it as it moves (benchmarks/RESULTS.md, MoCoGAN). It suits objects that
    move rigidly on a dark background. A layer may be smaller than the frame (`canvas` > G_I's
    resolution): a sprite pasted onto a black canvas, so G_I cannot draw anything away from
    the object. snap=True moves the sprites by whole pixels, as Moving MNIST pastes its digits
    (a straight-through estimator: the rounding is skipped in the backward pass); a
    fractional move resamples, and so blurs, the drawing differently in every frame.

VideoDiscriminator D_V(x, c=None): clips (N, T, C, H, W) -> (N,) logits, with 3-D
convolutions over (time, height, width): the DCGAN D's layout with a temporal kernel of 3;
the first layer keeps the frame rate, later ones halve it, and the last layer spans the
remaining time and space (T is fixed at construction, the clip length D_V is trained on).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gankit.errors import GankitError
from gankit.nets.dcgan import factor_resolution
from gankit.nets.layers import no_condition

MOTIONS = ("input", "translate")


def clip_latent_dim(content_dim: int, motion_dim: int, frames: int) -> int:
    """Width of a SequenceGenerator's z for clips of `frames` frames."""
    return content_dim + motion_dim * (frames + 1)


class SequenceGenerator(nn.Module):
    """MoCoGAN G(z, c=None): content + GRU motion latents -> one frame each, (N, T, C, H, W).

    `frame_g` is the recorded spec ({"name", "kwargs"}) of the image generator, built with
    z_dim = content_dim + motion_dim ("input"), or content_dim and `sprites` times the frame's
    channels ("translate"); `frames` is the training clip length (the default of
    `latent_dim`), not a limit.
    """

    def __init__(self, content_dim: int, motion_dim: int, frames: int, frame_g: dict,
                 motion: str = "input",  # input (the paper's) | translate (see the module doc)
                 sprites: int = 1,  # translate: layers, each with its own shift
                 canvas: int | None = None,  # translate: frame side in px; None = G_I's
                 snap: bool = False,  # translate: move the sprites by whole pixels
                 ) -> None:
        super().__init__()
        from gankit.nets import build_net  # gankit.nets registers this module: import late

        if content_dim < 1 or motion_dim < 1 or frames < 1 or sprites < 1:
            raise GankitError(f"SequenceGenerator: content_dim ({content_dim}), motion_dim "
                              f"({motion_dim}), frames ({frames}) and sprites ({sprites}) must "
                              "be >= 1")
        if motion not in MOTIONS:
            raise GankitError(f"SequenceGenerator: unknown motion {motion!r}; choose one of: "
                              f"{', '.join(MOTIONS)}")
        if motion == "input" and (sprites != 1 or canvas is not None or snap):
            raise GankitError(f"SequenceGenerator: sprites={sprites}, canvas={canvas} and "
                              f"snap={snap} need motion='translate'")
        self.content_dim, self.motion_dim, self.frames = content_dim, motion_dim, frames
        self.motion_mode, self.sprites, self.canvas, self.snap = motion, sprites, canvas, snap
        self.gru = nn.GRUCell(motion_dim, motion_dim)
        self.frame = build_net(frame_g)
        if motion == "translate":
            self.shift = nn.Linear(motion_dim, 2 * sprites)

    def latent_dim(self, frames: int | None = None) -> int:
        return clip_latent_dim(self.content_dim, self.motion_dim, frames or self.frames)

    def clip_length(self, z: torch.Tensor) -> int:
        """T of the clips made from z (N, content_dim + motion_dim * (T + 1))."""
        extra = z.shape[1] - self.content_dim - self.motion_dim if z.dim() == 2 else -1
        if extra < self.motion_dim or extra % self.motion_dim:
            raise GankitError(f"SequenceGenerator: z has shape {tuple(z.shape)}; expected (N, "
                              f"{self.content_dim} + {self.motion_dim} * (T + 1)) for T >= 1 "
                              f"frames, e.g. (N, {self.latent_dim()}) for T = {self.frames}")
        return extra // self.motion_dim

    def motion(self, h0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Motion latents (N, T, motion_dim) from the initial state and per-frame noise."""
        h, out = h0, []
        for t in range(eps.shape[1]):
            h = self.gru(eps[:, t], h)
            out.append(h)
        return torch.stack(out, 1)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        no_condition(c, "SequenceGenerator")
        n, t = z.shape[0], self.clip_length(z)
        content, h0, eps = z.split([self.content_dim, self.motion_dim, t * self.motion_dim], 1)
        motion = self.motion(h0, eps.reshape(n, t, self.motion_dim))
        if self.motion_mode == "translate":
            return self.translate(self.frame(content), motion)
        frame_z = torch.cat([content[:, None].expand(-1, t, -1), motion], 2)
        frames = self.frame(frame_z.flatten(0, 1))
        return frames.view(n, t, *frames.shape[1:])

    def translate(self, layers: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """layers (N, sprites * C, S, S) and motion latents (N, T, motion_dim) -> clips
        (N, T, C, H, H), H = canvas: each layer placed at its frame's position, then the
        maximum."""
        n, t, k = motion.shape[0], motion.shape[1], self.sprites
        c, s = layers.shape[1] // k, layers.shape[-1]
        h = self.canvas or s
        scale = h / s  # output pixel -> sprite pixel, in [-1, 1] coordinates
        with torch.autocast(layers.device.type, enabled=False):  # fp32: a bf16 position is
            #                                                     up to 1/16 px off on 32 px
            centre = torch.tanh(self.shift(motion.float())).view(n * t * k, 2)  # (x, y)
            if self.snap:  # whole pixels forward, the smooth position's gradient backward
                corner = (centre + 1) * (h / 2) - s / 2  # the sprite's top-left corner in px
                centre = centre + ((corner.round() - corner) * (2 / h)).detach()
            theta = torch.zeros(n * t * k, 2, 3, device=layers.device)
            theta[:, 0, 0] = theta[:, 1, 1] = scale
            theta[:, :, 2] = -scale * centre  # sprite coords = scale * (p - centre)
            grid = F.affine_grid(theta, [n * t * k, c, h, h], align_corners=False)
            src = (layers.float().view(n, 1, k, c, s, s) + 1).expand(n, t, k, c, s, s)
            placed = F.grid_sample(src.reshape(n * t * k, c, s, s), grid, mode="bilinear",
                                   padding_mode="zeros", align_corners=False) - 1
        return placed.view(n, t, k, c, h, h).amax(2).to(layers.dtype)


def _init_3d(module: nn.Module) -> None:
    """DCGAN's initialisation for 3-D layers: conv weights ~ N(0, 0.02), BN scales ~ N(1,
    0.02), biases and shifts 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class VideoDiscriminator(nn.Module):
    """MoCoGAN's video D(x, c=None): clips (N, T, C, H, W) -> (N,) logits; see the module
    docstring for the layout."""

    def __init__(self, channels: int, resolution: int, frames: int, width: int = 64,
                 norm: str = "batch",  # batch | none (for R1 / WGAN-GP)
                 sn: bool = False,  # spectral norm on every 3-D conv
                 ) -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise GankitError(f"VideoDiscriminator: unknown norm {norm!r}; choose one of: "
                              "batch, none")
        if frames < 1:
            raise GankitError(f"VideoDiscriminator: frames must be >= 1, got {frames}")
        self.frames = frames
        s0, k = factor_resolution(resolution)
        layers: list[nn.Module] = [nn.Conv3d(channels, width, (3, 4, 4), (1, 2, 2), 1,
                                             bias=False), nn.LeakyReLU(0.2, inplace=True)]
        ch, t = width, frames
        for _ in range(k - 1):
            layers.append(nn.Conv3d(ch, ch * 2, (3, 4, 4), 2, 1, bias=norm != "batch"))
            if norm == "batch":
                layers.append(nn.BatchNorm3d(ch * 2))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch, t = ch * 2, (t - 1) // 2 + 1
        layers.append(nn.Conv3d(ch, 1, (t, s0, s0), 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        _init_3d(self)
        if sn:
            for m in self.net:
                if isinstance(m, nn.Conv3d):
                    spectral_norm(m)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        no_condition(c, "VideoDiscriminator")
        if x.dim() != 5 or x.shape[1] != self.frames:
            raise GankitError(f"VideoDiscriminator: expected clips (N, {self.frames}, C, H, W), "
                              f"got {tuple(x.shape)}")
        return self.net(x.transpose(1, 2)).flatten(1).squeeze(1)  # (N, C, T, H, W) inside
