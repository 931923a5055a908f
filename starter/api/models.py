"""The HTTP API's request and response bodies, and the bounded types their fields (and the routes' parameters) use.

Every input is bounded (:mod:`starter.bounds`). The models' names and docstrings are the schemas of the OpenAPI
document: renaming one changes the document (``docs/openapi.json``, checked by tests/test_api.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from coaching.models import AwareDatetime as DomainAwareDatetime
from coaching.models import (
    Category,
    ChangePreferencesInput,
    NotificationType,
    PlanStatusResult,
    SessionCompletedInput,
    TimezoneName,
)
from coaching.preferences import MAX_SNOOZE, ChangeRejected, check_preferences
from coaching.rollout import MAX_ACTOR, MAX_LIST, MAX_REASON, Mode
from coaching.timeutil import clock_minute
from coaching.tones import resolve_tone
from starter.bounds import (
    MAX_DISTANCE_KM,
    MAX_DURATION_SECONDS,
    MAX_ID,
    MAX_REASON_LENGTH,
    MAX_RUCK_DURATION,
    OutOfBounds,
    check_date,
    check_text,
    check_time,
)

# ---- bounded types ------------------------------------------------------------------------------------------

#: A plan id in a route's path.
PlanId = Annotated[int, Path(gt=0, le=MAX_ID, description="The `user_coaching_plans` id")]


def _bounded_time(value: datetime) -> datetime:
    try:
        return check_time(value, "")
    except OutOfBounds as err:
        raise ValueError(err.reason) from None


def _plain_text(value: str) -> str:
    try:
        return check_text(value, "")
    except OutOfBounds as err:
        raise ValueError(err.reason) from None


#: A time in the bounds of :func:`starter.bounds.check_time` (an offset within ±18:00, from 2000 to before 2100).
BoundedTime = AfterValidator(_bounded_time)
#: Free text of valid Unicode without control characters (see :func:`starter.bounds.check_text`).
PlainText = AfterValidator(_plain_text)


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
#: Monday first, as ``weekly_digest_weekday`` counts (0 = Monday).
WEEKDAY_NAMES: tuple[Weekday, ...] = get_args(Weekday)
Clock = Annotated[
    str,
    Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Local wall time, HH:MM (24-hour), e.g. 20:00"),
]


def _bounded_date(value: date) -> date:
    try:
        return check_date(value, "")
    except OutOfBounds as err:
        raise ValueError(err.reason) from None


# ---- the core API: plans and health ------------------------------------------------------------------------


# Its times keep the domain model's aware datetime (coaching.models); the API's own bodies use pydantic's.
class SessionCompletedRequest(SessionCompletedInput):
    """A completed ruck (:class:`SessionCompletedInput`), with the bounds of :mod:`starter.bounds`. (Its end may
    be up to a day ahead of the service's clock; one ahead of it is taken as ending now.)"""

    model_config = ConfigDict(allow_inf_nan=False)

    ruck_id: int = Field(gt=0, le=MAX_ID)
    completed_at: Annotated[DomainAwareDatetime, BoundedTime]
    started_at: Annotated[DomainAwareDatetime, BoundedTime] | None = None
    plan_session_id: int | None = Field(default=None, gt=0, le=MAX_ID)
    distance_km: float | None = Field(default=None, ge=0, le=MAX_DISTANCE_KM)
    duration_seconds: int | None = Field(default=None, ge=0, le=MAX_DURATION_SECONDS)

    @field_validator("started_at")
    @classmethod
    def _before_the_end(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        end = info.data.get("completed_at")  # absent when it was invalid itself
        if value is not None and isinstance(end, datetime):
            if value > end:
                raise ValueError("must not be after completed_at")
            if end - value > MAX_RUCK_DURATION:
                raise ValueError(f"must be at most {MAX_RUCK_DURATION.days} days before completed_at")
        return value


class ReasonRequest(BaseModel):
    """An optional free-text reason, kept in the workflow's history (for pause, resume, cancel, …)."""

    model_config = ConfigDict(extra="ignore")

    reason: Annotated[str, PlainText] = Field(default="", max_length=MAX_REASON_LENGTH)


class StartedResponse(BaseModel):
    plan_id: int
    workflow_id: str
    run_id: str | None


class AcceptedResponse(BaseModel):
    plan_id: int
    workflow_id: str
    accepted: str = Field(description="What was delivered to the plan's workflow")


class HealthResponse(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


# ---- the athlete's notifications and the effectiveness report ------------------------------------------------

NotificationEventName = Literal["delivered", "opened", "cta_tapped", "dismissed"]


class NotificationEventRequest(BaseModel):
    """What happened to a notification on the device, and when (default: when the API received it)."""

    model_config = ConfigDict(extra="ignore")

    event: NotificationEventName
    #: At most a day ahead of the service's clock (a device's clock may be fast).
    occurred_at: Annotated[AwareDatetime, BoundedTime] | None = None


class NotificationEventResponse(BaseModel):
    notification_id: str
    event: str
    recorded: bool = Field(description="False when this event was already recorded for the notification")


class EffectivenessGroup(BaseModel):
    notification_type: str
    tone: str
    hour_local: int = Field(description="Hour of day (0-23) it was sent, in the athlete's time zone")
    copy_source: str | None
    sent: int
    opened: int
    cta_tapped: int
    followed_by_session: int
    followed_by_session_share: float


class EffectivenessReport(BaseModel):
    since: datetime | None
    until: datetime | None
    groups: list[EffectivenessGroup]


# ---- the athlete's preferences, snooze and moved sessions ---------------------------------------------------


class QuietHours(BaseModel):
    """No plan notification goes out from ``start`` to ``end`` (local; may wrap midnight, e.g. 22:00–07:00)."""

    model_config = ConfigDict(extra="forbid")

    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours of zero length: start and end are the same time")
        return self


class WeeklyDigestTiming(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: Weekday | None = None
    time: Clock | None = None


class CategorySwitches(BaseModel):
    """Which categories are on. Only ``weekly_digest`` and ``milestone_alert`` can be switched off."""

    model_config = ConfigDict(extra="forbid")

    evening_brief: bool | None = None
    morning_hype: bool | None = None
    missed_followup: bool | None = None
    weekly_digest: bool | None = None
    milestone_alert: bool | None = None


class PreferencesUpdate(BaseModel):
    """The preferences to change; a field left out stays as it is (``quiet_hours: null`` switches them off)."""

    model_config = ConfigDict(extra="forbid")

    timezone: TimezoneName | None = Field(default=None, max_length=64, description="IANA zone, e.g. America/New_York")
    quiet_hours: QuietHours | None = None
    evening_brief_time: Clock | None = None
    morning_hype_lead_minutes: int | None = Field(default=None, ge=5, le=240)
    weekly_digest: WeeklyDigestTiming | None = None
    daily_cap: int | None = Field(default=None, ge=1, le=20)
    coaching_tone: str | None = Field(default=None, max_length=50, description="A coaching tone, e.g. drill_sergeant")
    categories: CategorySwitches | None = None

    @field_validator("coaching_tone")
    @classmethod
    def _known_tone(cls, value: str | None) -> str | None:
        # The same rule the workflow's validator applies, answered here with the field's own location.
        if value is not None:
            try:
                check_preferences(ChangePreferencesInput(coaching_tone=value))
            except ChangeRejected as err:
                raise ValueError(err.message) from None
            return resolve_tone(value).value
        return value

    def change(self) -> ChangePreferencesInput:
        digest = self.weekly_digest or WeeklyDigestTiming()
        switches = self.categories.model_dump(exclude_none=True) if self.categories else {}
        return ChangePreferencesInput(
            timezone=self.timezone,
            set_quiet_hours="quiet_hours" in self.model_fields_set,
            quiet_hours_start_minute=clock_minute(self.quiet_hours.start) if self.quiet_hours else None,
            quiet_hours_end_minute=clock_minute(self.quiet_hours.end) if self.quiet_hours else None,
            evening_brief_minute=clock_minute(self.evening_brief_time) if self.evening_brief_time else None,
            morning_hype_lead_minutes=self.morning_hype_lead_minutes,
            weekly_digest_weekday=WEEKDAY_NAMES.index(digest.weekday) if digest.weekday else None,
            weekly_digest_minute=clock_minute(digest.time) if digest.time else None,
            daily_cap=self.daily_cap,
            coaching_tone=self.coaching_tone,
            categories={Category(name): on for name, on in switches.items()},
        )


class Categories(BaseModel):
    evening_brief: bool
    morning_hype: bool
    missed_followup: bool
    weekly_digest: bool
    milestone_alert: bool


class Preferences(BaseModel):
    """The athlete's notification preferences as their plans use them."""

    timezone: str
    quiet_hours: QuietHours | None
    evening_brief_time: str
    morning_hype_lead_minutes: int
    weekly_digest: WeeklyDigestTiming
    daily_cap: int
    coaching_tone: str
    categories: Categories
    always_on: list[str] = Field(description="Categories that cannot be switched off while a plan is active")
    always_on_reason: str
    adjust_instead: list[str] = Field(description="What can be changed about the always-on reminders")


class PreferencesChanged(Preferences):
    """The preferences after a change, with each live plan's new schedule."""

    plans: list[PlanStatusResult] = Field(description="Each live plan's schedule, re-planned with the change")


class SnoozeRequest(BaseModel):
    """Hold the plan's reminders until a time, or for a number of minutes (at most 7 days). Celebrations of a
    finished ruck still go out."""

    model_config = ConfigDict(extra="forbid")

    until: Annotated[AwareDatetime, BoundedTime] | None = None
    duration_minutes: int | None = Field(default=None, gt=0, le=int(MAX_SNOOZE.total_seconds() // 60))

    @model_validator(mode="after")
    def _one_of(self) -> SnoozeRequest:
        if (self.until is None) == (self.duration_minutes is None):
            raise ValueError("give either until (a time with its offset) or duration_minutes, not both")
        return self


class RescheduleRequest(BaseModel):
    """Move the session to another local date and/or start time (a time given here is the athlete's own and
    beats the learned usual time)."""

    model_config = ConfigDict(extra="forbid")

    scheduled_date: Annotated[date, AfterValidator(_bounded_date)] | None = None
    start_time: Clock | None = None

    @model_validator(mode="after")
    def _something(self) -> RescheduleRequest:
        if self.scheduled_date is None and self.start_time is None:
            raise ValueError("give scheduled_date, start_time or both")
        return self


# ---- the rollout controls ----------------------------------------------------------------------------------

Actor = Annotated[str, Field(min_length=1, max_length=MAX_ACTOR, description="Who makes the change (a person)")]
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON, description="Why (kept in the audit trail)")]


class RolloutFlags(BaseModel):
    """Every flag with the value in force."""

    kill_switch: bool
    default_mode: Mode
    cohort_mode: Mode
    percent: float
    allow: list[str]
    deny: list[str]
    type_modes: dict[str, Mode]
    ai_copy: bool


class RolloutChangeOut(BaseModel):
    key: str
    old: Any = Field(description="The value before (null: the flag had its default)")
    new: Any
    actor: str
    reason: str
    changed_at: str


class RolloutState(BaseModel):
    flags: RolloutFlags
    #: The flags set in the table (the others have their default).
    stored: list[str]
    changes: list[RolloutChangeOut] = Field(description="The latest changes, newest first")


class RolloutChangeRequest(BaseModel):
    """The flags to set (any subset) with who and why."""

    model_config = ConfigDict(extra="forbid")

    actor: Actor
    reason: Reason
    kill_switch: bool | None = None
    default_mode: Mode | None = None
    cohort_mode: Mode | None = None
    percent: float | None = Field(default=None, ge=0, le=100, description="0 to 100, two decimals at most")
    allow: list[Annotated[str, Field(max_length=36)]] | None = Field(default=None, max_length=MAX_LIST)
    deny: list[Annotated[str, Field(max_length=36)]] | None = Field(default=None, max_length=MAX_LIST)
    type_modes: dict[NotificationType, Mode] | None = None
    ai_copy: bool | None = None


class KillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: Actor
    reason: Reason


class RolloutChanged(BaseModel):
    changed: list[RolloutChangeOut] = Field(description="What changed (empty: every value was already so)")
    state: RolloutState
