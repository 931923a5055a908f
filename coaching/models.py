"""Shared data models: workflow, activity, signal and query inputs and results.

This module is pure (pydantic only) so the workflow sandbox, the activities, the starter and the API all import the
same definitions. Every field added later must have a default so that histories of running plans still decode.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from coaching.timeutil import validate_timezone


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be timezone-aware (ISO 8601 with an offset, e.g. 2026-03-08T12:00:00Z)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
TimezoneName = Annotated[str, AfterValidator(validate_timezone)]
MinuteOfDay = Annotated[int, Field(ge=0, le=1439)]


class NotificationType(StrEnum):
    """The seven plan notification types; values match RuckTracker's `plan_*` type strings."""

    KICKOFF_PRIMER = "plan_kickoff_primer"
    EVENING_BRIEF = "plan_evening_brief"
    MORNING_HYPE = "plan_morning_hype"
    COMPLETION_CELEBRATION = "plan_completion_celebration"
    MISSED_FOLLOWUP = "plan_missed_followup"
    WEEKLY_DIGEST = "plan_weekly_digest"
    MILESTONE_ALERT = "plan_milestone_alert"


class PlanStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class LedgerStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    #: Decided and composed for an athlete in shadow mode; nothing was pushed (see activities.rollout).
    SHADOW = "shadow"


#: The reason prefix of a ledger row held by the rollout kill switch (its delivery is tried again): the one skip a
#: later attempt of the same delivery may still send. A final kill-switch skip says ``kill_switch: not sent: …``.
HELD_BY_KILL_SWITCH = "kill_switch: held"


def held_by_kill_switch(reason: str | None) -> bool:
    """Whether a skipped ledger row is held by the kill switch (its delivery may still send it once unflipped)."""
    return bool(reason) and str(reason).startswith(HELD_BY_KILL_SWITCH)


def ledger_final(status: LedgerStatus, reason: str | None) -> bool:
    """Whether a ledger row is final for its delivery: sent, shadow, or skipped for good (not held by the kill
    switch). A delivery attempt that finds a final row pushes nothing."""
    return status in (LedgerStatus.SENT, LedgerStatus.SHADOW) or (
        status is LedgerStatus.SKIPPED and not held_by_kill_switch(reason)
    )


class MissedState(StrEnum):
    FIRST_MISS = "first_miss"
    REPEATED_MISS = "repeated_miss"
    PLAN_AT_RISK = "plan_at_risk"


class CompletionSource(StrEnum):
    APP = "app"
    IMPORT = "import"
    AUTO_COMPLETE = "auto_complete"
    MANUAL = "manual"
    #: Found completed in ``ruck_session`` by the reconciler (whichever path completed it).
    DATABASE = "database"


class Category(StrEnum):
    """A notification category an athlete can see in the app's settings (see coaching.preferences)."""

    EVENING_BRIEF = "evening_brief"
    MORNING_HYPE = "morning_hype"
    MISSED_FOLLOWUP = "missed_followup"
    WEEKLY_DIGEST = "weekly_digest"
    MILESTONE_ALERT = "milestone_alert"


class Model(BaseModel):
    model_config = ConfigDict(frozen=False, extra="ignore")


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
    #: The athlete chose this session's time themselves: it beats the learned window (see coaching.schedule).
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


# ---- workflow input, signals, updates and queries -------------------------------------------------------


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


# ---- activity inputs and results --------------------------------------------------------------------------


class LoadPlanInput(Model):
    plan_id: int


class LoadPlanResult(Model):
    snapshot: PlanSnapshot | None = None
    #: The worker's operational settings, so a running plan follows the deployed configuration (not the one it
    #: was started with); None from workers before that.
    config: WorkflowConfig | None = None


