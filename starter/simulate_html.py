"""`coach simulate --html`: a simulated plan as one picture, in one self-contained HTML file (no CDN: it opens
offline).

The athlete's local days run across, the hours of the day down. Sessions are bars at their start time, each
notification a marker coloured by its type and shaped by its status (sent: a disc, skipped: a cross, failed: a
triangle, still scheduled: a hollow square); quiet hours and snoozes are shaded, daylight-saving changes and time
zone changes marked, the scenario's events drawn as small diamonds. Hovering a marker shows its title, body, the rule
that set its time and what happened to it. Everything is drawn here as SVG; the page's script only shows the hover
card.
"""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from pathlib import Path

from coaching.timeutil import clock_minute, format_local, to_local
from starter.timeline import Timeline, TimelineEntry

#: One colour per notification type (the legend lists them in this order).
TYPE_COLOURS = {
    "plan_kickoff_primer": "#6a3d9a",
    "plan_evening_brief": "#1f78b4",
    "plan_morning_hype": "#ff7f00",
    "plan_completion_celebration": "#33a02c",
    "plan_missed_followup": "#e31a1c",
    "plan_weekly_digest": "#b15928",
    "plan_milestone_alert": "#d4a000",
}
SESSION_COLOURS = {"completed": "#8fd18a", "skipped": "#c8c8c8", "planned": "#9ec5ea", "modified": "#c8b6e2"}

_DAY_W = 64
_HOUR_H = 22
_LEFT = 56
_TOP = 64
_SESSION_MINUTES = 60


class _Grid:
    """Where an instant goes: the column of its local day and the row of its local time, in the zone the athlete
    was in at that instant."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        start = timeline.start or min((e.utc_time for e in timeline.entries), default=None)
        end = timeline.end or max((e.utc_time for e in timeline.entries), default=None)
        assert start is not None and end is not None
        days = {self.local(start).date(), self.local(end).date()}
        days |= {self.local(e.utc_time).date() for e in timeline.entries}
        days |= {s.date for s in timeline.sessions if s.date}
        self.first, last = min(days), max(days)
        self.days = [self.first + timedelta(days=n) for n in range((last - self.first).days + 1)]
        self.start, self.end = start, end

    def zone(self, instant: datetime) -> str:
        tz = self.timeline.timezone
        for p in self.timeline.periods:
            if p.start <= instant:
                tz = p.timezone
        return tz

    def local(self, instant: datetime) -> datetime:
        return to_local(instant, self.zone(instant))

    def x(self, day: date) -> float:
        return _LEFT + (day - self.first).days * _DAY_W

    def y(self, minute: float) -> float:
        return _TOP + minute / 60 * _HOUR_H

    def point(self, instant: datetime) -> tuple[float, float]:
        local = self.local(instant)
        return self.x(local.date()) + _DAY_W / 2, self.y(local.hour * 60 + local.minute)

    @property
    def width(self) -> int:
        return int(_LEFT + len(self.days) * _DAY_W + 20)

    @property
    def height(self) -> int:
        return int(_TOP + 24 * _HOUR_H + 30)


def _tip(*lines: str | None) -> str:
    return html.escape("\n".join(line for line in lines if line), quote=True)


def _shade(grid: _Grid, day: date, start_minute: int, end_minute: int, cls: str, tip: str) -> str:
    """A band over one day from ``start_minute`` to ``end_minute`` (wrapping midnight into the same column)."""
    spans = [(start_minute, end_minute)] if start_minute < end_minute else [(start_minute, 1440), (0, end_minute)]
    out = []
    for a, b in spans:
        if b > a:
            out.append(
                f'<rect class="{cls}" x="{grid.x(day):.1f}" y="{grid.y(a):.1f}" width="{_DAY_W}" '
                f'height="{grid.y(b) - grid.y(a):.1f}" data-tip="{tip}"/>'
            )
    return "".join(out)


def _quiet_hours(grid: _Grid) -> list[str]:
    out = []
    for day in grid.days:
        noon = datetime.combine(day, datetime.min.time()).replace(hour=12)
        period = None
        for p in grid.timeline.periods:
            if to_local(p.start, p.timezone).replace(tzinfo=None) <= noon or period is None:
                period = p
        if period is None or period.quiet_hours is None:
            continue
        start, end = period.quiet_hours
        tip = _tip(f"quiet hours {start}–{end} ({period.timezone})")
        out.append(_shade(grid, day, clock_minute(start), clock_minute(end), "quiet", tip))
    return out


def _snoozes(grid: _Grid) -> list[str]:
    out = []
    for snooze in grid.timeline.snoozes:
        tip = _tip(f"snoozed until {format_local(snooze.end, grid.zone(snooze.end))}")
        cursor = snooze.start
        while cursor < snooze.end:
            local = grid.local(cursor)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
            stop = min(snooze.end, midnight.astimezone(snooze.end.tzinfo))
            a = local.hour * 60 + local.minute
            stop_local = grid.local(stop)
            b = 1440 if stop_local.date() != local.date() else stop_local.hour * 60 + stop_local.minute
            if local.date() in grid.days and b > a:
                out.append(_shade(grid, local.date(), a, b, "snooze", tip))
            if stop <= cursor:
                break
            cursor = stop
    return out


def _transitions(grid: _Grid) -> list[str]:
    """Daylight-saving changes (a UTC offset that changes within a zone) and the athlete's moves between zones."""
    out = []
    periods = grid.timeline.periods
    for n, period in enumerate(periods):
        start = max(period.start, grid.start)
        stop = periods[n + 1].start if n + 1 < len(periods) else grid.end
        if n:
            label = f"time zone {periods[n - 1].timezone} → {period.timezone}"
            out.append(_line(grid, period.start, "zone", label, period.timezone.rsplit("/", 1)[-1]))
        instant, previous = start, to_local(start, period.timezone)
        while instant < stop:
            instant = min(instant + timedelta(minutes=30), stop)
            now = to_local(instant, period.timezone)
            if now.utcoffset() != previous.utcoffset():
                label = f"clocks change: {previous.strftime('%Z')} → {now.strftime('%Z')}"
                out.append(_line(grid, instant, "dst", label, now.strftime("%Z")))
            previous = now
    return out


