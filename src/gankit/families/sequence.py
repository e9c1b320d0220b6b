"""MoCoGAN (Tulyakov et al. 2018): clips from a content latent and GRU motion latents, judged
by an image discriminator on single frames and a video discriminator on whole clips.
`model.motion=translate` (gankit's) has the frame G draw sprites from the content alone and
the motion latents place them in each frame (nets/video.py); its z_dim is then z_dim only.

Nets: "g" a SequenceGenerator (nets/video.py) holding the GRU and the architecture's image
G (model.arch; z_dim = model.z_dim + model.motion_dim); "d" the architecture's image D on one
frame; "dv" a VideoDiscriminator (3-D convolutions) on the clip. G(z, c=None) returns clips
(N, T, C, H, W) with z = [content | h_0 | eps_1 .. eps_T] (see nets/video.py); neither D
takes a condition.

Loss (the paper's eq. 2, with any adversarial loss of gankit): D_I and D_V each take the
configured loss on their real and fake inputs; G takes the sum of both G losses. As in the
paper, D_I sees one frame per clip (`model.d_frames` = k > 1: k frames of each clip, a
larger image batch at no extra cost for G, as the reference code's separate image batch),
the indices drawn per clip from the step's generator when the fake batch is made, so the D
and G phases of a step use the same frames. R1 and WGAN-GP,
when configured, apply to both discriminators (D_V's terms are named dv_*, G's gv_adv).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gankit.config import Config
from gankit.errors import GankitError
from gankit.families.base import (
    Batch,
    DataInfo,
    Fake,
    Family,
    Nets,
    PhaseCtx,
    adv_logit,
    require_sample_dims,
)
from gankit.nets import NetSpec
from gankit.nets.dcgan import factor_resolution
from gankit.nets.latent import Latent
from gankit.nets.video import clip_latent_dim


@dataclass
class ClipFake(Fake):
    """A fake batch of clips and the frames (model.d_frames per clip) of each real and fake
    clip that D_I judges."""

    frame_real: torch.Tensor | None = None  # int64 (N, k): frame indices per real clip
    frame_fake: torch.Tensor | None = None  # int64 (N, k): frame indices per generated clip


def pick_frames(clips: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """clips (N, T, C, H, W) and k indices per clip (N, k) -> frames (N * k, C, H, W),
    clip by clip."""
    rows = torch.arange(clips.shape[0], device=clips.device)[:, None].expand_as(index)
    return clips[rows.reshape(-1), index.reshape(-1)]


class Sequence(Family):
    name = "sequence"
    packable = False  # D scores each sample with its own condition
    takes_clips = True  # its data are clips (N, T, C, H, W); see families.make_family
    g_side = ("g",)
    d_side = ("d", "dv")

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        super().check(cfg, data)
        require_sample_dims(cfg, data, 4, "clip data (moving-mnist)")
        side = data.shape[-1]
        if cfg.model.sprite_res is not None and not 4 <= cfg.model.sprite_res <= side:
            raise GankitError(f"model.sprite_res={cfg.model.sprite_res}: a sprite is 4 px (8 "
                              f"for dcgan and resnet) up to the frame's {side} px "
                              "(data.resolution)")
        if cfg.model.sprite_res is not None and cfg.model.arch in ("dcgan", "resnet"):
            try:
                factor_resolution(cfg.model.sprite_res)
            except GankitError:
                raise GankitError(f"model.sprite_res={cfg.model.sprite_res}: the "
                                  f"{cfg.model.arch} G draws s*2^k px with s in 4..7 (e.g. 8, "
                                  "12, 14, 16, 28)") from None
        if cfg.model.cat_codes:
            raise GankitError(f"model.cat_codes={list(cfg.model.cat_codes)} with model.family="
                              "sequence: the clip latent is content + motion noise only; use "
                              "model.cat_codes=[]")

    def __init__(self, cfg: Config, data: DataInfo) -> None:
        super().__init__(cfg, data)
        m = cfg.model
        self.frames, self.content_dim, self.motion_dim = data.shape[0], m.z_dim, m.motion_dim
        self.latent = Latent(clip_latent_dim(m.z_dim, m.motion_dim, self.frames), m.prior)

    # ------------------------------------------------------------------ building

    def frame_specs(self) -> tuple[NetSpec, NetSpec]:
        """The architecture's image G and D for one frame (with every switch that composes:
        SN, attention, ...); G takes content + motion, or with model.motion=translate the
        content alone and draws model.sprites layers of the frame's channels."""
        m, frame = self.cfg.model, tuple(self.data.shape[1:])
        _, d = Family(self.cfg, DataInfo(frame)).base_specs()
        if m.motion == "translate":
            side = m.sprite_res or frame[-1]
            g, _ = Family(self.cfg, DataInfo((frame[0] * m.sprites, side, side))).base_specs()
            g["kwargs"]["z_dim"] = self.content_dim
        else:
            g, _ = Family(self.cfg, DataInfo(frame)).base_specs()
            g["kwargs"]["z_dim"] = self.content_dim + self.motion_dim
        return g, d

    def specs(self) -> dict[str, NetSpec]:
        g_frame, d = self.frame_specs()
        m = self.cfg.model
        t, c, h, _ = self.data.shape
        g = {"name": "sequence-g", "kwargs": {"content_dim": self.content_dim,
                                              "motion_dim": self.motion_dim, "frames": t,
                                              "frame_g": g_frame}}
        if m.motion != "input":  # recorded only when set: older specs stay as they were
            g["kwargs"].update(motion=m.motion, sprites=m.sprites)
            if m.sprite_res is not None:
                g["kwargs"]["canvas"] = h
            if m.sprite_snap:
                g["kwargs"]["snap"] = True
        dv = {"name": "video-d", "kwargs": {"channels": c, "resolution": h, "frames": t,
                                            "width": m.d_width, "norm": m.d_norm,
                                            "sn": m.d_sn}}
        return {"g": g, "d": d, "dv": dv}

    def meta(self) -> dict:
        """Besides the base record, the clip latent's layout, so inference can make clips
        of any length."""
        return {**super().meta(), "clip": {"content_dim": self.content_dim,
                                           "motion_dim": self.motion_dim,
                                           "frames": self.frames}}

    # ------------------------------------------------------------------ generating

    def grid_input(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, None]:
        """n frames' worth of clips (at least one): the sample grid shows n // T clips, one
        row each."""
        return self.latent.sample(max(1, n // self.frames), gen), None

    def grid_columns(self, n: int) -> int:
        return self.frames

    def fake(self, nets: Nets, batch: Batch, gen: torch.Generator) -> ClipFake:
        """G's clips, then the frame D_I judges in each real and each fake clip (in this
        order from `gen`)."""
        n, dev = batch.x.shape[0], batch.x.device
        z = self.latent.sample(n, gen)
        k = self.cfg.model.d_frames
        frame_real = torch.randint(self.frames, (n, k), generator=gen)
        frame_fake = torch.randint(self.frames, (n, k), generator=gen)
        z = z.to(dev)
        return ClipFake(nets["g"](z), z, frame_real=frame_real.to(dev),
                        frame_fake=frame_fake.to(dev))

    # ------------------------------------------------------------------ loss terms

    def d_terms(self, nets: Nets, batch: Batch, fake: ClipFake, ctx: PhaseCtx
                ) -> dict[str, torch.Tensor]:
        """D_I on model.d_frames frames per clip (d_*), D_V on the clips (dv_*)."""
        real_frames = pick_frames(batch.x, fake.frame_real)
        fake_frames = pick_frames(fake.x, fake.frame_fake)
        terms = self.objective.d_terms_outputs(nets["d"], real_frames, fake_frames, ctx.gen,
                                               ctx.r1, logit=adv_logit)[0]
        video = self.objective.d_terms_outputs(nets["dv"], batch.x, fake.x, ctx.gen, ctx.r1,
                                               logit=adv_logit)[0]
        terms.update({"dv" + k[1:]: v for k, v in video.items()})  # d_real -> dv_real, ...
        return terms

    def g_terms(self, nets: Nets, batch: Batch, fake: ClipFake) -> dict[str, torch.Tensor]:
        """G's loss against D_I on the same frames as the D phase (g_adv) and D_V (gv_adv)."""
        image = adv_logit(nets["d"](pick_frames(fake.x, fake.frame_fake)))
        video = adv_logit(nets["dv"](fake.x))
        return {"g_adv": self.objective.g_losses(image)["g_adv"],
                "gv_adv": self.objective.g_losses(video)["g_adv"]}
