"""`coach simulate`: run a scenario through the real workflow and activities on the time-skipping server.

A scenario (see ``schemas/scenario.schema.json`` and ``examples/``) describes an athlete, a plan with its sessions and
events at given times (completions, pause, resume, cancel). The simulator builds a throwaway SQLite database, runs the
plan's workflow on a local time-skipping Temporal server with push going to the outbox, fires each event at its time,
and prints every notification of the ledger: when (local and UTC), what (type, title, body), and what happened to it.

The time-skipping server starts at the real current time and can only move forward; a scenario set in the past is
shifted forward by whole weeks (keeping weekdays and local wall times), by about a year when that keeps every time on
the same side of the daylight-saving transitions, and the output says so.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from activities.demo import create_demo_plan
from coaching.models import AwareDatetime, CompletionSource, SessionCompletedInput, TimezoneName
from coaching.timeutil import clock_minute, format_local, local_to_utc, to_local, zone

if TYPE_CHECKING:
    from activities.store import Store
    from starter.settings import Settings

_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time, HH:MM")]


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not match the schema; the message names the field."""


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
    name: str = Field(default="Coaching plan", min_length=1, max_length=100, description="the plan's (template's) name")
    created_at: AwareDatetime
    start_date: date | None = None
    sessions: list[Session] = Field(min_length=1)


class Event(_Strict):
    at: AwareDatetime
    type: Literal["session_completed", "pause", "resume", "cancel", "complete", "sessions_changed"]
    ruck_id: int | None = Field(default=None, gt=0, description="session_completed (required there): the ruck's id")
    completed_at: AwareDatetime | None = Field(default=None, description="session_completed: default `at`")
    source: CompletionSource = CompletionSource.APP
    distance_km: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _completion_has_a_ruck(self) -> Event:
        if self.type == "session_completed" and self.ruck_id is None:
            raise _field_error("ruck_id", "required for a session_completed event (the completed ruck's id)")
        return self


def _field_error(field: str, message: str) -> PydanticCustomError:
    """A model-level error that names its field: ``load_scenario`` appends ``field`` to the error's location."""
    return PydanticCustomError("scenario", message, {"field": field})


class Scenario(_Strict):
    """A simulated athlete, plan and events; times are ISO 8601 with an offset."""

    description: str = ""
    athlete: Athlete
    plan: Plan
    events: list[Event] = Field(default_factory=list)
    until: AwareDatetime | None = Field(default=None, description="default: 8 days after the last session")

    @model_validator(mode="after")
    def _nothing_before_the_plan(self) -> Scenario:
        created = self.plan.created_at
        if self.until is not None and self.until < created:
            raise _field_error(
                "until", f"{self.until.isoformat()} is earlier than plan.created_at ({created.isoformat()})"
            )
        for n, event in enumerate(self.events):
            if event.at < created:
                raise _field_error(
                    f"events.{n}.at", f"{event.at.isoformat()} is earlier than plan.created_at ({created.isoformat()})"
                )
        return self

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
    #: The weather line the copy was prepared with, if any.
    weather: str | None = None


class Timeline(BaseModel):
    description: str
    timezone: str
    plan_id: int
    shifted_by_weeks: int
    dst_aligned: bool = Field(
        default=True, description="every shifted wall time kept its UTC offset (same side of DST transitions)"
    )
    entries: list[TimelineEntry]


def load_scenario(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ScenarioError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ScenarioError(
            f"{path}: is a directory; give a scenario file such as examples/early_rucker_dst.json"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}); a scenario is a UTF-8 JSON file") from exc
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: the scenario must be a JSON object, not {_json_kind(raw)}")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {_problems(exc)}") from exc


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _problems(exc: ValidationError) -> str:
    problems = []
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        field = (e.get("ctx") or {}).get("field")
        if field:
            loc.append(str(field))
        problems.append(f"{'.'.join(loc) or 'scenario'}: {e['msg']}")
    return "; ".join(problems)


# --- shifting a past scenario into the test server's present ---------------------------------------------------

