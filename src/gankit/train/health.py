"""The training-health monitor: measure at each check, keep checkpoints to roll back to.

Every `health.every` steps (a log step) the monitor reads the log's means (D's accuracy and
logits, gradient norms) and, for generators of noise, draws a fixed batch of EMA samples:
their diversity and near-duplicates against real data, the class (mode) histogram and a
FID proxy, in the data set's extractor space (LeNet for digits, the points themselves for
2-D mixtures, 16x16 thumbnails otherwise). `gankit.health.rules` turns the numbers into
diagnoses; the hooks act on them (warn, stop, recover).

The monitor's state lives in `TrainState.health` (plain values, identical on every rank:
rank 0 measures and broadcasts), so a checkpoint records the health of the run it holds
and a resume continues the same streaks. With health on, each checkpoint is also kept as
checkpoints/step-N.pt (a hard link of last.pt, no copy): the newest `health.keep`, and
always the newest healthy one. A rollback moves the abandoned branch (later checkpoints,
sample grids and log lines) into rollbacks/N/, so nothing is lost.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import torch

from gankit.config import Config, health_every
from gankit.data.base import Dataset, MixtureData
from gankit.families import Family
from gankit.health import rules
from gankit.health.stats import Reference, pixel_features, sample_stats
from gankit.metrics.modes import mode_coverage
from gankit.metrics.stats import GaussianStats
from gankit.train.distributed import DistInfo, broadcast_object
from gankit.train.runs import split_log

WATCHED = ("d_acc_real", "d_acc_fake", "d_logit_real", "d_logit_fake", "d_logit_spread",
           "g_grad_norm", "d_grad_norm")  # log means a check reads
REAL_PER_SAMPLE = 4  # real samples for the FID proxy's statistics, per checked sample
HEALTH_SEED = 2**23  # the checked latents' own stream (no training stream is consumed)


def _frames(x: torch.Tensor) -> torch.Tensor:
    """Clips (N, T, C, H, W) -> their middle frames; other batches unchanged."""
    return x[:, x.shape[1] // 2] if x.dim() == 5 else x


class Probe:
    """Fixed latents and the real reference one check compares them with (rank 0)."""

    def __init__(self, cfg: Config, data: Dataset, family: Family, device: torch.device):
        from gankit.metrics.features import default_extractor, get_extractor
        from gankit.train.hooks import fixed_images

        n = cfg.health.n
        self.device = device
        self.batch = cfg.train.batch_size
        gen = torch.Generator().manual_seed(cfg.seed + HEALTH_SEED)
        self.z, self.c = family.g_input(n, gen)
        self.centers = data.centers if isinstance(data, MixtureData) else None
        self.std = data.std if isinstance(data, MixtureData) else 0.0
        self.num_classes = int(getattr(data, "num_classes", 0) or 0)
        name = cfg.eval.extractor or default_extractor(data.name, tuple(data.shape))
        self.extractor = None if name == "inception" else get_extractor(name)  # no weights file
        real = _frames(fixed_images(data, REAL_PER_SAMPLE * n, cfg.seed + HEALTH_SEED))
        # the FID proxy needs a learned feature space: a Gaussian fit of 2-D points or of
        # pixels says little about a many-moded distribution
        stats = (GaussianStats.from_features(self.features(real)[0])
                 if self.extractor is not None and name != "raw" else None)
        feats, labels = self.features(real[:n])
        self.ref = Reference.of(feats, labels, self.num_classes, stats)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features and predicted classes (None when the data have none)."""
        x = x.float().cpu()
        labels = None
        if self.extractor is None:
            feats = pixel_features(x)
        else:
            feats, logits = [], []
            for chunk in x.split(256):
                f, lg = self.extractor(chunk)
                feats.append(f)
                logits.append(lg)
            feats = torch.cat(feats)
            if logits[0] is not None and self.num_classes:
                logits = torch.cat(logits)
                labels = logits.argmax(1)
                # the histogram counts the extractor's classes, which are not the data's
                # labels when those are k-means clusters (data.clusters)
                self.num_classes = max(self.num_classes, logits.shape[1])
        if self.centers is not None:  # 2-D mixtures: the mode of a high-quality sample
            r = mode_coverage(x, self.centers, self.std)  # (within 3 std, as VEEGAN counts)
            self.num_classes = len(self.centers)
            labels = torch.repeat_interleave(torch.arange(self.num_classes),
                                             torch.tensor(r.counts))
        return feats, labels

    @torch.no_grad()
    def measure(self, g: torch.nn.Module) -> dict[str, float]:
        out = []
        for i in range(0, len(self.z), self.batch):
            z = self.z[i:i + self.batch].to(self.device)
            c = None if self.c is None else self.c[i:i + self.batch].to(self.device)
            out.append(_frames(g(z) if c is None else g(z, c)).float().cpu())
        feats, labels = self.features(torch.cat(out))
        return sample_stats(feats, labels, self.ref)


