"""The plan activities' inputs and results: loading the plan, preparing and delivering a notification's copy,
recording skips, completions and the schedule, saving the athlete's changes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

from pydantic import Field

from coaching.models.base import AwareDatetime, LedgerStatus, MinuteOfDay, Model, PlanStatus
from coaching.models.plan import (
    CadenceSnapshot,
    Completion,
    NotificationPrefs,
    PlannedNotification,
    PlanSession,
    PlanSnapshot,
)
from coaching.models.plan_workflow import ChangePreferencesInput, WorkflowConfig


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
