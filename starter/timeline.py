"""What a simulation produces (:mod:`starter.simulate`): the timeline of one plan, with every notification of the
ledger, the scenario's events, the sessions as they stood at the end and the athlete's settings over time, and its
text rendering (`coach simulate`). Its picture is :mod:`starter.simulate_html`.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from coaching.timeutil import format_local

__all__ = [
    "Period",
    "Snooze",
    "Timeline",
    "TimelineEntry",
    "TimelineEvent",
    "TimelineSession",
    "render_timeline",
]


class TimelineEntry(BaseModel):
    """One notification of the ledger, with the rule that set its time."""

    #: When it went out (sent), else when it was to go out; local to the athlete and in UTC.
    local_time: str
    utc_time: datetime
    type: str
    status: str
    title: str | None
    body: str | None
    #: What happened to it (the ledger's reason: the devices reached, or why it was skipped).
    reason: str | None
    copy_source: str | None
    notification_id: str
    #: The weather line the copy was prepared with, if any.
    weather: str | None = None
    #: When the rule wanted it (before quiet hours, the daily cap or a snooze moved it), when it was planned to go
    #: out, and when it went out.
    due_at: datetime | None = None
    scheduled_for: datetime | None = None
    sent_at: datetime | None = None
    #: The scenario's number of its session (1 = the plan's first), with the session's type.
    session: int | None = None
    session_type: str | None = None
    missed_state: str | None = None
    #: The rule that set its time ("evening before Tuesday's Tempo Ruck …"), from the workflow's history.
    rule: str | None = None
    #: The athlete's time zone when it went out (a traveller's changes).
    timezone: str | None = None


class TimelineSession(BaseModel):
    """A session as it stood at the end: its date and start time after any move, and its status."""

    number: int
    type: str
    date: date | None
    start_time: str | None
    status: str
    fixed: bool = False


class TimelineEvent(BaseModel):
    at: datetime
    local_time: str
    type: str
    detail: str
    #: Why the workflow refused it (an update's rule), None when it was taken.
    refused: str | None = None


class Period(BaseModel):
    """A stretch of the athlete's settings: its zone and quiet hours from ``start`` (until the next one)."""

    start: datetime
    timezone: str
    quiet_hours: tuple[str, str] | None = None


class Snooze(BaseModel):
    start: datetime
    end: datetime


class Timeline(BaseModel):
    description: str
    timezone: str
    plan_id: int
    shifted_by_weeks: int
    dst_aligned: bool = Field(
        default=True, description="every shifted wall time kept its UTC offset (same side of DST transitions)"
    )
    entries: list[TimelineEntry]
    start: datetime | None = None
    end: datetime | None = None
    sessions: list[TimelineSession] = Field(default_factory=list)
    events: list[TimelineEvent] = Field(default_factory=list)
    periods: list[Period] = Field(default_factory=list)
    snoozes: list[Snooze] = Field(default_factory=list)
    learned_window: str | None = None


def render_timeline(timeline: Timeline) -> str:
    """The timeline as `coach simulate` prints it: the scenario's events, then each notification with when it was due
    and sent, the rule that set its time, what it said and what happened to it."""
    lines = []
    if timeline.description:
        lines.append(timeline.description)
    if timeline.shifted_by_weeks:
        dst = (
            "every local time keeps its UTC offset"
            if timeline.dst_aligned
            else "WARNING: some local times changed UTC offset, so daylight-saving effects differ from the original"
        )
        lines.append(
            f"(scenario shifted {timeline.shifted_by_weeks} week(s) forward, same weekdays and local times: "
            f"the test server cannot go back; {dst})"
        )
    lines.append(f"time zone {timeline.timezone}, {len(timeline.entries)} notification(s)")
    if timeline.learned_window:
        lines.append(f"learned window at the end: {timeline.learned_window}")
    for ev in timeline.events:
        outcome = f"REFUSED: {ev.refused}" if ev.refused else ev.detail
        lines.append(f"event {ev.local_time:<26} {ev.type:<18} {outcome}".rstrip())
    for e in timeline.entries:
        utc = e.utc_time.strftime("%Y-%m-%d %H:%MZ")
        lines.append(f"{e.local_time:<26} ({utc})  {e.type:<28} {e.status.upper()}")
        tz = e.timezone or timeline.timezone
        when = []
        if e.due_at is not None:
            when.append(f"due {format_local(e.due_at, tz)}")
        if e.sent_at is not None:
            when.append(f"sent {format_local(e.sent_at, tz)}")
        if e.session is not None:
            when.append(f"session {e.session} ({e.session_type})")
        if e.missed_state:
            when.append(f"missed_state {e.missed_state}")
        if when:
            lines.append("    " + "; ".join(when))
        if e.rule:
            lines.append(f"    rule: {e.rule}")
        if e.title or e.body:
            source = "AI" if e.copy_source == "ai" else (e.copy_source or "template")
            lines.append(f"    {e.title or ''}: {e.body or ''}  [{source}]")
        if e.weather:
            lines.append(f"    weather: {e.weather}")
        if e.reason:
            lines.append(f"    outcome: {e.reason}")
    return "\n".join(lines)
