"""Class-conditional GANs: G(z, y) and D(x, y) with the data set's labels.

G takes the class by an embedding joined to z (Mirza & Osindero 2014) or by conditional
batch norm (de Vries et al. 2017; the SNGAN/BigGAN generators). D takes it by projection (Miyato & Koyama 2018:
D(x, y) = psi(h) + <embed(y), h>) or through an auxiliary classifier head (ACGAN, Odena et
al. 2017), whose class cross-entropy joins D's loss on real and fake images and G's loss
(`reg.cls_fake=false`: on real images only. A classifier that also learns G's labels for its
fakes can be taught G's mistakes, and rewards one easily classified image per class: the bias
analysed by Shu et al. 2017, "AC-GAN learns a biased distribution", and Gong et al. 2019).
Fake labels are drawn from the data set's label frequencies.
"""

from __future__ import annotations

import torch

from gankit.config import Config
from gankit.errors import GankitError
from gankit.families.base import Batch, DataInfo, Fake, Family, Nets, PhaseCtx, adv_logit
from gankit.losses.auxiliary import acgan_ce
from gankit.nets import NetSpec


class Conditional(Family):
    name = "conditional"
    packable = False  # D scores each sample with its own condition

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        super().check(cfg, data)
        if data.num_classes < 2:
            raise GankitError(f"model.family=conditional needs labelled data; data.name="
                              f"{cfg.data.name} has no class labels (use a folder with one "
                              "sub-folder per class, or an npz file with 'y')")

    def __init__(self, cfg: Config, data: DataInfo) -> None:
        super().__init__(cfg, data)
        m = cfg.model
        self.g_cond = m.g_cond
        self.acgan = m.d_cond == "acgan"
        self.freq = torch.tensor(data.class_freq, dtype=torch.float64)

    def specs(self) -> dict[str, NetSpec]:
        g, d = self.base_specs()
        k = self.data.num_classes
        g["kwargs"].update(n_classes=k, cond=self.g_cond)
        if self.acgan:
            d["kwargs"]["out_dim"] = 1 + k  # adversarial logit + class logits
        else:
            d["kwargs"].update(n_classes=k, cond="projection")
        return {"g": g, "d": d}

    def meta(self) -> dict:
        return {**super().meta(), "conditional_g": True}

    def g_input(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents and labels drawn from the class shares; with the mode-seeking term the
        second half of the batch repeats the first half's labels (pairs with one class)."""
        z = self.latent.sample(n, gen)
        if self.cfg.reg.ms_weight > 0 and n >= 2:
            half = torch.multinomial(self.freq, n - n // 2, replacement=True, generator=gen)
            return z, torch.cat([half, half[:n // 2]])
        return z, torch.multinomial(self.freq, n, replacement=True, generator=gen)

    def grid_input(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One row per class (as many columns as fit in n), the same latents in every row."""
        k = self.data.num_classes
        cols = max(1, n // k)
        z = self.latent.sample(cols, gen).repeat(k, 1)
        return z, torch.arange(k).repeat_interleave(cols)

    def grid_columns(self, n: int) -> int:
        return max(1, n // self.data.num_classes)

    def d_condition(self, batch: Batch, fake: Fake):
        return (None, None) if self.acgan else (batch.y, fake.c)

    def d_terms(self, nets: Nets, batch: Batch, fake: Fake, ctx: PhaseCtx
                ) -> dict[str, torch.Tensor]:
        terms, real_out, fake_out = self.d_adversarial(nets, batch, fake, ctx)
        if self.acgan:  # the class cross-entropy on real (and, by default, on fake) images
            ce = acgan_ce(real_out[:, 1:], batch.y)
            if self.cfg.reg.cls_fake:
                ce = ce + acgan_ce(fake_out[:, 1:], fake.c)
            terms["d_cls"] = self.cfg.reg.cls_weight * ce
        return terms

    def g_terms(self, nets: Nets, batch: Batch, fake: Fake) -> dict[str, torch.Tensor]:
        out = self.d_on_fake(nets, batch, fake)
        terms = self.objective.g_losses(adv_logit(out))
        if self.acgan:
            terms["g_cls"] = self.cfg.reg.cls_weight * acgan_ce(out[:, 1:], fake.c)
        if self.cfg.reg.ms_weight > 0 and fake.x.shape[0] >= 2:
            terms["g_ms"] = self.cfg.reg.ms_weight * mode_seeking(fake.x, fake.z)
        return terms


def mode_seeking(x: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """MSGAN (Mao et al. 2019): 1 / (mean|x1 - x2| / mean|z1 - z2| + eps) over the pairs
    (row i, row i + N/2), which share a class: G is pushed to make different latents give
    different images of one class, against conditional mode collapse."""
    h = x.shape[0] // 2
    ratio = ((x[:h].float() - x[-h:].float()).abs().mean()
             / (z[:h].float() - z[-h:].float()).abs().mean())
    return 1.0 / (ratio + eps)
