"""Rollout controls: the order of resolution, the stable percentage, the audited flags table, the OpenFeature provider's
cache, and what deliveries do in each mode (shadow, off, kill switch held then resumed).

Deliveries run the real ``deliver_notification`` under the SDK's ``ActivityEnvironment`` on every database tier,
pushing through firebase-admin to the FCM fake; the workflow-level tests run plans on the dev server (the time-skipping
server does not honour an activity's ``next_retry_delay``, which the kill switch's hold uses).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openfeature import api
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from activities.database import make_engine, make_sessionmaker
from activities.db import PlanSessionRow
from activities.plan_activities import PlanActivities
from activities.push import FcmPusher
from activities.rollout import (
    BUCKETS,
    FlagsUnavailable,
    RolloutConfig,
    RolloutFlags,
    RolloutInputError,
    RolloutStore,
    TableFlagProvider,
    bucket,
    engage_kill_switch,
    resolve,
)
from activities.store import Store
from coaching.ids import notification_id
from coaching.models import (
    Completion,
    DeliverInput,
    DeliverResult,
    LedgerStatus,
    NotificationType,
    PlannedNotification,
    PrepareContentInput,
    RecordCompletionInput,
    RecordScheduleInput,
)
from coaching.rollout import Mode
from starter.sandbox import Stack, local_stack, wait_for
from starter.settings import Settings
from tests.fakes.fcm import FakeFcm
from tests.test_delivery import kickoff as kickoff_row
from tests.test_delivery import plan_with_token
from tests.test_push_delivery import TZ, Athlete, athlete, deliver, environment, kickoff

pytestmark = pytest.mark.filterwarnings(r"ignore:Message\.token is deprecated:DeprecationWarning")

KICKOFF = NotificationType.KICKOFF_PRIMER
SQLITE_ONLY = pytest.mark.parametrize("schema", ["sqlite"])


@pytest.fixture
async def pusher(fcm: FakeFcm) -> AsyncIterator[FcmPusher]:
    made = FcmPusher(service_account=fcm.make_service_account("rucktracker-test"), endpoint=fcm.base_url)
    yield made
    await made.close()


def users(n: int, seed: int = 0) -> list[str]:
    return [str(uuid.UUID(int=(seed << 64) + i * 7919 + 1)) for i in range(n)]


def flags_on(store: Store, ttl_seconds: float = 0.0) -> RolloutFlags:
    """Flags through OpenFeature, on a domain of this test's own (the registry is process-wide)."""
    return RolloutFlags.on_table(store.sessionmaker, ttl_seconds=ttl_seconds, domain=f"test-{uuid.uuid4().hex}")


# ---- resolution ------------------------------------------------------------------------------------------------


def test_resolution_order_kill_switch_deny_allow_percentage_default_then_type_cap() -> None:
    a, b, c = users(3)
    everyone = RolloutConfig(default_mode=Mode.SHADOW, percent=100, allow=[a], deny=[b])
    assert resolve(everyone, c) == resolve(everyone, c, KICKOFF)
    assert resolve(everyone, c).rule == "percent" and resolve(everyone, c).mode is Mode.LIVE
    assert resolve(everyone, b).mode is Mode.OFF and resolve(everyone, b).rule == "deny"  # deny beats percentage
    assert resolve(everyone, a).rule == "allow"
    # Deny beats allow; the kill switch beats everything.
    both = everyone.model_copy(update={"allow": [a, b]})
    assert resolve(both, b).rule == "deny"
    killed = everyone.model_copy(update={"kill_switch": True})
    assert {resolve(killed, u).rule for u in (a, b, c)} == {"kill_switch"}
    # Outside the percentage: the default.
    nobody = RolloutConfig(default_mode=Mode.SHADOW, percent=0, allow=[a])
    assert resolve(nobody, c) == resolve(nobody, c, KICKOFF)
    assert resolve(nobody, c).mode is Mode.SHADOW and resolve(nobody, c).rule == "default"
    # The cohort mode is what the allow list and the percentage give.
    cohort_shadow = RolloutConfig(default_mode=Mode.OFF, cohort_mode=Mode.SHADOW, allow=[a])
    assert resolve(cohort_shadow, a).mode is Mode.SHADOW and resolve(cohort_shadow, c).mode is Mode.OFF
    # A type cap lowers a mode, never raises one.
    capped = RolloutConfig(type_modes={NotificationType.MISSED_FOLLOWUP: Mode.SHADOW, KICKOFF: Mode.LIVE})
    missed = resolve(capped, c, NotificationType.MISSED_FOLLOWUP)
    assert missed.mode is Mode.SHADOW and missed.rule == "type:plan_missed_followup"
    assert resolve(capped, c, NotificationType.WEEKLY_DIGEST).mode is Mode.LIVE
    raise_attempt = RolloutConfig(default_mode=Mode.SHADOW, type_modes={KICKOFF: Mode.LIVE})
    assert resolve(raise_attempt, c, KICKOFF).mode is Mode.SHADOW


