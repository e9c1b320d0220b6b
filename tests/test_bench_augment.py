"""benchmarks/bench_augment.py --merge: runs made in separate processes joined into one table."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_DIR = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(_DIR))  # bench_augment imports bench_families
_spec = importlib.util.spec_from_file_location("bench_augment", _DIR / "bench_augment.py")
ba = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ba)


def _file(tmp_path: Path, name: str, setting: str, seeds_fids: dict[int, float],
          overrides: list[str]) -> Path:
    rows = [{"seed": s, "scores": {"fid": f, "kid": 1.0, "precision": 0.5, "recall": 0.5,
                                   "train_seconds": 10.0}} for s, f in seeds_fids.items()]
    path = tmp_path / name
    path.write_text(json.dumps({"overrides": overrides, "limit": 500, "n": 5000,
                                "results": {"dcgan-mnist": {setting: rows}},
                                "command": f"run {name}", "date": "2026-11-25", "machine": {},
                                "settings": {}}))
    return path


def test_merge_joins_settings_and_seeds_and_recomputes_the_gain(tmp_path):
    files = [_file(tmp_path, "a.json", "diffaug", {1: 30.0}, ["train.steps=9"]),
             _file(tmp_path, "b.json", "none", {1: 60.0, 0: 40.0}, ["train.steps=9"]),
             _file(tmp_path, "c.json", "diffaug", {0: 20.0}, ["train.steps=9"])]
    header, results, summary = ba.merge(files)
    assert [m["command"] for m in header["merged"]] == ["run a.json", "run b.json", "run c.json"]
    rows = results["dcgan-mnist"]
    assert list(rows) == ["none", "diffaug"]  # the benchmark's order, whatever the files'
    assert [r["seed"] for r in rows["none"]] == [0, 1] == [r["seed"] for r in rows["diffaug"]]
    s = summary["dcgan-mnist"]
    assert s["none"]["fid"]["mean"] == 50.0 and s["diffaug"]["fid"]["mean"] == 25.0
    assert s["diffaug"]["fid_gain_vs_none"] == pytest.approx(0.5)  # (50 - 25) / 50


def test_merge_refuses_runs_of_other_settings(tmp_path):
    files = [_file(tmp_path, "a.json", "none", {0: 1.0}, ["train.steps=9"]),
             _file(tmp_path, "b.json", "diffaug", {0: 1.0}, ["train.steps=8"])]
    with pytest.raises(SystemExit, match="differ"):
        ba.merge(files)