class HealthMonitor:
    def __init__(self, run: Path, cfg: Config, info: DistInfo, data: Dataset, family: Family,
                 st) -> None:
        self.run, self.cfg, self.info, self.h = run, cfg, info, cfg.health
        self.data_shape = tuple(data.shape)
        self.every = health_every(cfg)
        self.probe = None
        # image-to-image Gs learn mostly from their content loss, and their D often wins
        # outright without harm (SRGAN's adversarial weight is 1e-3): D's accuracy is
        # logged, not judged, there; their outputs follow their inputs, so no diversity
        self.judge_d = not family.image_input
        if self.every and info.is_main and not family.image_input:
            with torch.random.fork_rng(devices=[]):  # building the extractor draws weights
                self.probe = Probe(cfg, data, family, info.device)
        if not st.health:
            st.health = rules.new_state()

    def r1_to_add(self) -> float:
        """The R1 gamma a rollback turns on: only for a D trained with no penalty or
        clipping, with a loss and normalisation R1 suits (not WGAN's, not batch norm)."""
        c = self.cfg
        plain = (c.reg.r1_gamma == 0 and c.reg.gp_lambda == 0 and c.reg.clip_d == 0
                 and c.loss != "wgan" and c.model.d_norm != "batch")
        if not plain:
            return 0.0
        if self.h.r1_gamma is not None:
            return self.h.r1_gamma
        return 0.1 if len(self.data_shape) == 1 else 1.0

    @staticmethod
    def apply(st, family: Family) -> None:
        """What earlier rollbacks changed besides the learning rates (R1 turned on): applied
        after every state load, so a resumed recovered run trains on identically."""
        gamma = st.health.get("r1_gamma", 0.0)
        if gamma > 0:
            family.objective.r1_gamma = gamma

    @property
    def on(self) -> bool:
        return bool(self.every)

    def due(self, step: int) -> bool:
        """Checks fall on multiples of `every` only (not on a run's last step), so a run
        stopped and resumed anywhere makes the same checks as one that never stopped."""
        return self.on and step % self.every == 0

    def check(self, st, means: dict[str, float]) -> list[rules.Finding]:
        """Measure, update the state (rank 0, broadcast), log the numbers; what fired."""
        findings: list[rules.Finding] = []
        if self.info.is_main:
            values = {k: float(means[k]) for k in WATCHED if k in means
                      if self.judge_d or not k.startswith("d_acc")}
            if self.probe is not None:
                with torch.random.fork_rng(devices=[]):
                    values.update(self.probe.measure(st.g_ema))
            findings = rules.update(st.health, values, self.h, st.step)
        st.health, findings = broadcast_object((st.health, findings), self.info)
        return findings

    # ---------------------------------------------------------------- events and records

    def event(self, kind: str, step: int, **fields) -> None:
        """One line of health.jsonl (rank 0)."""
        if not self.info.is_main:
            return
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "step": step, "event": kind,
                  **fields}
        with open(self.run / "health.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def finding_event(self, kind: str, f: rules.Finding, **fields) -> None:
        self.event(kind, f.step, cause=f.cause, since=f.since, values=f.values,
                   text=f.text(self.h), **fields)


# -------------------------------------------------------------------- kept checkpoints

def step_file(run: Path, step: int) -> Path:
    return run / "checkpoints" / f"step-{step:07d}.pt"


def note_checkpoint(health: dict, step: int, keep: int) -> list[int]:
    """Add the checkpoint at `step` to the kept list as [step, ok, judged ok]: ok = no
    condition held at the last check; judged ok = ... and that check came after
    health.warmup, when collapse is judged too (step 0, untrained, is both). Returns the
    steps whose files are no longer kept: all but the newest `keep`, the newest ok and the
    newest judged-ok one."""
    ok = bool(health["ok"]) or step == 0
    judged = (ok and bool(health.get("judged"))) or step == 0
    kept = [k for k in health["kept"] if k[0] != step] + [[step, ok, judged]]
    stay = {k[0] for k in kept[-keep:]}
    for col in (1, 2):
        stay |= {max((k[0] for k in kept if k[col]), default=-1)}
    health["kept"] = [k for k in kept if k[0] in stay]
    return [k[0] for k in kept if k[0] not in stay]


def link_checkpoint(run: Path, step: int, dropped: list[int]) -> None:
    """checkpoints/step-N.pt as a hard link of last.pt (a copy where links fail), then
    remove the checkpoints no longer kept."""
    last, dest = run / "checkpoints" / "last.pt", step_file(run, step)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    try:
        os.link(last, tmp)
    except OSError:
        shutil.copyfile(last, tmp)
    os.replace(tmp, dest)
    for s in dropped:
        step_file(run, s).unlink(missing_ok=True)


def rollback_target(run: Path, health: dict, cause: str) -> tuple[int, Path] | None:
    """The newest kept checkpoint, still on disk, that was healthy in the sense `cause`
    needs: free of divergence for a divergence, judged healthy (after the warmup) for a
    collapse, an overpowering D or a rising FID (an unjudged state may be collapsed)."""
    col = 1 if cause in rules.DIVERGENCE else 2
    for k in reversed(health["kept"]):
        if k[col] and step_file(run, k[0]).is_file():
            return k[0], step_file(run, k[0])
    return None


def move_branch(run: Path, step: int, n: int) -> Path:
    """Move what the run made after `step` (checkpoints, sample grids, log lines) into
    rollbacks/n/: the abandoned branch stays on disk for `gankit doctor` and the user."""
    dest = run / "rollbacks" / str(n)
    for sub, pattern in (("checkpoints", "step-*.pt"), ("samples", "step-*.png")):
        for f in (run / sub).glob(pattern):
            digits = f.stem.split("-")[-1]
            if digits.isdigit() and int(digits) > step:
                (dest / sub).mkdir(parents=True, exist_ok=True)
                os.replace(f, dest / sub / f.name)
    dest.mkdir(parents=True, exist_ok=True)
    best = run / "checkpoints" / "best.pt"
    if best.is_file():  # the new branch may replace it: keep the old branch's best
        (dest / "checkpoints").mkdir(exist_ok=True)
        shutil.copyfile(best, dest / "checkpoints" / "best.pt")
    split_log(run / "metrics.jsonl", step, dest / "metrics.jsonl")
    split_log(run / "health.jsonl", step, dest / "health.jsonl", only_checks=True)
    return dest


def finite_state(state: dict) -> bool:
    """Every weight of every net (and EMA) finite."""
    return all(torch.isfinite(t).all() for group in ("nets", "ema")
               for sd in state[group].values() for t in sd.values() if t.is_floating_point())