def test_percentage_is_stable_and_raising_it_keeps_the_first_cohort() -> None:
    athletes = users(4000, seed=3)
    five = {u for u in athletes if resolve(RolloutConfig(percent=5, default_mode=Mode.OFF), u).mode is Mode.LIVE}
    twenty = {u for u in athletes if resolve(RolloutConfig(percent=20, default_mode=Mode.OFF), u).mode is Mode.LIVE}
    assert five <= twenty  # raising 5 % to 20 % keeps the first 5 % in
    assert 0.03 * len(athletes) < len(five) < 0.07 * len(athletes)
    assert 0.17 * len(athletes) < len(twenty) < 0.23 * len(athletes)
    # The bucket is the user id's, whatever its spelling, and in range.
    u = athletes[0]
    assert bucket(u) == bucket(u.upper()) == bucket(u.replace("-", ""))
    assert all(0 <= bucket(x) < BUCKETS for x in athletes)
    one = RolloutConfig(percent=0.5, default_mode=Mode.OFF)
    assert {x for x in athletes if resolve(one, x).mode is Mode.LIVE} <= five


def test_flag_values_are_bounded() -> None:
    for bad in ({"percent": 100.5}, {"percent": -1}, {"percent": 1.234}, {"allow": ["not-a-uuid"]}, {"x": 1}):
        with pytest.raises(ValidationError):
            RolloutConfig.model_validate(bad)
    with pytest.raises(ValidationError):
        RolloutConfig.model_validate({"deny": [str(uuid.uuid4()) for _ in range(10_001)]})
    with pytest.raises(ValidationError):
        Settings(rollout_cache_ttl_seconds=6)  # a change must reach every worker within 10 s
    with pytest.raises(ValueError, match="ttl_seconds"):
        TableFlagProvider(RolloutStore(None), ttl_seconds=5.5)  # type: ignore[arg-type]


# ---- the table and its audit trail -----------------------------------------------------------------------------


