"""The delivery activity token by token: what reaches FCM is recorded at once, never pushed twice, never retried past
the notification's staleness limit, and never blocks on a device that fails.

Each test runs the real ``deliver_notification`` under the SDK's ``ActivityEnvironment`` (attempt number, timeouts,
heartbeats and cancellation as Temporal would give them), on a real database (SQLite, PostgreSQL and RuckTracker's
schema), pushing through the real firebase-admin SDK to the FCM fake on loopback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.database import make_engine, make_sessionmaker
from activities.db import UserDeviceToken
from activities.demo import add_device_token, create_demo_plan
from activities.ledger_store import LedgerRow
from activities.migrate import upgrade_database
from activities.plan_activities import PlanActivities
from activities.push import FcmPusher, PushTarget
from activities.store import Store
from coaching.ids import notification_id
from coaching.models import DeliverInput, DeliverResult, LedgerStatus, NotificationType, PlannedNotification
from coaching.payload import build_push_message
from starter.sandbox import wait_for
from tests.fakes.fcm import FakeFcm

pytestmark = pytest.mark.filterwarnings(r"ignore:Message\.token is deprecated:DeprecationWarning")

TZ = "Asia/Kathmandu"
#: For what happens at the FCM gate, which no database changes: one database is enough.
SQLITE_ONLY = pytest.mark.parametrize("schema", ["sqlite"])


@dataclasses.dataclass
class Athlete:
    plan_id: int
    user_id: str
    tokens: dict[str, str]  # FCM token -> token row id


@pytest.fixture
async def make_pusher(fcm: FakeFcm) -> AsyncIterator[Callable[..., FcmPusher]]:
    made: list[FcmPusher] = []
    account = fcm.make_service_account("rucktracker-test")

    def factory(**options: Any) -> FcmPusher:
        pusher = FcmPusher(service_account=account, endpoint=fcm.base_url, **{"timeout_seconds": 5.0, **options})
        made.append(pusher)
        return pusher

    yield factory
    for pusher in made:
        await pusher.close()


async def athlete(store: Store, devices: int) -> Athlete:
    """A plan whose athlete has ``devices`` active tokens (fresh FCM tokens, so the fake tells them apart)."""
    tokens = [f"tok-{uuid.uuid4().hex}" for _ in range(devices)]
    today = datetime.now(UTC).date()
    plan_id = await create_demo_plan(
        store,
        timezone=TZ,
        start_date=today,
        sessions=[{"scheduled_date": today + timedelta(days=2)}],
        fcm_token=tokens[0],
    )
    snapshot = await store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    async with store.sessionmaker.begin() as session:
        for i, token in enumerate(tokens[1:], start=2):
            await add_device_token(session, snapshot.user_id, token, device_id=f"device-{i}")
    async with store.sessionmaker() as session:
        rows = (
            await session.execute(
                select(UserDeviceToken.fcm_token, UserDeviceToken.id).where(UserDeviceToken.fcm_token.in_(tokens))
            )
        ).all()
    return Athlete(plan_id, snapshot.user_id, {token: str(uuid.UUID(str(row_id))) for token, row_id in rows})


def kickoff(a: Athlete, *, expires_in: timedelta = timedelta(hours=24)) -> DeliverInput:
    now = datetime.now(UTC)
    n = PlannedNotification(
        notification_id=notification_id(a.plan_id, NotificationType.KICKOFF_PRIMER, None, now.date()),
        type=NotificationType.KICKOFF_PRIMER,
        local_date=now.date(),
        due_at=now,
        send_at=now,
        expires_at=now + expires_in,
        reason="test",
    )
    return DeliverInput(plan_id=a.plan_id, user_id=a.user_id, notification=n, tone="Drill Sergeant", timezone=TZ)


def environment(
    attempt: int = 1, *, start_to_close: float = 60, heartbeat: list[Any] | None = None
) -> ActivityEnvironment:
    """What Temporal gives an attempt: its number, server time, timeouts; heartbeats collected in ``heartbeat``."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        attempt=attempt,
        current_attempt_scheduled_time=datetime.now(UTC),
        start_to_close_timeout=timedelta(seconds=start_to_close),
        heartbeat_timeout=timedelta(seconds=60),
    )
    if heartbeat is not None:
        env.on_heartbeat = lambda *details: heartbeat.append(details)
    return env


def deliver(activities: PlanActivities, input: DeliverInput, env: ActivityEnvironment) -> Awaitable[DeliverResult]:
    return env.run(activities.deliver_notification, input)  # type: ignore[no-any-return]


async def ledger(store: Store, input: DeliverInput) -> LedgerRow:
    (row,) = [
        r for r in await store.ledger_rows(input.plan_id) if r.notification_id == input.notification.notification_id
    ]
    return row


