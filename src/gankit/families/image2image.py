"""Image-to-image families: G maps an image to an image. `PairFamily` is what they share;
`Image2Image` is pix2pix (Isola et al. 2017).

pix2pix: a U-Net G (nets/image2image.py) turns the input c into an output; a PatchGAN D
judges (c, x) pairs, real (c, target) against fake (c, G(c)), concatenated on the channel
axis; G's loss is adv_weight * adversarial + l1_weight * |G(c) - target|_1 (lambda 100 in
the paper); the U-Net's dropout is the noise source (no z). The input is made on the fly
from each clean image by `data.pairs` (inpaint: the image with holes and the hole mask;
grey; blur; downscale) or read from aligned pairs (`pairs:A_DIR,B_DIR`). For inpainting the
output keeps the known pixels exactly: G's fill is composited into the holes only; with
`model.prefill` the holes arrive pre-filled by a smooth harmonic interpolation
(data/corrupt.py) and G's output is added to that fill as a residual.

The nets follow the families' contract loosely: these Gs take an image, G(c), and these Ds
score patches, D(x) -> (N, P) logits, one per patch, every one of them a logit of the
adversarial loss. `Fake.z` holds G's input, since it is what G was given.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gankit.config import Config
from gankit.data import corrupt, masks
from gankit.data.pairs import split_parts
from gankit.errors import GankitError
from gankit.families.base import Batch, DataInfo, Fake, Family, Nets, PhaseCtx
from gankit.nets import NetSpec

IMAGE_FAMILIES = ("image2image", "superres", "cyclegan")
BN_BATCHES = 4  # batches of real inputs that set the EMA G's batch-norm statistics


def patch_logits(out: torch.Tensor) -> torch.Tensor:
    """A PatchGAN's (N, P) output: every patch logit enters the adversarial loss."""
    return out


@dataclass
class PairFake(Fake):
    """G's output for a batch, what it should have been, and (inpainting) the holes."""

    target: torch.Tensor | None = None  # the clean image G should have made
    mask: torch.Tensor | None = None  # inpainting: (N, 1, H, W), 1 = hole


