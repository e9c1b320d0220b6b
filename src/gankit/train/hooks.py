"""What happens between steps: logging, sample grids, checkpoints, the finite-loss check.

Loss terms are kept on the device per step and read once per log interval (no host sync
in the step). Before any log line or checkpoint the buffered terms are checked: a NaN/Inf
stops the run naming the step and the term, and the last checkpoint stays untouched.
Only rank 0 writes; every rank takes part in the finite check so all stop together.

Health checks (train/health.py) run on their own log steps; their diagnoses warn, stop the
run, or roll it back to its last healthy checkpoint (`health.action`), a non-finite loss
included.

Run folder: config.yaml, metrics.jsonl, health.jsonl, checkpoints/last.pt (and step-N.pt
kept for rollbacks), samples/step-NNNNNNN.png, tb/, rollbacks/N/ (abandoned branches).
"""

from __future__ import annotations

import copy
import json
import os
import socket
import time
from pathlib import Path

import torch
from tqdm import tqdm

from gankit import checkpoint
from gankit.config import Config, to_dict
from gankit.data import make_sampler
from gankit.data.base import Dataset, MixtureData, TensorData, to_uint8, to_unit_range
from gankit.data.clusters import labels_digest
from gankit.errors import GankitError
from gankit.families import Family
from gankit.health import rules
from gankit.images import save_grid, scatter
from gankit.train import health as health_mod
from gankit.train.distributed import DistInfo, any_flag, barrier, broadcast_object, gather
from gankit.train.ema import has_batch_norm, recompute_bn_stats
from gankit.train.health import HealthMonitor
from gankit.train.state import TrainState

_BEST_DEFAULTS = ("fid", "kid", "hq", "is", "precision", "coverage", "class_kl")


BN_SAMPLES = 1024  # latents whose EMA-G activations set the EMA's batch-norm statistics


def bn_inputs(family: Family, cfg: Config) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """A fixed set of G inputs (its own seed, so no training stream is consumed), in batches."""
    gen = torch.Generator().manual_seed(cfg.seed + 2**21)
    z, c = family.g_input(BN_SAMPLES, gen)
    cs = [None] * len(z.split(cfg.train.batch_size)) if c is None else c.split(cfg.train.batch_size)
    return list(zip(z.split(cfg.train.batch_size), cs))


def bn_images(data: Dataset, cfg: Config) -> list[torch.Tensor]:
    """A fixed set of real images in batches (own seed): the inputs that set the batch-norm
    statistics of EMA nets that take images (BiGAN's encoder)."""
    if not isinstance(data, TensorData):
        return []
    gen = torch.Generator().manual_seed(cfg.seed + 2**22)
    idx = torch.randperm(len(data), generator=gen)[:BN_SAMPLES]
    return list(to_unit_range(data.x[idx]).split(cfg.train.batch_size))


PAIR_ROWS = 8  # image-to-image sample grids: one row (input | output | target) per image
BN_PAIRS = 256  # real images whose G inputs set an image-to-image EMA G's batch norm


def fixed_images(data: Dataset, n: int, seed: int) -> torch.Tensor:
    """n real samples in [-1, 1] (fewer if the data set is smaller), always the same (their
    own seed; no training stream)."""
    for part in getattr(data, "a", None), getattr(data, "b", None), data:
        if isinstance(part, TensorData):
            n = min(n, len(part))
    return to_unit_range(make_sampler(data, n, seed).next()[0])


