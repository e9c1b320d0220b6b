"""BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): learn an encoder with G.

An encoder E: x -> z is trained on G's side. D scores joint pairs: (x, E(x)) from the data
against (G(z), z) from the prior. D minimises the adversarial loss with the data pair as
real; G and E minimise the same loss with the labels swapped (the data pair as fake, the
generated pair as real), which for the logistic loss is the non-saturating objective of
both papers. At the optimum E inverts G, so G(E(x)) reconstructs x. In short runs it is far
from that optimum; `reg.cycle_weight` adds ALICE's explicit cycle terms (Li et al. 2017),
|x - G(E(x))|^2 and |z - E(G(z))|^2, to G and E's loss.
"""

from __future__ import annotations

import torch

from gankit.config import Config
from gankit.families.base import (
    Batch,
    DataInfo,
    Fake,
    Family,
    Nets,
    adv_logit,
    require_sample_dims,
)
from gankit.nets import NetSpec


class BiGAN(Family):
    name = "bigan"
    packable = False  # D scores each sample with its own condition
    g_side = ("g", "e")

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        super().check(cfg, data)
        require_sample_dims(cfg, data, 3, "image data")

    def specs(self) -> dict[str, NetSpec]:
        g, d = self.base_specs()
        e = {"name": d["name"], "kwargs": {**d["kwargs"], "out_dim": self.latent.dim}}
        e["kwargs"].pop("sn", None)
        e["kwargs"].pop("mbstd", None)  # an encoder codes each image alone
        d["kwargs"].update(cond="latent", c_dim=self.latent.dim)
        return {"g": g, "d": d, "e": e}

    def meta(self) -> dict:
        return {**super().meta(), "encoder": "e"}

    def fake(self, nets: Nets, batch: Batch, gen: torch.Generator) -> Fake:
        z = self.latent.sample(batch.x.shape[0], gen).to(batch.x.device)
        return Fake(nets["g"](z), z, enc=nets["e"](batch.x))

    def d_condition(self, batch: Batch, fake: Fake):
        return fake.enc, fake.z  # real pair (x, E(x)); fake pair (G(z), z)

    def g_terms(self, nets: Nets, batch: Batch, fake: Fake) -> dict[str, torch.Tensor]:
        fake_logits = adv_logit(nets["d"](fake.x, fake.z))
        real_logits = adv_logit(nets["d"](batch.x, fake.enc))
        g_adv, e_adv = self.objective.adv.d(fake_logits.float(), real_logits.float())
        terms = {"g_adv": g_adv, "e_adv": e_adv}
        w = self.cfg.reg.cycle_weight
        if w > 0:  # ALICE (Li et al. 2017): explicit cycle consistency in both directions
            x_cycle = nets["g"](fake.enc)
            z_cycle = nets["e"](fake.x)
            terms["cycle_x"] = w * (x_cycle.float() - batch.x.float()).square().mean()
            terms["cycle_z"] = w * (z_cycle.float() - fake.z.float()).square().mean()
        return terms