#: Whole-week shifts tried around each multiple of 52 weeks (a year less a day or two), in this order.
_YEAR_OFFSETS = (0, 1, -1, 2, -2)


def _shift_instant(instant: datetime, days: int, tz: str) -> datetime:
    """``instant`` moved by ``days`` as a local wall time in ``tz`` (same clock time, ``days`` later).

    A wall time that falls in a spring-forward gap on the new date moves forward by the gap, like ``local_to_utc``.
    """
    local = to_local(instant, tz)
    wall = datetime.combine(local.date() + timedelta(days=days), local.time(), tzinfo=zone(tz)).replace(fold=local.fold)
    return wall.astimezone(UTC)


def _wall_times(scenario: Scenario) -> Iterator[datetime]:
    """Every time of the scenario as an instant: the aware ones, and each session's start (noon if none)."""
    tz = scenario.athlete.timezone
    yield scenario.plan.created_at
    for s in scenario.plan.sessions:
        minute = clock_minute(s.start_time) if s.start_time else 12 * 60
        yield local_to_utc(s.date, minute, tz)
    for e in scenario.events:
        yield e.at
        if e.completed_at:
            yield e.completed_at
    if scenario.until:
        yield scenario.until


def _offsets(instants: Iterator[datetime], tz: str) -> list[timedelta | None]:
    return [to_local(t, tz).utcoffset() for t in instants]


def _moved(scenario: Scenario, weeks: int) -> Scenario:
    days = 7 * weeks
    tz = scenario.athlete.timezone
    data = scenario.model_copy(deep=True)
    data.plan.created_at = _shift_instant(data.plan.created_at, days, tz)
    if data.plan.start_date:
        data.plan.start_date += timedelta(days=days)
    for s in data.plan.sessions:
        s.date += timedelta(days=days)
    for e in data.events:
        e.at = _shift_instant(e.at, days, tz)
        if e.completed_at:
            e.completed_at = _shift_instant(e.completed_at, days, tz)
    if data.until:
        data.until = _shift_instant(data.until, days, tz)
    return data


