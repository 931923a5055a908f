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

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from activities.preferences_store import PreferencesStore
from coaching.models import NotificationPrefs, PlanStatusResult, RescheduleSessionInput, SnoozeInput
from coaching.preferences import ACCOUNTABILITY, ACCOUNTABILITY_REASON, ADJUST_INSTEAD, categories_of, check_preferences
from coaching.timeutil import clock_minute, minute_label
from coaching.tones import resolve_tone
from starter.api.deps import ApiContext, AthleteDep, context_of, database, own_plan, to_workflow
from starter.api.errors import ATHLETE_RESPONSES, ErrorResponse
from starter.api.models import (
    WEEKDAY_NAMES,
    Categories,
    PlanId,
    Preferences,
    PreferencesChanged,
    PreferencesUpdate,
    QuietHours,
    RescheduleRequest,
    SnoozeRequest,
    WeeklyDigestTiming,
)
from starter.bounds import MAX_ID
from starter.client import PlanEndedError, PlanNotFoundError

_PLAN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ATHLETE_RESPONSES,
    404: {"model": ErrorResponse, "description": "Not a plan (or session) of this athlete"},
    409: {"model": ErrorResponse, "description": "The plan is completed or cancelled (`plan_closed`)"},
}


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
    return PreferencesStore(database(context).sessionmaker)


router = APIRouter(tags=["athlete"])


@router.get("/v1/me/preferences", response_model=Preferences, responses=ATHLETE_RESPONSES)
async def read_preferences(athlete: AthleteDep, request: Request) -> Preferences:
    """The athlete's notification preferences, with the categories that stay on and what can be adjusted."""
    return _preferences(await _store(context_of(request)).preferences(athlete.user_id))


@router.patch("/v1/me/preferences", response_model=PreferencesChanged, responses=ATHLETE_RESPONSES)
async def update_preferences(body: PreferencesUpdate, athlete: AthleteDep, request: Request) -> PreferencesChanged:
    """Change some preferences; each live plan re-plans and its new schedule is in ``plans``.

    Switching off an accountability category is 422 on ``body.categories.<name>``, naming what can be adjusted.
    """
    context = context_of(request)
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
    context = context_of(request)
    await own_plan(context, plan_id, athlete.user_id)
    snooze = SnoozeInput(until=body.until, duration_minutes=body.duration_minutes)
    return await to_workflow(context, plan_id, lambda: context.plans.snooze(plan_id, snooze))


@router.delete("/v1/me/plans/{plan_id}/snooze", response_model=PlanStatusResult, responses=_PLAN_RESPONSES)
async def cancel_snooze(plan_id: PlanId, athlete: AthleteDep, request: Request) -> PlanStatusResult:
    """End the snooze now (a plan that is not snoozed is left as it is)."""
    context = context_of(request)
    await own_plan(context, plan_id, athlete.user_id)
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
    context = context_of(request)
    await own_plan(context, plan_id, athlete.user_id)
    change = RescheduleSessionInput(
        plan_session_id=session_id,
        scheduled_date=body.scheduled_date,
        start_minute=clock_minute(body.start_time) if body.start_time else None,
    )
    return await to_workflow(context, plan_id, lambda: context.plans.reschedule_session(plan_id, change))
