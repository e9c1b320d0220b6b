"""The training loop: set up, then step and fire hooks until `train.steps`; read top to bottom."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from gankit import checks
from gankit import data as data_mod
from gankit.config import Config
from gankit.data.base import Dataset
from gankit.data.clusters import labels_digest
from gankit.errors import GankitError
from gankit.families import data_info, make_family
from gankit.nets import build_net
from gankit.train import distributed, runs
from gankit.train.distributed import DistInfo
from gankit.train.hooks import Hooks
from gankit.train.state import TrainState, state_for
from gankit.train.step import StepContext, train_step


def native_bf16(device: torch.device) -> bool:
    """True where bf16 matmuls/convs run in hardware (AVX512-BF16/AMX on CPU, Ampere+ GPUs);
    elsewhere bf16 autocast is emulated: 17x slower than fp32 on an AVX2 CPU
    (benchmarks/bench_precision.py)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _resolve_precision(cfg: Config, device: torch.device) -> Config:
    """`auto` -> bf16 where it is native, else fp32; the resolved value is what the run's
    config and checkpoints record, so a resume on another machine keeps the same arithmetic."""
    prec = cfg.train.precision
    if prec == "fp16" and device.type != "cuda":
        raise GankitError("train.precision=fp16 needs a CUDA GPU; on CPU use bf16 or fp32")
    if prec == "auto":
        prec = "bf16" if native_bf16(device) else "fp32"
        return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, precision=prec))
    if prec == "bf16" and not native_bf16(device):
        print(f"gankit: warning: this {device.type} has no native bf16 (AVX512-BF16/AMX): bf16 "
              "is emulated and can be many times slower than fp32; train.precision=auto picks "
              "the faster one", flush=True)
    return cfg


def _check_eval(cfg: Config, data: Dataset, info: DistInfo) -> None:
    """With train.eval_every > 0, fail now, not at the first evaluation: evaluate a few noise
    samples once (extractor and weights file, metric/extractor/data pairs, the metrics'
    minimum sample counts against eval.n, eval.best among the scores)."""
    if not cfg.train.eval_every:
        return
    from gankit.metrics.evaluate import evaluate

    data = data_mod.eval_data(data, min(cfg.eval.n, 16))  # clips are scored by their frames
    error = None
    if info.is_main:
        gen = torch.Generator().manual_seed(0)

        def noise(n: int, _seed: int) -> torch.Tensor:
            return torch.rand(n, *data.shape, generator=gen) * 2 - 1

        probe = dataclasses.replace(cfg.eval, n=min(cfg.eval.n, 16))
        try:
            with torch.random.fork_rng(devices=[]):
                scores = evaluate(noise, data, probe, device=str(info.device), floor=False).scores
            if cfg.eval.best is not None and cfg.eval.best not in scores:
                raise GankitError(f"eval.best={cfg.eval.best} is not among the scores of "
                                  f"eval.metrics={cfg.eval.metrics} ({', '.join(scores)})")
        except GankitError as exc:
            error = exc
    if distributed.any_flag(error is not None, info):
        raise GankitError(f"train.eval_every={cfg.train.eval_every}: the evaluation would fail: "
                          f"{error or 'see rank 0'}")


def _note_replanned_decay(cfg: Config, ckpt: dict, step: int) -> None:
    """Say so when a resume changes train.steps under linear lr decay (the lr steps up)."""
    old = ckpt["config"]["train"]["steps"]
    if cfg.optim.lr_decay == "linear" and old != cfg.train.steps:
        was, now = 1 - step / old, 1 - step / cfg.train.steps
        print(f"gankit: optim.lr_decay=linear re-planned for {cfg.train.steps} steps: from step "
              f"{step} the learning rates are {max(now, 0):.3g}x their base (they were "
              f"{max(was, 0):.3g}x under the old {old}-step plan)", flush=True)


