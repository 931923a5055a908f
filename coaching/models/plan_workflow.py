"""The plan workflow's messages: its input and result, its configuration, and the inputs of its signals, updates
and queries (and what the queries answer).
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from coaching.models.base import (
    AwareDatetime,
    Category,
    CompletionSource,
    MinuteOfDay,
    Model,
    NotificationType,
    PlanStatus,
    TimezoneName,
)
from coaching.models.plan import CadenceSnapshot, PlanState

#: The notification types whose copy the AI writes unless configured otherwise (settings and workflow input alike).
DEFAULT_AI_TYPES = (
    NotificationType.EVENING_BRIEF,
    NotificationType.MORNING_HYPE,
    NotificationType.MISSED_FOLLOWUP,
    NotificationType.WEEKLY_DIGEST,
)


class WorkflowConfig(Model):
    """Deployment knobs that reach the workflow through its input (never read from settings inside it)."""

    search_attributes: bool = True
    continue_as_new_after_events: int = 10_000
    activity_timeout_seconds: int = 60
    #: How long before a notification is due its copy (weather, AI) is prepared; delivery never waits for it.
    content_lead_seconds: int = Field(default=15 * 60, ge=0)
    #: The types whose copy the AI writes (when the worker has an AI client and the athlete's daily budget allows).
    ai_types: list[NotificationType] = Field(default_factory=lambda: list(DEFAULT_AI_TYPES))


class PlanWorkflowInput(Model):
    plan_id: int
    config: WorkflowConfig = Field(default_factory=WorkflowConfig)
    state: PlanState | None = None


class PlanWorkflowResult(Model):
    plan_id: int
    final_status: PlanStatus
    sent: int
    skipped: int
    #: Why the workflow ended ("the plan is cancelled", "plan_removed: …", "plan_over: …").
    end_reason: str = ""


class SessionCompletedInput(Model):
    ruck_id: int = Field(gt=0)
    completed_at: AwareDatetime
    #: When the ruck started; a ruck that crosses midnight counts for the day it started on.
    started_at: AwareDatetime | None = None
    source: CompletionSource = CompletionSource.APP
    plan_session_id: int | None = None
    distance_km: float | None = Field(default=None, ge=0)
    duration_seconds: int | None = Field(default=None, ge=0)


class PlanStatusChangeInput(Model):
    reason: str = ""


class SessionsChangedInput(Model):
    reason: str = ""


class CadenceUpdatedInput(Model):
    """A newly learned cadence for the plan's athlete (sent by the nightly analysis and the CLI)."""

    cadence: CadenceSnapshot


class UpcomingNotification(Model):
    notification_id: str
    type: NotificationType
    plan_session_id: int | None
    send_at: AwareDatetime
    send_at_local: str
    reason: str


class PlanStatusResult(Model):
    plan_id: int
    status: PlanStatus
    timezone: str
    upcoming: list[UpcomingNotification]
    completions: int
    sent: int
    skipped: int
    #: Reminders are held until then (an athlete's snooze); None when not snoozed.
    snoozed_until: AwareDatetime | None = None


class ChangePreferencesInput(Model):
    """An athlete's change to their notification preferences: None (or absent) leaves a field as it is."""

    timezone: TimezoneName | None = None
    #: True: set quiet hours to the two minutes below (both None: no quiet hours).
    set_quiet_hours: bool = False
    quiet_hours_start_minute: MinuteOfDay | None = None
    quiet_hours_end_minute: MinuteOfDay | None = None
    evening_brief_minute: MinuteOfDay | None = None
    morning_hype_lead_minutes: int | None = Field(default=None, ge=5, le=240)
    weekly_digest_weekday: int | None = Field(default=None, ge=0, le=6)
    weekly_digest_minute: MinuteOfDay | None = None
    daily_cap: int | None = Field(default=None, ge=1, le=20)
    coaching_tone: str | None = None
    categories: dict[Category, bool] = Field(default_factory=dict)


class SnoozeInput(Model):
    """Hold the plan's reminders until ``until``, or for ``duration_minutes`` from when the workflow takes it."""

    until: AwareDatetime | None = None
    duration_minutes: int | None = Field(default=None, gt=0)


class CancelSnoozeInput(Model):
    reason: str = ""


class RescheduleSessionInput(Model):
    """Move a session to another local date and/or start time (minute of the day; fixed by the athlete)."""

    plan_session_id: int
    scheduled_date: date | None = None
    start_minute: MinuteOfDay | None = None
