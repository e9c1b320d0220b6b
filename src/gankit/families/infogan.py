"""InfoGAN (Chen et al. 2016): latent codes that mean something.

z = [noise | one-hot categorical codes | continuous codes ~ U(-1, 1)]. A Q head shares D's
trunk (D's extra output columns, as in the paper's implementation) and predicts the codes of
a fake image; the negative mutual-information lower bound (categorical cross-entropy,
Gaussian negative log-likelihood with unit variance for continuous codes) is minimised by D/Q
in the D phase and by G in the G phase, weighted by reg.info_weight (lambda_info).
"""

from __future__ import annotations

import torch

from gankit.config import Config
from gankit.errors import GankitError
from gankit.families.base import Batch, DataInfo, Fake, Family, Nets, PhaseCtx, adv_logit
from gankit.losses.auxiliary import info_loss, split_q
from gankit.nets import NetSpec


class InfoGAN(Family):
    name = "infogan"
    packable = False  # D scores each sample with its own condition

    @classmethod
    def check(cls, cfg: Config, data: DataInfo) -> None:
        super().check(cfg, data)
        if not cfg.model.cat_codes and not cfg.model.cont_codes:
            raise GankitError("model.family=infogan needs latent codes: set model.cat_codes "
                              "(e.g. [10]) and/or model.cont_codes (e.g. 2)")

    def __init__(self, cfg: Config, data: DataInfo) -> None:
        super().__init__(cfg, data)
        self.q_dim = sum(self.latent.cat) + self.latent.cont

    def specs(self) -> dict[str, NetSpec]:
        g, d = self.base_specs()
        d["kwargs"]["out_dim"] = 1 + self.q_dim  # adversarial logit + Q's code predictions
        return {"g": g, "d": d}

    def fake(self, nets: Nets, batch: Batch, gen: torch.Generator) -> Fake:
        z, cat, cont = self.latent.sample_with_codes(batch.x.shape[0], gen)
        z = z.to(batch.x.device)
        codes = {"cat": cat.to(batch.x.device), "cont": cont.to(batch.x.device)}
        return Fake(nets["g"](z), z, None, codes)

    def grid_input(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, None]:
        """Rows = the values of the first categorical code (the rest drawn), when there is one."""
        if not self.latent.cat:
            return self.g_input(n, gen)
        k = self.latent.cat[0]
        cols = max(1, n // k)
        z = self.latent.sample(cols, gen).repeat(k, 1)
        return torch.cat([self.latent.with_codes(z[i * cols:(i + 1) * cols], {0: i}, {})
                          for i in range(k)]), None

    def grid_columns(self, n: int) -> int | None:
        return max(1, n // self.latent.cat[0]) if self.latent.cat else None

    def info_term(self, out: torch.Tensor, fake: Fake) -> torch.Tensor:
        cat_logits, cont_mean, _ = split_q(out[:, 1:].float(), list(self.latent.cat),
                                           self.latent.cont, False)
        cats = [fake.codes["cat"][:, i] for i in range(len(self.latent.cat))]
        reg, total = self.cfg.reg, out.new_zeros((), dtype=torch.float32)
        if cats:
            total = total + info_loss(cat_logits, cats)
        if self.latent.cont:  # the paper weighs continuous codes less (reg.info_cont_weight)
            total = total + reg.info_cont_weight * info_loss([], [], cont_mean,
                                                             fake.codes["cont"])
        return reg.info_weight * total

    def d_terms(self, nets: Nets, batch: Batch, fake: Fake, ctx: PhaseCtx
                ) -> dict[str, torch.Tensor]:
        terms, _, fake_out = self.d_adversarial(nets, batch, fake, ctx)
        terms["d_info"] = self.info_term(fake_out, fake)
        return terms

    def g_terms(self, nets: Nets, batch: Batch, fake: Fake) -> dict[str, torch.Tensor]:
        out = self.d_on_fake(nets, batch, fake)
        terms = self.objective.g_losses(adv_logit(out))
        terms["g_info"] = self.info_term(out, fake)
        return terms
