"""Activities of the plan workflow: load the plan, deliver a notification, keep the ledger.

Delivery writes the ledger row first, then pushes token by token, recording FCM's answer for each token in
``coach_push_deliveries`` the moment it arrives, then records the outcome in the ledger. Every attempt reads both
first: a notification the ledger marks sent, or that any token already has, is never pushed again. What still slips
through (the process killed between FCM accepting a push and that token's row committing) is a repeat with the same
collapse id, which the device shows once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from coaching.content import Content, PlanContentFactory, render, resolve_tone
from coaching.models import (
    HELD_BY_KILL_SWITCH,
    DeliverInput,
    DeliverResult,
    LedgerStatus,
    LoadPlanInput,
    LoadPlanResult,
    NotificationType,
    PlannedNotification,
    PrepareContentInput,
    PreparedContent,
    RecordCompletionInput,
    RecordPlanEndInput,
    RecordScheduleInput,
    RecordSkipInput,
    RefreshCadenceInput,
    RefreshCadenceResult,
    SavePreferencesInput,
    SavePreferencesResult,
    SaveRescheduleInput,
    SaveRescheduleResult,
    SaveSnoozeInput,
    WorkflowConfig,
    content_fingerprint,
    ledger_final,
)
from coaching.payload import PushMessage, build_push_message
from coaching.preferences import CHANGE_REJECTED, GONE_PLAN, GONE_SESSION, ChangeRejected
from coaching.timeutil import local_date, local_to_utc

if TYPE_CHECKING:
    # Only the worker needs these (SQLAlchemy, firebase-admin, the OpenAI SDK): the workflow module imports this one
    # for its activity references, and the CLI and API import the workflow module, so they are imported where used.
    from activities.ai_copy import AiCopywriter
    from activities.cadence_store import CadenceStore
    from activities.preferences_store import PreferencesStore
    from activities.push import Pusher, TokenOutcome
    from activities.rollout import Decision, RolloutFlags
    from activities.store import Store
    from activities.weather import WeatherService

#: The types whose copy mentions the weather at the session's start.
WEATHER_TYPES = frozenset({NotificationType.EVENING_BRIEF, NotificationType.MORNING_HYPE})

_A = TypeVar("_A")
_R = TypeVar("_R")


#: The ApplicationError type of a permanent failure (bad data): never retried.
BAD_DATA = "BadData"
#: Failure messages stay short and readable in the Web UI (and under Temporal's failure size limit).
_MAX_MESSAGE = 500


def is_permanent(err: BaseException) -> bool:
    """Whether retrying ``err`` can never help: bad data in Python (ValueError, TypeError, OverflowError) or a
    refusal by the database (a constraint, an invalid value: SQLSTATE classes 22 and 23). A lost connection, a
    timeout or a server shutting down is an outage: retried."""
    from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

    if isinstance(err, (IntegrityError, DataError)):
        return True
    if isinstance(err, StatementError) and not isinstance(err, DBAPIError):
        return True  # a value could not even be bound (e.g. a naive datetime)
    if isinstance(err, DBAPIError):
        state = str(getattr(err.orig, "sqlstate", "") or getattr(err.orig, "pgcode", "") or "")
        # asyncpg refuses some values before sending them (e.g. out of a column's integer range): a ValueError.
        return state[:2] in ("22", "23") or isinstance(getattr(err.orig, "__cause__", None), ValueError)
    return isinstance(err, (ValueError, TypeError, ArithmeticError))


def _bad_data_is_permanent(fn: Callable[[Any, _A], Awaitable[_R]]) -> Callable[[Any, _A], Awaitable[_R]]:
    """Data that cannot be processed (a malformed id, an impossible value, a constraint the database enforces) fails
    for good, with a short message, instead of retrying forever; outages keep their retries."""

    @functools.wraps(fn)
    async def wrapper(self: Any, input: _A) -> _R:
        try:
            return await fn(self, input)
        except Exception as err:
            if not is_permanent(err):
                raise
            message = f"bad data: {type(err).__name__}: {err}"
            raise ApplicationError(message[:_MAX_MESSAGE], type=BAD_DATA, non_retryable=True) from None

    return wrapper


@dataclass
class PlanActivities:
    """Activities share clients built once by the worker: the sessionmaker (inside ``store``), the pusher and,
    when configured, the AI copywriter and the weather service (None: templates only, no weather line)."""

    store: Store
    pusher: Pusher
    cadence: CadenceStore | None = None
    copywriter: AiCopywriter | None = None
    weather: WeatherService | None = None
    #: AI-written notifications per athlete and local day; the rest get the template.
    ai_daily_budget: int = 3
    #: The worker's operational settings for the plan workflows, handed to each at its loads (None: the workflow
    #: keeps the configuration it was started with).
    config: WorkflowConfig | None = None
    #: The rollout flags (off / shadow / live per athlete, kill switch, AI copy), read at send time; None: every
    #: athlete is live and AI copy on (no rollout controls).
    rollout: RolloutFlags | None = None
    #: While the kill switch is on, a due delivery is tried again after this long (until its staleness limit).
    kill_switch_retry_seconds: float = 30.0

    def __post_init__(self) -> None:
        from activities.cadence_store import CadenceStore
        from activities.reconcile_store import ReconcileStore

        if self.cadence is None:
            self.cadence = CadenceStore(self.store.sessionmaker)
        self.runs = ReconcileStore(self.store.sessionmaker)

    @activity.defn
    @_bad_data_is_permanent
    async def load_plan(self, input: LoadPlanInput) -> LoadPlanResult:
        snapshot = await self.store.load_plan_snapshot(input.plan_id)
        if snapshot is not None:
            now = _server_now()
            # The zone history lets the cadence analyzer read each ruck in the zone the athlete was in.
            assert self.cadence is not None
            await self.cadence.note_timezone(snapshot.user_id, snapshot.prefs.timezone, now)
            # The reconciler's record: a workflow runs for the plan and has seen the plan's status in the database.
            await self.runs.record_started([(snapshot.plan_id, snapshot.user_id, snapshot.status.value)], now)
        return LoadPlanResult(snapshot=snapshot, config=self.config)

    @activity.defn
    @_bad_data_is_permanent
    async def record_plan_end(self, input: RecordPlanEndInput) -> None:
        """The plan's workflow is ending: the reconciler starts it again only if the plan comes back to life."""
        await self.runs.record_ended(input.plan_id, input.status.value, input.reason, _server_now())

    @activity.defn
    @_bad_data_is_permanent
    async def refresh_cadence(self, input: RefreshCadenceInput) -> RefreshCadenceResult:
        """Re-learn the athlete's cadence now (after a completed ruck) and return it as stored for this plan."""
        assert self.cadence is not None
        analyses = await self.cadence.analyze_athletes([input.user_id], _server_now())
        await self.cadence.save(analyses)
        return RefreshCadenceResult(cadence=await self.cadence.stored(input.plan_id))

    @activity.defn
    @_bad_data_is_permanent
    async def prepare_content(self, input: PrepareContentInput) -> PreparedContent:
        """The copy of a notification about to be due: weather line, then AI copy when allowed, else the template.

        Never fails for want of AI or weather (both fall back); the workflow delivers without it anyway when this
        is late, so it is only ever an improvement.
        """
        n = input.notification
        facts = dict(n.facts)
        weather = None
        if self.weather is not None and n.type in WEATHER_TYPES and input.session_start is not None:
            weather = await self.weather.phrase_for(
                input.user_id, input.session_start, prefer_metric=input.prefer_metric
            )
            if weather:
                facts["weather"] = weather
        content: Content | None = None
        reason: str | None
        if not input.use_ai:
            reason = "type_not_ai"
        elif self.rollout is not None and not await self.rollout.ai_copy(input.user_id, n.type):
            reason = "rollout_ai_off"
        elif self.copywriter is None:
            reason = "not_configured"
        elif await self._ai_budget_used(input):
            reason = "daily_budget"
        else:
            activity.heartbeat()
            result = await self.copywriter.compose(n.type, input.tone, facts)
            content, reason = result.content, (None if result.ok else result.reason)
        if content is None:
            content = PlanContentFactory(input.tone, prefer_metric=input.prefer_metric).compose(
                n.type, facts, notification_id=n.notification_id
            )
        activity.logger.info("prepared %s: %s copy (%s)", n.notification_id, content.source, reason or "ok")
        from activities import metrics

        metrics.copy(n.type, content.source, reason)
        return PreparedContent(
            title=content.title,
            body=content.body,
            source=content.source,
            ai_fallback_reason=reason,
            weather=weather,
            fingerprint=content_fingerprint(n, input.tone, input.prefer_metric),
        )

    async def _ai_budget_used(self, input: PrepareContentInput) -> bool:
        day = local_date(input.notification.send_at, input.timezone)
        start = local_to_utc(day, 0, input.timezone)
        end = local_to_utc(day + timedelta(days=1), 0, input.timezone)
        return await self.store.ai_copy_count(input.user_id, start, end) >= self.ai_daily_budget

    @activity.defn
    @_bad_data_is_permanent
    async def deliver_notification(self, input: DeliverInput) -> DeliverResult:
        """Push one notification to the athlete's devices (:meth:`_deliver`), and count its outcome."""
        result = await self._deliver(input)
        if not result.already_recorded:
            _count(input.notification, result)
        return result

    async def _deliver(self, input: DeliverInput) -> DeliverResult:
        """Push one notification to the athlete's devices, at most once per device, and record what happened.

        An attempt: the ledger row (one already sent, shadow or skipped ends here, unless held by the kill switch);
        what earlier attempts recorded per token (once FCM took it for any device the athlete has it: the ledger says
        sent and nothing is pushed again); the athlete's rollout mode, read now (kill switch: held, see
        :meth:`_held`; off: skipped ``rollout_off``; shadow: everything below but the push, recorded ``shadow``);
        the notification's staleness limit; the database's last word (plan or session gone); then one push per
        active token not already refused for good, each answer recorded in ``coach_push_deliveries`` the moment it
        arrives. A token that failed transiently is retried (by Temporal) only while no device has the notification,
        and only until its staleness limit.
        """
        from activities import metrics
        from activities.push import PushRetryableError, PushTarget
        from activities.rollout import KILL_SWITCH_REASON, ROLLOUT_OFF_REASON, Mode

        started = asyncio.get_running_loop().time()
        n = input.notification
        # One transaction for everything read before the push (ledger, earlier attempts, blocker, tokens).
        start = await self.store.begin_delivery(input.plan_id, input.user_id, n, honor_pause=input.honor_database_pause)
        row = start.row
        if ledger_final(row.status, row.reason):
            activity.logger.info(
                "notification %s already %s in the ledger; not sending again", n.notification_id, row.status
            )
            return DeliverResult(
                notification_id=n.notification_id,
                status=LedgerStatus(row.status),
                already_recorded=True,
                detail=row.reason or "",
            )

        message, payload, copy_source = _compose(input)
        earlier = start.earlier
        # The table is the record; the heartbeat may hold a token whose row could not be written (database outage).
        reached = {d.token_id for d in earlier if d.outcome == "sent"} | _sent_tokens_from_heartbeat()
        if reached:
            activity.logger.info("%s reached a device in an earlier attempt; not pushing again", n.notification_id)
            return await self._sent(n, payload, copy_source, reached)

        decision = await self._decide(input)
        if decision.rule == KILL_SWITCH_REASON:
            return await self._held(input)
        if decision.mode is Mode.OFF:
            reason = f"{ROLLOUT_OFF_REASON}: the athlete's rollout mode is off ({decision.rule})"
            row = await self.store.ledger_skip(input.plan_id, input.user_id, n, reason)
            return DeliverResult(notification_id=n.notification_id, status=LedgerStatus(row.status), detail=reason)

        now = _now()
        if now >= n.expires_at:
            return await self._too_late(input, payload, copy_source)
        blocker = start.blocker
        if blocker is not None:
            await self.store.ledger_skip(input.plan_id, input.user_id, n, blocker)
            activity.logger.info("not sending %s: %s", n.notification_id, blocker.split(":", 1)[0])
            return DeliverResult(notification_id=n.notification_id, status=LedgerStatus.SKIPPED, detail=blocker)

        tokens = start.tokens
        if not tokens:
            return await self._undelivered(
                n, LedgerStatus.SKIPPED, "no_device: the athlete has no active push token", payload, copy_source
            )
        refused = {d.token_id for d in earlier if d.outcome == "rejected"}
        targets = [PushTarget(token_id=t.id, token=t.fcm_token) for t in tokens if t.fcm_token and t.id not in refused]
        if not targets:
            reason = "no device token left to try: FCM refused this notification for good on every one"
            return await self._undelivered(n, LedgerStatus.FAILED, reason, payload, copy_source)
        if decision.mode is Mode.SHADOW:
            return await self._shadow(n, payload, copy_source, decision, len(targets))

        answered_at = _server_now()

        async def record(outcome: TokenOutcome) -> None:
            """FCM's answer for one token, made durable before anything else can go wrong."""
            if not outcome.ok:
                metrics.fcm_error(outcome.error)
            if outcome.ok:
                reached.add(outcome.token_id)
                activity.heartbeat(sorted(reached))
                await self.store.record_push_delivery(
                    n.notification_id, outcome.token_id, "sent", at=answered_at, message_id=outcome.message_id
                )
            elif not outcome.retryable:
                await self.store.record_push_delivery(
                    n.notification_id, outcome.token_id, "rejected", at=answered_at, error=outcome.error
                )

        transient: PushRetryableError | None = None
        try:
            async with _heartbeating(lambda: sorted(reached)):
                outcomes = await self.pusher.send(message, targets, on_outcome=record, deadline=_deadline(started))
        except PushRetryableError as err:
            outcomes, transient = err.outcomes, err
        except asyncio.CancelledError:
            # Withdrawn or the worker is stopping; pushes already on the wire were waited for and recorded. If one
            # reached a device the ledger must say so (shielded), then the cancellation goes on.
            if reached:
                await asyncio.shield(self._record_sent(n, payload, copy_source, len(reached)))
            raise

        deactivated = await self._deactivate([o for o in outcomes if o.unregistered])
        if reached:
            # The athlete has it: a device that failed now (even transiently) is not tried again.
            return await self._sent(n, payload, copy_source, reached, deactivated, [o for o in outcomes if not o.ok])
        if transient is not None:
            delay = timedelta(seconds=transient.retry_after) if transient.retry_after else None
            if delay is not None and _now() + delay >= n.expires_at:
                reason = (
                    f"stale: FCM asked to retry after {transient.retry_after:.0f} s, past {_utc(n.expires_at)}, the "
                    f"notification's last useful moment ({transient})"
                )
                return await self._undelivered(n, LedgerStatus.FAILED, reason[:500], payload, copy_source, deactivated)
            raise ApplicationError(
                f"push temporarily refused: {transient}", type="PushRetryable", next_retry_delay=delay
            ) from transient
        refusals = [o for o in outcomes if not o.ok]
        if all(o.unregistered for o in refusals):
            reason = "every device token was rejected as unregistered or invalid"
        else:  # the message itself (or the project's credentials): the same request would be refused again
            reason = f"FCM refused it for good on every device: {next(o for o in refusals if not o.unregistered).error}"
        return await self._undelivered(n, LedgerStatus.FAILED, reason[:500], payload, copy_source, deactivated)

    @activity.defn
    @_bad_data_is_permanent
    async def record_skip(self, input: RecordSkipInput) -> DeliverResult:
        result = await self._record_skip(input)
        _count(input.notification, result)
        return result

    async def _record_skip(self, input: RecordSkipInput) -> DeliverResult:
        n = input.notification
        if input.failed:
            await self.store.ledger_begin(input.plan_id, input.user_id, n)
            await self.store.ledger_finish(
                n.notification_id, LedgerStatus.FAILED, payload={}, sent_at=None, reason=input.reason
            )
            return DeliverResult(notification_id=n.notification_id, status=LedgerStatus.FAILED, detail=input.reason)
        row = await self.store.ledger_skip(input.plan_id, input.user_id, n, input.reason)
        activity.logger.info("skipped %s: %s", n.notification_id, input.reason.split(":", 1)[0])
        return DeliverResult(
            notification_id=n.notification_id, status=LedgerStatus(row.status), detail=row.reason or ""
        )

    @activity.defn
    @_bad_data_is_permanent
    async def record_completion(self, input: RecordCompletionInput) -> None:
        c = input.completion
        if c.plan_session_id is not None and await self._writes_rucktracker_sessions(input.plan_id):
            await self.store.record_completion(input.plan_id, c.plan_session_id, c.ruck_id, c.local_date)

    @activity.defn
    @_bad_data_is_permanent
    async def record_schedule(self, input: RecordScheduleInput) -> None:
        if await self._writes_rucktracker_sessions(input.plan_id):
            await self.store.set_next_notifications(input.plan_id, input.next_by_session)

    @activity.defn
    @_bad_data_is_permanent
    async def save_preferences(self, input: SavePreferencesInput) -> SavePreferencesResult:
        """Store an athlete's accepted preference change; the plan's preferences as a reload would now read them."""
        preferences = _preferences(self.store)
        try:
            await preferences.save_preferences(input.user_id, input.change)
        except ChangeRejected as err:  # the database refused a value, or the athlete is gone: permanent
            raise ApplicationError(err.message, err.field, err.code, type=CHANGE_REJECTED, non_retryable=True) from None
        prefs = await preferences.plan_preferences(input.plan_id)
        if prefs is None:
            raise ApplicationError(f"plan {input.plan_id} does not exist", type=GONE_PLAN, non_retryable=True)
        return SavePreferencesResult(prefs=prefs)

    @activity.defn
    @_bad_data_is_permanent
    async def save_snooze(self, input: SaveSnoozeInput) -> None:
        """Keep the athlete's snooze (or its end) with the plan, so it outlives the workflow's run."""
        if not await _preferences(self.store).save_snooze(input.plan_id, input.snoozed_until):
            raise ApplicationError(f"plan {input.plan_id} does not exist", type=GONE_PLAN, non_retryable=True)

    @activity.defn
    @_bad_data_is_permanent
    async def save_reschedule(self, input: SaveRescheduleInput) -> SaveRescheduleResult:
        """Move a session as the athlete asked (accepted by the workflow's validator)."""
        session = await _preferences(self.store).reschedule_session(
            input.plan_id, input.plan_session_id, input.scheduled_date, input.start_minute
        )
        if session is None:
            message = f"session {input.plan_session_id} is not in plan {input.plan_id}"
            raise ApplicationError(message, type=GONE_SESSION, non_retryable=True)
        return SaveRescheduleResult(session=session)

    async def _writes_rucktracker_sessions(self, plan_id: int) -> bool:
        """Whether the service writes RuckTracker's ``plan_sessions`` columns for this plan (a completion it matched,
        the next notification time): only for a live athlete. In shadow or off the legacy pipeline still owns them."""
        from activities.analytics_store import AnalyticsStore
        from activities.rollout import FlagsUnavailable, Mode

        if self.rollout is None:
            return True
        owner = await AnalyticsStore(self.store.sessionmaker).plan_owner(plan_id)
        if owner is None:
            return True  # the plan is gone: the write changes nothing anyway
        try:
            decision = await self.rollout.athlete_mode(owner)
        except FlagsUnavailable as err:
            raise ApplicationError(f"rollout flags unavailable: {err}", type="RolloutUnavailable") from None
        if decision.mode is not Mode.LIVE:
            activity.logger.info(
                "plan %s: athlete in %s mode; RuckTracker's session rows left alone", plan_id, decision.mode
            )
        return decision.mode is Mode.LIVE

    async def _decide(self, input: DeliverInput) -> Decision:
        """The athlete's rollout mode for this notification, read now (every athlete live without rollout flags)."""
        from activities.rollout import Decision, FlagsUnavailable, Mode

        if self.rollout is None:
            return Decision(Mode.LIVE, "default")
        try:
            return await self.rollout.decide(input.user_id, input.notification.type)
        except FlagsUnavailable as err:  # an outage of the flags' store: retried, never guessed
            raise ApplicationError(f"rollout flags unavailable: {err}", type="RolloutUnavailable") from None

    async def _held(self, input: DeliverInput) -> DeliverResult:
        """The kill switch is on: nothing is pushed; the ledger says ``kill_switch``. The delivery is tried again
        after :attr:`kill_switch_retry_seconds` while that is before the notification's staleness limit (so
        unflipping the switch resumes what is still useful); otherwise the skip is final."""
        from activities.rollout import KILL_SWITCH_REASON

        n = input.notification
        delay = timedelta(seconds=self.kill_switch_retry_seconds)
        final = _now() + delay >= n.expires_at
        if final:
            reason = (
                f"{KILL_SWITCH_REASON}: not sent: the rollout kill switch is on and the notification is stale before "
                f"its next try ({_utc(n.expires_at)})"
            )
        else:
            reason = (
                f"{HELD_BY_KILL_SWITCH}: the rollout kill switch is on; tried again every {delay.total_seconds():g} s"
            )
        row = await self.store.ledger_skip(input.plan_id, input.user_id, n, reason)
        if row.status is not LedgerStatus.SKIPPED or row.reason != reason:  # recorded otherwise meanwhile
            return DeliverResult(notification_id=n.notification_id, status=row.status, detail=row.reason or "")
        if final:
            activity.logger.info("not sending %s: kill switch (stale before the next try)", n.notification_id)
            return DeliverResult(notification_id=n.notification_id, status=LedgerStatus.SKIPPED, detail=reason)
        activity.logger.info("holding %s: kill switch on", n.notification_id)
        raise ApplicationError(
            f"held: the kill switch is on; tried again in {delay.total_seconds():g} s",
            type="KillSwitch",
            next_retry_delay=delay,
        )

    async def _shadow(
        self, n: PlannedNotification, payload: dict[str, Any], copy_source: str, decision: Decision, devices: int
    ) -> DeliverResult:
        """Shadow mode: the notification as it would have gone out (copy and data) is written with status
        ``shadow`` and the time it would have been pushed; nothing is pushed, RuckTracker's rows are not touched."""
        reason = f"shadow ({decision.rule}): would have been pushed to {devices} device(s); nothing was pushed"
        await self.store.ledger_finish(
            n.notification_id,
            LedgerStatus.SHADOW,
            payload=payload,
            sent_at=_server_now(),
            reason=reason,
            copy_source=copy_source,
        )
        activity.logger.info("shadow %s: not pushed (%s)", n.notification_id, decision.rule)
        return DeliverResult(notification_id=n.notification_id, status=LedgerStatus.SHADOW, detail=reason)

    async def _sent(
        self,
        n: PlannedNotification,
        payload: dict[str, Any],
        copy_source: str,
        reached: set[str],
        deactivated: int = 0,
        missed: list[TokenOutcome] | None = None,
    ) -> DeliverResult:
        """Record a notification that reached at least one device (whatever the others answered)."""
        reason = f"via {self.pusher.name} to {len(reached)} device(s)"
        if missed:
            reason += f"; {len(missed)} other device(s) not reached and not retried (the athlete has it)"
        # Shielded: a withdrawal arriving now must not leave the ledger saying less than what happened.
        await asyncio.shield(self._record_sent(n, payload, copy_source, len(reached), reason))
        activity.logger.info("sent %s via %s to %d device(s)", n.notification_id, self.pusher.name, len(reached))
        return DeliverResult(
            notification_id=n.notification_id,
            status=LedgerStatus.SENT,
            tokens_sent=len(reached),
            tokens_deactivated=deactivated,
            detail=reason,
        )

    async def _too_late(self, input: DeliverInput, payload: dict[str, Any], copy_source: str) -> DeliverResult:
        """The attempt begins after the notification's staleness limit: nothing is pushed, the ledger says why."""
        n = input.notification
        attempt = activity.info().attempt
        if attempt > 1:
            reason = (
                f"stale: not delivered before {_utc(n.expires_at)}, the notification's last useful moment "
                f"({attempt - 1} attempt(s) failed)"
            )
            return await self._undelivered(n, LedgerStatus.FAILED, reason, payload, copy_source)
        reason = f"stale: the delivery began after {_utc(n.expires_at)}, the notification's last useful moment"
        row = await self.store.ledger_skip(input.plan_id, input.user_id, n, reason)
        return DeliverResult(notification_id=n.notification_id, status=LedgerStatus(row.status), detail=reason)

    async def _record_sent(
        self, n: PlannedNotification, payload: dict[str, Any], copy_source: str, devices: int, reason: str = ""
    ) -> None:
        # The attempt's server time, not the host clock: identical in production, and right under time skipping.
        await self.store.finish_sent(
            n,
            payload=payload,
            sent_at=_server_now(),
            copy_source=copy_source,
            reason=reason or f"via {self.pusher.name} to {devices} device(s)",
        )

    async def _undelivered(
        self,
        n: PlannedNotification,
        status: LedgerStatus,
        reason: str,
        payload: dict[str, Any],
        copy_source: str,
        deactivated: int = 0,
    ) -> DeliverResult:
        """Record a notification that reached no device, and say why."""
        await self.store.ledger_finish(
            n.notification_id, status, payload=payload, sent_at=None, reason=reason, copy_source=copy_source
        )
        return DeliverResult(
            notification_id=n.notification_id, status=status, tokens_deactivated=deactivated, detail=reason
        )

    async def _deactivate(self, outcomes: list[TokenOutcome]) -> int:
        if not outcomes:
            return 0
        return await self.store.deactivate_tokens([o.token_id for o in outcomes])

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load_plan,
            self.record_plan_end,
            self.refresh_cadence,
            self.prepare_content,
            self.deliver_notification,
            self.record_skip,
            self.record_completion,
            self.record_schedule,
            self.save_preferences,
            self.save_snooze,
            self.save_reschedule,
        ]


