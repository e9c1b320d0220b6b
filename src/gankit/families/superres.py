"""Super-resolution (SRGAN, Ledig et al. 2017): an SRResNet G with sub-pixel upsampling by
`model.scale` (2, 3 or 4) and a PatchGAN D on high-resolution images.

Training pairs are made on the fly: each HR crop is (optionally blurred,) bicubic-downscaled
by the scale (optionally noised) and quantised to 8 bits (data/corrupt.py). G's loss is
l1_weight * content (L1 or MSE) + adv_weight * adversarial (SRGAN: 1e-3) + fm_weight * D
feature matching: the L1 distance between D's activations on the output and on the target,
a perceptual term learned by D instead of a downloaded VGG. `train.pretrain_steps` of
content loss alone first give the SRResNet (kept as checkpoints/content.pt), as the paper
initialises SRGAN from it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.config import Config
from gankit.data import corrupt
from gankit.errors import GankitError
from gankit.families.base import Batch, DataInfo, Nets, PhaseCtx
from gankit.families.image2image import PairFake, PairFamily, patch_logits
from gankit.nets import NetSpec


def feature_matching(d, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Sum over D's layers of the mean L1 distance between its activations on the output
    and on the (detached) target."""
    with torch.no_grad():
        real = d.features(target)
    return sum(F.l1_loss(f.float(), r.float()) for f, r in zip(d.features(out), real))


class SuperRes(PairFamily):
    name = "superres"

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        super().check(cfg, data)
        s, res = cfg.model.scale, data.shape[1]
        if data.parts:
            raise GankitError(f"model.family=superres makes its low-res inputs from the images; "
                              f"data.name={cfg.data.name} holds pairs (use model.family="
                              "image2image)")
        if cfg.data.pairs != "none":
            raise GankitError(f"data.pairs={cfg.data.pairs} is for model.family=image2image; "
                              "superres makes its pairs by bicubic downscaling")
        if res % s or data.shape[2] % s:
            raise GankitError(f"data.resolution={res} must be a multiple of model.scale={s} "
                              "(HR crops are downscaled by it)")
        if cfg.model.g_sn:
            raise GankitError("model.g_sn=true with model.family=superres: the SRResNet G has "
                              "no spectral norm; use model.d_sn")

    def specs(self) -> dict[str, NetSpec]:
        m = self.cfg.model
        g = {"name": "srresnet-g", "kwargs": {"channels": self.data.shape[0], "scale": m.scale,
                                              "width": m.g_width, "blocks": m.blocks}}
        if m.upsampler != "srgan":  # default kwargs stay unrecorded: old specs stay the same
            g["kwargs"]["upsampler"] = m.upsampler
        return {"g": g, "d": self.patch_d(self.data.shape[0])}

    def image_meta(self) -> dict:
        c = self.data.shape[0]
        return {"task": "superres", "in_channels": c, "out_channels": c,
                "scale": self.cfg.model.scale, "resolution": self.data.shape[1]}

    def make_pair(self, x, gen):
        d = self.cfg.data
        return corrupt.sr_degrade(x, self.cfg.model.scale, gen, d.degrade_blur,
                                  d.degrade_noise), x, None

    def show_input(self, inp, size):
        return F.interpolate(inp, size=(size, size), mode="nearest")

    def fake(self, nets: Nets, batch: Batch, gen: torch.Generator) -> PairFake:
        lr, hr, _ = self.make_pair(batch.x, gen)
        return PairFake(nets["g"](lr), lr, target=hr)

    def d_terms(self, nets: Nets, batch: Batch, fake: PairFake, ctx: PhaseCtx
                ) -> dict[str, torch.Tensor]:
        return self.objective.d_terms_outputs(nets["d"], fake.target, fake.x, ctx.gen, ctx.r1,
                                              logit=patch_logits)[0]

    def g_terms(self, nets: Nets, batch: Batch, fake: PairFake) -> dict[str, torch.Tensor]:
        reg = self.cfg.reg
        terms = self.content_terms(nets, batch, fake)
        terms["g_adv"] = reg.adv_weight * self.objective.g_losses(nets["d"](fake.x))["g_adv"]
        if reg.fm_weight > 0:
            terms["g_fm"] = reg.fm_weight * feature_matching(nets["d"], fake.x, fake.target)
        return terms
