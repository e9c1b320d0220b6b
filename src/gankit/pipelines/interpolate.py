"""Latent interpolation between seeds: lerp, or slerp (White 2016) for Gaussian latents;
sweeps of one latent code (InfoGAN, Chen et al. 2016, Fig. 2) with everything else fixed;
and for a sequence model, motion draws under one fixed content latent (MoCoGAN, Tulyakov et
al. 2018, Fig. 4: the same content in every row, the motion differs)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gankit.errors import GankitError
from gankit.pipelines.generate import GeneratorPipeline


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of rows a, b (N, d) at fractions t (T,) -> (N, T, d)."""
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((an * bn).sum(1).clamp(-1.0, 1.0))[:, None, None]  # (N, 1, 1)
    tt = t[None, :, None]
    so = torch.sin(omega)
    lerp = a[:, None] + tt * (b - a)[:, None]
    out = (torch.sin((1 - tt) * omega) * a[:, None] + torch.sin(tt * omega) * b[:, None]) / \
        so.clamp_min(1e-12)
    return torch.where(so.abs() < 1e-6, lerp, out)


def _row_labels(pipe: GeneratorPipeline, seeds: list[int], steps: int) -> torch.Tensor | None:
    """A conditional G's class for each row (that of `sample(1, seed)`), repeated per step."""
    if not pipe.num_classes:
        return None
    return torch.cat([pipe.labels(1, seed=s) for s in seeds]).repeat_interleave(steps)


def interpolate(pipe: GeneratorPipeline, seeds: list[int], steps: int = 8,
                mode: str = "slerp", at: Sequence[float] | None = None) -> torch.Tensor:
    """Samples along paths seed[i] -> seed[i+1]: (len(seeds) - 1, steps, *sample_shape), at
    `steps` even fractions 0..1 of each path, or at the fractions `at` (a slider's position).
    A conditional model keeps the class of seed[i] along path i."""
    if at is not None:
        steps = len(at)
        if not at or not all(0.0 <= float(v) <= 1.0 for v in at):
            raise GankitError(f"interpolation fractions must lie in [0, 1]; got {list(at)}")
    if len(seeds) < 2 or (steps < 2 and at is None):
        raise GankitError(f"interpolation needs at least 2 seeds and 2 steps; got {len(seeds)} "
                          f"seed(s) and {steps} step(s)")
    if mode not in ("lerp", "slerp"):
        raise GankitError(f"interpolation mode {mode!r}: choose lerp or slerp")
    z = torch.cat([pipe.latents(1, seed=s) for s in seeds])
    k = pipe.latent.noise  # only the noise moves: codes (one-hot blocks) stay those of seed i
    a, b = z[:-1, :k], z[1:, :k]
    t = (torch.linspace(0, 1, steps, dtype=z.dtype) if at is None
         else torch.tensor([float(v) for v in at], dtype=z.dtype))
    path = slerp(a, b, t) if mode == "slerp" else a[:, None] + t[None, :, None] * (b - a)[:, None]
    codes = z[:-1, None, k:].expand(-1, steps, -1)
    path = torch.cat([path, codes], 2)
    out = pipe.generate(path.reshape(-1, z.shape[1]), _row_labels(pipe, seeds[:-1], steps))
    return out.view(len(seeds) - 1, steps, *out.shape[1:])


def code_values(pipe: GeneratorPipeline, code: str, steps: int = 8) -> list[float]:
    """The values a sweep of `code` takes: all k values of a categorical code in order (steps
    is then unused), or `steps` evenly spaced values from -1 to 1 for a continuous one."""
    k = pipe.code_size(code)
    if k:
        return [float(v) for v in range(k)]
    if steps < 2:
        raise GankitError(f"a sweep of the continuous code {code} needs at least 2 steps; "
                          f"got {steps}")
    return torch.linspace(-1, 1, steps, dtype=torch.float64).tolist()


def code_sweep(pipe: GeneratorPipeline, code: str, seeds: list[int],
               steps: int = 8) -> torch.Tensor:
    """One row per seed, one column per value of `code` (see code_values); within a row the
    noise, the other codes and the class (conditional models) stay those of the seed.
    Returns (len(seeds), columns, *sample_shape)."""
    values = code_values(pipe, code, steps)
    if not seeds:
        raise GankitError("a code sweep needs at least 1 seed")
    z = torch.cat([pipe.latents(1, seed=s) for s in seeds])  # (rows, dim)
    grid = torch.stack([pipe.set_codes(z, {code: v}) for v in values], dim=1)  # (rows, T, dim)
    out = pipe.generate(grid.flatten(0, 1), _row_labels(pipe, seeds, len(values)))
    return out.view(len(seeds), len(values), *out.shape[1:])


def motion_sweep(pipe: GeneratorPipeline, seeds: list[int],
                 frames: int | None = None) -> torch.Tensor:
    """One clip per seed, all with the content latent of seeds[0]: each row keeps its seed's
    motion (initial state and per-frame noise). Returns (len(seeds), T, C, H, W), T =
    `frames` (default: the training length)."""
    if not pipe.is_sequence:
        raise GankitError(f"a motion sweep needs a sequence model (model.family=sequence); "
                          f"this run is model.family={pipe.family['name']}")
    if not seeds:
        raise GankitError("a motion sweep needs at least 1 seed")
    z = torch.cat([pipe.latents(1, seed=s, frames=frames) for s in seeds])
    k = pipe.family["clip"]["content_dim"]
    z[:, :k] = z[:1, :k]
    return pipe.generate(z)