def grid_of_columns(cols: list[torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Image batches side by side (grey ones repeated to the others' channels), row by row:
    (images, columns) for save_grid."""
    c = max(t.shape[1] for t in cols)
    cols = [t.expand(-1, c, -1, -1) if t.shape[1] == 1 else t for t in cols]
    return torch.stack(cols, 1).flatten(0, 1), len(cols)


class PairFamily(Family):
    """What the image-to-image families share: checks, D's spec, sample grids, content-only
    pre-training (`train.pretrain_steps`: G learns the content loss alone, D idles)."""

    packable = False  # D scores each output against its own input
    image_input = True  # G takes images made from the data, not latents (see train/hooks)
    allows_aug = False  # augmenting D's (input, output) pair would move one without the other

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        super().check(cfg, data)
        m = cfg.model
        if len(data.shape) != 3:
            raise GankitError(f"model.family={cls.name} translates images; data.name="
                              f"{cfg.data.name} has samples of shape {data.shape}")
        for key, on in [("model.cat_codes", bool(m.cat_codes)), ("model.mbstd", m.mbstd > 0),
                        ("model.attn_res", m.attn_res is not None),
                        ("model.g_upsample", m.g_upsample != "deconv"),
                        ("reg.pl_weight", cfg.reg.pl_weight > 0),
                        ("aug.kind", cfg.aug.kind != "none" and not cls.allows_aug)]:
            if on:
                raise GankitError(f"{key} does not apply to model.family={cls.name} (G maps an "
                                  "image to an image; D scores patches of the pair)")
        if cfg.train.eval_every:
            raise GankitError(f"train.eval_every={cfg.train.eval_every} with model.family="
                              f"{cls.name}: FID-style evaluation scores samples of G(z); "
                              "measure image-to-image models with benchmarks/restoration.py "
                              "(PSNR/SSIM) and set train.eval_every=0")
        if cfg.reg.fm_weight > 0 and cfg.reg.adv_weight == 0:
            raise GankitError("reg.fm_weight > 0 with reg.adv_weight=0: feature matching uses "
                              "D's features, and D only trains when the adversarial term is on")
        if m.d_norm == "batch" and cfg.reg.gp_lambda > 0:
            raise GankitError("reg.gp_lambda > 0 with model.d_norm=batch: the gradient penalty "
                              "is per sample; set model.d_norm=instance or none")

    def __init__(self, cfg: Config, data: DataInfo) -> None:
        super().__init__(cfg, data)
        self.pretrain_steps = cfg.train.pretrain_steps

    def patch_d(self, in_channels: int) -> NetSpec:
        m = self.cfg.model
        return {"name": "patch-d", "kwargs": {"in_channels": in_channels,
                                             "resolution": self.data.shape[1],
                                             "width": m.d_width, "layers": m.d_layers,
                                             "norm": m.d_norm, "sn": m.d_sn}}

    def meta(self) -> dict:
        """Besides the base record: what the image tools need (task, channels, scale)."""
        return {**super().meta(), "image": self.image_meta()}

    def image_meta(self) -> dict:
        raise NotImplementedError

    def adversarial(self, step: int) -> bool:
        """D trains and G takes its adversarial term from `train.pretrain_steps` on."""
        return step >= self.pretrain_steps and self.cfg.reg.adv_weight > 0

    def content(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.mse_loss if self.cfg.reg.content == "mse" else F.l1_loss
        return loss(out.float(), target.float())

    def content_terms(self, nets: Nets, batch: Batch, fake: PairFake) -> dict[str, torch.Tensor]:
        """G's loss without D (pre-training, or reg.adv_weight=0)."""
        return {"g_content": self.cfg.reg.l1_weight * self.content(fake.x, fake.target)}

    # ------------------------------------------------------------------ sample grids

    def grid_rows(self, ema: Nets, x: torch.Tensor, gen: torch.Generator
                  ) -> tuple[torch.Tensor, int]:
        """The training sample grid for a fixed real batch x: one row per image
        (input | output | target); returns (images, columns)."""
        batch = Batch(x)
        fake = self.fake(ema, batch, gen)
        inp = self.show_input(fake.z, x.shape[-1])
        return grid_of_columns([inp, fake.x, fake.target])

    def show_input(self, inp: torch.Tensor, size: int) -> torch.Tensor:
        """G's input as a picture of the output's size."""
        return inp

    def bn_inputs(self, data_x: torch.Tensor, gen: torch.Generator, batch_size: int
                  ) -> list[tuple[torch.Tensor, None]]:
        """G inputs made from fixed real images, in batches: they set the EMA G's
        batch-norm statistics."""
        inp = self.make_pair(data_x, gen)[0]
        return [(b, None) for b in inp.split(batch_size)]

    def make_pair(self, x: torch.Tensor, gen: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(G's input, target, holes or None) from a real batch."""
        raise NotImplementedError


class Image2Image(PairFamily):
    name = "image2image"

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        super().check(cfg, data)
        pairs = cfg.data.pairs
        if pairs == "none" and not data.paired:
            raise GankitError(f"model.family=image2image needs pairs: data.pairs=inpaint|grey|"
                              f"blur|downscale, or data.name=pairs:A_DIR,B_DIR (data.name="
                              f"{cfg.data.name})")
        if pairs != "none" and data.parts:
            raise GankitError(f"data.pairs={pairs} with data.name={cfg.data.name}: the data "
                              "are pairs already; use data.pairs=none")
        if pairs == "grey" and data.shape[0] == 1:
            raise GankitError(f"data.pairs=grey on 1-channel data ({cfg.data.name}): the input "
                              "would equal the target; use RGB data or data.channels=3")
        res = data.shape[1]
        if data.shape[1] != data.shape[2] or res & (res - 1) or not 32 <= res <= 512:
            raise GankitError(f"model.family=image2image trains on square crops of 32..512 px, "
                              f"a power of two (the U-Net's depth follows it); data.resolution "
                              f"gives {data.shape[1]}x{data.shape[2]}")

    def __init__(self, cfg: Config, data: DataInfo) -> None:
        super().__init__(cfg, data)
        self.pairs = cfg.data.pairs
        c = data.shape[0]
        if data.parts:
            self.in_ch, self.out_ch = data.parts
        else:
            self.out_ch = c
            self.in_ch = {"inpaint": c + 1, "grey": 1}.get(self.pairs, c)

    def specs(self) -> dict[str, NetSpec]:
        m = self.cfg.model
        g = {"name": "unet-g", "kwargs": {"in_channels": self.in_ch, "out_channels": self.out_ch,
                                          "resolution": self.data.shape[1], "width": m.g_width,
                                          "dropout": m.dropout, "sn": m.g_sn}}
        return {"g": g, "d": self.patch_d(self.in_ch + self.out_ch)}

    def image_meta(self) -> dict:
        return {"task": "pairs" if self.data.parts else self.pairs, "in_channels": self.in_ch,
                "out_channels": self.out_ch, "scale": 1, "resolution": self.data.shape[1],
                "prefill": self.cfg.model.prefill}

    def make_pair(self, x, gen):
        if self.data.parts:
            inp, target = split_parts(x, self.data.parts)
            return inp, target, None
        if self.pairs == "inpaint":
            hole = masks.mixed_masks(x.shape[0], x.shape[2], x.shape[3], gen,
                                     self.cfg.data.masks).to(x.device)
            return corrupt.inpaint_input(x, hole, self.cfg.model.prefill), x, hole
        if self.pairs == "grey":
            return corrupt.grey(x), x, None
        if self.pairs == "blur":
            return corrupt.blur(x, corrupt.BLUR_SIGMA), x, None
        return corrupt.downscale_up(x), x, None

    def show_input(self, inp, size):
        return inp[:, :-1] if self.pairs == "inpaint" else inp

    def fake(self, nets: Nets, batch: Batch, gen: torch.Generator) -> PairFake:
        inp, target, hole = self.make_pair(batch.x, gen)
        out = nets["g"](inp)
        if hole is not None:  # only the holes change: known pixels are kept exactly
            out = corrupt.inpaint_output(out, target, hole, inp, self.cfg.model.prefill)
        return PairFake(out, inp, target=target, mask=hole)

    def d_pair(self, nets: Nets):
        """D on (input, image) pairs joined on the channel axis: D(x, c) = D([c | x])."""
        return lambda x, c: nets["d"](torch.cat([c, x], 1))

    def d_terms(self, nets: Nets, batch: Batch, fake: PairFake, ctx: PhaseCtx
                ) -> dict[str, torch.Tensor]:
        return self.objective.d_terms_outputs(self.d_pair(nets), fake.target, fake.x, ctx.gen,
                                              ctx.r1, fake.z, fake.z, patch_logits)[0]

    def g_terms(self, nets: Nets, batch: Batch, fake: PairFake) -> dict[str, torch.Tensor]:
        reg = self.cfg.reg
        adv = self.objective.g_losses(self.d_pair(nets)(fake.x, fake.z))["g_adv"]
        return {"g_adv": reg.adv_weight * adv, **self.content_terms(nets, batch, fake)}
