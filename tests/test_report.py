"""`gankit report`: every part of the page comes from the run folder, inline, and is right."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pytest
from conftest import TINY_DCGAN

from gankit import config
from gankit.cli import main
from gankit.report import charts, collect
from gankit.report.page import render
from gankit.train.loop import train

RUN = [*TINY_DCGAN, "train.steps=12", "train.sample_every=3", "train.eval_every=6", "eval.n=64",
       "health.every=4", "health.warmup=0", "health.n=16"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs that differ only in the seed."""
    root = tmp_path_factory.mktemp("report")
    a = train(config.build(None, RUN), out=root / "a")
    b = train(config.build(None, [*RUN, "seed=1"]), out=root / "b")
    return a, b


def _attr_urls(page: str) -> list[str]:
    """Every URL an element would fetch: src=, href=, url(...), @import (outside scripts,
    which are checked for any address at all)."""
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.DOTALL)
    assert not any(re.search(r"https?:|//[a-z]", s) for s in scripts if not s.startswith("[{"))
    page = re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.DOTALL)
    found = re.findall(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?([^"'\s>]+)""", page)
    found += re.findall(r"url\(([^)]*)\)", page) + re.findall(r"@import\s+([^;]+)", page)
    return found


def test_a_report_holds_every_saved_grid_in_step_order_behind_a_scrubber(runs, tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", str(runs[0]), "--out", str(out), "--no-eval"]) == 0
    page = out.read_text()
    frames = json.loads(re.search(r'<script type="application/json">(.*?)</script>', page,
                                  re.DOTALL).group(1))
    grids = sorted((runs[0] / "samples").glob("step-*.png"))
    assert [f["step"] for f in frames] == [3, 6, 9, 12] and len(grids) == 4
    for frame, grid in zip(frames, grids):  # the very bytes training wrote
        assert base64.b64decode(frame["src"].split(",", 1)[1]) == grid.read_bytes()
    assert 'type=range min=0 max=3 value=3' in page
    assert (runs[0] / "config.yaml").read_text().split("\n")[0] in page


def test_nothing_in_a_report_is_fetched_from_anywhere(runs, tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", str(runs[0]), str(runs[1]), "--out", str(out), "--n", "32"]) == 0
    page = out.read_text()
    urls = _attr_urls(page)
    assert urls and all(u.startswith(("data:", "#")) for u in urls), \
        [u[:40] for u in urls if not u.startswith(("data:", "#"))]
    assert "default-src 'none'" in page  # and the page forbids fetching, should one slip in


def test_the_final_metric_table_is_gankit_eval_with_its_floor(runs, tmp_path, capsys):
    out, js = tmp_path / "r.html", tmp_path / "e.json"
    assert main(["eval", str(runs[0]), "--n", "48", "--json", str(js)]) == 0
    assert main(["report", str(runs[0]), "--out", str(out), "--n", "48"]) == 0
    ref = json.loads(js.read_text())
    rec = collect(runs[0], n=48)
    assert rec.metrics["scores"] == ref["scores"]
    assert rec.metrics["real_vs_real_floor"] == ref["real_vs_real_floor"]
    assert rec.metrics["step"] == 12
    page = out.read_text()
    table = re.search(r"<table class=metrics>(.*?)</table>", page, re.DOTALL).group(1)
    assert f"<td>{ref['scores']['fid']:.4g}</td>" in table
    assert f"<td>{ref['real_vs_real_floor']['fid']:.4g}</td>" in table
    assert "real-vs-real floor" in table and "kid_subset_size" not in table
    assert "48 generated vs 48 real" in page


def test_curves_come_from_the_logs_and_several_runs_are_overlaid(runs):
    rec_a, rec_b = collect(runs[0], False), collect(runs[1], False)
    logs = [json.loads(x) for x in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    d_real = [(r["step"], r["d_real"]) for r in logs if "d_real" in r]
    steps, vals = rec_a.series["losses"]["d_real"]
    assert list(zip(steps, vals)) == d_real
    assert rec_a.series["evaluation: fid"]["eval/fid"][0] == [6, 12]
    checks = [json.loads(x) for x in (runs[0] / "health.jsonl").read_text().splitlines()]
    div = [r["values"]["diversity"] for r in checks if r["event"] == "check"]
    assert rec_a.series["health checks"]["diversity"][1] == div
    page = render([rec_a, rec_b])
    compare = page[page.index("<section id=compare>"):page.index("<section id=run-0>")]
    assert compare.count("<svg") == sum(len(v) for v in rec_a.series.values())
    assert "1: a" in compare and "2: b" in compare  # legend entries of both runs
    assert "<section id=run-1>" in page


def test_health_events_are_listed_and_marked(runs, tmp_path):
    run = tmp_path / "sick"
    shutil.copytree(runs[0], run)
    event = {"time": "", "step": 9, "event": "warn", "cause": "collapse",
             "text": "Mode collapse from step 9: made up for this test"}
    with open(run / "health.jsonl", "a") as fh:
        fh.write(json.dumps(event) + "\n")
    page = render([collect(run, False)])
    assert "Mode collapse from step 9: made up for this test" in page
    assert page.count('stroke-dasharray') >= 1  # the event's mark on the curves


def test_a_run_without_a_checkpoint_or_an_image_model_says_why_there_is_no_table(tmp_path):
    run = tmp_path / "early"
    run.mkdir()
    (run / "config.yaml").write_text(config.dump(config.build(None, TINY_DCGAN)))
    rec = collect(run)
    assert rec.metrics is None and "before its first" in rec.metrics_note
    assert "before its first" in render([rec])


@pytest.mark.parametrize("args, message", [
    (["{nothing}"], "not a run folder"),
    (["{run}", "--out", "{tmp}/r.txt"], "ending in .html"),
    (["{run}", "--out", "{run}/samples/r.html"], "belongs to the run"),
    (["{run}", "--out", "{tmp}/no/r.html"], "does not exist"),
    (["{run}", "--n", "1"], "at least 2"),
])
def test_bad_report_arguments_are_refused_before_any_work(runs, tmp_path, capsys, args, message):
    fill = {"run": str(runs[0]), "tmp": str(tmp_path), "nothing": str(tmp_path / "nothing")}
    argv = ["report", *[a.format(**fill) for a in args]]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "r.html")]
    before = sorted(p.name for p in runs[0].rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in runs[0].rglob("*")) == before
    assert not (tmp_path / "r.html").exists()


def test_running_mean_and_log_scale():
    assert charts._running_mean([1, 2, 3, 4], 2) == [1, 1.5, 2.5, 3.5]
    assert charts._running_mean([1, float("nan"), 3], 3) == [1, 1, 2]
    assert charts._log_scale({"fid": ([0, 1], [2000.0, 1.0])})
    assert not charts._log_scale({"loss": ([0, 1], [-1.0, 5000.0])})
    svg = charts.chart_svg("t", {"x": ([0, 1, 2], [1.0, 2.0, 3.0])})
    assert svg.startswith("<svg") and svg == charts.chart_svg("t", {"x": ([0, 1, 2],
                                                                          [1.0, 2.0, 3.0])})


def test_a_dollar_in_a_run_name_is_text_not_math(runs, tmp_path):
    run = tmp_path / "lr_$\\nosuchmacro$"  # matplotlib's math parser would refuse this
    shutil.copytree(runs[0], run)
    page = render([collect(run, False), collect(runs[1], False)])  # legends "1: lr_$..."
    assert "lr_$\\nosuchmacro$" in page


def test_one_runs_failed_measurement_leaves_the_rest_of_the_report(runs, monkeypatch):
    from gankit import tools
    from gankit.errors import GankitError

    def gone(_pipe):
        raise GankitError("data folder /data/x is gone")

    monkeypatch.setattr(tools, "run_data", gone)
    rec = collect(runs[0], n=16)
    assert rec.metrics is None and rec.metrics_note == "not measured: data folder /data/x is gone"
    assert rec.samples and rec.series["losses"]
