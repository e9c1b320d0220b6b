"""`gankit doctor RUN`: a run's health timeline and a diagnosis in plain words.

Reads only the run folder's text files (config.yaml, metrics.jsonl, health.jsonl), so it
works on a finished, a running or a crashed run, and on runs trained with the monitor off:
then the diagnosis rules are replayed on the logged D statistics and gradient norms.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from gankit import config as C
from gankit.errors import GankitError
from gankit.health import rules

MAX_ROWS = 24  # timeline rows printed; a longer timeline is thinned (unhealthy rows kept)
RUNNING_SECONDS = 120  # a run without health.jsonl whose log changed this recently is running
COLUMNS = [  # (record key, header, format)
    ("d_acc_real", "D acc real", "{:.0%}"), ("d_acc_fake", "D acc fake", "{:.0%}"),
    ("g_grad_norm", "G grad", "{:.2g}"), ("d_grad_norm", "D grad", "{:.2g}"),
    ("diversity", "diversity", "{:.2f}"), ("duplicates", "dups", "{:.0%}"),
    ("classes", "classes", "{:.0%}"), ("fid_proxy", "FID proxy", "{:.3g}"),
]


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a .jsonl file; a line torn by a crash is skipped."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


@dataclass
class Report:
    run: Path
    status: str  # finished | running | stopped | crashed
    status_text: str
    step: int  # the last step the log reached
    steps: int  # train.steps
    timeline: list[dict] = field(default_factory=list)  # {"step", values..., "status"}
    events: list[dict] = field(default_factory=list)  # health.jsonl, without start/end
    findings: list[str] = field(default_factory=list)  # plain-word diagnoses
    monitored: bool = True  # False: the rules were replayed on log lines

    def to_dict(self) -> dict:
        return {"run": str(self.run), "status": self.status, "status_text": self.status_text,
                "step": self.step, "steps": self.steps, "monitored": self.monitored,
                "timeline": self.timeline, "events": self.events, "diagnosis": self.findings}


def _alive(pid: int, host: str) -> bool:
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _status(run: Path, events: list[dict], step: int, steps: int) -> tuple[str, str]:
    resume = f"resume with `gankit train --resume {run}`"
    events = [e for e in events if e["event"] != "check"]
    if events:
        last = events[-1]
        kind = last.get("event")
        if kind == "end":
            n = last.get("rollbacks", 0)
            extra = f" after {n} rollback(s)" if n else ""
            return "finished", f"finished at step {rules.fmt_step(last['step'])}{extra}"
        if kind in ("stop", "gave_up"):
            why = "recovery gave up" if kind == "gave_up" else last.get("reason", "health.action=stop")
            return "stopped", (f"stopped by the health monitor at step "
                               f"{rules.fmt_step(last['step'])} ({why})")
        start = next((e for e in reversed(events) if e.get("event") == "start"), None)
        if start and _alive(int(start.get("pid", -1)), str(start.get("host", ""))):
            return "running", (f"running (process {start['pid']}), at step "
                               f"{rules.fmt_step(step)} of {rules.fmt_step(steps)}")
    log = run / "metrics.jsonl"
    if not events and step >= steps:
        return "finished", f"finished at step {rules.fmt_step(step)}"
    # another host's process, or no monitor: a log written to recently means running
    if log.is_file() and time.time() - log.stat().st_mtime < RUNNING_SECONDS:
        return "running", (f"running (its log changed in the last {RUNNING_SECONDS} s), "
                           f"at step {rules.fmt_step(step)} of {rules.fmt_step(steps)}")
    return "crashed", (f"stopped at step {rules.fmt_step(step)} of {rules.fmt_step(steps)} "
                       f"without finishing (a crash or a kill); {resume}")


def _values(record: dict, prefix: str) -> dict[str, float]:
    keys = {k for k, _, _ in COLUMNS} | {"class_kl", "d_logit_real", "d_logit_fake",
                                         "d_logit_spread"}
    out = {}
    for k, v in record.items():
        name = k[len(prefix):] if k.startswith(prefix) else None
        if name in keys and isinstance(v, (int, float)):
            out[name] = float(v)
    return out


def diagnose(run: str | Path) -> Report:
    """Read a run folder and judge it."""
    run = Path(run).expanduser()
    if not run.is_dir() or not (run / "config.yaml").is_file():
        raise GankitError(f"{run} is not a run folder (no config.yaml); give the folder "
                          "`gankit train --out` wrote")
    cfg = C.from_dict(C.Config, C.load_yaml(str(run / "config.yaml")))
    logs = read_jsonl(run / "metrics.jsonl")
    events = [e for e in read_jsonl(run / "health.jsonl") if "event" in e and "step" in e]
    step = max((int(r.get("step", 0)) for r in logs), default=0)
    status, text = _status(run, events, step, cfg.train.steps)
    checks = [e for e in events if e["event"] == "check"]
    monitored = bool(checks)
    if monitored:
        rows = [{"step": int(r["step"]), **_values(r.get("values", {}), ""),
                 "status": r.get("status", "ok")} for r in checks]
    else:  # the monitor was off: judge the logged D statistics, every 5th log line
        lines = [r for r in logs if "d_acc_real" in r or "g_grad_norm" in r]
        rows = [{"step": int(r["step"]), **_values(r, "")} for r in lines[4::5] or lines[-1:]]
    state, found = rules.new_state(), []
    for row in rows:  # replayed: the same rules the monitor applied
        values = {k: v for k, v in row.items() if k not in ("step", "status")}
        fired = rules.update(state, values, cfg.health, row["step"])
        found += [f.text(cfg.health) for f in fired]
        if not monitored:
            row["status"] = ",".join(state["streaks"]) or "ok"
    for e in events:
        if e.get("cause") == "nonfinite" and e.get("text") and e["text"] not in found:
            found.append(e["text"])
    return Report(run, status, text, step, cfg.train.steps, rows,
                  [e for e in events if e.get("event") not in ("start", "end", "check")], found,
                  monitored)


def _thin(rows: list[dict]) -> list[dict]:
    if len(rows) <= MAX_ROWS:
        return rows
    stride = -(-len(rows) // MAX_ROWS)
    return [r for i, r in enumerate(rows)
            if i % stride == 0 or r.get("status", "ok") != "ok" or i == len(rows) - 1]


def render(rep: Report) -> str:
    """The report as text for a terminal."""
    lines = [f"run {rep.run}: {rep.status_text}"]
    if rep.timeline:
        cols = [c for c in COLUMNS if any(c[0] in r for r in rep.timeline)]
        src = "health checks" if rep.monitored else "log lines (the monitor was off)"
        lines += ["", f"health timeline ({len(rep.timeline)} {src}):"]
        head = ["step", *[h for _, h, _ in cols], "status"]
        table = [head]
        for r in _thin(rep.timeline):
            table.append([rules.fmt_step(r["step"]),
                          *[f.format(r[k]) if k in r else "-" for k, _, f in cols],
                          r.get("status", "ok")])
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        for row in table:
            lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)))
    if rep.events:
        lines += ["", "health events:"]
        for e in rep.events:
            what = e.get("text", "")
            if e["event"] == "rollback":
                what = (f"rolled back from step {rules.fmt_step(e.get('from_step', 0))} to "
                        f"{rules.fmt_step(e.get('to_step', 0))}, learning rates "
                        + ", ".join(f"{k.upper()} x{v:g}" for k, v in
                                    (e.get("lr_scale") or {}).items()) + f": {what}")
            lines.append(f"  step {rules.fmt_step(e['step'])}  {e['event']}: {what}")
    lines += ["", "diagnosis:"]
    if rep.findings:
        lines += [f"  - {f}" for f in rep.findings]
    elif not rep.timeline:
        lines.append("  no health checks or D statistics logged yet")
    else:
        last = rep.timeline[-1]
        nums = ", ".join(f"{h} {f.format(last[k])}" for k, h, f in COLUMNS if k in last)
        lines.append(f"  no problem found; last check at step {rules.fmt_step(last['step'])}: "
                     f"{nums}")
    return "\n".join(lines)
