"""The latent layout shared by every family: noise, one-hot categorical codes, continuous codes.

z = [noise (noise dims) | one-hot block of code c0 | ... | continuous codes], where the
noise is N(0, I) or U[-1, 1] (`prior`), each categorical code is uniform over its k values
(InfoGAN's categorical codes, Chen et al. 2016, or a discrete prior joined to the noise)
and each continuous code is U[-1, 1] (InfoGAN). Codes are numbered c0, c1, ... with the
categorical codes first, then the continuous ones: continuous code j is c{len(cat) + j}.

Draw order from the generator: the noise, then each categorical block (torch.randint), then
the continuous codes (rand * 2 - 1). With no codes and no truncation the draws are exactly
those of `nets.PRIORS`, so seeded runs stay bit-identical.

Truncation acts on the noise only:
  "psi": z = mean + psi * (z - mean) with mean = 0 for both priors: with no mapping network
         the mean latent is the prior's mean, so StyleGAN's truncation trick (Karras et al.
         2019) is a scaling by psi in (0, 1].
  "resample": BigGAN's truncation trick (Brock et al. 2019): every normal value with
         |v| > threshold is redrawn until all lie inside (normal prior only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from gankit.errors import GankitError
from gankit.nets import PRIORS  # gankit.nets does not import this module: no circle

TRUNCATION_MODES = ("psi", "resample")
MAX_RESAMPLE_ROUNDS = 10_000  # guards the resample loop against a threshold near 0


class LatentSample(NamedTuple):
    z: torch.Tensor  # (n, dim) float32
    cat: torch.Tensor  # (n, len(cat)) int64 index of each categorical code
    cont: torch.Tensor  # (n, cont) float32 continuous codes in [-1, 1]


class LatentParts(NamedTuple):
    noise: torch.Tensor  # (n, noise)
    cat: list[torch.Tensor]  # one (n, k_i) one-hot block per categorical code
    cont: torch.Tensor  # (n, cont)


@dataclass(frozen=True)
class Latent:
    noise: int  # continuous noise dimensions
    prior: str = "normal"  # noise prior: normal (N(0, I)) | uniform (U[-1, 1])
    cat: tuple[int, ...] = ()  # sizes of the one-hot categorical codes; () = none
    cont: int = 0  # continuous codes ~ U[-1, 1] (InfoGAN); 0 = none

    def __post_init__(self) -> None:
        object.__setattr__(self, "cat", tuple(int(k) for k in self.cat))
        if self.prior not in PRIORS:
            raise GankitError(f"unknown latent prior {self.prior!r}; "
                              f"choose one of: {', '.join(PRIORS.names())}")
        if self.noise < 0 or self.cont < 0:
            raise GankitError(f"latent noise ({self.noise}) and cont ({self.cont}) must be >= 0")
        if any(k < 2 for k in self.cat):
            raise GankitError(f"each categorical code needs >= 2 values; got cat={list(self.cat)}")
        if self.dim == 0:
            raise GankitError("the latent is empty: noise, cat and cont are all 0")

    @property
    def dim(self) -> int:
        """Width of z: noise + sum(cat) + cont."""
        return self.noise + sum(self.cat) + self.cont

    @property
    def n_codes(self) -> int:
        return len(self.cat) + self.cont

    def sample(self, n: int, gen: torch.Generator, truncation: float | None = None,
               mode: str = "psi") -> torch.Tensor:
        """(n, dim) float32 latents on gen's device; see the module docstring for the rest."""
        return self.sample_with_codes(n, gen, truncation, mode).z

    def sample_with_codes(self, n: int, gen: torch.Generator, truncation: float | None = None,
                          mode: str = "psi") -> LatentSample:
        """Latents and the codes inside them: (z, cat indices (n, len(cat)), cont (n, cont))."""
        dev = gen.device
        noise = self._noise(n, gen, truncation, mode)
        idx = [torch.randint(k, (n,), generator=gen, device=dev) for k in self.cat]
        if self.cont:  # no empty draw when there are no codes: PRIORS' stream, untouched
            cont = torch.rand(n, self.cont, generator=gen, device=dev).mul_(2).sub_(1)
        else:
            cont = noise.new_zeros(n, 0)
        cat = torch.stack(idx, 1) if idx else torch.zeros(n, 0, dtype=torch.long, device=dev)
        if not idx and not self.cont:
            return LatentSample(noise, cat, cont)  # the noise tensor itself, as PRIORS return it
        blocks = [F.one_hot(i, k).to(noise.dtype) for i, k in zip(idx, self.cat)]
        return LatentSample(torch.cat([noise, *blocks, cont], dim=1), cat, cont)

    def _noise(self, n: int, gen: torch.Generator, truncation: float | None,
               mode: str) -> torch.Tensor:
        if mode not in TRUNCATION_MODES:
            raise GankitError(f"unknown truncation mode {mode!r}; "
                              f"choose one of: {', '.join(TRUNCATION_MODES)}")
        if truncation is not None:
            if mode == "psi" and not 0 < truncation <= 1:
                raise GankitError(f"truncation psi must be in (0, 1]; got {truncation}")
            if mode == "resample" and not truncation > 0:
                raise GankitError(f"truncation threshold must be > 0; got {truncation}")
            if mode == "resample" and self.prior != "normal":
                raise GankitError(f"resample truncation needs the normal prior, not {self.prior!r}")
        z = PRIORS.get(self.prior)(n, self.noise, gen)  # the one definition of each prior
        if truncation is None:
            return z
        if mode == "psi":
            return z.mul_(truncation)  # mean + psi * (z - mean), mean = 0
        for _ in range(MAX_RESAMPLE_ROUNDS):
            out = z.abs() > truncation
            count = int(out.sum())
            if count == 0:
                return z
            z[out] = torch.randn(count, generator=gen, device=gen.device)
        raise GankitError(f"truncation threshold {truncation} is too small: values still "
                          f"outside after {MAX_RESAMPLE_ROUNDS} redraws")

    def _check(self, z: torch.Tensor) -> None:
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise GankitError(f"latent has shape {tuple(z.shape)}; expected (n, {self.dim}) "
                              f"for noise={self.noise}, cat={list(self.cat)}, cont={self.cont}")

    def split(self, z: torch.Tensor) -> LatentParts:
        """(noise, [one-hot block per categorical code], cont): views into z."""
        self._check(z)
        parts = torch.split(z, [self.noise, *self.cat, self.cont], dim=1)
        return LatentParts(parts[0], list(parts[1:-1]), parts[-1])

    def with_codes(self, z: torch.Tensor, cat: Mapping[int, int] | None = None,
                   cont: Mapping[int, float] | None = None) -> torch.Tensor:
        """A copy of z with categorical code i set to value k and/or continuous code j to v.

        Keys count within their kind: cat={0: 3} sets c0 to value 3, cont={1: 0.5} sets the
        second continuous code, c{len(cat) + 1}. Continuous values may leave [-1, 1] (the
        InfoGAN paper extrapolates to [-2, 2]); they must be finite.
        """
        self._check(z)
        out = z.clone()
        n_cat = len(self.cat)
        offsets = [self.noise + sum(self.cat[:i]) for i in range(n_cat)]
        for i, k in (cat or {}).items():
            if not 0 <= i < n_cat:
                raise GankitError(f"no categorical code {i}: this latent has {n_cat} "
                                  f"({self._names(0, n_cat)})")
            if not 0 <= k < self.cat[i]:
                raise GankitError(f"code c{i} takes values 0..{self.cat[i] - 1}; got {k}")
            out[:, offsets[i]:offsets[i] + self.cat[i]] = 0
            out[:, offsets[i] + k] = 1
        base = self.noise + sum(self.cat)
        for j, v in (cont or {}).items():
            if not 0 <= j < self.cont:
                raise GankitError(f"no continuous code {j}: this latent has {self.cont} "
                                  f"({self._names(n_cat, n_cat + self.cont)})")
            if not math.isfinite(v):
                raise GankitError(f"code c{n_cat + j} must be a finite number; got {v}")
            out[:, base + j] = float(v)
        return out

    @staticmethod
    def _names(lo: int, hi: int) -> str:
        if hi <= lo:
            return "none"
        return f"c{lo}" if hi - lo == 1 else f"c{lo}..c{hi - 1}"