async def test_every_change_is_recorded_and_bad_input_changes_nothing(store: Store) -> None:
    rollout = RolloutStore(store.sessionmaker)
    assert await rollout.load() == RolloutConfig()
    a = users(1)[0]
    changed = await rollout.change(
        {"default_mode": "shadow", "percent": 5, "allow": [a.upper()]}, actor="alice", reason="start the shadow"
    )
    assert {c.key: (c.old_value, c.new_value) for c in changed} == {
        "default_mode": (None, "shadow"),
        "percent": (None, 5.0),
        "allow": (None, [a]),
    }
    assert await rollout.change({"percent": 5.0}, actor="bob", reason="again") == []  # no change, no record
    await rollout.change({"percent": 20}, actor="bob", reason="widen")
    assert await engage_kill_switch(store.sessionmaker, actor="send-volume-watch", reason="10x burst") is True
    assert await rollout.kill(actor="carol", reason="already on") is False

    history = await rollout.history()
    assert [(c.key, c.old_value, c.new_value, c.actor) for c in history[:2]] == [
        ("kill_switch", None, True, "send-volume-watch"),
        ("percent", 5.0, 20.0, "bob"),
    ]
    assert history[0].reason == "10x burst" and history[0].changed_at.tzinfo is not None
    assert len(history) == 5
    config = await rollout.load()
    assert config.kill_switch and config.percent == 20 and config.default_mode is Mode.SHADOW and config.allow == [a]

    for changes, actor, reason, field in (
        ({"percent": 101}, "x", "y", "percent"),
        ({"deny": ["nope"]}, "x", "y", "deny"),
        ({"type_modes": {"plan_unknown": "live"}}, "x", "y", "type_modes"),
        ({"nonsense": True}, "x", "y", "nonsense"),
        ({"percent": 1}, "", "y", "actor"),
        ({"percent": 1}, "x", " ", "reason"),
        ({"percent": 1}, "x", "y" * 501, "reason"),
        ({}, "x", "y", "flags"),
    ):
        with pytest.raises(RolloutInputError) as refused:
            await rollout.change(changes, actor=actor, reason=reason)
        assert refused.value.field.split(".")[0] == field
    assert len(await rollout.history(100)) == 5 and (await rollout.load()) == config


# ---- the provider: a change reaches a worker within the TTL ---------------------------------------------------


@SQLITE_ONLY
async def test_a_change_reaches_the_worker_within_the_cache_ttl_and_the_kill_switch_at_once(store: Store) -> None:
    now = [100.0]
    provider = TableFlagProvider(RolloutStore(store.sessionmaker), ttl_seconds=5, clock=lambda: now[0])
    domain = f"test-{uuid.uuid4().hex}"
    api.set_provider_and_wait(provider, domain)
    flags = RolloutFlags(api.get_client(domain))
    rollout = RolloutStore(store.sessionmaker)
    u = users(1)[0]

    assert (await flags.decide(u, KICKOFF)).mode is Mode.LIVE and provider.loads == 1
    await rollout.change({"default_mode": "shadow"}, actor="a", reason="r")
    now[0] += 4.9  # within the TTL: the cached table
    assert (await flags.decide(u, KICKOFF)).mode is Mode.LIVE and provider.loads == 1
    now[0] += 0.1  # the TTL (at most 5 s by its bounds) has passed: read again
    assert (await flags.decide(u, KICKOFF)).mode is Mode.SHADOW and provider.loads == 2
    # The kill switch is read on every evaluation, whatever the cache holds.
    await rollout.kill(actor="a", reason="r")
    decision = await flags.decide(u, KICKOFF)
    assert decision.mode is Mode.OFF and decision.rule == "kill_switch" and provider.loads == 2
    await rollout.unkill(actor="a", reason="r")
    assert (await flags.decide(u, KICKOFF)).mode is Mode.SHADOW
    # AI copy, through the same client.
    assert await flags.ai_copy(u, KICKOFF) is True


