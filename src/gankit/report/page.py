"""The report page: HTML with everything inline. A Content-Security-Policy in the page
forbids any fetch, so a report that tried to load something from elsewhere would show it
broken rather than phone home."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import math
from pathlib import Path

from gankit.health.rules import fmt_step
from gankit.report.charts import chart_svg
from gankit.report.collect import EVAL_HIDDEN, RunRecord

MAX_GRIDS = 40  # sample grids per run in the scrubber; more are thinned evenly (first, last kept)

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1180px;
padding:0 18px 60px;color:#1d1d1f}
h1{margin:22px 0 4px}h2{border-bottom:2px solid #ddd;padding-bottom:3px;margin-top:34px}
.muted{color:#666}.charts{display:flex;flex-wrap:wrap;gap:8px}.charts svg{width:460px;height:auto}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:right}th:first-child,td:first-child{text-align:left}pre{background:#f6f6f6;
padding:8px;overflow:auto;max-height:420px}.scrub img{image-rendering:pixelated;min-width:256px;
max-width:100%;border:1px solid #ccc}.scrub input{width:420px}.ok{color:#1e7e34}
.bad{color:#b00020}.event{color:#b00020}
"""
SCRIPT = """
for (const box of document.querySelectorAll('.scrub')) {
  const frames = JSON.parse(box.querySelector('script').textContent);
  const img = box.querySelector('img'), bar = box.querySelector('input'),
        label = box.querySelector('output');
  const show = i => { img.src = frames[i].src; label.textContent = 'step ' + frames[i].step; };
  bar.addEventListener('input', () => show(+bar.value));
  show(+bar.value);
}
"""
# the page runs exactly this script: the policy names it by its hash, nothing else may run
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-"
       + base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode() + "'")


def _e(text: object) -> str:
    return html.escape(str(text))


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _thin(items: list, keep: int) -> list:
    if len(items) <= keep:
        return items
    idx = sorted({round(i * (len(items) - 1) / (keep - 1)) for i in range(keep)})
    return [items[i] for i in idx]


def _scrubber(rec: RunRecord, k: int) -> str:
    grids = _thin(rec.samples, MAX_GRIDS)
    if not grids:
        return "<p class=muted>no sample grids saved (train.sample_every)</p>"
    frames = [{"step": step, "src": _data_uri(p)} for step, p in grids]
    note = (f" ({len(grids)} of {len(rec.samples)} saved grids, evenly spaced)"
            if len(grids) < len(rec.samples) else "")
    data = json.dumps(frames).replace("</", "<\\/")
    return (f'<div class=scrub id=scrub-{k}><img alt="sample grid" src="{frames[-1]["src"]}">'
            f'<br><input type=range min=0 max={len(frames) - 1} value={len(frames) - 1} '
            f'aria-label="training step"> <output>step {frames[-1]["step"]}</output>{note}'
            f'<script type="application/json">{data}</script></div>')


def _event_steps(rec: RunRecord) -> list[int]:
    return sorted({int(e["step"]) for e in rec.health.events})


def _run_charts(rec: RunRecord) -> str:
    marks = _event_steps(rec)
    svgs = [chart_svg(group, lines, marks) for group, lines in rec.series.items() if lines]
    return "".join(svgs) or "<p class=muted>nothing logged yet</p>"


def _compare_charts(recs: list[RunRecord]) -> str:
    labels = [f"{k + 1}: {r.name}" for k, r in enumerate(recs)]
    keys: dict[tuple[str, str], None] = {}
    for r in recs:
        for group, lines in r.series.items():
            for key in lines:
                keys[(group, key)] = None
    svgs = []
    for group, key in keys:
        lines = {lab: r.series[group][key] for lab, r in zip(labels, recs)
                 if key in r.series.get(group, {})}
        svgs.append(chart_svg(f"{key} ({group})", lines))
    return "".join(svgs)