def _line(grid: _Grid, instant: datetime, cls: str, label: str, short: str) -> str:
    x, y = grid.point(instant)
    return (
        f'<g class="{cls}" data-tip="{_tip(label, format_local(instant, grid.zone(instant)))}">'
        f'<line x1="{x - _DAY_W / 2:.1f}" y1="{y:.1f}" x2="{x + _DAY_W / 2:.1f}" y2="{y:.1f}"/>'
        f'<text x="{x - _DAY_W / 2 + 2:.1f}" y="{y - 3:.1f}">{html.escape(short)}</text></g>'
    )


def _sessions(grid: _Grid) -> list[str]:
    out = []
    for s in grid.timeline.sessions:
        if s.date is None:
            continue
        minute = clock_minute(s.start_time) if s.start_time else 7 * 60
        colour = SESSION_COLOURS.get(s.status, SESSION_COLOURS["planned"])
        dashed = "" if s.start_time else ' stroke-dasharray="3 2"'
        when = s.start_time or "no start time (drawn at 07:00)"
        tip = _tip(f"session {s.number}: {s.type}", f"{s.date:%a %Y-%m-%d} {when}", f"status: {s.status}")
        out.append(
            f'<rect class="session" x="{grid.x(s.date) + 6:.1f}" y="{grid.y(minute):.1f}" width="{_DAY_W - 12}" '
            f'height="{_SESSION_MINUTES / 60 * _HOUR_H:.1f}" fill="{colour}"{dashed} data-tip="{tip}"/>'
            f'<text class="session-label" x="{grid.x(s.date) + 9:.1f}" y="{grid.y(minute) + 14:.1f}">'
            f"{s.number}</text>"
        )
    return out