@SQLITE_ONLY
async def test_flags_that_cannot_be_read_are_an_outage_not_a_guess(store: Store, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.db")  # no tables at all
    try:
        broken = RolloutFlags.on_table(make_sessionmaker(engine), domain=f"test-{uuid.uuid4().hex}")
        with pytest.raises(FlagsUnavailable):
            await broken.decide(users(1)[0], KICKOFF)
        assert await broken.ai_copy(users(1)[0], KICKOFF) is False  # the template is always safe
    finally:
        await engine.dispose()


# ---- deliveries in each mode ----------------------------------------------------------------------------------


def due(a: Athlete, day: int, *, expires_in: timedelta, type: NotificationType = KICKOFF) -> DeliverInput:
    now = datetime.now(UTC)
    local = date(2031, 1, 1) + timedelta(days=day)
    n = PlannedNotification(
        notification_id=notification_id(a.plan_id, type, None, local),
        type=type,
        local_date=local,
        due_at=now,
        send_at=now,
        expires_at=now + expires_in,
        reason="test",
    )
    return DeliverInput(plan_id=a.plan_id, user_id=a.user_id, notification=n, tone="Drill Sergeant", timezone=TZ)


async def attempt(acts: PlanActivities, input: DeliverInput, number: int = 1) -> DeliverResult | ApplicationError:
    try:
        return await deliver(acts, input, environment(number))
    except ApplicationError as err:
        return err


async def test_kill_switch_flipped_while_100_notifications_are_due(
    store: Store, pusher: FcmPusher, fcm: FakeFcm
) -> None:
    a = await athlete(store, devices=1)
    token = next(iter(a.tokens))
    rollout = RolloutStore(store.sessionmaker)
    acts = PlanActivities(
        store=store,
        pusher=pusher,
        rollout=flags_on(store),
        kill_switch_retry_seconds=60,
    )
    # 100 due: even ones useful for two more hours, odd ones stale within the minute (before a next try).
    inputs = [due(a, i, expires_in=timedelta(hours=2) if i % 2 == 0 else timedelta(seconds=45)) for i in range(100)]
    before = [await attempt(acts, i) for i in inputs[:20]]
    assert all(isinstance(r, DeliverResult) and r.status is LedgerStatus.SENT for r in before)
    assert len(fcm.received_for(token)) == 20

    await rollout.kill(actor="oncall", reason="wrong copy going out")
    after = {i.notification.notification_id: await attempt(acts, i) for i in inputs[20:]}
    assert len(fcm.received_for(token)) == 20  # none pushed after the flip
    rows = {r.notification_id: r for r in await store.ledger_rows(a.plan_id)}
    for nid in after:
        assert rows[nid].status is LedgerStatus.SKIPPED and (rows[nid].reason or "").startswith("kill_switch:")
    held = [i for i in inputs[20:] if isinstance(after[i.notification.notification_id], ApplicationError)]
    final = [i for i in inputs[20:] if isinstance(after[i.notification.notification_id], DeliverResult)]
    # Held (retried by Temporal after the hold) while there is time before the staleness limit; final otherwise.
    assert held == inputs[20::2] and final == inputs[21::2]
    for i in held:
        err = after[i.notification.notification_id]
        assert isinstance(err, ApplicationError) and err.type == "KillSwitch" and not err.non_retryable
        assert err.next_retry_delay == timedelta(seconds=60)
    for i in final:
        result = after[i.notification.notification_id]
        assert isinstance(result, DeliverResult) and result.status is LedgerStatus.SKIPPED
        assert result.detail.startswith("kill_switch:")

    # Still killed: the next try of a held one holds again, still nothing pushed.
    assert isinstance(await attempt(acts, held[0], 2), ApplicationError)
    assert len(fcm.received_for(token)) == 20

    await rollout.unkill(actor="oncall", reason="copy fixed")
    resumed = [await attempt(acts, i, 3) for i in held]
    assert all(isinstance(r, DeliverResult) and r.status is LedgerStatus.SENT for r in resumed)
    assert len(fcm.received_for(token)) == 60
    rows = {r.notification_id: r for r in await store.ledger_rows(a.plan_id)}
    assert sum(r.status is LedgerStatus.SENT for r in rows.values()) == 60
    stale = [rows[i.notification.notification_id] for i in final]
    assert all(r.status is LedgerStatus.SKIPPED and (r.reason or "").startswith("kill_switch:") for r in stale)
    # A final skip is past its usefulness: even a repeat of it sends nothing.
    again = await attempt(acts, final[0], 2)
    assert isinstance(again, DeliverResult) and again.status is not LedgerStatus.SENT
    assert len(fcm.received_for(token)) == 60


async def test_shadow_writes_the_full_ledger_row_and_pushes_nothing(
    store: Store, pusher: FcmPusher, fcm: FakeFcm
) -> None:
    a = await athlete(store, devices=2)
    await RolloutStore(store.sessionmaker).change({"default_mode": "shadow"}, actor="t", reason="shadow cohort")
    acts = PlanActivities(store=store, pusher=pusher, rollout=flags_on(store))
    input = kickoff(a)
    result = await deliver(acts, input, environment())
    assert result.status is LedgerStatus.SHADOW and "2 device(s)" in result.detail
    [row] = [r for r in await store.ledger_rows(a.plan_id) if r.notification_id == input.notification.notification_id]
    assert row.status is LedgerStatus.SHADOW and row.sent_at is not None and row.copy_source == "template"
    assert row.payload["title"] and row.payload["body"]  # the copy, as it would have gone out
    assert row.payload["data"]["notification_id"] == input.notification.notification_id
    assert fcm.received == []
    # Final: a repeat (a retry, a replayed activity) finds it and pushes nothing.
    again = await deliver(acts, input, environment(2))
    assert again.status is LedgerStatus.SHADOW and again.already_recorded
    assert fcm.received == []


@SQLITE_ONLY
async def test_off_and_type_caps_and_the_ai_flag(store: Store, pusher: FcmPusher, fcm: FakeFcm) -> None:
    a = await athlete(store, devices=1)
    token = next(iter(a.tokens))
    rollout = RolloutStore(store.sessionmaker)
    acts = PlanActivities(store=store, pusher=pusher, rollout=flags_on(store))
    # A per-type cap: the kickoff stays shadow while the athlete is live for the rest.
    await rollout.change({"type_modes": {"plan_kickoff_primer": "shadow"}}, actor="t", reason="r")
    capped = await deliver(acts, due(a, 1, expires_in=timedelta(hours=1)), environment())
    assert capped.status is LedgerStatus.SHADOW and "type:plan_kickoff_primer" in capped.detail
    digest = due(a, 2, expires_in=timedelta(hours=1), type=NotificationType.WEEKLY_DIGEST)
    assert (await deliver(acts, digest, environment())).status is LedgerStatus.SENT
    assert len(fcm.received_for(token)) == 1
    # Denied: off, skipped with reason rollout_off.
    await rollout.change({"deny": [a.user_id]}, actor="t", reason="r")
    off = await deliver(acts, due(a, 3, expires_in=timedelta(hours=1)), environment())
    assert off.status is LedgerStatus.SKIPPED and off.detail.startswith("rollout_off:") and "deny" in off.detail
    assert len(fcm.received_for(token)) == 1

    n = due(a, 4, expires_in=timedelta(hours=1)).notification
    prepare = PrepareContentInput(
        plan_id=a.plan_id, user_id=a.user_id, notification=n, tone="Drill Sergeant", timezone=TZ, use_ai=True
    )
    assert (await environment().run(acts.prepare_content, prepare)).ai_fallback_reason == "not_configured"
    await rollout.change({"ai_copy": False}, actor="t", reason="AI copy off")
    prepared = await environment().run(acts.prepare_content, prepare)
    assert prepared.ai_fallback_reason == "rollout_ai_off" and prepared.source == "template"


# ---- the workflow: held deliveries resume, shadow is final -----------------------------------------------------


@pytest.fixture
async def dev_stack(tmp_path: Path, fcm: FakeFcm) -> AsyncIterator[Stack]:
    url = f"sqlite+aiosqlite:///{tmp_path}/rollout.db"
    settings = fcm.service_settings(url, rollout_kill_switch_retry_seconds=1, rollout_cache_ttl_seconds=0)
    async with local_stack(url, settings=settings, time_skipping=False) as s:
        yield s


@pytest.mark.devserver
async def test_a_plan_held_by_the_kill_switch_resumes_when_it_is_unflipped(dev_stack: Stack, fcm: FakeFcm) -> None:
    stack = dev_stack
    rollout = RolloutStore(stack.store.sessionmaker)
    await rollout.kill(actor="oncall", reason="incident")
    plan_id = await plan_with_token(stack, "held-token")
    await stack.plans.start_plan(plan_id)
    row = await wait_for(lambda: kickoff_row(stack, plan_id), timeout=30)
    assert row.status == "skipped" and (row.reason or "").startswith("kill_switch:")  # type: ignore[attr-defined]

    async def tried_again() -> bool:
        rows = [r for r in await stack.ledger(plan_id) if r.notification_type == "plan_kickoff_primer"]
        return bool(rows) and rows[0].attempts >= 2

    await wait_for(tried_again, timeout=30)  # held: Temporal retries it, nothing is pushed
    assert fcm.attempts("held-token") == 0
    await rollout.unkill(actor="oncall", reason="resolved")

    async def sent() -> object:
        rows = [r for r in await stack.ledger(plan_id) if r.notification_type == "plan_kickoff_primer"]
        return rows[0] if rows and rows[0].status == "sent" else None

    await wait_for(sent, timeout=30)
    assert len(fcm.received_for("held-token")) == 1
    status = await stack.plans.status(plan_id)
    assert status.sent == 1


@pytest.mark.devserver
async def test_a_shadow_plan_records_and_pushes_nothing(dev_stack: Stack, fcm: FakeFcm) -> None:
    stack = dev_stack
    await RolloutStore(stack.store.sessionmaker).change({"default_mode": "shadow"}, actor="t", reason="shadow")
    plan_id = await plan_with_token(stack, "shadow-token")
    await stack.plans.start_plan(plan_id)
    row = await wait_for(lambda: kickoff_row(stack, plan_id), timeout=30)
    assert row.status == "shadow" and row.payload["body"]  # type: ignore[attr-defined]
    status = await stack.plans.status(plan_id)
    assert all(n.type is not KICKOFF for n in status.upcoming)  # handled: never due again
    assert row.attempts == 1 and fcm.attempts("shadow-token") == 0  # type: ignore[attr-defined]


async def test_rucktrackers_session_rows_are_written_only_for_live_athletes(store: Store, pusher: FcmPusher) -> None:
    """In shadow (or off) the legacy pipeline still owns ``plan_sessions``: the service's completion match and next
    notification time are held back; a live athlete's are written, whatever the kill switch says."""
    a = await athlete(store, devices=1)
    snapshot = await store.load_plan_snapshot(a.plan_id)
    assert snapshot is not None
    session = snapshot.sessions[0]
    rollout = RolloutStore(store.sessionmaker)
    acts = PlanActivities(store=store, pusher=pusher, rollout=flags_on(store))
    now = datetime.now(UTC)
    done = RecordCompletionInput(
        plan_id=a.plan_id,
        completion=Completion(
            ruck_id=1, completed_at=now, received_at=now, local_date=now.date(), plan_session_id=session.id
        ),
    )
    at = now + timedelta(days=1)
    schedule = RecordScheduleInput(plan_id=a.plan_id, next_by_session={session.id: at})

    async def row() -> PlanSessionRow:
        async with store.sessionmaker() as s:
            found = await s.get(PlanSessionRow, session.id, populate_existing=True)
            assert found is not None
            return found

    await rollout.change({"default_mode": "shadow"}, actor="t", reason="shadow period")
    await environment().run(acts.record_completion, done)
    await environment().run(acts.record_schedule, schedule)
    held = await row()
    assert held.completion_status == "planned" and held.next_notification_at is None

    await rollout.change({"allow": [a.user_id]}, actor="t", reason="staff live")
    await rollout.kill(actor="t", reason="the kill switch stops pushes, not the athlete's record")
    await environment().run(acts.record_completion, done)
    await environment().run(acts.record_schedule, schedule)
    written = await row()
    assert written.completion_status == "completed" and written.next_notification_at == at