def _health(rec: RunRecord) -> str:
    rep = rec.health
    out = [f"<p>{_e(rep.status_text)}</p>"]
    if rep.events:
        rows = "".join(f"<tr><td>{_e(fmt_step(int(e['step'])))}</td><td>{_e(e['event'])}</td>"
                       f"<td style='text-align:left'>{_e(e.get('text', ''))}</td></tr>"
                       for e in rep.events)
        out.append(f"<table class=events><tr><th>step</th><th>event</th><th>what</th></tr>"
                   f"{rows}</table>")
    if rep.findings:
        out.append("<ul>" + "".join(f"<li class=bad>{_e(f)}</li>" for f in rep.findings)
                   + "</ul>")
    elif rep.timeline:
        out.append("<p class=ok>no collapse or divergence found in "
                   f"{len(rep.timeline)} {'health checks' if rep.monitored else 'log lines'}</p>")
    else:
        out.append("<p class=muted>no health checks or D statistics logged yet</p>")
    return "".join(out)


def _fmt(v: object) -> str:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return _e(v)
    if math.isnan(v):
        return "nan"
    return f"{v:.4g}"


def _metrics_table(recs: list[RunRecord]) -> str:
    measured = [r for r in recs if r.metrics]
    notes = "".join(f"<p class=muted>{_e(r.name)}: {_e(r.metrics_note)}</p>"
                    for r in recs if not r.metrics)
    if not measured:
        return notes
    keys = list(dict.fromkeys(k for r in measured for k in r.metrics["scores"]
                              if k not in EVAL_HIDDEN))
    head = "<tr><th></th>" + "".join(f"<th>{_e(k)}</th>" for k in keys) + "</tr>"
    rows = []
    for r in measured:
        m = r.metrics
        label = f"{r.name} (step {fmt_step(m['step'])})" if len(recs) > 1 else \
            f"generated (step {fmt_step(m['step'])})"
        for name, scores in ((label, m["scores"]),
                             (f"real-vs-real floor{'' if len(recs) == 1 else ' ' + r.name}",
                              m["real_vs_real_floor"])):
            rows.append(f"<tr><td>{_e(name)}</td>"
                        + "".join(f"<td>{_fmt(scores.get(k, float('nan')))}</td>" for k in keys)
                        + "</tr>")
    protos = "".join(f"<p class=muted>protocol{'' if len(recs) == 1 else ' ' + _e(r.name)}: "
                     f"{_e(_protocol(r.metrics['protocol']))}</p>" for r in measured)
    return f"<table class=metrics>{head}{''.join(rows)}</table>{protos}{notes}"


def _protocol(p: dict) -> str:
    proto = f" ({p['inception_protocol']} protocol)" if p.get("inception_protocol") else ""
    return (f"extractor {p['extractor']}{proto}, {p['n_fake']} generated vs {p['n_real']} real "
            f"({p['data']}), floor {p['floor']}, seed {p['seed']}")


def _run_section(rec: RunRecord, k: int) -> str:
    return (f"<section id=run-{k}><h2>{_e(rec.name)}</h2>"
            f"<p class=muted>{_e(rec.path)} · family {_e(rec.family)}</p>"
            f"<h3>Samples</h3>{_scrubber(rec, k)}"
            f"<h3>Curves</h3><div class=charts>{_run_charts(rec)}</div>"
            f"<h3>Health</h3>{_health(rec)}"
            f"<h3>Final metrics</h3>{_metrics_table([rec])}"
            f"<h3>Config</h3><details><summary>config.yaml</summary><pre>"
            f"{_e(rec.config_text)}</pre></details></section>")


def render(recs: list[RunRecord]) -> str:
    """The whole page as one string."""
    from gankit import __version__

    title = "gankit report: " + ", ".join(r.name for r in recs)
    parts = [(f"<!doctype html><html lang=en><head><meta charset=utf-8>"
             f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
             f"<meta name=viewport content='width=device-width,initial-scale=1'>"
             f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
             f"<h1>{_e(title)}</h1><p class=muted>written "
             f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by gankit {_e(__version__)}; "
             "self-contained: open it offline</p>")]
    if len(recs) > 1:
        parts.append("<section id=compare><h2>Comparison</h2>"
                     f"<h3>Final metrics</h3>{_metrics_table(recs)}"
                     f"<h3>Curves, overlaid</h3><div class=charts>{_compare_charts(recs)}"
                     "</div></section>")
    parts += [_run_section(r, k) for k, r in enumerate(recs)]
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "".join(parts)


def write_report(recs: list[RunRecord], out: str | Path) -> Path:
    """Write the page to `out` (a temporary file renamed into place: never half a page)."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render(recs), encoding="utf-8")
    tmp.replace(out)
    return out
