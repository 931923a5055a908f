"""RuckTracker's rows read as the rules' models: the plan's preferences, cadence, sessions, status and snooze.

RuckTracker writes these rows, not only this service: every column may be NULL, a tone is a display name, a duration
target may be a range, a date may be a typo. Each reader takes what is valid and falls back to the rules' defaults for
the rest, so one bad column never stops a plan; the service's own preference and cadence rows are read the same way.
Pure functions of rows already loaded (no queries), shared by the stores that load them (:mod:`activities.plan_store`,
the preferences, cadence and analytics stores).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from activities.db import AppUser, AthletePreferences, CadenceRow, PlanSessionRow, UserCoachingPlan
from coaching.cadence import WEEKDAYS
from coaching.models import CadenceSnapshot, CadenceWindow, NotificationPrefs, PlanSession, PlanStatus
from coaching.preferences import OPTIONAL_SWITCHES
from coaching.timeutil import local_to_utc, validate_timezone
from coaching.tones import resolve_tone, tone_is_known

log = logging.getLogger(__name__)

DEFAULT_TONE = "supportive_friend"


#: Session dates further than this from the plan's creation are data errors, not plans (a year typed as 2926).
_PLAUSIBLE_BEFORE = timedelta(days=366)
_PLAUSIBLE_AFTER = timedelta(days=3 * 366)


def plausible_session(row: PlanSessionRow, created_at: datetime, plan_id: int) -> bool:
    day = row.scheduled_date
    if day is None:
        return True
    created = created_at.date()
    if created - _PLAUSIBLE_BEFORE <= day <= created + _PLAUSIBLE_AFTER:
        return True
    log.warning("plan %s: ignoring session %s dated %s, too far from the plan's creation", plan_id, row.id, day)
    return False


def plan_status_of(value: str | None, plan_id: int) -> PlanStatus:
    try:
        return PlanStatus(value or "active")
    except ValueError:
        log.warning("plan %s: unknown current_status %r, treated as active", plan_id, value)
        return PlanStatus.ACTIVE


#: The key of ``user_coaching_plans.plan_modifications`` that holds an athlete's snooze (ISO 8601, UTC).
SNOOZE_KEY = "notification_snoozed_until"


def snoozed_until_of(modifications: Any) -> datetime | None:
    raw = modifications.get(SNOOZE_KEY) if isinstance(modifications, dict) else None
    try:
        until = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return until if until is not None and until.utcoffset() is not None else None


def valid_zone(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return validate_timezone(name)
    except ValueError:
        log.warning("ignoring invalid time zone %r in the database", name)
        return None


def athlete_zone(user_zone: str | None, plan_zone: str | None) -> str:
    """The zone a plan's notifications use: the athlete's (``"user"``) unless it is the default (UTC) or invalid, else
    the plan's (RuckTracker sets it from the phone when the plan is created), else UTC."""
    zones = [valid_zone(user_zone), valid_zone(plan_zone)]
    return next((z for z in zones if z and z != "UTC"), "UTC")


def athlete_tone(user_tone: str | None, plan_tone: str | None, plan_id: int | None = None) -> str:
    """The canonical tone id: the athlete's (``"user".coaching_tone``) unless unknown or the default, else the plan's
    ``coaching_personality``, else the default. Both hold the client's display names ('Drill Sergeant')."""
    for name in (user_tone, plan_tone):
        if plan_id is not None and name and not tone_is_known(name):
            log.warning("plan %s: unknown coaching tone %r, ignored", plan_id, name)
    known = [resolve_tone(t).value for t in (user_tone, plan_tone) if t and tone_is_known(t)]
    return next((t for t in known if t != DEFAULT_TONE), DEFAULT_TONE)


#: RuckTracker's own keys in ``"user".plan_notification_prefs`` that mean what a preference of ours means.
_RT_DIGEST_DAY_KEY = "weekly_digest_day"
_RT_DEFAULT_START_KEY = "default_start_minute"


def plan_prefs(plan: UserCoachingPlan, user: AppUser | None, own: AthletePreferences | None) -> NotificationPrefs:
    """The plan's notification preferences: zone, quiet hours, tone and units where RuckTracker keeps them (the
    athlete's ``"user"`` row and the plan row), the rest from the service's ``coach_athlete_preferences``; a value
    that is missing or out of range falls back to its default."""
    values: dict[str, Any] = {
        "timezone": athlete_zone(user.plan_notification_timezone if user else None, plan.plan_notification_timezone),
        "coaching_tone": athlete_tone(user.coaching_tone if user else None, plan.coaching_personality, plan.id),
    }
    if user is not None:
        values.update(
            quiet_hours_start_minute=user.plan_quiet_hours_start,
            quiet_hours_end_minute=user.plan_quiet_hours_end,
            prefer_metric=user.prefer_metric,
        )
        extra = user.plan_notification_prefs if isinstance(user.plan_notification_prefs, dict) else {}
        digest_day = extra.get(_RT_DIGEST_DAY_KEY)
        if isinstance(digest_day, str) and digest_day.strip().capitalize() in WEEKDAYS:
            values["weekly_digest_weekday"] = WEEKDAYS.index(digest_day.strip().capitalize())
        start = extra.get(_RT_DEFAULT_START_KEY)
        if isinstance(start, int) and not isinstance(start, bool):
            values["default_start_minute"] = start
    if own is not None:
        for name in (
            "evening_brief_minute",
            "morning_hype_lead_minutes",
            "weekly_digest_weekday",
            "weekly_digest_minute",
            "daily_cap",
            "default_start_minute",
            *OPTIONAL_SWITCHES.values(),
        ):
            value = getattr(own, name)
            if value is not None:
                values[name] = value
    return _validated_prefs(values, plan.id)


