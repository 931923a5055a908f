"""The scenario contract of `coach simulate`: an athlete, a plan, what the athlete does, and when.

Pure (pydantic and the time rules): reading a scenario file, checking it (every error names its field), and moving a
past scenario into the time-skipping server's present. ``schemas/scenario.schema.json`` is generated from these
models; ``examples/`` has a scenario for every event type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from coaching.models import AwareDatetime, Category, CompletionSource, TimezoneName
from coaching.timeutil import clock_minute, local_to_utc, to_local, zone

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time, HH:MM")]
#: (``date`` is also a field name below: annotations there use this alias.)
LocalDate = date
SessionNumber = Annotated[int, Field(ge=1, description="a session by its place in plan.sessions (1 = the first)")]

EventType = Literal[
    "session_completed",
    "pause",
    "resume",
    "cancel",
    "complete",
    "sessions_changed",
    "change_timezone",
    "change_preferences",
    "snooze",
    "cancel_snooze",
    "move_session",
]


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
    weekly_digest_day: Weekday = "Sunday"
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
    status: Literal["planned", "skipped"] = Field(
        default="planned", description="skipped: the athlete (or coach) skipped it in the app; no reminders"
    )


class Plan(_Strict):
    name: str = Field(default="Coaching plan", min_length=1, max_length=100, description="the plan's (template's) name")
    created_at: AwareDatetime
    start_date: date | None = None
    sessions: list[Session] = Field(min_length=1)


class PastRucks(_Strict):
    """Rucks the athlete did before the plan: one ruck at ``started_at``, or one at ``start_time`` (local) on each
    of the ``days`` days before the plan was created (only on ``weekdays`` when given)."""

    started_at: AwareDatetime | None = None
    start_time: ClockTime | None = None
    days: int | None = Field(default=None, ge=1, le=180)
    weekdays: list[Weekday] | None = None
    duration_minutes: int = Field(default=45, ge=1, le=24 * 60)
    distance_km: float = Field(default=5.0, ge=0, le=1000)

    @model_validator(mode="after")
    def _one_form(self) -> PastRucks:
        if self.started_at is None and (self.start_time is None or self.days is None):
            raise _field_error("start_time", "give started_at (one ruck), or start_time and days (a daily habit)")
        if self.started_at is not None and (self.start_time is not None or self.days is not None):
            raise _field_error("started_at", "give started_at (one ruck), or start_time and days, not both")
        return self


class Preferences(_Strict):
    """An athlete's change to their preferences, as the app sends it: a field left out is not changed."""

    timezone: TimezoneName | None = None
    quiet_hours: QuietHours | None = Field(default=None, description="new quiet hours (see no_quiet_hours)")
    no_quiet_hours: bool = Field(default=False, description="true: no quiet hours any more")
    evening_brief_time: ClockTime | None = None
    morning_hype_lead_minutes: int | None = Field(default=None, ge=5, le=240)
    weekly_digest_day: Weekday | None = None
    weekly_digest_time: ClockTime | None = None
    daily_cap: int | None = Field(default=None, ge=1, le=20)
    coaching_tone: str | None = Field(default=None, min_length=1, max_length=50)
    categories: dict[Category, bool] = Field(default_factory=dict, description="a category on (true) or off (false)")

    @model_validator(mode="after")
    def _quiet_hours_once(self) -> Preferences:
        if self.no_quiet_hours and self.quiet_hours is not None:
            raise _field_error("no_quiet_hours", "give quiet_hours or no_quiet_hours, not both")
        return self


#: The fields each event type needs (besides ``at`` and ``type``).
_REQUIRED = {
    "session_completed": ("ruck_id",),
    "change_timezone": ("timezone",),
    "change_preferences": ("preferences",),
    "move_session": ("session",),
}


class Event(_Strict):
    at: AwareDatetime
    type: EventType
    ruck_id: int | None = Field(default=None, gt=0, description="session_completed (required there): the ruck's id")
    completed_at: AwareDatetime | None = Field(default=None, description="session_completed: default `at`")
    started_at: AwareDatetime | None = Field(
        default=None, description="session_completed: when the ruck started (a ruck across midnight counts then)"
    )
    duration_seconds: int | None = Field(default=None, ge=0, le=172_800, description="session_completed")
    session: SessionNumber | None = Field(
        default=None,
        description="session_completed: the session the app says the ruck was for (an explicit match); "
        "move_session: the session to move",
    )
    source: CompletionSource = CompletionSource.APP
    distance_km: float | None = Field(default=None, ge=0)
    timezone: TimezoneName | None = Field(default=None, description="change_timezone: the athlete's new zone")
    preferences: Preferences | None = Field(default=None, description="change_preferences")
    until: AwareDatetime | None = Field(default=None, description="snooze: until then (or duration_minutes)")
    duration_minutes: int | None = Field(default=None, gt=0, le=7 * 24 * 60, description="snooze: for this long")
    date: LocalDate | None = Field(default=None, description="move_session: the new local date")
    start_time: ClockTime | None = Field(default=None, description="move_session: the new local start time")
    add_sessions: list[Session] = Field(
        default_factory=list, description="sessions_changed: new sessions (numbered after the plan's)"
    )
    skip_sessions: list[SessionNumber] = Field(
        default_factory=list, description="sessions_changed: sessions now marked skipped"
    )

    @model_validator(mode="after")
    def _has_what_its_type_needs(self) -> Event:
        for name in _REQUIRED.get(self.type, ()):
            if getattr(self, name) is None:
                raise _field_error(name, f"required for a {self.type} event")
        if self.type == "snooze" and (self.until is None) == (self.duration_minutes is None):
            raise _field_error("until", "a snooze needs until or duration_minutes (one of them)")
        if self.type == "move_session" and self.date is None and self.start_time is None:
            raise _field_error("date", "move_session needs a new date, a new start_time or both")
        return self


