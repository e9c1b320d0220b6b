"""Auxiliary losses of the conditional and InfoGAN families, pure functions in float32.

ACGAN (Odena et al. 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs"): D
has a class head; its cross-entropy on real labels joins D's loss and on the labels G was
asked for joins both phases (L_C in section 3 of the paper).

InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information
Maximizing GANs"): a head Q(c | x) on D's trunk; the variational lower bound
L_I = E[log Q(c | G(z, c))] + H(c) on I(c; G(z, c)) (eq. 4 of the paper) is maximised by G
and Q. H(c) is a constant of the prior, so `info_loss` returns -E[log Q(c | x)], the
negative bound up to that constant, as a sum over the codes:
  categorical code i with k_i values:  CE(logits_i, c_i)          (a uniform Q gives log k_i)
  continuous code j, unit std:          0.5 (c_j - mu_j)^2 + 0.5 log(2 pi)
  continuous code j, learnt std:        log sigma_j + (c_j - mu_j)^2 / (2 sigma_j^2)
                                        + 0.5 log(2 pi),  sigma_j = exp(log_std_j)
each averaged over the batch. The paper treats the continuous codes as a factored Gaussian
(section 6); learning sigma follows its released code, a fixed unit std is the simpler and
more stable choice (and the default: pass no `cont_logstd`).

Q's output layout, (N, sum(cat) + n_cont * (2 if learn_std else 1)):
  [logits of code 0 | logits of code 1 | ... | cont means | cont log-stds (learn_std only)]
`split_q` cuts it into those parts; `q_out_dim` gives its width.
Weights (InfoGAN's lambda, often 1 for discrete and smaller for continuous codes) are the
caller's: call `info_loss` once per kind of code to weigh and log them apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from gankit.errors import GankitError

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def acgan_ce(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """ACGAN's auxiliary classifier loss: -log softmax(class_logits)[label], batch mean.

    class_logits: (N, n_classes) from D's class head, any float dtype (computed in float32);
    labels: (N,) int64 class indices.
    """
    return F.cross_entropy(class_logits.float(), labels.long())


class QParts(NamedTuple):
    """Q's output cut into its parts (see the module docstring for the layout)."""

    cat_logits: list[torch.Tensor]  # one (N, k_i) block per categorical code
    cont_mean: torch.Tensor | None  # (N, n_cont); None when n_cont == 0
    cont_logstd: torch.Tensor | None  # (N, n_cont); None unless learn_std


def q_out_dim(cat_sizes: Sequence[int], n_cont: int, learn_std: bool) -> int:
    """Width of Q's output for these codes: sum(cat_sizes) + n_cont * (2 if learn_std else 1)."""
    return sum(cat_sizes) + n_cont * (2 if learn_std else 1)


def split_q(out: torch.Tensor, cat_sizes: Sequence[int], n_cont: int,
            learn_std: bool) -> QParts:
    """Split Q's output (N, q_out_dim(...)) into categorical logits, means and log-stds."""
    width = q_out_dim(cat_sizes, n_cont, learn_std)
    if out.dim() != 2 or out.shape[1] != width:
        raise GankitError(f"Q output has shape {tuple(out.shape)}; expected (N, {width}) for "
                          f"cat={list(cat_sizes)}, cont={n_cont}, learn_std={learn_std}")
    parts = torch.split(out, [*cat_sizes, n_cont, n_cont if learn_std else 0], dim=1)
    mean = parts[-2] if n_cont else None
    logstd = parts[-1] if n_cont and learn_std else None
    return QParts(list(parts[:len(cat_sizes)]), mean, logstd)


def gaussian_nll(codes: torch.Tensor, mean: torch.Tensor,
                 logstd: torch.Tensor | None = None) -> torch.Tensor:
    """-log N(codes; mean, sigma^2) per element (float32); sigma = 1 when logstd is None."""
    diff = codes.float() - mean.float()
    if logstd is None:
        return 0.5 * diff.square() + HALF_LOG_2PI
    logstd = logstd.float()
    return logstd + 0.5 * (diff * torch.exp(-logstd)).square() + HALF_LOG_2PI


def info_loss(cat_logits: Sequence[torch.Tensor],
              cat_codes: Sequence[torch.Tensor] | torch.Tensor,
              cont_pred: torch.Tensor | None = None,
              cont_codes: torch.Tensor | None = None,
              cont_logstd: torch.Tensor | None = None) -> torch.Tensor:
    """-E[log Q(c | x)]: InfoGAN's negative mutual-information bound up to H(c) (scalar).

    cat_logits: one (N, k_i) tensor per categorical code; cat_codes: the indices drawn for
    them, a sequence of (N,) int64 tensors or one (N, n_cat) tensor (as `Latent` returns).
    cont_pred: (N, n_cont) means; cont_codes: (N, n_cont) the codes drawn; cont_logstd:
    (N, n_cont) log-stds, or None for a unit std. Categorical terms are summed over codes,
    the Gaussian NLL over continuous codes; both are averaged over the batch.
    """
    if isinstance(cat_codes, torch.Tensor):
        cat_codes = list(cat_codes.unbind(1)) if cat_codes.dim() == 2 else [cat_codes]
    if len(cat_logits) != len(cat_codes):
        raise GankitError(f"info_loss: {len(cat_logits)} categorical logit blocks but "
                          f"{len(cat_codes)} categorical codes")
    if (cont_pred is None) != (cont_codes is None):
        raise GankitError("info_loss: pass both cont_pred and cont_codes, or neither")
    if cont_logstd is not None and cont_pred is None:
        raise GankitError("info_loss: cont_logstd given without cont_pred")
    if not cat_logits and cont_pred is None:
        raise GankitError("info_loss: no codes given (no categorical and no continuous code)")
    terms = [F.cross_entropy(lg.float(), c.long()) for lg, c in zip(cat_logits, cat_codes)]
    if cont_pred is not None:
        if cont_pred.shape != cont_codes.shape:
            raise GankitError(f"info_loss: cont_pred has shape {tuple(cont_pred.shape)} but "
                              f"cont_codes {tuple(cont_codes.shape)}")
        nll = gaussian_nll(cont_codes, cont_pred, cont_logstd)
        terms.append(nll.flatten(1).sum(1).mean())
    return torch.stack(terms).sum()
