"""The health diagnoses: which conditions hold at a check, when they fire, and what they
mean in plain words. Pure functions of the measured numbers and a plain-dict state, shared
by the training monitor and `gankit doctor` (which replays them on a run's log).

A condition fires when it has held for `health.patience` checks in a row (NaN/Inf at once).
Collapse, D overpowering and a rising FID proxy are not judged before `health.warmup` steps
(absolute, so a resume with another train.steps judges the same): early in training every
GAN's samples look alike and D wins easily.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from gankit.config import HealthConfig

CAUSES = {  # cause -> what it is called in messages
    "nonfinite": "training diverged",
    "diverged": "training diverged (samples flying apart or gradients gone)",
    "collapse": "mode collapse",
    "d_overpowered": "D overpowered G",
    "exploding": "exploding gradients",
    "fid_rising": "sample quality falling",
}
ADVICE = {
    "nonfinite": "try lower learning rates (optim.g_lr/d_lr), reg.r1_gamma=1 or "
                 "reg.gp_lambda=10, or train.precision=fp32",
    "diverged": "try lower learning rates (optim.g_lr/d_lr), reg.r1_gamma=1, or "
                "reg.d_clip_grad=10",
    "collapse": "try model.mbstd=4 or model.pack=2, reg.r1_gamma=1, or a lower optim.d_lr",
    "d_overpowered": "try reg.r1_gamma=10 or a lower optim.d_lr (or a smaller model.d_width)",
    "exploding": "try reg.d_clip_grad=10 / reg.g_clip_grad=10, lower learning rates, or "
                 "reg.r1_gamma=1",
    "fid_rising": "try lower learning rates or optim.lr_decay=linear; train.eval_every keeps "
                  "the best model in checkpoints/best.pt",
}
DIVERGENCE = ("nonfinite", "diverged", "exploding")  # judged from step 0, warmup or not
GRAD_HISTORY = 25  # gradient norms of healthy checks the running median is taken over
MIN_GRAD_HISTORY = 3
VANISHED = 1e-8  # G's and D's gradient norms both below this: nothing trains any more


def fmt_step(step: int) -> str:
    return f"{step:,}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


@dataclass
class Finding:
    """A condition that fired: its cause, since when, and the numbers that triggered it."""

    cause: str
    step: int  # the check at which it fired
    since: int  # the first check of the streak
    values: dict[str, float] = field(default_factory=dict)
    detail: str = ""  # extra words (which loss became NaN)

    def text(self, h: HealthConfig | None = None) -> str:
        """One plain sentence with the numbers, and what to try."""
        h = h or HealthConfig()
        v = self.values
        since = f"from step {fmt_step(self.since)}"
        if self.cause == "nonfinite":
            what = self.detail or "a value became NaN/Inf"
            return f"Training diverged at step {fmt_step(self.step)}: {what}; {ADVICE['nonfinite']}"
        if self.cause == "diverged":
            parts = []
            if "diversity" in v:
                parts.append(f"samples spread {v['diversity']:.1f}x as widely as the real "
                             f"data (above {h.max_spread:g}x)")
            if "g_grad_norm" in v:
                parts.append(f"G and D gradient norms {v['g_grad_norm']:.2g} and "
                             f"{v.get('d_grad_norm', 0):.2g} (training stalled)")
            return f"Training diverged {since}: {', '.join(parts)}; {ADVICE['diverged']}"
        if self.cause == "collapse":
            parts = []  # the criteria that failed, with their thresholds
            if v.get("diversity", 1.0) < h.min_diversity:
                parts.append(f"sample diversity {v['diversity']:.2f} of the real data's "
                             f"(below {h.min_diversity:.2f})")
            if v.get("duplicates", 0.0) > h.max_duplicates:
                parts.append(f"{_pct(v['duplicates'])} of samples near-duplicates "
                             f"(above {_pct(h.max_duplicates)})")
            if v.get("classes", 1.0) < h.min_classes:
                parts.append(f"{_pct(v['classes'])} of the real data's classes (modes) hit "
                             f"(below {_pct(h.min_classes)})")
            return f"Mode collapse {since}: {', '.join(parts)}; {ADVICE['collapse']}"
        if self.cause == "d_overpowered":
            g = v.get("g_grad_norm")
            gtext = f", G gradient norm {g:.2g}" if g is not None else ""
            return (f"D overpowered G {since}: D accuracy {_pct(v.get('d_acc_real', 1))} on "
                    f"real and {_pct(v.get('d_acc_fake', 1))} on fake{gtext}; "
                    f"{ADVICE['d_overpowered']}")
        if self.cause == "exploding":
            side = v.get("side", "D")
            return (f"Gradients exploded {since}: {side} gradient norm {v.get('norm', 0):.3g}, "
                    f"{v.get('factor', 0):.0f}x its running median {v.get('median', 0):.3g}; "
                    f"{ADVICE['exploding']}")
        return (f"Sample quality falling {since}: the FID proxy rose to "
                f"{v.get('fid_proxy', 0):.2f} (best {v.get('fid_best', 0):.2f} at step "
                f"{fmt_step(int(v.get('fid_best_step', 0)))}); {ADVICE['fid_rising']}")


def new_state() -> dict:
    return {"streaks": {}, "grad": {"g": [], "d": []}, "fid": {}, "ok": True, "judged": False,
            "rollbacks": 0,
            "kept": [], "last": {}}


def _finite(values: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in values.values() if isinstance(v, (int, float)))


def conditions(state: dict, values: dict[str, float], h: HealthConfig, step: int
               ) -> dict[str, dict[str, float]]:
    """The conditions that hold at this check, each with the numbers that show it."""
    held: dict[str, dict[str, float]] = {}
    if not _finite(values):
        return {"nonfinite": {k: v for k, v in values.items() if not math.isfinite(v)}}
    for side, name in (("g", "G"), ("d", "D")):
        norm, hist = values.get(f"{side}_grad_norm"), state["grad"][side]
        if norm is not None and len(hist) >= MIN_GRAD_HISTORY:
            median = statistics.median(hist)
            if median > 0 and norm > h.grad_factor * median:
                held["exploding"] = {"side": name, "norm": norm, "median": median,
                                     "factor": norm / median}
    spread = values.get("diversity", 0.0) > h.max_spread
    g_norm, d_norm = values.get("g_grad_norm"), values.get("d_grad_norm")
    stalled = g_norm is not None and d_norm is not None and max(g_norm, d_norm) < VANISHED
    if spread or stalled:
        held["diverged"] = ({"diversity": values["diversity"]} if spread else {}) | (
            {"g_grad_norm": g_norm, "d_grad_norm": d_norm} if stalled else {})
    if step < h.warmup:
        return held
    low = {k: values[k] for k, bad in (("diversity", lambda x: x < h.min_diversity),
                                       ("duplicates", lambda x: x > h.max_duplicates),
                                       ("classes", lambda x: x < h.min_classes))
           if k in values and bad(values[k])}
    if low and "diverged" not in held:  # samples flying apart also miss the modes
        held["collapse"] = {k: values[k] for k in ("diversity", "duplicates", "classes",
                                                   "class_kl") if k in values}
    acc_r, acc_f = values.get("d_acc_real"), values.get("d_acc_fake")
    if acc_r is not None and acc_f is not None and min(acc_r, acc_f) >= h.d_acc_max:
        held["d_overpowered"] = {k: values[k] for k in ("d_acc_real", "d_acc_fake",
                                                        "g_grad_norm") if k in values}
    fid, fid_state = values.get("fid_proxy"), state["fid"]
    if fid is not None and "best" in fid_state and fid > fid_state["prev"] \
            and fid > (1 + h.fid_rise) * fid_state["best"]:
        held["fid_rising"] = {"fid_proxy": fid, "fid_best": fid_state["best"],
                              "fid_best_step": fid_state["best_step"]}
    return held


def update(state: dict, values: dict[str, float], h: HealthConfig, step: int
           ) -> list[Finding]:
    """Record one check in `state` (in place); returns the conditions that fire now."""
    held = conditions(state, values, h, step)
    fired = []
    streaks = state["streaks"]
    for cause in CAUSES:
        if cause not in held:
            streaks.pop(cause, None)
            continue
        since, count = streaks.get(cause, (step, 0))
        streaks[cause] = [since, count + 1]
        if count + 1 == (1 if cause == "nonfinite" else h.patience):
            fired.append(Finding(cause, step, since, held[cause]))
    for side in ("g", "d"):  # the running medians follow healthy checks only
        norm = values.get(f"{side}_grad_norm")
        if norm is not None and math.isfinite(norm) and "exploding" not in held:
            state["grad"][side] = (state["grad"][side] + [norm])[-GRAD_HISTORY:]
    fid = values.get("fid_proxy")
    if fid is not None and math.isfinite(fid):
        if "best" not in state["fid"] or fid < state["fid"]["best"]:
            state["fid"].update(best=fid, best_step=step)
        state["fid"]["prev"] = fid
    state["ok"] = not streaks  # no condition holds
    state["judged"] = step >= h.warmup  # ... and every condition was judged
    state["last"] = {"step": step, **values}
    return fired