class TrainingDiverged(GankitError):
    """A loss became NaN or infinite."""

    def __init__(self, message: str, step: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.step, self.detail = step, detail


class TrainingUnhealthy(GankitError):
    """The health monitor stopped the run (health.action=stop, or recovery gave up)."""

    exit_code = 3


class Hooks:
    def __init__(self, run_dir: Path, cfg: Config, info: DistInfo, data: Dataset,
                 st: TrainState, family: Family) -> None:
        self.run_dir, self.cfg, self.info, self.data = run_dir, cfg, info, data
        self.family = family
        self.t = cfg.train
        self.config_dict = to_dict(cfg)
        self.pending: list[tuple[int, dict[str, torch.Tensor]]] = []
        gen = torch.Generator().manual_seed(cfg.seed + 2**20)
        self.fixed_x = None  # image-to-image: fixed real images whose translations are shown
        if family.image_input:
            self.fixed_x = fixed_images(data, min(self.t.n_samples, PAIR_ROWS), cfg.seed + 2**20)
            self.bn_inputs = (family.bn_inputs(fixed_images(data, BN_PAIRS, cfg.seed + 2**21),
                                               torch.Generator().manual_seed(cfg.seed + 2**21),
                                               cfg.train.batch_size)
                              if has_batch_norm(st.g_ema) else [])
        else:
            self.fixed_z, self.fixed_c = family.grid_input(self.t.n_samples, gen)
            self.bn_inputs = bn_inputs(family, cfg) if has_batch_norm(st.g_ema) else []
        # every other EMA net (the encoder) takes images
        self.bn_image_nets = [k for k, n in st.ema.items() if k != "g" and has_batch_norm(n)]
        self.bn_images = bn_images(data, cfg) if self.bn_image_nets else []
        self.writer = None
        self.bar = None
        if info.is_main:
            if self.t.tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(run_dir / "tb"), purge_step=st.step + 1)
            self.bar = tqdm(total=self.t.steps, initial=st.step, unit="step", dynamic_ncols=True,
                            disable=None if self.t.progress else True)
        self.clock, self.images_at_clock = time.perf_counter(), st.images_seen
        self.last_means: dict[str, float] = {}
        self.health_status = "-"  # the last check's verdict, for the progress bar
        self.health = HealthMonitor(run_dir, cfg, info, data, family, st)
        self.health.apply(st, family)
        self.h = cfg.health
        if self.health.on:
            self.health.event("start", st.step, pid=os.getpid(), host=socket.gethostname(),
                              steps=self.t.steps)
            if self.h.action == "recover" and st.step == 0:
                self.checkpoint(st)  # step 0: the healthy state a run that collapses early returns to

    def after_step(self, st: TrainState, terms: dict[str, torch.Tensor]) -> None:
        self.pending.append((st.step, terms))
        try:
            self._after_step(st)
        except TrainingDiverged as exc:
            finding = rules.Finding("nonfinite", exc.step or st.step, exc.step or st.step,
                                    detail=exc.detail)
            if self.health.on and self.h.action == "recover":
                self.rollback(st, finding)
                return
            if self.health.on:
                self.health.finding_event("stop", finding, reason="a non-finite loss")
            raise

    def _after_step(self, st: TrainState) -> None:
        last = st.step >= self.t.steps
        if st.step % self.t.log_every == 0 or last:
            self.log(st)
        if self.bn_inputs and (self._uses_ema(st.step, last)
                               or st.step == self.family.pretrain_steps):
            dev = self.info.device
            recompute_bn_stats(st.g_ema, [(z.to(dev),) if c is None else (z.to(dev), c.to(dev))
                                          for z, c in self.bn_inputs])
        if self.bn_images and self._uses_ema(st.step, last):
            for name in self.bn_image_nets:
                recompute_bn_stats(st.ema[name], [(x.to(self.info.device),)
                                                  for x in self.bn_images])
        if self.t.sample_every and (st.step % self.t.sample_every == 0 or last):
            self.samples(st)
        if self.health.due(st.step) and self.act(st, self.health.check(st, self.last_means)):
            return  # rolled back: the state is an older one, already saved
        saved = False
        if self.t.eval_every and (st.step % self.t.eval_every == 0 or last):
            saved = self.evaluate(st)
        if (st.step % self.t.ckpt_every == 0 or last) and not saved:
            # kept for rollbacks on the ckpt_every grid only: a run stopped early (its last
            # step off the grid) and resumed keeps the same ones as a run that never stopped
            self.checkpoint(st, keep=st.step % self.t.ckpt_every == 0)
        if st.step == self.family.pretrain_steps:  # the content-only model (SRResNet)
            self.checkpoint(st, "content.pt")

    def _uses_ema(self, step: int, last: bool) -> bool:
        """True on steps where the EMA G is sampled, scored or saved (on every rank)."""
        # health checks sample the EMA G only for noise-to-image families (image-to-image
        # Gs have dropout: a recompute would draw from the global stream and change training)
        checked = self.health.every if not self.family.image_input else 0
        every = [self.t.ckpt_every, self.t.sample_every, self.t.eval_every, checked]
        return last or any(n and step % n == 0 for n in every)

    def _check_finite(self) -> dict[str, float]:
        """Mean of each term over the buffered steps; stop on the first non-finite value."""
        if not self.pending:
            return {}
        names = list(dict.fromkeys(n for _, t in self.pending for n in t))
        # a term can be absent at some steps (D's terms during content pre-training)
        nan = torch.full((), float("nan"), device=next(iter(self.pending[0][1].values())).device)
        table = torch.stack([torch.stack([t[n].float() if n in t else nan for n in names])
                             for _, t in self.pending]).cpu()
        present = torch.tensor([[n in t for n in names] for _, t in self.pending])
        # gradient norms are diagnostics: under fp16 an overflow gives inf there while the
        # scaler skips that step and lowers its scale, which is not a divergence
        losses = torch.tensor([not n.endswith("_grad_norm") for n in names])
        bad = ~torch.isfinite(table) & losses & present
        if any_flag(bool(bad.any()), self.info):
            if bad.any():
                row, col = (int(i) for i in bad.nonzero()[0])
                step, value = self.pending[row][0], float(table[row, col])
                detail = f"loss {names[col]} became {value}"
                where = f"{detail} at step {step}"
            else:
                step, detail = self.pending[-1][0], "a loss became non-finite on another rank"
                where = detail
            raise TrainingDiverged(f"{where}; training stopped. The last checkpoint in "
                                   f"{self.run_dir / 'checkpoints'} is untouched: resume from it "
                                   "with a lower learning rate, R1/GP or another loss "
                                   "(or health.action=recover)", step, detail)
        sums = torch.where(torch.isfinite(table) & present, table, 0).sum(0)
        means = dict(zip(names, (sums / present.sum(0).clamp_min(1)).tolist()))
        self.pending.clear()
        return means

    def log(self, st: TrainState) -> None:
        means = self._check_finite()
        self.last_means = means
        now = time.perf_counter()
        rate = (st.images_seen - self.images_at_clock) / max(now - self.clock, 1e-9)
        self.clock, self.images_at_clock = now, st.images_seen
        if not self.info.is_main:
            return
        record = {"step": st.step, "images_seen": st.images_seen, **means,
                  "images_per_s": rate}
        with open(self.run_dir / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, val in record.items():
                if key != "step" and isinstance(val, (int, float)):
                    self.writer.add_scalar(key, val, st.step)
        if self.bar is not None:
            shown = {k: f"{v:.3f}" for k, v in means.items() if "_logit_" not in k}
            health = {"health": self.health_status} if self.health.on else {}
            self.bar.set_postfix(shown | {"img/s": f"{rate:.0f}"} | health,
                                 refresh=False)
            self.bar.update(st.step - self.bar.n)

    @torch.no_grad()
    def samples(self, st: TrainState) -> None:
        if not self.info.is_main:
            return
        if self.fixed_x is not None:
            gen = torch.Generator().manual_seed(self.cfg.seed + 2**20)
            grid, cols = self.family.grid_rows(st.ema, self.fixed_x.to(self.info.device), gen)
            save_grid(to_uint8(grid.float().cpu()), self.run_dir / "samples" /
                      f"step-{st.step:07d}.png", nrow=cols)
            return
        z, c = self.fixed_z.to(self.info.device), self.fixed_c
        fake = (st.g_ema(z) if c is None else st.g_ema(z, c.to(self.info.device))).float().cpu()
        path = self.run_dir / "samples" / f"step-{st.step:07d}.png"
        if isinstance(self.data, MixtureData):
            gen = torch.Generator().manual_seed(0)
            scatter(fake, path, reference=self.data.sample(2000, gen)[0])
        elif fake.dim() == 4:
            save_grid(to_uint8(fake), path, nrow=self.family.grid_columns(len(fake)))
        elif fake.dim() == 5:  # clips (N, T, C, H, W): one row per clip, one column per frame
            save_grid(to_uint8(fake.flatten(0, 1)), path, nrow=fake.shape[1])
        else:
            scatter(fake, path, reference=self.data.x[:2000])

    def _payload(self, st: TrainState) -> dict:
        """The checkpoint content; a collective call (every rank's RNG state is gathered)."""
        rng_ranks = gather(st.rng_state(), self.info)
        out = {"config": self.config_dict, "specs": st.specs, "family": self.family.meta(),
               "data_shape": list(self.data.shape), "state": st.state_dict(rng_ranks)}
        digest = labels_digest(self.data)
        if digest is not None:  # data.clusters: the labels the class embeddings learned
            out["clusters_sha1"] = digest
        return out

    def checkpoint(self, st: TrainState, name: str = "last.pt", keep: bool = True) -> None:
        """Write checkpoints/`name`; last.pt is also kept as step-N.pt while health is on
        (not the state a rollback writes: `keep` False)."""
        self._check_finite()
        dropped = self._note_kept(st) if keep and name == "last.pt" else None
        payload = self._payload(st)
        if self.info.is_main:
            checkpoint.save(payload, self.run_dir / "checkpoints" / name)
            if dropped is not None:
                health_mod.link_checkpoint(self.run_dir, st.step, dropped)
        barrier(self.info)

    def _note_kept(self, st: TrainState) -> list[int] | None:
        if not (self.health.on and self.h.keep):
            return None
        return health_mod.note_checkpoint(st.health, st.step, self.h.keep)

    # ------------------------------------------------------------------ health actions

    def act(self, st: TrainState, findings: list[rules.Finding]) -> bool:
        """Log the check, then warn, stop or roll back on what fired; True after a rollback."""
        if self.info.is_main:
            values = {k: v for k, v in st.health.get("last", {}).items() if k != "step"}
            status = ",".join(st.health["streaks"]) or "ok"
            self.health.event("check", st.step, values=values, status=status)
            if self.writer is not None:
                for key, val in values.items():
                    self.writer.add_scalar(f"health/{key}", val, st.step)
            self.health_status = status  # shown in the progress bar from the next log on
        if not findings:
            return False
        first = findings[0]
        if self.h.action == "warn":
            for f in findings:
                self.health.finding_event("warn", f)
                if self.info.is_main:
                    tqdm.write(f"gankit: health warning: {f.text(self.h)}")
            return False
        if self.h.action == "stop":
            self.health.finding_event("stop", first, reason="health.action=stop")
            raise TrainingUnhealthy(f"health.action=stop: {first.text(self.h)}. Training "
                                    f"stopped at step {st.step:,}; checkpoints/last.pt is "
                                    f"untouched; `gankit doctor {self.run_dir}` shows the timeline")
        self.rollback(st, first)
        return True

    def rollback(self, st: TrainState, f: rules.Finding) -> None:
        """Back to the last healthy kept checkpoint, with lower learning rates and a reseeded
        latent stream; the abandoned branch moves to rollbacks/N/. Gives up after
        health.max_rollbacks."""
        done = int(st.health.get("rollbacks", 0))
        target, ckpt = None, None
        if self.info.is_main:  # rank 0 picks; a state saved just after its weights went NaN
            target = health_mod.rollback_target(self.run_dir, st.health, f.cause)  # is none
            while target is not None:
                ckpt = checkpoint.load(target[1])
                if health_mod.finite_state(ckpt["state"]):
                    break
                st.health["kept"] = [k for k in st.health["kept"] if k[0] != target[0]]
                target = health_mod.rollback_target(self.run_dir, st.health, f.cause)
        target = broadcast_object(target, self.info)
        if done >= self.h.max_rollbacks or target is None:
            why = ("no healthy checkpoint is kept to roll back to" if target is None else
                   f"{done} rollback(s) done, health.max_rollbacks={self.h.max_rollbacks}")
            self.health.finding_event("gave_up", f, rollbacks=done)
            raise TrainingUnhealthy(f"health.action=recover gave up ({why}): {f.text(self.h)}. "
                                    f"`gankit doctor {self.run_dir}` shows the timeline; every "
                                    "checkpoint is kept (rollbacks/ holds abandoned branches)")
        to_step, path = target
        ckpt = ckpt if ckpt is not None else checkpoint.load(path)
        # divergence (NaN, samples flying apart, exploding gradients) or falling quality: both
        # sides slow down; collapse or an overpowering D: D alone, so G can catch up
        sides = ("g", "d") if f.cause in rules.DIVERGENCE + ("fid_rising",) else ("d",)
        scale = {k: v * (self.h.lr_factor if k in sides else 1.0) for k, v in st.lr_scale.items()}
        st.load_state_dict(ckpt["state"], self.info.rank, self.info.world)
        st.lr_scale = scale
        st.health["rollbacks"] = done + 1
        st.health["streaks"], st.health["ok"] = {}, True
        added = "r1_gamma" not in st.health and self.health.r1_to_add() > 0
        if self.health.r1_to_add() > 0:
            st.health["r1_gamma"] = self.health.r1_to_add()
            self.health.apply(st, self.family)
        st.z_gen.manual_seed(self.cfg.seed * 1000 + self.info.rank + 7 + 1_000_003 * (done + 1))
        self.pending.clear()
        self.last_means = {}
        self.health.finding_event("rollback", f, from_step=f.step, to_step=to_step,
                                  lr_scale=scale, rollbacks=done + 1,
                                  r1_gamma=st.health.get("r1_gamma", 0.0))
        if self.info.is_main:
            tqdm.write(f"gankit: health: {f.text(self.h)}. Rolled back to step {to_step:,} "
                       f"(rollback {done + 1} of at most {self.h.max_rollbacks}); learning "
                       f"rates now G x{scale['g']:g}, D x{scale['d']:g}, latents reseeded"
                       + (f", R1 on (gamma {self.health.r1_to_add():g})" if added else ""))
            if self.writer is not None:
                self.writer.close()
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(self.run_dir / "tb"), purge_step=to_step + 1)
            if self.bar is not None:
                self.bar.n = to_step
                self.bar.refresh()
        self.clock, self.images_at_clock = time.perf_counter(), st.images_seen
        self.checkpoint(st, keep=False)  # last.pt = the state the run continues from, first:
        if self.info.is_main:  # a crash from here on resumes the new branch, not the old
            health_mod.move_branch(self.run_dir, to_step, done + 1)
        barrier(self.info)

    def evaluate(self, st: TrainState) -> bool:
        """Score the EMA generator (rank 0), log it, keep checkpoints/best.pt.

        A new best is written to last.pt first, then to best.pt, so a kill between the two
        leaves a run that resumes with the best recorded; returns True when last.pt was
        written (on every rank, so all skip the same checkpoint call)."""
        from gankit.data import eval_data
        from gankit.metrics.evaluate import better, evaluate
        from gankit.pipelines.generate import GeneratorPipeline

        self._check_finite()
        payload = self._payload(st)
        improved = False
        if self.info.is_main:
            pipe = GeneratorPipeline(st.g_ema, self.cfg, tuple(self.data.shape), self.info.device,
                                     self.family.meta())
            res = evaluate(pipe.metric_samples, eval_data(self.data, self.cfg.eval.n),
                           self.cfg.eval, device=str(self.info.device), floor=False)
            name = self.cfg.eval.best or next(k for k in res.scores if k in _BEST_DEFAULTS)
            tag = f"{res.protocol['extractor']}/{res.protocol.get('inception_protocol') or '-'}"
            record = {"step": st.step, **{f"eval/{k}": v for k, v in res.scores.items()},
                      "eval/protocol": tag}
            with open(self.run_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")
            if self.writer is not None:
                for key, val in res.scores.items():
                    self.writer.add_scalar(f"eval/{key}", val, st.step)
            # a best measured under another extractor or protocol (changed on resume) is not
            # comparable: the first score under the new one replaces it
            same = st.best.get("protocol", tag) == tag and st.best.get("score", name) == name
            old = st.best.get("value") if same else None
            if name in res.scores and better(name, res.scores[name], old):
                st.best = {"score": name, "value": res.scores[name], "step": st.step,
                           "protocol": tag}
                payload["state"]["best"] = dict(st.best)
                dropped = self._note_kept(st) if st.step % self.t.ckpt_every == 0 else None
                payload["state"]["health"] = copy.deepcopy(st.health)
                checkpoint.save(payload, self.run_dir / "checkpoints" / "last.pt")
                if dropped is not None:
                    health_mod.link_checkpoint(self.run_dir, st.step, dropped)
                checkpoint.save(payload, self.run_dir / "checkpoints" / "best.pt")
                improved = True
        barrier(self.info)
        return any_flag(improved, self.info)

    def finish(self, st: TrainState) -> None:
        """A normal end: say so in health.jsonl (doctor tells finished from crashed runs)."""
        if self.health.on:
            self.health.event("end", st.step, rollbacks=int(st.health.get("rollbacks", 0)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.bar is not None:
            self.bar.close()
