"""The plan workflow's delivery activities: push a notification to the athlete's devices, or record why not.

Delivery writes the ledger row first, then pushes token by token, recording FCM's answer for each token in
``coach_push_deliveries`` the moment it arrives, then records the outcome in the ledger. Every attempt reads both
first: a notification the ledger marks sent, or that any token already has, is never pushed again. What still slips
through (the process killed between FCM accepting a push and that token's row committing) is a repeat with the same
collapse id, which the device shows once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.attempt import bad_data_is_permanent, server_now
from coaching.content import Content, render, resolve_tone
from coaching.models import (
    HELD_BY_KILL_SWITCH,
    DeliverInput,
    DeliverResult,
    LedgerStatus,
    PlannedNotification,
    RecordSkipInput,
    ledger_final,
)
from coaching.payload import PushMessage, build_push_message

if TYPE_CHECKING:
    # Only the worker needs these (SQLAlchemy, firebase-admin, the OpenAI SDK): the workflow module imports this one,
    # through PlanActivities, for its activity references, and the CLI and API import the workflow module, so they
    # are imported where used.
    from activities.push import Pusher, TokenOutcome
    from activities.rollout import Decision, RolloutFlags
    from activities.store import Store


class DeliveryActivities:
    """Delivering a due notification (:meth:`deliver_notification`) and recording one the workflow skipped
    (:meth:`record_skip`); a mixin of :class:`activities.plan_activities.PlanActivities`, which holds the clients."""

    store: Store
    pusher: Pusher
    rollout: RolloutFlags | None
    kill_switch_retry_seconds: float

    @activity.defn
    @bad_data_is_permanent
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
        from activities.rollout import KILL_SWITCH_REASON, ROLLOUT_OFF_REASON
        from coaching.rollout import Mode

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

        answered_at = server_now()

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
    @bad_data_is_permanent
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

    async def _decide(self, input: DeliverInput) -> Decision:
        """The athlete's rollout mode for this notification, read now (every athlete live without rollout flags)."""
        from activities.rollout import Decision, FlagsUnavailable
        from coaching.rollout import Mode

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
            sent_at=server_now(),
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
            sent_at=server_now(),
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


def _count(n: PlannedNotification, result: DeliverResult) -> None:
    """The outcome in the service's metrics (by the ledger status string, so ``shadow`` counts as itself), and for a
    sent notification how late it went out (sent minus due: its ``send_at``, after quiet hours and snoozes)."""
    from activities import metrics

    metrics.notification(n.type, result.status, result.detail)
    if result.status == LedgerStatus.SENT:
        metrics.lateness(n.type, (server_now() - n.send_at).total_seconds())


def _now() -> datetime:
    """Now, for the staleness limit: the later of the attempt's server time and the host clock. In production that is
    the host clock (an attempt may start long after it was scheduled, e.g. while no worker ran); under time skipping
    it is the server's time, which runs ahead of the host clock."""
    return max(server_now(), datetime.now(UTC))


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
