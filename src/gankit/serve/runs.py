"""The runs a server offers: found below one folder, named by their path relative to it (a
request can name only a run that was found, never a path), loaded once and reloaded when
their last checkpoint changes."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from gankit import checkpoint
from gankit.errors import GankitError
from gankit.pipelines.generate import GeneratorPipeline, load
from gankit.pipelines.restore import TRANSLATE_TASKS, ImagePipeline, load_image_model

CKPT = Path("checkpoints") / "last.pt"
DEPTH = 3  # folder levels below the root searched for runs


@dataclass
class Served:
    """A loaded run: its pipeline and what the page may offer for it."""
    id: str
    pipe: GeneratorPipeline | ImagePipeline
    info: dict
    stamp: tuple[int, int]  # (mtime_ns, size) of the checkpoint it was loaded from
    lock: threading.Lock = field(default_factory=threading.Lock)  # one request at a time


def find_runs(root: Path) -> dict[str, Path]:
    """id -> run folder for every run (a folder with checkpoints/last.pt) below `root`."""
    if (root / CKPT).is_file():
        return {root.resolve().name or "run": root}
    found: dict[str, Path] = {}
    for depth in range(1, DEPTH + 1):  # shallow first, so a run is seen before its insides
        for ckpt in sorted(root.glob("/".join(["*"] * depth) + f"/{CKPT.as_posix()}")):
            run = ckpt.parent.parent
            rel = run.relative_to(root)
            if any(p.as_posix() in found for p in rel.parents):
                continue  # a run's own rollbacks/N/ branch is part of it, not another run
            found[rel.as_posix()] = run
    return dict(sorted(found.items()))


def describe(run_id: str, pipe: GeneratorPipeline | ImagePipeline, step: int) -> dict:
    """What a run can do, for the page's controls."""
    base = {"id": run_id, "step": step}
    if isinstance(pipe, ImagePipeline):
        task = pipe.task
        kind = {"inpaint": "inpaint", "superres": "upscale"}.get(task, "translate")
        if kind == "translate" and task not in TRANSLATE_TASKS:
            raise GankitError(f"run {run_id}: unknown image task {task}")
        return {**base, "family": pipe.family, "kind": kind, "task": task,
                "scale": pipe.scale if kind == "upscale" else 1,
                "directions": ["a2b", "b2a"] if pipe.g_ba is not None else ["a2b"],
                "channels": pipe.input_channels()}
    lat = pipe.latent
    kind = "sequence" if pipe.is_sequence else "image" if pipe.is_image else "points"
    codes = [{"name": f"c{i}", "size": k} for i, k in enumerate(lat.cat)]
    codes += [{"name": f"c{len(lat.cat) + i}", "size": 0} for i in range(lat.cont)]
    return {**base, "family": pipe.family["name"], "kind": kind, "classes": pipe.num_classes,
            "codes": codes, "truncation": lat.noise > 0 and lat.prior == "normal",
            "frames": pipe.family["clip"]["frames"] if pipe.is_sequence else 0}


class Catalog:
    """The runs below `root`, loaded on first use (thread-safe)."""

    def __init__(self, root: str | Path, device: str = "cpu") -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise GankitError(f"RUNS_DIR {self.root} is not a folder")
        self.device = device
        self._cache: dict[str, Served] = {}
        self._lock = threading.Lock()

    def ids(self) -> dict[str, Path]:
        return find_runs(self.root)

    def get(self, run_id: str) -> Served:
        runs = self.ids()
        if run_id not in runs:
            raise GankitError(f"run {run_id!r}: no such run in {self.root} (the page's list "
                              "names those there are)")
        path = runs[run_id] / CKPT
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            served = self._cache.get(run_id)
            if served is None or served.stamp != stamp:
                served = self._load(run_id, path, stamp)
                self._cache[run_id] = served
            return served

    def _load(self, run_id: str, path: Path, stamp: tuple[int, int]) -> Served:
        ckpt = checkpoint.load(path, device="cpu")
        step = int(ckpt["state"]["step"])
        image = ckpt["family"].get("image")
        del ckpt
        pipe = (load_image_model(path, self.device) if image else load(path, self.device))
        return Served(run_id, pipe, describe(run_id, pipe, step), stamp)

    def describe_all(self) -> tuple[list[dict], list[str]]:
        """(descriptions of the runs that load, one line per run that does not)."""
        out, bad = [], []
        for run_id in self.ids():
            try:
                out.append(self.get(run_id).info)
            except GankitError as exc:
                bad.append(f"{run_id}: {exc}")
        return out, bad
