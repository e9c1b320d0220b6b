"""Glue shared by the CLI commands that use a trained run: its data, real samples for
calibration, and a rejection-sampling source of samples for the evaluator."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from gankit import data as data_mod
from gankit.checks import check_names
from gankit.config import EvalConfig, validate
from gankit.data.base import Dataset, MixtureData, to_unit_range
from gankit.metrics.evaluate import EvalResult, evaluate
from gankit.pipelines.critic import Critic, DRSResult, drs_sample
from gankit.pipelines.generate import GeneratorPipeline


def run_data(pipe: GeneratorPipeline) -> Dataset:
    """The run's training data, loaded as it was for training."""
    return data_mod.load(pipe.config.data)


def eval_config(pipe: GeneratorPipeline, changes: dict) -> EvalConfig:
    """The run's eval section with `changes` (metrics, n, extractor, ...), names checked."""
    ecfg = dataclasses.replace(pipe.config.eval, **changes)
    check_names(validate(dataclasses.replace(pipe.config, eval=ecfg)))
    return ecfg


def evaluate_run(pipe: GeneratorPipeline, ecfg: EvalConfig, data: Dataset,
                 device: str = "cpu") -> EvalResult:
    """`gankit eval`'s measurement: the generator against its training data, with the
    real-vs-real floor."""
    return evaluate(pipe.metric_samples, data_mod.eval_data(data, ecfg.n), ecfg, device=device)


def real_samples(data: Dataset, n: int, seed: int = 0) -> torch.Tensor:
    """n real samples in model space ([-1, 1] images or points), seeded."""
    gen = torch.Generator().manual_seed(seed + 31)
    if isinstance(data, MixtureData):
        return data.sample(n, gen)[0]
    idx = torch.randperm(len(data), generator=gen)[:n]
    return to_unit_range(data.x[idx])


def drs_source(pipe: GeneratorPipeline, critic: Critic, data: Dataset, n: int, seed: int,
               gamma_percentile: float) -> tuple[Callable[[int, int], torch.Tensor], DRSResult]:
    """A `sample(m, seed)` callable serving n DRS samples in order, and the DRS report."""
    result = drs_sample(pipe, critic, real_samples(data, 2000, seed), n, seed=seed,
                        gamma_percentile=gamma_percentile)
    pos = [0]

    def sample(m: int, _seed: int) -> torch.Tensor:
        out = result.samples[pos[0]:pos[0] + m]
        pos[0] += m
        return out

    return sample, result
