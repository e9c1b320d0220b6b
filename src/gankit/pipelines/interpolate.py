"""Latent interpolation between seeds: lerp, or slerp (White 2016) for Gaussian latents."""

from __future__ import annotations

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


def interpolate(pipe: GeneratorPipeline, seeds: list[int], steps: int = 8,
                mode: str = "slerp") -> torch.Tensor:
    """Samples along paths seed[i] -> seed[i+1]: (len(seeds) - 1, steps, *sample_shape)."""
    if len(seeds) < 2 or steps < 2:
        raise GankitError(f"interpolation needs at least 2 seeds and 2 steps; got {len(seeds)} "
                          f"seed(s) and {steps} step(s)")
    if mode not in ("lerp", "slerp"):
        raise GankitError(f"interpolation mode {mode!r}: choose lerp or slerp")
    z = torch.cat([pipe.latents(1, seed=s) for s in seeds])
    a, b = z[:-1], z[1:]
    t = torch.linspace(0, 1, steps, dtype=z.dtype)
    path = slerp(a, b, t) if mode == "slerp" else a[:, None] + t[None, :, None] * (b - a)[:, None]
    out = pipe.generate(path.reshape(-1, z.shape[1]))
    return out.view(len(seeds) - 1, steps, *out.shape[1:])
