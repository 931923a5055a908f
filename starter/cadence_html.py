"""`coach cadence analyze USER_ID --html OUT.html`: an athlete's rucks as a weekday × hour heatmap, with the learned
windows and their confidence drawn on it, in one self-contained HTML file (inline CSS and SVG, nothing fetched).

Each cell counts the rucks of the analysis' lookback that started in that local hour of that weekday (local to the
zone the athlete was in for each ruck, as the analyzer reads them). The overall prime window is a band across every
weekday; a weekday with a routine of its own has its own band on its row. A window is solid when its confidence
reaches the schedule's threshold (the reminders use it) and dashed when it does not.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from coaching.cadence import WEEKDAYS, CadenceAnalysis, RuckSample
from coaching.models import CadenceWindow
from coaching.schedule import CADENCE_CONFIDENCE_THRESHOLD
from coaching.timeutil import minute_label, to_local

_CELL_W = 30
_CELL_H = 30
_LEFT = 90
_TOP = 40


def heatmap_counts(samples: Sequence[RuckSample]) -> Counter[tuple[int, int]]:
    """(weekday, hour) -> rucks that started then, local to each ruck's zone; date-only samples have no hour."""
    counts: Counter[tuple[int, int]] = Counter()
    for s in samples:
        if s.started_at is not None:
            local = to_local(s.started_at, s.timezone)
            counts[(local.weekday(), local.hour)] += 1
    return counts


def _x(minute: float) -> float:
    return _LEFT + minute / 60 * _CELL_W


def _band(row_top: float, height: float, window: CadenceWindow, label: str) -> str:
    used = window.confidence >= CADENCE_CONFIDENCE_THRESHOLD
    cls = "window used" if used else "window unused"
    tip = html.escape(
        f"{label}: {minute_label(window.start_minute)}–{minute_label(window.end_minute)}, usually "
        f"{minute_label(window.centre_minute)}; confidence {window.confidence:.2f} "
        f"({'used for reminders' if used else 'too uncertain to use'}; threshold {CADENCE_CONFIDENCE_THRESHOLD:.2f}); "
        f"{window.sample_size} rucks",
        quote=True,
    )
    start, end = window.start_minute, window.end_minute
    spans = [(start, end)] if start <= end else [(start, 1440), (0, end)]  # a window may wrap midnight
    parts = [
        f'<rect class="{cls}" x="{_x(a):.1f}" y="{row_top:.1f}" width="{max(_x(b) - _x(a), 2):.1f}" '
        f'height="{height:.1f}"><title>{tip}</title></rect>'
        for a, b in spans
    ]
    centre = _x(window.centre_minute)
    parts.append(
        f'<line class="centre" x1="{centre:.1f}" y1="{row_top:.1f}" x2="{centre:.1f}" y2="{row_top + height:.1f}"/>'
    )
    return "".join(parts)


def render_cadence_html(user_label: str, analysis: CadenceAnalysis, samples: Sequence[RuckSample]) -> str:
    counts = heatmap_counts(samples)
    peak = max(counts.values(), default=0)
    cells = []
    for day in range(7):
        y = _TOP + day * _CELL_H
        cells.append(
            f'<text class="axis" x="{_LEFT - 8}" y="{y + _CELL_H / 2 + 4:.1f}" text-anchor="end">{WEEKDAYS[day]}</text>'
        )
        for hour in range(24):
            n = counts.get((day, hour), 0)
            shade = 0.0 if peak == 0 else n / peak
            tip = f"{WEEKDAYS[day]} {hour:02d}:00–{hour:02d}:59: {n} ruck(s)"
            cells.append(
                f'<rect class="cell" x="{_x(hour * 60):.1f}" y="{y:.1f}" width="{_CELL_W}" height="{_CELL_H}" '
                f'fill="rgba(20,110,60,{0.08 + 0.92 * shade:.2f})" data-count="{n}"><title>{tip}</title></rect>'
            )
            if n:
                cells.append(
                    f'<text class="count" x="{_x(hour * 60) + _CELL_W / 2:.1f}" y="{y + _CELL_H / 2 + 4:.1f}" '
                    f'text-anchor="middle">{n}</text>'
                )
    for hour in range(0, 25, 2):
        cells.append(
            f'<text class="axis" x="{_x(hour * 60):.1f}" y="{_TOP - 8}" text-anchor="middle">{hour:02d}</text>'
        )
    snap = analysis.snapshot
    overall = snap.overall
    if overall is not None:
        cells.append(_band(_TOP - 4, 7 * _CELL_H + 8, overall, "prime window (every day)"))
    for day, window in sorted(snap.weekday_windows.items()):
        cells.append(_band(_TOP + day * _CELL_H + 4, _CELL_H - 8, window, f"{WEEKDAYS[day]}'s own window"))
    width, height = int(_x(1440) + 20), int(_TOP + 7 * _CELL_H + 30)
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(cells)}</svg>'
    if overall is None:
        summary = "No prime window learned yet."
    else:
        used = overall.confidence >= CADENCE_CONFIDENCE_THRESHOLD
        summary = (
            f"Prime window {minute_label(overall.start_minute)}–{minute_label(overall.end_minute)}, usually "
            f"{minute_label(overall.centre_minute)}; confidence {overall.confidence:.2f} "
            f"({'used for reminders' if used else 'too uncertain to use'}; threshold "
            f"{CADENCE_CONFIDENCE_THRESHOLD:.2f})."
        )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in analysis.reasons)
    title = f"Rucking cadence of {user_label}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_STYLE}</style>'
        f"</head><body><h1>{html.escape(title)}</h1>"
        f"<p>As of {analysis.as_of:%Y-%m-%d %H:%M} UTC: {analysis.timed_samples} rucks with a start time, "
        f"{analysis.date_only_samples} completed sessions with a date only. {html.escape(summary)}</p>"
        '<p class="legend"><span class="swatch used"></span>window used for reminders '
        '<span class="swatch unused"></span>window too uncertain to use '
        '<span class="swatch centre"></span>usual start · darker cells: more rucks started then</p>'
        f'<div id="heatmap">{svg}</div><h2>Why</h2><ul>{reasons}</ul></body></html>\n'
    )


_STYLE = """
body{font:13px system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 6px}h2{font-size:15px}p{max-width:70em}
.axis{fill:#555;font-size:11px}.count{fill:#fff;font-size:11px;font-weight:600;pointer-events:none}
.cell{stroke:#fff;stroke-width:1}
.window{fill:none;stroke-width:3}.window.used{stroke:#c0392b}.window.unused{stroke:#c0392b;stroke-dasharray:6 4}
.centre{stroke:#c0392b;stroke-width:2}
.swatch{display:inline-block;width:18px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
.swatch.used{border:3px solid #c0392b}.swatch.unused{border:3px dashed #c0392b}
.swatch.centre{width:2px;background:#c0392b}
"""


def write_cadence_html(out: Path, user_label: str, analysis: CadenceAnalysis, samples: Sequence[RuckSample]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_cadence_html(user_label, analysis, samples), encoding="utf-8")
