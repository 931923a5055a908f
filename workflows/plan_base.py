"""What every part of the plan workflow shares: the fields of one run, and the few things every part does.

:class:`workflows.plan.CoachingPlanWorkflow` is made of parts, each in its own module (delivery, the plan's ending,
the athlete's changes), all built on :class:`PlanWorkflowBase`. It holds the run's fields (the entity state is
``_state``, carried through continue-as-new; the rest each run builds again), evaluates the rules, changes the
status, sleeps, calls database activities, and keeps what the plan shows: the ``status`` query, the Web UI's current
details and the search attributes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from activities.plan_activities import PlanActivities
    from coaching import ids
    from coaching.explain import MAX_ROWS, Outcome, current_details
    from coaching.models import (
        CadenceSnapshot,
        LedgerStatus,
        PausePeriod,
        PlannedNotification,
        PlanSnapshot,
        PlanState,
        PlanStatus,
        PlanStatusResult,
        UpcomingNotification,
        WorkflowConfig,
    )
    from coaching.schedule import RULES_V1, RULES_V2, Evaluation, active_snooze, evaluate
    from coaching.timeutil import format_local

from workflows.plan_prep import ContentPreparations

STATUS_KEY = SearchAttributeKey.for_keyword(ids.SEARCH_ATTRIBUTE_STATUS)
NEXT_AT_KEY = SearchAttributeKey.for_datetime(ids.SEARCH_ATTRIBUTE_NEXT_AT)
NEXT_TYPE_KEY = SearchAttributeKey.for_keyword(ids.SEARCH_ATTRIBUTE_NEXT_TYPE)
#: The statuses a plan does not leave: nothing is sent any more, and the athlete has nothing left to change.
TERMINAL = (PlanStatus.CANCELLED, PlanStatus.COMPLETED)
#: Retries of I/O: quick at first, then patient; delivery additionally stops when the notification goes stale.
IO_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=2)
)
_In = TypeVar("_In")
_Out = TypeVar("_Out")


class PlanWorkflowBase:
    """The fields of one run of a plan's workflow, and what every part of it does with them."""

    def __init__(self) -> None:
        self._plan_id = 0
        self._state = PlanState()
        self._wake = False
        self._published: tuple[str, datetime | None, str | None] | None = None
        self._last_upcoming: list[UpcomingNotification] = []
        self._timeout = timedelta(seconds=60)
        self._adaptive = False
        #: The last cadence signalled, and how many have arrived: a load that was in flight when one arrived read the
        #: database before it, so the signalled one is newer.
        self._signalled_cadence: CadenceSnapshot | None = None
        self._cadence_signals = 0
        self._prepare = False
        self._preparations = ContentPreparations()
        #: Serialises the athlete's saves, and loads with them (a deterministic asyncio lock: Temporal runs the
        #: workflow's event loop).
        self._saving = asyncio.Lock()
        self._robust = False
        self._config = WorkflowConfig()
        #: Deliveries running beside the loop (robust-plans), by notification id.
        self._deliveries: dict[str, asyncio.Task[None]] = {}
        #: When the database was last read while the plan was paused by the database alone (robust-plans).
        self._paused_read_at: datetime | None = None
        self._end_reason = ""
        #: Which version of coaching.schedule's rules this run evaluates with (timing-rules-v2).
        self._rules = RULES_V1
        #: What this run sent or skipped lately, and why (for the Web UI's current details; not carried over).
        self._recent: list[Outcome] = []
        self._upcoming_planned: list[PlannedNotification] = []

    def _configure(self, config: WorkflowConfig) -> None:
        """Apply the operational settings (from the input, then from the worker at each load: robust-plans)."""
        self._config = config
        self._timeout = timedelta(seconds=config.activity_timeout_seconds)
        self._preparations.configure(config)

    def _evaluate(self, snapshot: PlanSnapshot) -> Evaluation | None:
        """The rules' decision now; None (logged) when they fail on this plan's data, so the plan waits and tries
        again later instead of failing its workflow task over and over."""
        try:
            return evaluate(snapshot, self._state, workflow.now(), adaptive=self._adaptive, rules=self._rules)
        except Exception as err:  # the rules are pure: nothing here is Temporal's own
            workflow.logger.error("plan %s: the schedule's rules failed (%r); trying again later", self._plan_id, err)
            return None

    def _set_status(self, status: PlanStatus) -> None:
        """Change the plan's status; under timing-rules-v2 a pause opens a pause period and its end closes it."""
        if self._rules >= RULES_V2:
            pauses = self._state.pauses
            paused_now = bool(pauses) and pauses[-1].end is None
            if status is PlanStatus.PAUSED and not paused_now:
                pauses.append(PausePeriod(start=workflow.now()))
            elif status is not PlanStatus.PAUSED and paused_now:
                pauses[-1].end = workflow.now()
        self._state.status = status

    async def _sleep_until(self, wake_at: datetime | None, summary: str | None = None) -> None:
        """Wait for a signal or ``wake_at``; the timer is named ``summary`` in the Web UI (what it waits for)."""
        timeout = None if wake_at is None else max(wake_at - workflow.now(), timedelta(seconds=1))
        try:
            await workflow.wait_condition(
                lambda: self._wake, timeout=timeout, timeout_summary=summary if timeout is not None else None
            )
        except TimeoutError:
            pass

    def _count(self, *statuses: LedgerStatus) -> int:
        return sum(1 for v in self._state.handled.values() if v in statuses)

    # --- database I/O ------------------------------------------------------------------------------------

    async def _io(
        self, activity: Callable[[PlanActivities, _In], Awaitable[_Out]], arg: _In, summary: str | None = None
    ) -> _Out:
        """A database activity: the configured timeout and patient retries (a database outage only delays)."""
        return await workflow.execute_activity_method(
            activity, arg, start_to_close_timeout=self._timeout, retry_policy=IO_RETRY, summary=summary
        )

    # --- visibility: the status query, the Web UI's current details, the search attributes -------------------

    @workflow.query
    def status(self) -> PlanStatusResult:
        snapshot = self._state.snapshot
        return PlanStatusResult(
            plan_id=self._plan_id,
            status=self._state.status,
            timezone=snapshot.prefs.timezone if snapshot else "UTC",
            upcoming=self._last_upcoming,
            completions=len(self._state.completions),
            sent=self._count(LedgerStatus.SENT),
            skipped=self._count(LedgerStatus.SKIPPED),
            snoozed_until=active_snooze(self._state, workflow.now()),
        )

    def _remember_upcoming(self, snapshot: PlanSnapshot, evaluation: Evaluation) -> None:
        tz = snapshot.prefs.timezone
        self._last_upcoming = [
            UpcomingNotification(
                notification_id=n.notification_id,
                type=n.type,
                plan_session_id=n.plan_session_id,
                send_at=n.send_at,
                send_at_local=format_local(n.send_at, tz),
                reason=n.reason,
            )
            for n in evaluation.upcoming
        ]
        self._upcoming_planned = list(evaluation.upcoming)
        self._show_details()

    def _note(self, n: PlannedNotification, status: LedgerStatus | str, reason: str) -> None:
        """Remember what became of ``n`` for the current details (the last few only)."""
        self._recent.append(Outcome(n.notification_id, n.type, n.plan_session_id, workflow.now(), str(status), reason))
        del self._recent[:-MAX_ROWS]
        self._show_details()

    def _show_details(self) -> None:
        """The Web UI's current details: the next notifications with their times and reasons, the last outcomes."""
        workflow.set_current_details(
            current_details(
                self._plan_id,
                self._state.snapshot,
                self._state.status,
                self._upcoming_planned,
                self._recent,
                snoozed_until=active_snooze(self._state, workflow.now()),
                end_reason=self._end_reason,
            )
        )

    def _publish(self, evaluation: Evaluation) -> None:
        nxt = evaluation.upcoming[0] if evaluation.upcoming else None
        published = (self._state.status.value, nxt.send_at if nxt else None, nxt.type.value if nxt else None)
        if published == self._published:
            return
        self._published = published
        status, next_at, next_type = published
        workflow.upsert_search_attributes(
            [
                STATUS_KEY.value_set(status),
                NEXT_AT_KEY.value_set(next_at) if next_at else NEXT_AT_KEY.value_unset(),
                NEXT_TYPE_KEY.value_set(next_type) if next_type else NEXT_TYPE_KEY.value_unset(),
            ]
        )
