"""The athlete's changes: notification preferences, snooze, and moving a session (``/v1/me/...``).

Every change reaches the plan's running workflow as a Temporal Update. The workflow's validator refuses what
breaks a rule (the answer is 422 naming the field and why, from :mod:`coaching.preferences`, the same rules the
API checks first) and the update answers with the plan's new schedule. Preferences are the athlete's, so a change
goes to each of their live plans; without a running plan it is simply stored.

Times of day are local wall times ``HH:MM`` in the athlete's zone. Categories: the weekly digest and milestone
alerts can be switched off; the plan accountability reminders (evening brief, morning hype, missed follow-up)
cannot, and the refusal lists what can be adjusted instead.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Path, Request
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from activities.preferences_store import PreferencesStore
from coaching.content import resolve_tone
from coaching.models import (
    Category,
    ChangePreferencesInput,
    NotificationPrefs,
    PlanStatusResult,
    RescheduleSessionInput,
    SnoozeInput,
    TimezoneName,
)
from coaching.preferences import (
    ACCOUNTABILITY,
    ACCOUNTABILITY_REASON,
    ADJUST_INSTEAD,
    MAX_SNOOZE,
    ChangeRejected,
    categories_of,
    check_preferences,
)
from coaching.timeutil import clock_minute, minute_label
from starter.api import ApiContext, BoundedTime, ErrorResponse, PlanId, _context, to_workflow
from starter.api_athlete import _ATHLETE_RESPONSES, AthleteDep, _database, _own_plan
from starter.bounds import MAX_ID, OutOfBounds, check_date
from starter.client import PlanEndedError, PlanNotFoundError

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


_PLAN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_ATHLETE_RESPONSES,
    404: {"model": ErrorResponse, "description": "Not a plan (or session) of this athlete"},
    409: {"model": ErrorResponse, "description": "The plan is completed or cancelled (`plan_closed`)"},
}


# ---- bodies -----------------------------------------------------------------------------------------------


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


# ---- helpers ----------------------------------------------------------------------------------------------


def _preferences(prefs: NotificationPrefs) -> Preferences:
    quiet = prefs.quiet_hours
    return Preferences(
        timezone=prefs.timezone,
        quiet_hours=QuietHours(start=minute_label(quiet[0]), end=minute_label(quiet[1])) if quiet else None,
        evening_brief_time=minute_label(prefs.evening_brief_minute),
        morning_hype_lead_minutes=prefs.morning_hype_lead_minutes,
        weekly_digest=WeeklyDigestTiming(
            weekday=WEEKDAY_NAMES[prefs.weekly_digest_weekday],
            time=minute_label(prefs.weekly_digest_minute),
        ),
        daily_cap=prefs.daily_cap,
        coaching_tone=resolve_tone(prefs.coaching_tone).value,
        categories=Categories(**{c.value: on for c, on in categories_of(prefs).items()}),
        always_on=[c.value for c in ACCOUNTABILITY],
        always_on_reason=ACCOUNTABILITY_REASON,
        adjust_instead=list(ADJUST_INSTEAD),
    )


def _store(context: ApiContext) -> PreferencesStore:
    return PreferencesStore(_database(context).sessionmaker)


# ---- routes -----------------------------------------------------------------------------------------------

router = APIRouter(tags=["athlete"])


@router.get("/v1/me/preferences", response_model=Preferences, responses=_ATHLETE_RESPONSES)
async def read_preferences(athlete: AthleteDep, request: Request) -> Preferences:
    """The athlete's notification preferences, with the categories that stay on and what can be adjusted."""
    return _preferences(await _store(_context(request)).preferences(athlete.user_id))


@router.patch("/v1/me/preferences", response_model=PreferencesChanged, responses=_ATHLETE_RESPONSES)
async def update_preferences(body: PreferencesUpdate, athlete: AthleteDep, request: Request) -> PreferencesChanged:
    """Change some preferences; each live plan re-plans and its new schedule is in ``plans``.

    Switching off an accountability category is 422 on ``body.categories.<name>``, naming what can be adjusted.
    """
    context = _context(request)
    store = _store(context)
    change = body.change()
    check_preferences(change)  # refused before anything is written (422, see the ChangeRejected handler)
    schedules: list[PlanStatusResult] = []
    for plan_id in await store.live_plans(athlete.user_id):
        try:
            schedules.append(await context.plans.change_preferences(plan_id, change))
        except (PlanNotFoundError, PlanEndedError):
            continue  # no running workflow for it: it reads the stored preferences when it starts
    if not schedules:
        await store.save_preferences(athlete.user_id, change)
    stored = _preferences(await store.preferences(athlete.user_id))
    return PreferencesChanged(**stored.model_dump(), plans=schedules)


@router.post("/v1/me/plans/{plan_id}/snooze", response_model=PlanStatusResult, responses=_PLAN_RESPONSES)
async def snooze(plan_id: PlanId, body: SnoozeRequest, athlete: AthleteDep, request: Request) -> PlanStatusResult:
    """Hold the plan's reminders until ``until`` or for ``duration_minutes``; answers with the new schedule.

    A reminder due during the snooze goes out when it ends if it still makes sense then, else it is dropped.
    Snoozing again replaces the previous snooze.
    """
    context = _context(request)
    await _own_plan(context, plan_id, athlete.user_id)
    snooze = SnoozeInput(until=body.until, duration_minutes=body.duration_minutes)
    return await to_workflow(context, plan_id, lambda: context.plans.snooze(plan_id, snooze))


@router.delete("/v1/me/plans/{plan_id}/snooze", response_model=PlanStatusResult, responses=_PLAN_RESPONSES)
async def cancel_snooze(plan_id: PlanId, athlete: AthleteDep, request: Request) -> PlanStatusResult:
    """End the snooze now (a plan that is not snoozed is left as it is)."""
    context = _context(request)
    await _own_plan(context, plan_id, athlete.user_id)
    return await to_workflow(context, plan_id, lambda: context.plans.cancel_snooze(plan_id))


@router.post(
    "/v1/me/plans/{plan_id}/sessions/{session_id}/reschedule",
    response_model=PlanStatusResult,
    responses=_PLAN_RESPONSES,
)
async def reschedule(
    plan_id: PlanId,
    session_id: Annotated[int, Path(gt=0, le=MAX_ID, description="The `plan_sessions` id")],
    body: RescheduleRequest,
    athlete: AthleteDep,
    request: Request,
) -> PlanStatusResult:
    """Move a planned session; answers with the new schedule. A start in the past, a completed session or a date
    more than a year ahead is 422; a session of another plan is 404 ``session_not_found``."""
    context = _context(request)
    await _own_plan(context, plan_id, athlete.user_id)
    change = RescheduleSessionInput(
        plan_session_id=session_id,
        scheduled_date=body.scheduled_date,
        start_minute=clock_minute(body.start_time) if body.start_time else None,
    )
    return await to_workflow(context, plan_id, lambda: context.plans.reschedule_session(plan_id, change))