def train(cfg: Config, out: str | Path | None = None, resume: str | Path | None = None,
          overrides: list[str] | None = None) -> Path:
    """Train a new run into `out`, or continue the run folder `resume`; returns the folder.

    With `resume`, the config comes from the run's checkpoint (`cfg` is ignored) and only
    `overrides` of length/logging keys are allowed.
    """
    ckpt = None
    if resume is not None:
        run, cfg, ckpt = runs.open_run(resume, list(overrides or []))
        data = _checked_data(cfg, ckpt)
        runs.check_step(run, cfg, ckpt)
    else:
        if out is None:
            raise GankitError("give --out RUN_DIR for a new run")
        data = _checked_data(cfg)
        run = runs.new_run(out)
    info = distributed.setup(cfg.device)
    try:
        run_steps(cfg, run, ckpt, info, data)
    except BaseException:
        distributed.teardown(info, together=False)
        raise
    distributed.teardown(info)
    return run


def _checked_data(cfg: Config, ckpt: dict | None = None) -> Dataset:
    """Names, combinations, then the data and what the family needs of them: every start-up
    check runs before a run folder is made (or a resumed one is touched)."""
    checks.check(cfg)
    data = data_mod.load(cfg.data)
    specs = make_family(cfg, data_info(data)).specs()
    if ckpt is not None and specs != ckpt["specs"]:
        name = next(k for k in specs if specs[k] != ckpt["specs"].get(k))
        raise GankitError(f"data.name={cfg.data.name}: the data no longer fit the checkpoint's "
                          f"networks (net {name!r}: {ckpt['specs'].get(name)} in the checkpoint, "
                          f"{specs[name]} for the data now; e.g. the classes changed)")
    want = None if ckpt is None else ckpt.get("clusters_sha1")
    if want is not None and labels_digest(data) != want:
        raise GankitError(f"data.clusters={cfg.data.clusters}: the k-means labels of "
                          f"{cfg.data.name} differ from those the run trained on (another "
                          "scikit-learn, BLAS or CPU?); resume where the run was trained")
    for spec in specs.values():
        with torch.random.fork_rng(devices=[]):
            build_net(spec)  # the nets can be built for these data (resolution, attn_res)
    return data


def _same_clusters(cfg: Config, data: Dataset, info: DistInfo) -> None:
    """Each DDP rank fits its own k-means (data.clusters): on another node's CPU or BLAS the
    labels can come out differently, and each rank would then train the class embeddings on
    other clusters. Compare the labels' digests across ranks and stop before the first step."""
    if not cfg.data.clusters:
        return
    digests = distributed.gather(labels_digest(data), info)
    if len(set(digests)) > 1:
        odd = [r for r, d in enumerate(digests) if d != digests[0]]
        raise GankitError(f"data.clusters={cfg.data.clusters}: the k-means labels of "
                          f"{cfg.data.name} differ between ranks (rank 0 and rank(s) "
                          f"{', '.join(map(str, odd))}: another scikit-learn, BLAS or CPU?); "
                          "train the ranks on identical machines and software")


def run_steps(cfg: Config, run: Path, ckpt: dict | None, info: DistInfo,
              data: Dataset | None = None) -> TrainState:
    """Build the state (restored from `ckpt` if given) and train it to `cfg.train.steps`."""
    cfg = _resolve_precision(cfg, info.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    data = data if data is not None else data_mod.load(cfg.data)
    _same_clusters(cfg, data, info)
    _check_eval(cfg, data, info)
    st, family = state_for(cfg, data, info)
    if ckpt is not None:
        st.load_state_dict(ckpt["state"], info.rank, info.world)
    if info.is_main:
        runs.write_config(run, cfg)
        runs.tidy(run, st.step)
        fam = "" if cfg.model.family == "unconditional" else f"{cfg.model.family} "
        arch = "" if family.image_input else f"{cfg.model.arch} "
        print(f"gankit: {fam}{arch}on {cfg.data.name} {tuple(data.shape)}, "
              f"{cfg.loss} loss, steps {st.step} -> {cfg.train.steps}, "
              f"{info.world} process(es) on {info.device}, run folder {run}", flush=True)
        if ckpt is not None:
            _note_replanned_decay(cfg, ckpt, st.step)
    ctx = StepContext.from_config(cfg, family, info.device, info.world)
    hooks = Hooks(run, cfg, info, data, st, family)
    try:
        while st.step < cfg.train.steps:
            hooks.after_step(st, train_step(st, ctx))
        hooks.finish(st)
    finally:
        hooks.close()
    return st
