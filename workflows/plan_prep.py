"""Copy prepared ahead: the text of a notification (weather, AI) written before it is due, beside the plan's loop.

The loop starts a ``prepare_content`` activity for each notification due within the lead time and never awaits it;
delivery takes whatever is finished by the due time and still matches the notification, or renders the template.
The running preparations are deliberately not in the workflow's state: continue-as-new drops them, and the next
run prepares again if there is still time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityHandle

with workflow.unsafe.imports_passed_through():
    from activities.plan_activities import PlanActivities
    from coaching.explain import activity_summary, notification_label
    from coaching.models import (
        NotificationType,
        PlannedNotification,
        PlanSnapshot,
        PrepareContentInput,
        PreparedContent,
        WorkflowConfig,
        content_fingerprint,
    )
    from coaching.schedule import Evaluation
    from coaching.timeutil import clock_minute, local_to_utc

#: Types whose copy carries the weather at the session's start, so they are prepared even without AI.
_WEATHER_TYPES = frozenset({NotificationType.EVENING_BRIEF, NotificationType.MORNING_HYPE})
#: Less time than this before the due time is not worth starting a preparation for.
_MIN_PREPARE = timedelta(seconds=1)
_PREPARE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=3)


class ContentPreparations:
    """The preparations of one workflow run, by notification id."""

    def __init__(self) -> None:
        self._lead = timedelta(0)
        self._ai_types: frozenset[NotificationType] = frozenset()
        #: notification id -> (fingerprint it was started for, the running or finished preparation).
        self._running: dict[str, tuple[str, ActivityHandle[PreparedContent]]] = {}

    def configure(self, config: WorkflowConfig) -> None:
        """Take the lead time and the AI's types from the workflow's configuration."""
        self._lead = timedelta(seconds=config.content_lead_seconds)
        self._ai_types = frozenset(config.ai_types)

    def start_due(self, plan_id: int, snapshot: PlanSnapshot, evaluation: Evaluation) -> datetime | None:
        """Start preparing the copy of every notification due within the lead time; when to wake for the next.

        Preparations run beside the loop (never awaited here): delivery takes whatever is finished by the due time.
        """
        now = workflow.now()
        prefs = snapshot.prefs
        upcoming = {n.notification_id: n for n in evaluation.upcoming}
        for nid in [k for k in self._running if k not in upcoming]:
            self._drop(nid)  # moved or gone: its notification id is not due any more
        next_start: datetime | None = None
        for n in evaluation.upcoming:
            if not self._prepares(n) or n.send_at - now < _MIN_PREPARE:
                continue
            starts_at = n.send_at - self._lead
            if starts_at > now:
                next_start = starts_at if next_start is None or starts_at < next_start else next_start
                continue
            fingerprint = content_fingerprint(n, prefs.coaching_tone, prefs.prefer_metric)
            current = self._running.get(n.notification_id)
            if current is not None and current[0] == fingerprint and not _failed(current[1]):
                continue
            self._drop(n.notification_id)
            handle = workflow.start_activity_method(
                PlanActivities.prepare_content,
                PrepareContentInput(
                    plan_id=plan_id,
                    user_id=snapshot.user_id,
                    notification=n,
                    tone=prefs.coaching_tone,
                    timezone=prefs.timezone,
                    prefer_metric=prefs.prefer_metric,
                    session_start=_session_start(n, prefs.timezone),
                    use_ai=n.type in self._ai_types,
                ),
                # Useless after the due time: delivery will not wait for it.
                schedule_to_close_timeout=n.send_at - now,
                retry_policy=_PREPARE_RETRY,
                summary=activity_summary("prepare copy", n),
            )
            handle.add_done_callback(_retrieve)
            self._running[n.notification_id] = (fingerprint, handle)
        return next_start

    def timer_summary(self, snapshot: PlanSnapshot, evaluation: Evaluation, at: datetime) -> str:
        """What a wake-up ``at`` (as :meth:`start_due` answered) is for, named in the Web UI's timer."""
        for n in evaluation.upcoming:
            if self._prepares(n) and n.send_at - self._lead == at:
                return f"prepare copy: {notification_label(n, snapshot.prefs.timezone)}"
        return "prepare copy"

    def take(self, snapshot: PlanSnapshot, n: PlannedNotification) -> PreparedContent | None:
        """The prepared copy of ``n`` if it is finished and still matches ``n``; the preparation is forgotten."""
        entry = self._running.get(n.notification_id)
        if entry is None:
            return None
        self._drop(n.notification_id)  # unfinished: cancelled, delivery never waits for it
        fingerprint, handle = entry
        if not handle.done() or _failed(handle):
            return None
        result = handle.result()
        current = content_fingerprint(n, snapshot.prefs.coaching_tone, snapshot.prefs.prefer_metric)
        if fingerprint != current or result.fingerprint != current:
            return None  # the plan changed since: the prepared text describes something else
        return result

    def drop_all(self) -> None:
        """Cancel what is still running (the plan ends, or its next run prepares again what is still ahead)."""
        for notification_id in list(self._running):
            self._drop(notification_id)

    def _prepares(self, n: PlannedNotification) -> bool:
        return n.type in self._ai_types or n.type in _WEATHER_TYPES

    def _drop(self, notification_id: str) -> None:
        entry = self._running.pop(notification_id, None)
        if entry is not None and not entry[1].done():
            entry[1].cancel()


def _failed(handle: ActivityHandle[PreparedContent]) -> bool:
    return handle.done() and (handle.cancelled() or handle.exception() is not None)


def _retrieve(handle: ActivityHandle[PreparedContent]) -> None:
    """Mark a preparation's failure as seen: a failed preparation only means the template is used."""
    if not handle.cancelled():
        handle.exception()


def _session_start(n: PlannedNotification, timezone: str) -> datetime | None:
    """When the notification's session starts (its local date and start time), if the facts say."""
    day, clock = n.facts.get("session_date"), n.facts.get("start_time")
    if not day or not clock:
        return None
    try:
        return local_to_utc(date.fromisoformat(day), clock_minute(clock), timezone)
    except ValueError:
        return None
