"""What the plan's loop does with a notification that is due: skip it with its reason, or deliver it.

A delivery is retried (a device answering 503, FCM down) until its notification goes stale, and withdrawn sooner when
the plan changes so that the notification is no longer wanted: cancelled, paused, or its session done. Under
robust-plans each delivery runs beside the loop, so one being retried holds up no other notification; the loop is
woken when it finishes. Every outcome is written to the ledger and counted toward the daily cap.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError
from temporalio.workflow import ActivityCancellationType, ActivityHandle

with workflow.unsafe.imports_passed_through():
    from activities.plan_activities import PlanActivities
    from coaching.explain import activity_summary
    from coaching.models import (
        Action,
        Decision,
        DeliverInput,
        DeliverResult,
        LedgerStatus,
        NotificationType,
        PlannedNotification,
        PlanSnapshot,
        PlanStatus,
        PreparedContent,
        RecordSkipInput,
    )
    from coaching.schedule import FINAL_TYPES, SESSION_REMINDERS, Evaluation
    from coaching.timeutil import local_date

from workflows.plan_base import IO_RETRY, PlanWorkflowBase

#: Failure messages stay readable in the Web UI (Temporal refuses failures over its size limit).
_MAX_MESSAGE = 500
#: A notification id in ``handled`` whose delivery is running (never carried through continue-as-new).
_DELIVERING = "delivering"


class PlanDelivery(PlanWorkflowBase):
    """Skipping and delivering due notifications (a part of :class:`workflows.plan.CoachingPlanWorkflow`)."""

    async def _act_on_due(self, snapshot: PlanSnapshot, evaluation: Evaluation) -> Evaluation | None:
        """Skip or deliver what is due, in order. What is upcoming once the deliveries run beside the loop
        (robust-plans); None when the loop should evaluate again first."""
        for index, action in enumerate(evaluation.actions):
            if self._wake and index > 0:
                break  # a signal changed the plan: re-evaluate the rest (the first always goes, no starving)
            await self._apply(snapshot, action)
        if not self._robust or not self._deliveries:
            return None
        # The deliveries just started run beside the loop; what else is due, and when, is known now.
        after = self._evaluate(snapshot) or Evaluation()
        return None if after.actions else after

    async def _apply(self, snapshot: PlanSnapshot, action: Action) -> None:
        """Act on a due notification as the rules decided: record its skip, or deliver it."""
        n = action.notification
        prepared = self._preparations.take(snapshot, n)
        if action.decision is Decision.SKIP:
            reason = action.skip_reason or "skipped"
            self._state.handled[n.notification_id] = status = await self._record_skip(snapshot, n, reason)
            self._note(n, status, reason)
            return
        if not self._robust:
            await self._deliver(snapshot, n, prepared)
            return
        self._deliver_beside_loop(snapshot, n, prepared)

    def _deliver_beside_loop(
        self, snapshot: PlanSnapshot, n: PlannedNotification, prepared: PreparedContent | None
    ) -> None:
        """Start delivering ``n`` in a task of its own (robust-plans): a delivery being retried (a device answering
        503) holds up no other notification."""
        nid = n.notification_id
        self._state.handled[nid] = _DELIVERING  # not due again while it runs
        self._count_toward_cap(n, snapshot, workflow.now(), +1)  # in-flight counts: two due at once share the cap
        task = asyncio.create_task(self._deliver(snapshot, n, prepared))
        self._deliveries[nid] = task

        def finished(_: asyncio.Task[None]) -> None:
            self._deliveries.pop(nid, None)
            self._wake = True  # the loop re-plans with the outcome (and the cap as it really is)

        task.add_done_callback(finished)

    async def _deliver(self, snapshot: PlanSnapshot, n: PlannedNotification, prepared: PreparedContent | None) -> None:
        """Deliver ``n``, withdrawn if it stops being wanted meanwhile; remember the outcome and count it."""
        now = workflow.now()
        delivery = self._start_delivery(snapshot, n, prepared, now)
        withdrawn = await self._withdraw_when_unwanted(n, delivery)
        status, outcome = await self._delivery_outcome(snapshot, n, delivery, withdrawn)
        self._state.handled[n.notification_id] = status
        self._note(n, status, outcome)
        if self._robust:
            if status is not LedgerStatus.SENT:
                self._count_toward_cap(n, snapshot, now, -1)  # counted when it started
        elif status is LedgerStatus.SENT:
            self._count_toward_cap(n, snapshot, now, +1)

    def _start_delivery(
        self, snapshot: PlanSnapshot, n: PlannedNotification, prepared: PreparedContent | None, now: datetime
    ) -> ActivityHandle[DeliverResult]:
        # Retrying past the moment the notification stops making sense would only deliver something stale.
        budget = max(n.expires_at - now, timedelta(minutes=1))
        return workflow.start_activity_method(
            PlanActivities.deliver_notification,
            DeliverInput(
                plan_id=self._plan_id,
                user_id=snapshot.user_id,
                notification=n,
                tone=snapshot.prefs.coaching_tone,
                timezone=snapshot.prefs.timezone,
                prefer_metric=snapshot.prefs.prefer_metric,
                # A pause or resume signal is newer than the row: only without one does the row's 'paused' count.
                honor_database_pause=not self._state.status_signalled,
                content=prepared,
            ),
            start_to_close_timeout=self._timeout,
            schedule_to_close_timeout=budget,
            heartbeat_timeout=self._timeout,
            retry_policy=IO_RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=activity_summary("deliver", n),
        )

    async def _withdraw_when_unwanted(self, n: PlannedNotification, delivery: ActivityHandle[DeliverResult]) -> bool:
        """Wait until the delivery is done, or cancel it first if ``n`` stops being wanted; True when withdrawn.

        A delivery that is being retried must not outlive the reason for it: cancel, pause, or the session done.
        """
        await workflow.wait_condition(lambda: delivery.done() or self._unwanted(n))
        if delivery.done():
            return False
        # WAIT_CANCELLATION_COMPLETED: an attempt that already pushed finishes its ledger write first, so the ledger
        # (and the skip recorded for a withdrawal, which never overwrites 'sent') tell what really happened.
        delivery.cancel()
        return True

    def _unwanted(self, n: PlannedNotification) -> bool:
        """Whether the plan changed so that ``n`` is no longer wanted (checked while its delivery is retried)."""
        if self._state.status is PlanStatus.CANCELLED:
            return True
        if self._state.status is PlanStatus.COMPLETED:
            return n.type not in FINAL_TYPES
        if self._state.status is PlanStatus.PAUSED:
            return n.type is not NotificationType.COMPLETION_CELEBRATION
        if n.type in SESSION_REMINDERS and n.plan_session_id is not None:
            return any(c.plan_session_id == n.plan_session_id for c in self._state.completions)
        return False

    async def _delivery_outcome(
        self,
        snapshot: PlanSnapshot,
        n: PlannedNotification,
        delivery: ActivityHandle[DeliverResult],
        withdrawn: bool,
    ) -> tuple[LedgerStatus, str]:
        """The ledger's status of the delivery, and why: what it answered, or the skip or failure recorded instead."""
        try:
            result = await delivery
        except ActivityError as err:
            if withdrawn:
                outcome = f"withdrawn: the plan became {self._state.status.value} or the session was done"
                return await self._record_skip(snapshot, n, outcome), outcome
            return await self._record_failure(snapshot, n, err)
        if result.status is LedgerStatus.SKIPPED and result.detail.startswith("plan_"):
            self._state.needs_reload = True  # the database says the plan changed without telling us
        return result.status, f"{result.detail}; timed: {n.reason}" if result.detail else n.reason

    async def _record_failure(
        self, snapshot: PlanSnapshot, n: PlannedNotification, err: ActivityError
    ) -> tuple[LedgerStatus, str]:
        """Delivery gave up: write the failure to the ledger (if even that works), and why it failed."""
        workflow.logger.warning("delivery of %s failed for good: %s", n.notification_id, err.cause or err)
        outcome = f"failed: {err.cause or err}"[:_MAX_MESSAGE]
        try:
            return await self._record_skip(snapshot, n, outcome, failed=True), outcome
        except ActivityError:
            # Even the ledger refused (bad data): the plan goes on; both failures are in the history.
            return LedgerStatus.FAILED, outcome

    async def _record_skip(
        self, snapshot: PlanSnapshot, n: PlannedNotification, reason: str, failed: bool = False
    ) -> LedgerStatus:
        """Write a skipped (or, after delivery gave up, failed) ledger row with its reason; the ledger's status."""
        result = await self._io(
            PlanActivities.record_skip,
            RecordSkipInput(
                plan_id=self._plan_id, user_id=snapshot.user_id, notification=n, reason=reason, failed=failed
            ),
            activity_summary("record failure" if failed else "record skip", n),
        )
        return result.status

    def _count_toward_cap(self, n: PlannedNotification, snapshot: PlanSnapshot, at: datetime, by: int) -> None:
        if n.counts_toward_cap:
            day = local_date(at, snapshot.prefs.timezone).isoformat()
            self._state.sent_per_local_day[day] = self._state.sent_per_local_day.get(day, 0) + by