def plan_created_at(plan: UserCoachingPlan, timezone: str) -> datetime:
    """When the plan was created; RuckTracker's ``created_at`` may be NULL, then the local midnight of its start."""
    if plan.created_at is not None:
        return plan.created_at.astimezone(UTC)
    return local_to_utc(plan.start_date, 0, timezone)


def _validated_prefs(values: dict[str, Any], plan_id: int) -> NotificationPrefs:
    """Validate, dropping (to their defaults) the fields whose stored values are out of range.

    The athlete's row is edited by RuckTracker, not only by this service; one bad column must not stop a plan.
    """
    values = {k: v for k, v in values.items() if v is not None}
    while True:
        try:
            return NotificationPrefs.model_validate(values)
        except ValidationError as err:
            bad = {str(e["loc"][0]) for e in err.errors() if e["loc"]} & values.keys()
            if not bad:
                raise
            log.warning(
                "plan %s: ignoring invalid notification preferences %s",
                plan_id,
                {k: values[k] for k in sorted(bad)},
            )
            for key in bad:
                del values[key]


def cadence_of(behavior: CadenceRow | None) -> CadenceSnapshot:
    if behavior is None:
        return CadenceSnapshot()
    return cadence_from(
        behavior.prime_window_start_minute,
        behavior.prime_window_end_minute,
        behavior.confidence_score,
        {"metadata": behavior.behavior_metadata, "deviations": behavior.deviations},
    )


def cadence_from(start: Any, end: Any, confidence: Any, row: Mapping[str, Any]) -> CadenceSnapshot:
    """The schedule's view of a ``coach_cadence_analysis`` row; rows without a centre or weekday windows and
    hand-edited ones read as far as they are valid, never failing a plan."""

    def minute(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1439 else None

    def unit(value: Any) -> float:
        number = _number(value)
        return min(number, 1.0) if number is not None else 0.0

    metadata = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    weekday_windows: dict[int, CadenceWindow] = {}
    raw_windows = metadata.get("weekday_windows")
    for name, raw in raw_windows.items() if isinstance(raw_windows, dict) else []:
        if name in WEEKDAYS and isinstance(raw, dict):
            try:
                weekday_windows[WEEKDAYS.index(name)] = CadenceWindow.model_validate(raw)
            except ValidationError:
                continue
    deviations = row.get("deviations") if isinstance(row.get("deviations"), list) else []
    assert isinstance(deviations, list)
    sample_size = _number(metadata.get("sample_size"))
    return CadenceSnapshot(
        window_start_minute=minute(start),
        window_end_minute=minute(end),
        confidence=unit(confidence),
        centre_minute=minute(metadata.get("central_minute")),
        weekday_windows=weekday_windows,
        sample_size=int(sample_size) if sample_size is not None else 0,
        deviations=[d["kind"] for d in deviations if isinstance(d, dict) and isinstance(d.get("kind"), str)],
    )


def _number(value: Any) -> float | None:
    """A non-negative finite number from JSON (numbers may arrive as strings), else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _minutes(value: Any) -> float | None:
    """A duration target in minutes: a number, a numeric string, or a range such as ``"40-50"`` (RuckTracker's
    plans write those), which reads as its middle; anything else is None."""
    number = _number(value)
    if number is not None or not isinstance(value, str):
        return number
    match = _RANGE.fullmatch(value.strip().casefold())
    if match is None:
        return None
    low, high = float(match[1]), float(match[2])
    return (low + high) / 2 if low <= high else None


_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*(?:min|mins|minutes)?")


def plan_session_of(row: PlanSessionRow) -> PlanSession:
    points = row.coaching_points if isinstance(row.coaching_points, dict) else {}
    duration = _minutes(points.get("target_duration_minutes"))
    start = row.scheduled_start_time
    metadata = row.notification_metadata if isinstance(row.notification_metadata, dict) else {}
    return PlanSession(
        id=row.id,
        planned_week=row.planned_week,
        planned_session_type=row.planned_session_type,
        scheduled_date=row.scheduled_date,
        scheduled_start_minute=start.hour * 60 + start.minute if start is not None else None,
        # Set when the athlete chose this session's time (a reschedule): their choice beats the learned window.
        start_fixed=metadata.get("start_source") == "athlete",
        completion_status=row.completion_status or "planned",
        distance_km=_number(points.get("target_distance_km")),
        duration_minutes=round(duration) if duration is not None else None,
        weight_kg=_number(points.get("target_weight_kg")),
    )
