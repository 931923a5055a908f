"""`coach simulate`: run a scenario through the real workflow and activities on the time-skipping server.

A scenario (see ``schemas/scenario.schema.json`` and ``examples/``) describes an athlete, a plan with its sessions and
events at given times (completions, pause, resume, cancel). The simulator builds a throwaway SQLite database, runs the
plan's workflow on a local time-skipping Temporal server with push going to the outbox, fires each event at its time,
and prints every notification of the ledger: when (local and UTC), what (type, title, body), and what happened to it.

The time-skipping server starts at the real current time and can only move forward; a scenario set in the past is
shifted forward by whole weeks (keeping weekdays) and the output says so.
"""

from __future__ import annotations

import json
import math
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from coaching.models import AwareDatetime, CompletionSource, SessionCompletedInput, TimezoneName
from coaching.timeutil import format_local, local_to_utc

_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time, HH:MM")]


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not match the schema; the message names the field."""


def _minute(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuietHours(_Strict):
    start: ClockTime
    end: ClockTime

    @field_validator("end")
    @classmethod
    def _not_empty(cls, end: str, info: object) -> str:
        data = getattr(info, "data", {})
        if data.get("start") == end:
            raise ValueError("quiet hours of zero length: start and end are the same time")
        return end


class Athlete(_Strict):
    timezone: TimezoneName
    coaching_tone: str = "supportive_friend"
    quiet_hours: QuietHours | None = None
    evening_brief_time: ClockTime = "20:00"
    morning_hype_lead_minutes: int = Field(default=60, ge=5, le=240)
    weekly_digest_day: Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] = "Sunday"
    weekly_digest_time: ClockTime = "18:00"
    daily_cap: int = Field(default=4, ge=1, le=20)
    prefer_metric: bool = True
    has_device: bool = True


class Session(_Strict):
    date: date
    start_time: ClockTime | None = None
    type: str = Field(default="Ruck", min_length=1, max_length=100)
    week: int = Field(default=1, ge=1)
    distance_km: float | None = Field(default=None, ge=0)


class Plan(_Strict):
    name: str = "Coaching plan"
    created_at: AwareDatetime
    start_date: date | None = None
    sessions: list[Session] = Field(min_length=1)


class Event(_Strict):
    at: AwareDatetime
    type: Literal["session_completed", "pause", "resume", "cancel", "complete", "sessions_changed"]
    ruck_id: int | None = Field(default=None, gt=0, description="session_completed: the ruck's id")
    completed_at: AwareDatetime | None = Field(default=None, description="session_completed: default `at`")
    source: CompletionSource = CompletionSource.APP
    distance_km: float | None = Field(default=None, ge=0)


class Scenario(_Strict):
    """A simulated athlete, plan and events; times are ISO 8601 with an offset."""

    description: str = ""
    athlete: Athlete
    plan: Plan
    events: list[Event] = Field(default_factory=list)
    until: AwareDatetime | None = Field(default=None, description="default: 8 days after the last session")

    def end(self) -> datetime:
        if self.until:
            return self.until
        last = max(s.date for s in self.plan.sessions)
        return local_to_utc(last + timedelta(days=8), 12 * 60, self.athlete.timezone)


class TimelineEntry(BaseModel):
    local_time: str
    utc_time: datetime
    type: str
    status: str
    title: str | None
    body: str | None
    reason: str | None
    copy_source: str | None
    notification_id: str


class Timeline(BaseModel):
    description: str
    timezone: str
    plan_id: int
    shifted_by_weeks: int
    entries: list[TimelineEntry]


def load_scenario(path: Path) -> Scenario:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ScenarioError(f"{path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ScenarioError(f"{path}: {problems}") from exc


def shifted(scenario: Scenario, not_before: datetime) -> tuple[Scenario, int]:
    """The scenario moved forward by whole weeks so that it starts no earlier than ``not_before``."""
    lag = not_before - scenario.plan.created_at
    weeks = max(0, math.ceil(lag / timedelta(weeks=1))) if lag > timedelta(0) else 0
    if weeks == 0:
        return scenario, 0
    delta = timedelta(weeks=weeks)
    data = scenario.model_copy(deep=True)
    data.plan.created_at += delta
    if data.plan.start_date:
        data.plan.start_date += delta
    for s in data.plan.sessions:
        s.date += delta
    for e in data.events:
        e.at += delta
        if e.completed_at:
            e.completed_at += delta
    if data.until:
        data.until += delta
    return data, weeks


async def run_scenario(scenario: Scenario) -> Timeline:
    from starter.sandbox import local_stack

    athlete = scenario.athlete
    with tempfile.TemporaryDirectory(prefix="coach-sim-") as tmp:
        async with local_stack(f"sqlite+aiosqlite:///{tmp}/simulation.db") as stack:
            scenario, weeks = shifted(scenario, await stack.now() + timedelta(minutes=1))
            plan = scenario.plan
            await stack.advance_to(plan.created_at)
            quiet = (
                (_minute(athlete.quiet_hours.start), _minute(athlete.quiet_hours.end)) if athlete.quiet_hours else None
            )
            plan_id = await stack.store.create_demo_plan(
                timezone=athlete.timezone,
                start_date=plan.start_date or min(s.date for s in plan.sessions),
                sessions=[
                    {
                        "scheduled_date": s.date,
                        "scheduled_start_time": s.start_time,
                        "planned_session_type": s.type,
                        "planned_week": s.week,
                        "target_distance_km": s.distance_km,
                    }
                    for s in plan.sessions
                ],
                tone=athlete.coaching_tone,
                quiet_hours=quiet,
                fcm_token="simulated-device" if athlete.has_device else None,
                created_at=plan.created_at,
                evening_brief_minute=_minute(athlete.evening_brief_time),
                morning_hype_lead_minutes=athlete.morning_hype_lead_minutes,
                weekly_digest_weekday=_WEEKDAYS.index(athlete.weekly_digest_day),
                weekly_digest_minute=_minute(athlete.weekly_digest_time),
                daily_cap=athlete.daily_cap,
                prefer_metric=athlete.prefer_metric,
            )
            await stack.plans.start_plan(plan_id)
            for event in sorted(scenario.events, key=lambda e: e.at):
                await stack.advance_to(event.at)
                if event.type == "session_completed":
                    await stack.plans.session_completed(
                        plan_id,
                        SessionCompletedInput(
                            ruck_id=event.ruck_id or int(event.at.timestamp()),
                            completed_at=event.completed_at or event.at,
                            source=event.source,
                            distance_km=event.distance_km,
                        ),
                    )
                elif event.type == "pause":
                    await stack.plans.pause(plan_id, "scenario")
                elif event.type == "resume":
                    await stack.plans.resume(plan_id, "scenario")
                elif event.type == "cancel":
                    await stack.plans.cancel(plan_id, "scenario")
                elif event.type == "complete":
                    await stack.plans.complete(plan_id, "scenario")
                else:
                    await stack.plans.sessions_changed(plan_id, "scenario")
            await stack.advance_to(scenario.end())
            rows = await stack.ledger(plan_id)

    tz = athlete.timezone
    entries = []
    for r in rows:
        when = r.sent_at or r.scheduled_for
        entries.append(
            TimelineEntry(
                local_time=format_local(when, tz),
                utc_time=when,
                type=r.notification_type,
                status=r.status,
                title=r.payload.get("title") if r.payload else None,
                body=r.payload.get("body") if r.payload else None,
                reason=r.reason,
                copy_source=r.copy_source,
                notification_id=r.notification_id,
            )
        )
    entries.sort(key=lambda e: (e.utc_time, e.notification_id))
    return Timeline(
        description=scenario.description,
        timezone=tz,
        plan_id=plan_id,
        shifted_by_weeks=weeks,
        entries=entries,
    )


def render_timeline(timeline: Timeline) -> str:
    lines = []
    if timeline.description:
        lines.append(timeline.description)
    if timeline.shifted_by_weeks:
        lines.append(f"(scenario shifted {timeline.shifted_by_weeks} week(s) forward: the test server cannot go back)")
    lines.append(f"time zone {timeline.timezone}, {len(timeline.entries)} notification(s)")
    for e in timeline.entries:
        utc = e.utc_time.strftime("%Y-%m-%d %H:%MZ")
        lines.append(f"{e.local_time:<26} ({utc})  {e.type:<28} {e.status.upper()}")
        if e.title or e.body:
            lines.append(f"    {e.title or ''}: {e.body or ''}  [{e.copy_source or 'template'}]")
        if e.reason:
            lines.append(f"    reason: {e.reason}")
    return "\n".join(lines)


def scenario_json_schema() -> dict[str, object]:
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://rucktracker.app/schemas/coaching-scenario.schema.json"
    return schema