def _count(n: PlannedNotification, result: DeliverResult) -> None:
    """The outcome in the service's metrics (by the ledger status string, so ``shadow`` counts as itself), and for a
    sent notification how late it went out (sent minus due: its ``send_at``, after quiet hours and snoozes)."""
    from activities import metrics

    metrics.notification(n.type, result.status, result.detail)
    if result.status == LedgerStatus.SENT:
        metrics.lateness(n.type, (_server_now() - n.send_at).total_seconds())


def _server_now() -> datetime:
    """The attempt's server time: the host clock in production, the skipped-to time in time-skipping tests."""
    return activity.info().current_attempt_scheduled_time or datetime.now(UTC)


def _now() -> datetime:
    """Now, for the staleness limit: the later of the attempt's server time and the host clock. In production that is
    the host clock (an attempt may start long after it was scheduled, e.g. while no worker ran); under time skipping
    it is the server's time, which runs ahead of the host clock."""
    return max(_server_now(), datetime.now(UTC))


def _utc(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


#: Time kept at the end of an attempt for recording what FCM answered.
_RECORD_MARGIN_SECONDS = 2.0
#: The longest pause between two heartbeats of a delivery (shorter when the heartbeat timeout asks for it).
_HEARTBEAT_EVERY_SECONDS = 5.0


def _deadline(started: float) -> float | None:
    """When this attempt must be done (event-loop time): its start-to-close timeout from its start, less the time
    to record the answers. A push still waiting for an FCM request slot then is not sent (the retry will).

    Temporal counts the timeout from when the server handed the task out (``started_time``); on a busy worker the
    activity's code begins seconds later (``started``, loop time), and that time is already spent: a deadline counted
    from ``started`` let a push go out after the server had timed the attempt out and started the next one, which
    pushed again (`make chaos`, a 200-plan burst on a loaded worker). The SDK's test environment leaves
    ``started_time`` at the epoch: then ``started`` alone counts."""
    info = activity.info()
    timeout = info.start_to_close_timeout
    if timeout is None:
        return None
    now = asyncio.get_running_loop().time()
    before_code = 0.0
    if info.started_time.timestamp() > 0:
        since_handed_out = (datetime.now(UTC) - info.started_time).total_seconds()
        before_code = max(0.0, since_handed_out - (now - started))
    return started - before_code + timeout.total_seconds() - _RECORD_MARGIN_SECONDS


@asynccontextmanager
async def _heartbeating(details: Callable[[], list[str]]) -> AsyncIterator[None]:
    """Heartbeat (with ``details()``, the tokens reached so far) all along the block.

    A push can wait for a free FCM request slot (shared by every delivery of the worker) longer than the heartbeat
    timeout; without heartbeats Temporal would start another attempt meanwhile. Heartbeats are also how a
    withdrawal (the plan cancelled) or a worker shutdown reaches the attempt.
    """
    timeout = activity.info().heartbeat_timeout
    every = _HEARTBEAT_EVERY_SECONDS if timeout is None else min(_HEARTBEAT_EVERY_SECONDS, timeout.total_seconds() / 4)

    async def beat() -> None:
        while True:
            activity.heartbeat(details())
            await asyncio.sleep(max(every, 0.05))

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


def _compose(input: DeliverInput) -> tuple[PushMessage, dict[str, Any], str]:
    """The push for ``input`` (prepared copy, else the template, the same on every attempt), the ledger's payload and
    the copy's source."""
    n = input.notification
    prepared = input.content
    if prepared is not None:
        content = Content(title=prepared.title, body=prepared.body, template_key="prepared", source=prepared.source)
    else:
        content = render(
            n.type,
            resolve_tone(input.tone),
            n.facts,
            notification_id=n.notification_id,
            prefer_metric=input.prefer_metric,
        )
    context: dict[str, object] = {
        **n.facts,
        "timezone": input.timezone,
        "local_date": n.local_date.isoformat(),
    }
    if prepared is not None and prepared.weather:
        context["weather"] = prepared.weather
    message = build_push_message(
        notification_id=n.notification_id,
        type=n.type.value,
        plan_id=input.plan_id,
        plan_session_id=n.plan_session_id,
        title=content.title,
        body=content.body,
        context=context,
        expires_at=n.expires_at,
    )
    return message, {"title": content.title, "body": content.body, "data": message.data}, content.source


def _sent_tokens_from_heartbeat() -> set[str]:
    details = activity.info().heartbeat_details
    if not details:
        return set()
    first = details[0]
    if isinstance(first, str):
        first = json.loads(first)
    return {str(t) for t in first}


def _preferences(store: Store) -> PreferencesStore:
    from activities.preferences_store import PreferencesStore

    return PreferencesStore(store.sessionmaker)