def content_fingerprint(n: PlannedNotification, tone: str, prefer_metric: bool) -> str:
    """What prepared copy was composed from: the notification's key, type and facts, the tone and the units.

    Prepared copy is only used when the notification due still has this fingerprint (a moved session, or a
    changed tone, makes the prepared text wrong). Pure and stable (SHA-256 of sorted JSON), so replays agree.
    """
    material = json.dumps(
        [n.notification_id, n.type.value, sorted(n.facts.items()), tone, prefer_metric],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class NotificationFor(Model):
    """A notification and whom it is for, as preparing its copy and delivering it both need."""

    plan_id: int
    user_id: str
    notification: PlannedNotification
    tone: str
    timezone: str
    prefer_metric: bool = True


class PrepareContentInput(NotificationFor):
    #: When the session starts (briefs and hypes): the weather phrase describes that moment.
    session_start: AwareDatetime | None = None
    #: The workflow's configuration lists this type for AI copy.
    use_ai: bool = False


class PreparedContent(Model):
    title: str
    body: str
    source: str = "template"
    #: Why AI copy was not used ("not_configured", "type_not_ai", "daily_budget", "timeout", ...); None for AI.
    ai_fallback_reason: str | None = None
    weather: str | None = None
    #: :func:`content_fingerprint` of the notification the copy was composed for.
    fingerprint: str = ""


class DeliverInput(NotificationFor):
    facts: dict[str, str] = Field(default_factory=dict)
    honor_database_pause: bool = True
    #: Copy prepared ahead (and still matching the notification); None = render the template now.
    content: PreparedContent | None = None


class DeliverResult(Model):
    notification_id: str
    status: LedgerStatus
    tokens_sent: int = 0
    tokens_deactivated: int = 0
    already_recorded: bool = False
    detail: str = ""


class RecordSkipInput(Model):
    plan_id: int
    user_id: str
    notification: PlannedNotification
    reason: str
    failed: bool = False


class RecordCompletionInput(Model):
    plan_id: int
    completion: Completion


class RefreshCadenceInput(Model):
    plan_id: int
    user_id: str


class RefreshCadenceResult(Model):
    cadence: CadenceSnapshot | None = None


class CadenceRecomputeInput(Model):
    """The nightly recompute (also started by hand): every athlete due, in pages of ``batch_size``."""

    batch_size: int = Field(default=2000, ge=1, le=50_000)
    #: Ranges of the user-id space paged through concurrently (one page of each at a time).
    partitions: int = Field(default=2, ge=1, le=64)
    #: Defaults to the workflow's start time; fixed for all its pages.
    as_of: AwareDatetime | None = None
    #: Each partition's cursor (the last athlete done; None: from its start), carried through continue-as-new.
    cursors: list[str | None] | None = None
    finished: list[bool] | None = None
    athletes: int = 0
    changed_plans: int = 0
    signalled_plans: int = 0


class CadenceRecomputeResult(Model):
    as_of: AwareDatetime
    athletes: int
    changed_plans: int
    signalled_plans: int


class CadenceBatchInput(Model):
    as_of: AwareDatetime
    after: str | None = None
    #: The partition's upper bound (inclusive); None: to the end.
    before: str | None = None
    batch_size: int = 2000


class CadenceBatchResult(Model):
    athletes: int
    changed_plans: int
    signalled_plans: int
    #: The last athlete of a full page, to continue after; None when this was the last page.
    next_after: str | None = None


class SavePreferencesInput(Model):
    plan_id: int
    user_id: str
    change: ChangePreferencesInput


class SavePreferencesResult(Model):
    #: The plan's preferences as the database now has them (what a reload would read).
    prefs: NotificationPrefs


class SaveSnoozeInput(Model):
    plan_id: int
    #: None: no snooze (cancelled).
    snoozed_until: AwareDatetime | None = None


class SaveRescheduleInput(Model):
    plan_id: int
    plan_session_id: int
    scheduled_date: date
    start_minute: MinuteOfDay | None = None


class SaveRescheduleResult(Model):
    session: PlanSession


class RecordScheduleInput(Model):
    plan_id: int
    next_by_session: dict[int, datetime | None] = Field(default_factory=dict)


class RecordPlanEndInput(Model):
    """The plan's workflow is ending: the status it ends with and why (kept in ``coach_plan_runs``)."""

    plan_id: int
    status: PlanStatus
    reason: str = ""


class ReconcileInput(Model):
    """One pass of the reconciler (the database is the source of truth); the limits keep a pass short."""

    #: Rows read per query.
    page_size: int = Field(default=500, ge=1, le=10_000)
    #: At most this many workflows started (or rucks told) per pass; the rest wait for the next pass.
    max_starts: int = Field(default=2_000, ge=0)
    max_rucks: int = Field(default=5_000, ge=0)
    #: Completed rucks are looked for this far back (a ruck the plan never heard of, e.g. a lost call of the core API).
    ruck_lookback_hours: int = Field(default=48, ge=1, le=24 * 14)


class ReconcilePhaseResult(Model):
    started: int = 0
    signalled: int = 0
    ended: int = 0
    forgotten: int = 0
    rucks: int = 0
    dropped_rucks: int = 0
    #: More rows were due than the pass's limit allowed (the next pass goes on).
    more: bool = False


class ReconcileResult(Model):
    starts: ReconcilePhaseResult
    statuses: ReconcilePhaseResult
    rucks: ReconcilePhaseResult


class AnomalyWatchInput(Model):
    """One pass of the send-volume anomaly watch (``workflows/anomaly.py``); the schedule carries it."""

    #: The window judged, ending at the pass's time, against the same window 1..``baseline_weeks`` weeks back.
    window_minutes: int = Field(default=60, ge=15, le=24 * 60)
    baseline_weeks: int = Field(default=4, ge=1, le=12)
    #: The window's end; the workflow sets it to its start time, so a retried activity judges the same window.
    end: AwareDatetime | None = None


class AnomalyAlert(Model):
    kind: str
    notification_type: str
    summary: str
    figures: dict[str, float | int | str] = Field(default_factory=dict)
    braked: bool = False


class AnomalyWatchResult(Model):
    window_start: AwareDatetime
    window_end: AwareDatetime
    sent: dict[str, int] = Field(default_factory=dict)
    alerts: list[AnomalyAlert] = Field(default_factory=list)