def _field_error(field: str, message: str) -> PydanticCustomError:
    """A model-level error that names its field: ``load_scenario`` appends ``field`` to the error's location."""
    return PydanticCustomError("scenario", message, {"field": field})


class Scenario(_Strict):
    """A simulated athlete, plan and events; times are ISO 8601 with an offset."""

    description: str = ""
    athlete: Athlete
    plan: Plan
    ruck_history: list[PastRucks] = Field(
        default_factory=list, description="rucks before the plan: the learned window starts from them"
    )
    events: list[Event] = Field(default_factory=list)
    until: AwareDatetime | None = Field(default=None, description="default: 8 days after the last session")

    @model_validator(mode="after")
    def _times_in_order(self) -> Scenario:
        created = self.plan.created_at
        for n, event in enumerate(self.events):
            if event.at < created:
                raise _field_error(
                    f"events.{n}.at", f"{event.at.isoformat()} is earlier than plan.created_at ({created.isoformat()})"
                )
        if self.until is not None:
            if self.until < created:
                raise _field_error(
                    "until", f"{self.until.isoformat()} is earlier than plan.created_at ({created.isoformat()})"
                )
            last = max(self.events, key=lambda e: e.at, default=None)
            if last is not None and self.until < last.at:
                raise _field_error(
                    "until",
                    f"{self.until.isoformat()} is before the last event ({last.type} at {last.at.isoformat()}), "
                    "which would never happen",
                )
        for n, rucks in enumerate(self.ruck_history):
            if rucks.started_at is not None and rucks.started_at >= created:
                raise _field_error(f"ruck_history.{n}.started_at", "must be before plan.created_at")
        sessions = len(self.plan.sessions)
        for n, event in enumerate(self.events):
            for name, numbers in (("session", [event.session]), ("skip_sessions", event.skip_sessions)):
                for number in numbers:
                    if number is not None and number > sessions:
                        raise _field_error(
                            f"events.{n}.{name}", f"session {number}: the plan has {sessions} session(s) by then"
                        )
            sessions += len(event.add_sessions)
        return self

    def end(self) -> datetime:
        if self.until:
            return self.until
        days = [s.date for s in self.plan.sessions] + [s.date for e in self.events for s in e.add_sessions]
        return local_to_utc(max(days) + timedelta(days=8), 12 * 60, self.athlete.timezone)


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


def scenario_paths(names: list[str]) -> list[Path]:
    """The scenario files named: each file as given, each folder's ``*.json`` (sorted)."""
    paths: list[Path] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise ScenarioError(f"{path}: is a directory without scenario files (*.json)")
            paths.extend(found)
        else:
            paths.append(path)
    return paths


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
    sessions = list(scenario.plan.sessions) + [s for e in scenario.events for s in e.add_sessions]
    for s in sessions:
        minute = clock_minute(s.start_time) if s.start_time else 12 * 60
        yield local_to_utc(s.date, minute, tz)
    for r in scenario.ruck_history:
        if r.started_at:
            yield r.started_at
    for e in scenario.events:
        yield from (t for t in (e.at, e.completed_at, e.started_at, e.until) if t is not None)
        if e.date:
            yield local_to_utc(e.date, clock_minute(e.start_time) if e.start_time else 12 * 60, tz)
    if scenario.until:
        yield scenario.until


def _offsets(instants: Iterator[datetime], tz: str) -> list[timedelta | None]:
    return [to_local(t, tz).utcoffset() for t in instants]


def _moved(scenario: Scenario, weeks: int) -> Scenario:
    days = 7 * weeks
    tz = scenario.athlete.timezone
    step = timedelta(days=days)
    data = scenario.model_copy(deep=True)
    data.plan.created_at = _shift_instant(data.plan.created_at, days, tz)
    if data.plan.start_date:
        data.plan.start_date += step
    for s in data.plan.sessions:
        s.date += step
    for r in data.ruck_history:
        if r.started_at:
            r.started_at = _shift_instant(r.started_at, days, tz)
    for e in data.events:
        e.at = _shift_instant(e.at, days, tz)
        for name in ("completed_at", "started_at", "until"):
            value = getattr(e, name)
            if value is not None:
                setattr(e, name, _shift_instant(value, days, tz))
        if e.date:
            e.date += step
        for s in e.add_sessions:
            s.date += step
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


def scenario_json_schema() -> dict[str, object]:
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://rucktracker.app/schemas/coaching-scenario.schema.json"
    return schema