def shifted(scenario: Scenario, not_before: datetime) -> tuple[Scenario, int, bool]:
    """The scenario moved forward by whole weeks so that it starts no earlier than ``not_before``.

    Every time moves as a local wall time in the athlete's zone (a 06:50 event stays at 06:50), so weekdays and clock
    times are kept. Among the shifts that are late enough, the smallest one is taken whose wall times all keep
    their UTC offset (each stays on its side of the daylight-saving transitions), trying the minimal shift and
    shifts near whole years (52 weeks ± 2); if none does, the minimal shift. Returns the scenario, the number of
    weeks and whether the offsets were kept.
    """
    lag = not_before - scenario.plan.created_at
    minimal = math.ceil(lag / timedelta(weeks=1)) if lag > timedelta(0) else 0
    if minimal == 0:
        return scenario, 0, True
    tz = scenario.athlete.timezone
    original = _offsets(_wall_times(scenario), tz)
    first_year = max(1, minimal // 52)
    candidates = sorted(
        {minimal}
        | {52 * m + d for m in range(first_year, first_year + 3) for d in _YEAR_OFFSETS if 52 * m + d > minimal}
    )
    for weeks in candidates:
        moved = _moved(scenario, weeks)
        if _offsets(_wall_times(moved), tz) == original:
            return moved, weeks, True
    return _moved(scenario, minimal), minimal, False


#: The settings a simulation takes from the caller's: the copy (AI, weather); everything else is the sandbox's own.
_COPY_SETTINGS = (
    "openai_api_key",
    "openai_base_url",
    "ai_model",
    "ai_types",
    "ai_budget_seconds",
    "ai_daily_budget",
    "openweather_api_key",
    "openweather_base_url",
    "weather_cache_ttl_minutes",
    "content_lead_minutes",
)


async def run_scenario(scenario: Scenario, settings: Settings | None = None) -> Timeline:
    """Run ``scenario``; with ``settings``, its notification copy settings (AI, weather) apply too."""
    from starter.sandbox import local_stack
    from starter.settings import Settings

    athlete = scenario.athlete
    with tempfile.TemporaryDirectory(prefix="coach-sim-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/simulation.db"
        copy = {name: getattr(settings, name) for name in _COPY_SETTINGS} if settings else {}
        sim_settings = Settings(database_url=url, environment="test", **copy)
        async with local_stack(url, settings=sim_settings) as stack:
            scenario, weeks, dst_aligned = shifted(scenario, await stack.now() + timedelta(minutes=1))
            plan = scenario.plan
            await stack.advance_to(plan.created_at)
            quiet = (
                (clock_minute(athlete.quiet_hours.start), clock_minute(athlete.quiet_hours.end))
                if athlete.quiet_hours
                else None
            )
            plan_id = await create_demo_plan(
                stack.store,
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
                evening_brief_minute=clock_minute(athlete.evening_brief_time),
                morning_hype_lead_minutes=athlete.morning_hype_lead_minutes,
                weekly_digest_weekday=_WEEKDAYS.index(athlete.weekly_digest_day),
                weekly_digest_minute=clock_minute(athlete.weekly_digest_time),
                daily_cap=athlete.daily_cap,
                prefer_metric=athlete.prefer_metric,
            )
            await _name_plan(stack.store, plan_id, plan.name)
            await stack.plans.start_plan(plan_id)
            for event in sorted(scenario.events, key=lambda e: e.at):
                await stack.advance_to(event.at)
                if event.type == "session_completed":
                    assert event.ruck_id is not None  # required for this type by the model
                    await stack.plans.session_completed(
                        plan_id,
                        SessionCompletedInput(
                            ruck_id=event.ruck_id,
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
                weather=_weather_of(r.payload),
            )
        )
    entries.sort(key=lambda e: (e.utc_time, e.notification_id))
    return Timeline(
        description=scenario.description,
        timezone=tz,
        plan_id=plan_id,
        shifted_by_weeks=weeks,
        dst_aligned=dst_aligned,
        entries=entries,
    )


async def _name_plan(store: Store, plan_id: int, name: str) -> None:
    """Give the plan the scenario's name: ``create_demo_plan`` links it to the demo template, whose name the
    notifications use. The simulation database is throwaway, so renaming the template is harmless."""
    from sqlalchemy import select, update

    from activities.db import CoachingPlanTemplate, UserCoachingPlan

    template_id = select(UserCoachingPlan.coaching_plan_id).where(UserCoachingPlan.id == plan_id).scalar_subquery()
    async with store._sessionmaker.begin() as session:
        await session.execute(
            update(CoachingPlanTemplate).where(CoachingPlanTemplate.id == template_id).values(name=name)
        )


def _weather_of(payload: dict[str, Any] | None) -> str | None:
    """The weather phrase delivery put into the push's context (see PlanActivities.deliver_notification)."""
    try:
        context = json.loads(((payload or {}).get("data") or {}).get("context") or "{}")
    except (TypeError, ValueError):
        return None
    weather = context.get("weather") if isinstance(context, dict) else None
    return str(weather) if weather else None


def render_timeline(timeline: Timeline) -> str:
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
    for e in timeline.entries:
        utc = e.utc_time.strftime("%Y-%m-%d %H:%MZ")
        lines.append(f"{e.local_time:<26} ({utc})  {e.type:<28} {e.status.upper()}")
        if e.title or e.body:
            source = "AI" if e.copy_source == "ai" else (e.copy_source or "template")
            lines.append(f"    {e.title or ''}: {e.body or ''}  [{source}]")
        if e.weather:
            lines.append(f"    weather: {e.weather}")
        if e.reason:
            lines.append(f"    reason: {e.reason}")
    return "\n".join(lines)


def scenario_json_schema() -> dict[str, object]:
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://rucktracker.app/schemas/coaching-scenario.schema.json"
    return schema
