"""The runs a server offers: found below one folder, named by their path relative to it (a
request can name only a run that was found, never a path), loaded once and reloaded when
their last checkpoint changes."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
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


@dataclass
class Listing:
    """What `/api/runs` shows: the runs that load, and one line for each that does not."""
    runs: list[dict]
    problems: list[str]


class Catalog:
    """The runs below `root`, loaded on first use; thread-safe.

    The folder walk is cached for LIST_TTL seconds (a request names a run; walking thousands
    of sample grids per request would cost more than the request). A run loads under its own
    lock, so a slow checkpoint holds up only requests for that run. At most MAX_LOADED
    pipelines stay in memory (least recently used dropped); their descriptions stay.
    """

    LIST_TTL = 2.0  # seconds a folder walk is reused
    MAX_LOADED = 8  # pipelines kept in memory

    def __init__(self, root: str | Path, device: str = "cpu") -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise GankitError(f"RUNS_DIR {self.root} is not a folder")
        self.device = device
        self._loaded: OrderedDict[str, Served] = OrderedDict()
        self._infos: dict[str, tuple[tuple[int, int], dict]] = {}
        self._run_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()  # guards the dicts above and the listing, briefly
        self._listing: tuple[float, dict[str, Path]] = (-math.inf, {})

    def ids(self, fresh: bool = False) -> dict[str, Path]:
        """id -> run folder, walked again when `fresh` or older than LIST_TTL."""
        with self._lock:
            when, runs = self._listing
        if fresh or time.monotonic() - when > self.LIST_TTL:
            runs = find_runs(self.root)
            with self._lock:
                self._listing = (time.monotonic(), runs)
        return runs

    def _stamp(self, run_id: str) -> tuple[Path, tuple[int, int]]:
        runs = self.ids()
        if run_id not in runs:
            runs = self.ids(fresh=True)  # a run created since the last walk
        if run_id not in runs:
            raise GankitError(f"run {run_id!r}: no such run in {self.root} (the page's list "
                              "names those there are)")
        path = runs[run_id] / CKPT
        try:
            st = path.stat()
        except OSError as exc:
            raise GankitError(f"run {run_id!r}: cannot read {path} ({exc.strerror})") from None
        return path, (st.st_mtime_ns, st.st_size)

    def get(self, run_id: str) -> Served:
        """The loaded run, reloaded when its last.pt changed."""
        path, stamp = self._stamp(run_id)
        with self._lock:
            served = self._loaded.get(run_id)
            if served is not None and served.stamp == stamp:
                self._loaded.move_to_end(run_id)
                return served
            run_lock = self._run_locks.setdefault(run_id, threading.Lock())
        with run_lock:  # one load per run at a time; other runs go on
            with self._lock:
                served = self._loaded.get(run_id)
            if served is None or served.stamp != stamp:
                served = self._load(run_id, path, stamp)
            with self._lock:
                self._loaded[run_id] = served
                self._loaded.move_to_end(run_id)
                self._infos[run_id] = (stamp, served.info)
                while len(self._loaded) > self.MAX_LOADED:
                    self._loaded.popitem(last=False)
            return served

    def _load(self, run_id: str, path: Path, stamp: tuple[int, int]) -> Served:
        ckpt = checkpoint.load(path, device="cpu")
        step = int(ckpt["state"]["step"])
        image = ckpt["family"].get("image")
        del ckpt
        pipe = (load_image_model(path, self.device) if image else load(path, self.device))
        return Served(run_id, pipe, describe(run_id, pipe, step), stamp)

    def describe_all(self) -> Listing:
        """Every run's description (loading those not described since their last change)."""
        out = Listing([], [])
        for run_id in self.ids(fresh=True):
            try:
                _, stamp = self._stamp(run_id)
                with self._lock:
                    known = self._infos.get(run_id)
                out.runs.append(known[1] if known and known[0] == stamp
                                else self.get(run_id).info)
            except GankitError as exc:
                out.problems.append(f"{run_id}: {exc}")
        return out