class LedgerWriteFails(Store):
    """The database goes away right after the per-token rows are committed: the ledger's 'sent' is never written,
    exactly as when the worker is killed between the push and the ledger update."""

    async def ledger_finish(self, notification_id: str, status: LedgerStatus, **kwargs: Any) -> None:
        if status is LedgerStatus.SENT:
            raise ConnectionError("database connection lost")
        await super().ledger_finish(notification_id, status, **kwargs)


async def test_a_retry_after_a_crash_between_the_push_and_the_ledger_does_not_push_again(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    a = await athlete(store, devices=2)
    input = kickoff(a)
    pusher = make_pusher()
    with pytest.raises(ConnectionError):
        await deliver(PlanActivities(store=LedgerWriteFails(store.sessionmaker), pusher=pusher), input, environment(1))
    assert (await ledger(store, input)).status is LedgerStatus.SCHEDULED
    assert sum(len(fcm.received_for(t)) for t in a.tokens) == 2

    result = await deliver(PlanActivities(store=store, pusher=pusher), input, environment(2))

    assert (result.status, result.tokens_sent) == (LedgerStatus.SENT, 2)
    for token in a.tokens:
        assert fcm.attempts(token) == 1 and len(fcm.received_for(token)) == 1
    row = await ledger(store, input)
    assert row.status is LedgerStatus.SENT and row.attempts == 2
    records = {d.token_id: d for d in await store.push_deliveries(input.notification.notification_id)}
    assert {t: (records[i].outcome, records[i].message_id) for t, i in a.tokens.items()} == {
        t: ("sent", fcm.received_for(t)[0].name) for t in a.tokens
    }


async def test_each_token_is_recorded_the_moment_fcm_answers_it(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    a = await athlete(store, devices=2)
    fast, slow = list(a.tokens)
    fcm.set_behaviour(slow, "slow")
    fcm.set_slow_seconds(2)
    input = kickoff(a)
    delivery = asyncio.create_task(deliver(PlanActivities(store=store, pusher=make_pusher()), input, environment()))

    async def fast_recorded() -> bool:
        return any(
            d.token_id == a.tokens[fast] for d in await store.push_deliveries(input.notification.notification_id)
        )

    await wait_for(fast_recorded)
    # Recorded while the other device's request is still waiting for FCM's answer, not after all tokens.
    assert fcm.received_for(slow) == [] and not delivery.done()
    result = await delivery
    assert result.status is LedgerStatus.SENT and result.tokens_sent == 2
    assert len(await store.push_deliveries(input.notification.notification_id)) == 2


async def test_one_device_reached_is_sent_and_a_failing_one_is_not_retried(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    """Issue 11.3: the kickoff ended 'failed' after 726 attempts although the other phone had it."""
    a = await athlete(store, devices=2)
    reached, down = list(a.tokens)
    fcm.set_behaviour(down, "unavailable")
    input = kickoff(a)

    result = await deliver(PlanActivities(store=store, pusher=make_pusher()), input, environment())

    assert (result.status, result.tokens_sent) == (LedgerStatus.SENT, 1)
    row = await ledger(store, input)
    assert row.status is LedgerStatus.SENT
    assert "to 1 device(s); 1 other device(s) not reached and not retried" in (row.reason or "")
    assert len(fcm.received_for(reached)) == 1 and fcm.attempts(down) == 1
    # A later attempt (say, Temporal retrying after a lost completion) pushes nothing either.
    again = await deliver(PlanActivities(store=store, pusher=make_pusher()), input, environment(2))
    assert again.status is LedgerStatus.SENT and fcm.attempts(down) == 1 and fcm.attempts(reached) == 1


async def test_a_token_refused_for_good_is_never_tried_again_while_another_is_retried(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    a = await athlete(store, devices=2)
    refused, flaky = list(a.tokens)
    fcm.set_behaviour(refused, "bad_request")  # permanent, but not the token's fault: it stays active
    fcm.fail_then_succeed(flaky, 1, "unavailable")
    input = kickoff(a)
    activities = PlanActivities(store=store, pusher=make_pusher())

    with pytest.raises(ApplicationError) as first:
        await deliver(activities, input, environment(1))
    assert first.value.type == "PushRetryable" and not first.value.non_retryable
    result = await deliver(activities, input, environment(2))

    assert (result.status, result.tokens_sent) == (LedgerStatus.SENT, 1)
    assert fcm.attempts(refused) == 1 and fcm.attempts(flaky) == 2 and len(fcm.received_for(flaky)) == 1
    outcomes = {d.token_id: d.outcome for d in await store.push_deliveries(input.notification.notification_id)}
    assert outcomes == {a.tokens[refused]: "rejected", a.tokens[flaky]: "sent"}


async def test_a_message_fcm_refuses_for_good_fails_at_once_and_keeps_the_token(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    a = await athlete(store, devices=1)
    (token,) = a.tokens
    fcm.set_behaviour(token, "bad_request")
    input = kickoff(a)
    activities = PlanActivities(store=store, pusher=make_pusher())

    result = await deliver(activities, input, environment())

    assert result.status is LedgerStatus.FAILED
    assert (await ledger(store, input)).reason == (
        "FCM refused it for good on every device: INVALID_ARGUMENT (InvalidArgumentError): "
        "Request contains an invalid argument."
    )
    assert [t.id for t in await store.active_tokens(a.user_id)] == [a.tokens[token]]  # not the token's fault
    # Should the workflow run it again, the refused token is not tried again.
    again = await deliver(activities, input, environment(2))
    assert again.status is LedgerStatus.FAILED and again.detail.startswith("no device token left to try")
    assert fcm.attempts(token) == 1


@pytest.mark.parametrize(("attempt", "status"), [(1, LedgerStatus.SKIPPED), (5, LedgerStatus.FAILED)])
async def test_an_attempt_past_the_staleness_limit_pushes_nothing(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher], attempt: int, status: LedgerStatus
) -> None:
    a = await athlete(store, devices=1)
    input = kickoff(a, expires_in=-timedelta(minutes=1))

    result = await deliver(PlanActivities(store=store, pusher=make_pusher()), input, environment(attempt))

    assert result.status is status and result.detail.startswith("stale: ")
    row = await ledger(store, input)
    assert row.status is status and (row.reason or "").startswith("stale: ")
    assert all(fcm.attempts(t) == 0 for t in a.tokens)


async def test_a_retry_after_beyond_the_staleness_limit_fails_now_instead_of_retrying(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    a = await athlete(store, devices=1)
    (token,) = a.tokens
    fcm.set_behaviour(token, "quota")
    fcm.set_retry_after("3600")
    input = kickoff(a, expires_in=timedelta(minutes=45))

    result = await deliver(PlanActivities(store=store, pusher=make_pusher()), input, environment())

    assert result.status is LedgerStatus.FAILED
    row = await ledger(store, input)
    assert row.status is LedgerStatus.FAILED and (row.reason or "").startswith("stale: FCM asked to retry after 3600 s")
    assert fcm.attempts(token) == 1


async def test_the_push_expires_at_the_notifications_staleness_limit(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    a = await athlete(store, devices=1)
    (token,) = a.tokens
    input = kickoff(a, expires_in=timedelta(minutes=45))

    await deliver(PlanActivities(store=store, pusher=make_pusher()), input, environment())

    [received] = fcm.received_for(token)
    assert 2600 < int(received.message["android"]["ttl"].removesuffix("s")) <= 2700
    expires_at = input.notification.expires_at
    assert received.message["apns"]["headers"]["apns-expiration"] == str(int(expires_at.timestamp()))
    assert received.message["android"]["collapse_key"] == input.notification.notification_id


@SQLITE_ONLY
async def test_heartbeats_go_on_while_the_push_waits_for_a_free_fcm_slot(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    """Issue 11.6: a send could wait at the worker's FCM concurrency gate longer than its heartbeat timeout."""
    a = await athlete(store, devices=1)
    (token,) = a.tokens
    pusher = make_pusher(max_concurrency=1)
    holder = await _hold_the_only_slot(pusher, fcm)

    # Each heartbeat notes whether the push had reached FCM yet.
    seen: list[int] = []
    env = environment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=timedelta(seconds=1))
    env.on_heartbeat = lambda *details: seen.append(fcm.attempts(token))
    result = await deliver(PlanActivities(store=store, pusher=pusher), kickoff(a), env)
    await holder

    assert result.status is LedgerStatus.SENT and fcm.attempts(token) == 1
    assert seen.count(0) >= 3, seen  # not one heartbeat and then silence until the slot came free


async def _hold_the_only_slot(pusher: FcmPusher, fcm: FakeFcm) -> asyncio.Task[Any]:
    """Another notification's request to a device FCM answers slowly (3 s), holding the pusher's one request slot
    until FCM answers or the pusher's own timeout ends it; returns once FCM has the request."""
    other = f"tok-{uuid.uuid4().hex}"
    fcm.set_behaviour(other, "slow")
    fcm.set_slow_seconds(3)
    message = build_push_message(
        notification_id="p0:other",
        type="plan_kickoff_primer",
        plan_id=1,
        plan_session_id=None,
        title="t",
        body="b",
        context={},
    )
    holder = asyncio.create_task(pusher.send(message, [PushTarget("other", other)]))
    await wait_for(lambda: _attempted(fcm, other))
    return holder


@SQLITE_ONLY
async def test_a_push_that_could_not_be_answered_within_the_attempt_is_not_started(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    """A request outliving its attempt would race the attempt Temporal starts next: better not sent, and retried."""
    a = await athlete(store, devices=1)
    (token,) = a.tokens
    pusher = make_pusher(max_concurrency=1, timeout_seconds=1.0)
    holder = await _hold_the_only_slot(pusher, fcm)

    # start-to-close 3 s: 2 s are kept for recording, and a request (1 s timeout) started after 0 s would be too late.
    with pytest.raises(ApplicationError) as caught:
        await deliver(PlanActivities(store=store, pusher=pusher), kickoff(a), environment(start_to_close=3))
    await asyncio.gather(holder, return_exceptions=True)

    assert caught.value.type == "PushRetryable" and "no FCM request slot" in str(caught.value)
    assert fcm.attempts(token) == 0


async def test_a_withdrawal_while_the_push_is_on_the_wire_still_records_it_sent(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    """Cancelling the attempt cannot stop FCM's request (the SDK's thread): its answer is waited for and recorded."""
    a = await athlete(store, devices=1)
    (token,) = a.tokens
    fcm.set_behaviour(token, "slow")
    fcm.set_slow_seconds(2)
    input = kickoff(a)
    env = environment()
    delivery = asyncio.create_task(deliver(PlanActivities(store=store, pusher=make_pusher()), input, env))
    await wait_for(lambda: _attempted(fcm, token))

    env.cancel()
    with pytest.raises(asyncio.CancelledError):
        await delivery

    assert len(fcm.received_for(token)) == 1
    row = await ledger(store, input)
    assert row.status is LedgerStatus.SENT
    assert [d.outcome for d in await store.push_deliveries(input.notification.notification_id)] == ["sent"]


async def _attempted(fcm: FakeFcm, token: str) -> bool:
    return fcm.attempts(token) >= 1


@pytest.mark.parametrize(
    "schema",
    [pytest.param(s, marks=pytest.mark.postgres) for s in ("postgresql", "rucktracker")],
)  # SQLite has one writer at a time whatever the pools: a connection in a transaction holds the file's lock
async def test_fcm_s_answer_is_recorded_while_the_rest_of_the_worker_holds_every_database_connection(
    database_url: str, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    """Until a token's record commits, a worker killed (`kill -9`) leaves a push its retry sends again. In a burst every
    connection of the worker's pool is taken by other activities; the record must not queue behind them (`make chaos`
    counted such repeats), so it has a pool of its own (worker.py)."""
    await upgrade_database(database_url)
    main = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=60)
    records = make_engine(database_url)
    try:
        store = Store(make_sessionmaker(main), push_records=make_sessionmaker(records))
        a = await athlete(store, devices=1)
        (token,) = a.tokens
        fcm.set_behaviour(token, "slow")
        fcm.set_slow_seconds(1)
        input = kickoff(a)
        delivery = asyncio.create_task(deliver(PlanActivities(store=store, pusher=make_pusher()), input, environment()))
        await wait_for(lambda: _attempted(fcm, token))

        async with main.connect() as busy:  # the rest of the worker: the main pool's every connection
            await busy.execute(text("SELECT 1"))
            reader = Store(make_sessionmaker(records))

            async def recorded() -> bool:
                return bool(await reader.push_deliveries(input.notification.notification_id))

            await wait_for(recorded, timeout=30)
            assert not delivery.done()  # the ledger's 'sent' waits for the main pool; FCM's answer did not
        result = await delivery
        assert result.status is LedgerStatus.SENT and len(fcm.received_for(token)) == 1
    finally:
        await main.dispose()
        await records.dispose()


@SQLITE_ONLY
async def test_the_time_an_attempt_waited_before_its_code_ran_counts_against_its_deadline(
    store: Store, fcm: FakeFcm, make_pusher: Callable[..., FcmPusher]
) -> None:
    """Temporal times an attempt from when it handed the task out. On a busy worker the code starts later; a push sent
    in time by the code's own count went out after the server had started the next attempt (`make chaos`)."""
    a = await athlete(store, devices=1)
    (token,) = a.tokens
    pusher = make_pusher(max_concurrency=1, timeout_seconds=1.0)
    holder = await _hold_the_only_slot(pusher, fcm)

    # Handed out 17.5 s ago with a start-to-close of 20 s: 2 s are kept for recording, so a request (1 s timeout)
    # could not be answered in time and must not wait for the slot (held until the other request's 1 s timeout).
    # Counted from the code's start, it would wait for it and push.
    env = environment(start_to_close=20)
    env.info = dataclasses.replace(env.info, started_time=datetime.now(UTC) - timedelta(seconds=17.5))
    with pytest.raises(ApplicationError) as caught:
        await deliver(PlanActivities(store=store, pusher=pusher), kickoff(a), env)
    await asyncio.gather(holder, return_exceptions=True)

    assert caught.value.type == "PushRetryable" and "no FCM request slot" in str(caught.value)
    assert fcm.attempts(token) == 0