def _marker(x: float, y: float, entry: TimelineEntry) -> str:
    colour = TYPE_COLOURS.get(entry.type, "#444")
    tz = entry.timezone or "UTC"
    tip = _tip(
        f"{entry.type.removeprefix('plan_').replace('_', ' ')} · {entry.status}",
        f"{entry.title}: {entry.body}" if entry.title or entry.body else None,
        f"due {format_local(entry.due_at, tz)}" if entry.due_at else None,
        f"sent {format_local(entry.sent_at, tz)}" if entry.sent_at else None,
        f"session {entry.session} ({entry.session_type})" if entry.session else None,
        f"missed state: {entry.missed_state}" if entry.missed_state else None,
        f"rule: {entry.rule}" if entry.rule else None,
        f"outcome: {entry.reason}" if entry.reason else None,
        f"copy: {entry.copy_source}" if entry.copy_source else None,
    )
    common = f'class="marker {html.escape(entry.status)}" data-type="{html.escape(entry.type)}" data-tip="{tip}"'
    if entry.status == "sent":
        return f'<circle {common} cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}"/>'
    if entry.status == "skipped":
        d = f"M{x - 5:.1f},{y - 5:.1f}L{x + 5:.1f},{y + 5:.1f}M{x - 5:.1f},{y + 5:.1f}L{x + 5:.1f},{y - 5:.1f}"
        return f'<path {common} d="{d}" stroke="{colour}" stroke-width="3" fill="none"/>'
    if entry.status == "failed":
        d = f"M{x:.1f},{y - 6:.1f}L{x + 6:.1f},{y + 5:.1f}L{x - 6:.1f},{y + 5:.1f}Z"
        return f'<path {common} d="{d}" fill="{colour}"/>'
    return (
        f'<rect {common} x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="white" stroke="{colour}" '
        'stroke-width="2"/>'
    )


def _notifications(grid: _Grid) -> list[str]:
    out = []
    taken: dict[tuple[int, int], int] = {}
    for entry in grid.timeline.entries:
        x, y = grid.point(entry.utc_time)
        slot = (round(x), round(y / 6))
        nudge = taken.get(slot, 0)  # markers at the same moment side by side rather than on top of each other
        taken[slot] = nudge + 1
        out.append(_marker(x - 14 + 12 * nudge, y, entry))
    return out


def _events(grid: _Grid) -> list[str]:
    out = []
    for ev in grid.timeline.events:
        x, y = grid.point(ev.at)
        x += _DAY_W / 2 - 7
        tip = _tip(f"{ev.type} at {ev.local_time}", ev.detail or None, f"refused: {ev.refused}" if ev.refused else None)
        cls = "event refused" if ev.refused else "event"
        out.append(f'<path class="{cls}" d="M{x:.1f},{y - 5:.1f}l5,5l-5,5l-5,-5Z" data-tip="{tip}"/>')
    return out


def _axes(grid: _Grid) -> list[str]:
    out = []
    for hour in range(25):
        y = grid.y(hour * 60)
        out.append(f'<line class="hour" x1="{_LEFT}" y1="{y:.1f}" x2="{grid.width - 20}" y2="{y:.1f}"/>')
        if hour < 24:
            out.append(f'<text class="axis" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{hour:02d}:00</text>')
    for day in grid.days:
        x = grid.x(day)
        out.append(f'<line class="day" x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{grid.y(1440):.1f}"/>')
        out.append(
            f'<text class="axis" x="{x + _DAY_W / 2:.1f}" y="{_TOP - 22}" text-anchor="middle">{day:%a}</text>'
            f'<text class="axis" x="{x + _DAY_W / 2:.1f}" y="{_TOP - 8}" text-anchor="middle">{day:%d %b}</text>'
        )
    return out


