"""Curves as inline SVG, drawn by matplotlib at report time (no plotting script in the page).

A noisy series (loss terms over thousands of steps) is drawn faintly with its running mean
on top, so trends show without hiding the spread.
"""

from __future__ import annotations

import io
import math

import matplotlib
from matplotlib.figure import Figure

Series = tuple[list[int], list[float]]
MAX_POINTS = 1500  # per line: a longer series is thinned by stride before drawing
SMOOTH_FROM = 60  # points: from this length on, a running mean is drawn over the raw line


def _thin(steps: list[int], vals: list[float]) -> Series:
    if len(steps) <= MAX_POINTS:
        return steps, vals
    stride = math.ceil(len(steps) / MAX_POINTS)
    return steps[::stride], vals[::stride]


def _running_mean(vals: list[float], width: int) -> list[float]:
    out, total, window = [], 0.0, []
    for v in vals:
        v = v if math.isfinite(v) else float("nan")
        window.append(v)
        total += 0.0 if math.isnan(v) else v
        if len(window) > width:
            old = window.pop(0)
            total -= 0.0 if math.isnan(old) else old
        finite = sum(1 for w in window if not math.isnan(w))
        out.append(total / finite if finite else float("nan"))
    return out


def _log_scale(lines: dict[str, Series]) -> bool:
    """Log y for positive series spanning more than three decades (FID, gradient norms)."""
    vals = [v for _, vs in lines.values() for v in vs if math.isfinite(v)]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 1e3


def chart_svg(title: str, lines: dict[str, Series], events: list[int] | None = None) -> str:
    """One chart: a line per entry of `lines` (label -> (steps, values)); vertical marks at
    the steps in `events` (health events). Returns the <svg> element as text."""
    with matplotlib.rc_context({"svg.hashsalt": "gankit", "svg.fonttype": "path",
                                "font.size": 8, "text.parse_math": False}):  # "$" in names
        fig = Figure(figsize=(4.6, 2.6), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        for i, (label, (steps, vals)) in enumerate(sorted(lines.items())):
            steps, vals = _thin(steps, vals)
            colour = f"C{i % 10}"
            if len(vals) >= SMOOTH_FROM:
                ax.plot(steps, vals, color=colour, alpha=0.25, linewidth=0.6)
                ax.plot(steps, _running_mean(vals, max(5, len(vals) // 30)), color=colour,
                        linewidth=1.2, label=label)
            else:
                ax.plot(steps, vals, color=colour, linewidth=1.2, label=label,
                        marker="o" if len(vals) <= 12 else None, markersize=2.5)
        for step in events or []:
            ax.axvline(step, color="#c0392b", alpha=0.5, linewidth=0.8, linestyle="--")
        if _log_scale(lines):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(lines) > 1 or events:
            ax.legend(fontsize=6, loc="best")
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: it sits inside HTML
