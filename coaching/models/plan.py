"""A plan as the schedule sees it, and the plan workflow's state: preferences, the learned cadence, sessions,
completions, the notifications the schedule plans and decides, and the entity state carried through continue-as-new.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field, model_validator

from coaching.models.base import (
    AwareDatetime,
    CompletionSource,
    MinuteOfDay,
    Model,
    NotificationType,
    PlanStatus,
    TimezoneName,
)


class NotificationPrefs(Model):
    """An athlete's plan notification preferences. Defaults are the README's rules table."""

    timezone: TimezoneName = "UTC"
    quiet_hours_start_minute: MinuteOfDay | None = None
    quiet_hours_end_minute: MinuteOfDay | None = None
    evening_brief_minute: MinuteOfDay = 20 * 60
    morning_hype_lead_minutes: int = Field(default=60, ge=5, le=240)
    weekly_digest_weekday: int = Field(default=6, ge=0, le=6, description="0 = Monday … 6 = Sunday")
    weekly_digest_minute: MinuteOfDay = 18 * 60
    daily_cap: int = Field(default=4, ge=1, le=20)
    #: The athlete's own usual start, when they set one; else the schedule's population default applies.
    default_start_minute: MinuteOfDay | None = None
    coaching_tone: str = "supportive_friend"
    prefer_metric: bool = True
    #: The optional categories (see coaching.preferences); the accountability ones cannot be switched off.
    weekly_digest_enabled: bool = True
    milestones_enabled: bool = True

    @property
    def quiet_hours(self) -> tuple[int, int] | None:
        start, end = self.quiet_hours_start_minute, self.quiet_hours_end_minute
        if start is None or end is None or start == end:
            return None
        return start, end


class CadenceWindow(Model):
    """A learned window of local start times (minutes after local midnight; ``end`` < ``start`` wraps midnight)."""

    start_minute: MinuteOfDay
    end_minute: MinuteOfDay
    centre_minute: MinuteOfDay
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    sample_size: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _centre_on_the_window(self) -> CadenceWindow:
        # A centre off the window (a hand-edited row) would move sessions by hours and the hype by a day: the
        # opening is the anchor then, as for rows that never had a centre.
        if (self.centre_minute - self.start_minute) % 1440 > (self.end_minute - self.start_minute) % 1440:
            self.centre_minute = self.start_minute
        return self


class CadenceSnapshot(Model):
    """The learned prime window (from `coach_cadence_analysis`), as the schedule uses it.

    The overall window is the three ``window_*`` fields and ``confidence`` (the columns RuckTracker already has);
    ``weekday_windows`` (0 = Monday) refine it where a weekday has its own routine. A window is used only when its
    confidence reaches the schedule's threshold; see :mod:`coaching.cadence` for how they are learned.
    """

    window_start_minute: MinuteOfDay | None = None
    window_end_minute: MinuteOfDay | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    centre_minute: MinuteOfDay | None = None
    weekday_windows: dict[int, CadenceWindow] = Field(default_factory=dict)
    sample_size: int = Field(default=0, ge=0)
    deviations: list[str] = Field(default_factory=list)

    @property
    def overall(self) -> CadenceWindow | None:
        start, end = self.window_start_minute, self.window_end_minute
        if start is None or end is None:
            return None
        return CadenceWindow(
            start_minute=start,
            end_minute=end,
            # Rows written before the centre was stored (RuckTracker's) only have the start: it is their anchor.
            centre_minute=self.centre_minute if self.centre_minute is not None else start,
            confidence=self.confidence,
            sample_size=self.sample_size,
        )


class PlanSession(Model):
    """One `plan_sessions` row as the schedule sees it."""

    id: int
    planned_week: int = 1
    planned_session_type: str = "Ruck"
    scheduled_date: date | None = None
    scheduled_start_minute: MinuteOfDay | None = None
    #: The athlete chose this session's time themselves: it beats the learned window (see coaching.sessions).
    start_fixed: bool = False
    completion_status: str = "planned"
    distance_km: float | None = None
    duration_minutes: int | None = None
    weight_kg: float | None = None


class PlanSnapshot(Model):
    """Everything the workflow needs from the database about a plan, loaded by an activity."""

    plan_id: int
    user_id: str
    status: PlanStatus = PlanStatus.ACTIVE
    plan_name: str = "Coaching plan"
    start_date: date
    created_at: AwareDatetime
    prefs: NotificationPrefs = Field(default_factory=NotificationPrefs)
    cadence: CadenceSnapshot = Field(default_factory=CadenceSnapshot)
    sessions: list[PlanSession] = Field(default_factory=list)
    has_device: bool = True
    #: The athlete's snooze as stored with the plan (a fresh workflow for the plan picks it up).
    snoozed_until: AwareDatetime | None = None


class Completion(Model):
    """A completed ruck matched (or not) to a plan session; kept in the workflow state."""

    ruck_id: int
    completed_at: AwareDatetime
    received_at: AwareDatetime
    local_date: date
    started_at: AwareDatetime | None = None
    plan_session_id: int | None = None
    source: CompletionSource = CompletionSource.APP
    distance_km: float | None = None
    duration_seconds: int | None = None
    recorded: bool = False


class Milestone(Model):
    key: str
    label: str


class PlannedNotification(Model):
    """A notification the schedule wants to send, with its business key and the reason for its time."""

    notification_id: str
    type: NotificationType
    plan_session_id: int | None = None
    local_date: date
    due_at: AwareDatetime
    send_at: AwareDatetime
    expires_at: AwareDatetime
    reason: str
    subkey: str = ""
    counts_toward_cap: bool = True
    facts: dict[str, str] = Field(default_factory=dict)


class Decision(StrEnum):
    SEND = "send"
    SKIP = "skip"


class Action(Model):
    notification: PlannedNotification
    decision: Decision
    skip_reason: str | None = None


class PausePeriod(Model):
    """A time the plan was paused (timing-rules-v2): from the pause to the resume, open (``end`` None) while paused."""

    start: AwareDatetime
    end: AwareDatetime | None = None


class PlanState(Model):
    """All the entity state of a plan workflow, carried through continue-as-new."""

    snapshot: PlanSnapshot | None = None
    status: PlanStatus = PlanStatus.ACTIVE
    started_at: AwareDatetime | None = None
    completions: list[Completion] = Field(default_factory=list)
    handled: dict[str, str] = Field(default_factory=dict, description="notification_id -> sent|skipped")
    sent_per_local_day: dict[str, int] = Field(default_factory=dict)
    needs_reload: bool = False
    status_signalled: bool = False
    recorded_schedule: dict[int, datetime | None] | None = None
    #: "session_id:date" -> when the workflow first saw that session on that date (a moved session is new).
    sessions_seen: dict[str, datetime] = Field(default_factory=dict)
    #: Set when the plan is completed: the end of the grace period for its last ruck.
    finish_by: AwareDatetime | None = None
    #: A ruck arrived since the cadence was last refreshed from the database.
    cadence_pending: bool = False
    #: The athlete snoozed the plan's reminders until then (see coaching.preferences).
    snoozed_until: AwareDatetime | None = None
    #: When the plan was paused (timing-rules-v2): sessions that fell in a pause are neither followed up nor missed.
    pauses: list[PausePeriod] = Field(default_factory=list)
