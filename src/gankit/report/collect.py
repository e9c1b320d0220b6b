"""Everything a report shows about one run, read from its folder (never written to)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gankit import config as C
from gankit.errors import GankitError
from gankit.health import doctor

_SAMPLE = re.compile(r"step-(\d+)\.png$")
# log keys that are not loss terms, by the group their chart goes in
_GROUPS = (("D accuracy", re.compile(r"acc_(real|fake)$")),
           ("D logits", re.compile(r"logit_(real|fake|spread)$")),
           ("gradient norms", re.compile(r"grad_norm$")),
           ("speed (images/s)", re.compile(r"^images_per_s$")))
_NOT_PLOTTED = {"step", "images_seen", "time"}
EVAL_HIDDEN = {"kid_subset_size", "num_classes"}  # sizes, not scores
_PRDC = ("precision", "recall", "density", "coverage")  # share one chart; other scores get their own
_HEALTH_KEYS = ("diversity", "duplicates", "classes", "class_kl", "spread", "modes", "hq")


@dataclass
class RunRecord:
    """A run as the report needs it: series by chart group, samples, health, metrics."""
    path: Path
    name: str
    config_text: str
    family: str
    series: dict[str, dict[str, tuple[list[int], list[float]]]]  # group -> key -> (steps, vals)
    samples: list[tuple[int, Path]]  # (step, PNG) in step order
    health: doctor.Report
    metrics: dict | None = None  # EvalResult.to_dict() of the final checkpoint, or None
    metrics_note: str = ""  # why there is no table, when there is none


def _group(key: str) -> str:
    if key.startswith("eval/"):
        name = key.removeprefix("eval/")
        return "evaluation: " + (", ".join(_PRDC) if name in _PRDC else name)
    for name, pat in _GROUPS:
        if pat.search(key):
            return name
    return "losses"


def _add(series: dict, group: str, key: str, step: int, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    steps, vals = series.setdefault(group, {}).setdefault(key, ([], []))
    steps.append(step)
    vals.append(float(value))


def read_series(run: Path) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    """metrics.jsonl and the health checks of health.jsonl as plottable series."""
    series: dict = {}
    for rec in doctor.read_jsonl(run / "metrics.jsonl"):
        step = rec.get("step")
        if not isinstance(step, int):
            continue
        for key, value in rec.items():
            if key in _NOT_PLOTTED or key.removeprefix("eval/") in EVAL_HIDDEN | {"kid_std"}:
                continue
            _add(series, _group(key), key, step, value)
    for rec in doctor.read_jsonl(run / "health.jsonl"):
        if rec.get("event") == "check" and isinstance(rec.get("step"), int):
            for key, value in (rec.get("values") or {}).items():
                if key in _HEALTH_KEYS:
                    _add(series, "health checks", key, rec["step"], value)
                elif key == "fid_proxy":
                    _add(series, "health checks: FID proxy", key, rec["step"], value)
    return series


def sample_grids(run: Path) -> list[tuple[int, Path]]:
    """The sample grids training saved, samples/step-N.png, in step order."""
    found = []
    for p in (run / "samples").glob("step-*.png") if (run / "samples").is_dir() else []:
        m = _SAMPLE.search(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def _metrics(run: Path, n: int | None, device: str) -> tuple[dict | None, str]:
    """The final checkpoint measured as `gankit eval` does, with the real-vs-real floor."""
    from gankit import checkpoint, tools
    from gankit.pipelines.generate import load

    ckpt = run / "checkpoints" / "last.pt"
    if not ckpt.is_file():
        return None, "no checkpoint yet: the run stopped before its first one"
    saved = checkpoint.load(ckpt, device="cpu")
    image = saved["family"].get("image")
    if image:
        return None, (f"a {image['task']} model maps images to images: measure it with "
                      "benchmarks/restoration.py (PSNR/SSIM on held-out photos)")
    pipe = load(ckpt, device=device)
    if pipe.is_sequence:
        return None, "a sequence model: frame metrics are in benchmarks/bench_sequence.py"
    ecfg = tools.eval_config(pipe, {"n": n} if n else {})
    res = tools.evaluate_run(pipe, ecfg, tools.run_data(pipe), device)
    return {"step": int(saved["state"]["step"]), **res.to_dict()}, ""


def collect(run: str | Path, evaluate: bool = True, n: int | None = None,
            device: str = "cpu") -> RunRecord:
    """Read run folder `run`; with `evaluate`, also measure its last checkpoint."""
    path = Path(run).expanduser()
    if not path.is_dir() or not (path / "config.yaml").is_file():
        raise GankitError(f"{run} is not a run folder (no config.yaml); give a folder that "
                          "`gankit train --out` wrote")
    text = (path / "config.yaml").read_text()
    cfg = C.from_dict(C.Config, C.load_yaml(str(path / "config.yaml")))
    metrics, note = (None, "not measured (--no-eval)")
    if evaluate:
        try:
            metrics, note = _metrics(path, n, device)
        except GankitError as exc:  # e.g. the training data moved: the rest still reports
            metrics, note = None, f"not measured: {exc}"
    return RunRecord(path, path.name or str(path), text, cfg.model.family, read_series(path),
                     sample_grids(path), doctor.diagnose(path), metrics, note)