def _legend() -> str:
    items = [
        f'<span class="key"><svg width="12" height="12"><circle cx="6" cy="6" r="5" fill="{c}"/></svg>'
        f"{html.escape(t.removeprefix('plan_').replace('_', ' '))}</span>"
        for t, c in TYPE_COLOURS.items()
    ]
    shapes = (
        '<span class="key">● sent</span><span class="key">✕ skipped</span><span class="key">▲ failed</span>'
        '<span class="key">□ scheduled</span><span class="key">◆ event</span>'
        '<span class="key"><i class="swatch quiet"></i>quiet hours</span>'
        '<span class="key"><i class="swatch snooze"></i>snoozed</span>'
        '<span class="key"><i class="swatch dst"></i>clocks change</span>'
        '<span class="key"><i class="swatch zone"></i>new time zone</span>'
    )
    return f'<div class="legend">{"".join(items)}</div><div class="legend">{shapes}</div>'


_STYLE = """
body{font:13px system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 4px} p{margin:2px 0 8px;max-width:70em}
.legend{margin:4px 0}.key{margin-right:14px;white-space:nowrap}.key svg{vertical-align:middle;margin-right:4px}
.swatch{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
.swatch.quiet{background:#dde3ee}.swatch.snooze{background:repeating-linear-gradient(45deg,#f5d0d0 0 3px,#fff 3px 6px)}
.swatch.dst{border-top:2px dashed #8a2be2}.swatch.zone{border-top:3px solid #0a8}
svg text{font-size:11px}.axis{fill:#555}.hour{stroke:#eee}.day{stroke:#ddd}
.quiet{fill:#dde3ee}.snooze{fill:url(#hatch)}.session{stroke:#456;stroke-width:1}.session-label{fill:#123;font-weight:600}
.dst line{stroke:#8a2be2;stroke-width:2;stroke-dasharray:4 3}.dst text{fill:#8a2be2}
.zone line{stroke:#0a8;stroke-width:3}.zone text{fill:#0a8}
.event{fill:#333}.event.refused{fill:#c00}.marker{cursor:pointer}
#tip{position:fixed;display:none;max-width:420px;background:#fffff4;border:1px solid #999;padding:6px 8px;
white-space:pre-wrap;box-shadow:2px 2px 6px rgba(0,0,0,.2);pointer-events:none;z-index:2}
"""

_SCRIPT = """
(function () {
  var tip = document.getElementById('tip');
  document.addEventListener('mouseover', function (ev) {
    var el = ev.target.closest ? ev.target.closest('[data-tip]') : null;
    if (!el) { tip.style.display = 'none'; return; }
    tip.textContent = el.getAttribute('data-tip');
    tip.style.display = 'block';
  });
  document.addEventListener('mousemove', function (ev) {
    tip.style.left = (ev.clientX + 14) + 'px';
    tip.style.top = (ev.clientY + 14) + 'px';
  });
  document.body.setAttribute('data-rendered', String(document.querySelectorAll('.marker').length));
})();
"""


def render_html(timeline: Timeline, title: str = "simulation") -> str:
    """The page for ``timeline``: one HTML document with its CSS, SVG and script inline."""
    grid = _Grid(timeline)
    layers = [
        *_axes(grid),
        *_quiet_hours(grid),
        *_snoozes(grid),
        *_sessions(grid),
        *_transitions(grid),
        *_events(grid),
        *_notifications(grid),
    ]
    sent = sum(e.status == "sent" for e in timeline.entries)
    summary = (
        f"{len(timeline.entries)} notification(s), {sent} sent · time zone {timeline.timezone}"
        + (f" · learned window {timeline.learned_window}" if timeline.learned_window else "")
        + (f" · shifted {timeline.shifted_by_weeks} week(s) forward" if timeline.shifted_by_weeks else "")
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{grid.width}" height="{grid.height}" role="img">'
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="3" height="6" fill="#f5d0d0"/></pattern></defs>'
        + "".join(layers)
        + "</svg>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(timeline.description)}</p><p>{html.escape(summary)}</p>"
        f'{_legend()}<div id="chart">{svg}</div><div id="tip"></div>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_html(timeline: Timeline, out: Path, title: str = "simulation") -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(timeline, title), encoding="utf-8")
