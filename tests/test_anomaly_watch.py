"""The anomaly watch end to end: ledger rows in (SQLite, PostgreSQL, RuckTracker's schema), alerts out to a webhook
(a Slack-compatible fake on loopback), the ``coach_alerts`` table, the metric and the log; the brake hook; the
schedule and its workflow on the Temporal dev server."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from activities.anomaly import AnomalyActivities, AnomalyStore, kill_switch_brake
from activities.db import NotificationLedgerEntry
from activities.rollout import RolloutStore
from coaching.anomaly import Alert, AlertKind
from coaching.ids import ANOMALY_SCHEDULE_ID, ANOMALY_WORKFLOW_ID
from coaching.models import AnomalyWatchInput
from starter.sandbox import local_stack, wait_for
from starter.schedules import ensure_anomaly_schedule
from starter.settings import Settings
from tests.fakes.webhook import FakeWebhook
from workflows.anomaly import AnomalyWatchWorkflow

END = datetime(2027, 3, 10, 19, 0, tzinfo=UTC)
BRIEF = "plan_evening_brief"
USER = str(uuid.UUID(int=42))


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def row(at: datetime, *, status: str = "sent", ntype: str = BRIEF, reason: str | None = None, **kw: Any) -> Any:
    """A ledger row due at ``at`` (sent 3 s later when sent)."""
    plan_id = kw.pop("plan_id", None) or uuid.uuid4().int % 2_000_000_000 + 1
    session_id = kw.pop("session_id", None)
    return NotificationLedgerEntry(
        notification_id=kw.pop("notification_id", None) or f"p{plan_id}:{uuid.uuid4().hex}",
        user_id=USER,
        plan_id=plan_id,
        plan_session_id=session_id,
        notification_type=ntype,
        local_date=at.date(),
        status=status,
        reason=reason,
        scheduled_for=at,
        sent_at=at + kw.pop("late", timedelta(seconds=3)) if status == "sent" else None,
        payload={},
    )


def sends(end: datetime, count: int, ntype: str = BRIEF) -> list[Any]:
    """``count`` sends spread over the hour before ``end``."""
    return [
        row(end - timedelta(minutes=59) + timedelta(seconds=i * 3540 // max(count, 1)), ntype=ntype)
        for i in range(count)
    ]


def weeks_of(per_week: list[int]) -> list[Any]:
    """The same window in each earlier week, with the install a week before the oldest."""
    rows = [row(END - timedelta(weeks=len(per_week) + 1), status="skipped", reason="daily_cap")]
    for k, count in enumerate(per_week, 1):
        rows += sends(END - timedelta(weeks=k), count)
    return rows


async def insert(sessionmaker: async_sessionmaker[AsyncSession], rows: list[Any]) -> None:
    async with sessionmaker.begin() as session:
        session.add_all(rows)


def alerts_metric(kind: str, ntype: str = "all") -> float:
    return REGISTRY.get_sample_value("coach_anomaly_alerts_total", {"kind": kind, "type": ntype}) or 0.0


def watch(db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, **kw: Any) -> AnomalyActivities:
    return AnomalyActivities(store=AnomalyStore(db_sessionmaker), http=http, **kw)


async def test_a_10x_burst_alerts_to_the_webhook_the_table_the_metric_and_the_log(
    db_sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    webhook: FakeWebhook,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await insert(db_sessionmaker, weeks_of([30, 32, 29, 31]) + sends(END, 305))
    activities = watch(db_sessionmaker, http, webhook_url=webhook.url)
    before = alerts_metric("volume_high", BRIEF)
    with caplog.at_level(logging.WARNING, logger="activities.anomaly"):
        result = await activities.check_send_volume(AnomalyWatchInput(end=END))

    assert [(a.kind, a.notification_type) for a in result.alerts] == [("volume_high", BRIEF)]
    assert result.sent == {BRIEF: 305}
    assert result.alerts[0].figures["count"] == 305 and result.alerts[0].figures["baseline_median"] == 30.5
    # The webhook: Slack's shape, with the figures.
    [post] = webhook.received()
    assert "volume_high" in post["text"] and "305 sent" in post["text"]
    assert (
        post["blocks"][1]["text"]["type"] == "mrkdwn" and "baseline_median: 30.5" in post["blocks"][1]["text"]["text"]
    )
    # The table, the metric, the log.
    [stored] = await activities.store.alerts()
    assert (stored.kind, stored.notification_type, stored.window_end) == ("volume_high", BRIEF, END)
    assert stored.figures["count"] == 305 and stored.webhook_status == "200" and stored.braked is False
    assert alerts_metric("volume_high", BRIEF) == before + 1
    assert "anomaly volume_high" in caplog.text and "305" in caplog.text

    # A retried pass judges the same window: the alert is neither stored, counted nor posted twice.
    again = await activities.check_send_volume(AnomalyWatchInput(end=END))
    assert len(again.alerts) == 1
    assert len(await activities.store.alerts()) == 1 and len(webhook.received()) == 1
    assert alerts_metric("volume_high", BRIEF) == before + 1


async def test_a_worker_that_stopped_sending_alerts(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, webhook: FakeWebhook
) -> None:
    await insert(db_sessionmaker, weeks_of([30, 32, 29, 31]))
    result = await watch(db_sessionmaker, http, webhook_url=webhook.url).check_send_volume(AnomalyWatchInput(end=END))
    assert [a.kind for a in result.alerts] == ["no_sends"]
    assert "no notification sent" in webhook.received()[0]["text"]


async def test_a_normal_window_and_a_new_install_stay_silent(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, webhook: FakeWebhook
) -> None:
    activities = watch(db_sessionmaker, http, webhook_url=webhook.url)
    # A new install: its first hour sends a lot, but no earlier week was observed, so nothing compares.
    await insert(db_sessionmaker, sends(END - timedelta(weeks=3), 300))
    assert (await activities.check_send_volume(AnomalyWatchInput(end=END - timedelta(weeks=3)))).alerts == []
    # Weeks later, a normal window.
    await insert(db_sessionmaker, sends(END - timedelta(weeks=2), 30) + sends(END - timedelta(weeks=1), 33))
    await insert(db_sessionmaker, sends(END, 34))
    result = await activities.check_send_volume(AnomalyWatchInput(end=END))
    assert result.alerts == [] and result.sent == {BRIEF: 34}
    assert webhook.received() == [] and await activities.store.alerts() == []


async def test_duplicates_failures_and_stale_skips_alert_with_their_figures(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
) -> None:
    at = END - timedelta(minutes=30)
    rows = sends(END, 60)
    # The same business key (plan, type, session, local date) sent twice under two notification ids.
    rows += [row(at, plan_id=7, session_id=70), row(at + timedelta(minutes=1), plan_id=7, session_id=70)]
    # Two celebrations of one session on one day are two rucks, not a duplicate.
    rows += [row(at, plan_id=8, session_id=80, ntype="plan_completion_celebration") for _ in range(2)]
    rows += [row(at, status="failed", reason="FCM refused it for good on every device: INVALID") for _ in range(6)]
    rows += [row(at, status="skipped", reason="stale: the delivery began after …") for _ in range(5)]
    await insert(db_sessionmaker, rows)
    result = await watch(db_sessionmaker, http).check_send_volume(AnomalyWatchInput(end=END))
    by_kind = {a.kind: a for a in result.alerts}
    assert set(by_kind) == {"duplicate_send", "failure_ratio", "stale_skips"}
    assert by_kind["duplicate_send"].figures == {"keys": 1, "max_sends": 2}
    assert by_kind["failure_ratio"].figures["failed"] == 6 and by_kind["failure_ratio"].figures["attempts"] == 70
    assert by_kind["stale_skips"].figures["stale_skips"] == 5


async def test_late_sends_alert_on_their_p99(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
) -> None:
    at = END - timedelta(minutes=20)
    rows = [row(at, late=timedelta(seconds=2)) for _ in range(97)]
    rows += [row(at, late=timedelta(minutes=m)) for m in (3, 5, 9)]
    await insert(db_sessionmaker, rows)
    result = await watch(db_sessionmaker, http).check_send_volume(AnomalyWatchInput(end=END))
    assert [(a.kind, a.figures["p99_seconds"]) for a in result.alerts] == [("lateness", 300.0)]


async def test_the_brake_hook_receives_a_burst_over_its_factor_and_the_alert_says_what_it_did(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, webhook: FakeWebhook
) -> None:
    await insert(db_sessionmaker, weeks_of([30, 32, 29, 31]) + sends(END, 305))
    braked: list[Alert] = []

    async def brake(alert: Alert) -> bool:
        braked.append(alert)
        return True

    activities = watch(db_sessionmaker, http, webhook_url=webhook.url, brake_factor=5.0, brake=brake)
    result = await activities.check_send_volume(AnomalyWatchInput(end=END))
    assert [a.kind for a in braked] == [AlertKind.VOLUME_HIGH] and result.alerts[0].braked
    assert "BRAKE" in result.alerts[0].summary and "BRAKE" in webhook.received()[0]["text"]
    assert (await activities.store.alerts())[0].braked is True


async def test_the_default_brake_turns_the_rollout_kill_switch_on_and_says_why(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
) -> None:
    await insert(db_sessionmaker, weeks_of([30, 32, 29, 31]) + sends(END, 305))
    rollout = RolloutStore(db_sessionmaker)
    assert await rollout.kill_switch() is False
    activities = watch(db_sessionmaker, http, brake_factor=5.0, brake=kill_switch_brake(db_sessionmaker))
    result = await activities.check_send_volume(AnomalyWatchInput(end=END))

    assert result.alerts[0].braked and "the kill switch was turned on" in result.alerts[0].summary
    assert await rollout.kill_switch() is True
    [change] = await rollout.history(key="kill_switch")
    assert change.actor == "anomaly-watch" and change.new_value is True
    assert change.reason.startswith("anomaly brake: ") and "305" in change.reason
    # A second burst while the switch is on: nothing more to turn on, and the alert says so.
    again = await activities.check_send_volume(AnomalyWatchInput(end=END + timedelta(minutes=15)))
    assert not again.alerts[0].braked and "was not turned on" in again.alerts[0].summary


async def test_shadow_rows_count_as_sends_so_a_shadow_cohort_is_not_a_dead_worker(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
) -> None:
    shadow = [row(r.scheduled_for, status="shadow") for r in sends(END, 30)]
    await insert(db_sessionmaker, weeks_of([30, 32, 29, 31]) + shadow)
    result = await watch(db_sessionmaker, http).check_send_volume(AnomalyWatchInput(end=END))
    assert result.alerts == [] and result.sent == {BRIEF: 30}


async def test_a_brake_factor_not_reached_or_not_wired_does_not_brake(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
) -> None:
    await insert(db_sessionmaker, weeks_of([30, 32, 29, 31]) + sends(END, 305))

    async def brake(alert: Alert) -> bool:
        raise AssertionError("a 10x burst is under a 20x brake")

    high = await watch(db_sessionmaker, http, brake_factor=20.0, brake=brake).check_send_volume(
        AnomalyWatchInput(end=END)
    )
    assert not high.alerts[0].braked and "BRAKE" not in high.alerts[0].summary
    unwired = await watch(db_sessionmaker, http, brake_factor=5.0).check_send_volume(
        AnomalyWatchInput(end=END + timedelta(minutes=1))
    )
    assert not unwired.alerts[0].braked and "no kill switch is wired" in unwired.alerts[0].summary


async def test_a_webhook_that_fails_does_not_lose_the_alert(
    db_sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, webhook: FakeWebhook
) -> None:
    await insert(db_sessionmaker, weeks_of([30, 32, 29, 31]))
    webhook.status = 500
    activities = watch(db_sessionmaker, http, webhook_url=webhook.url)
    assert [a.kind for a in (await activities.check_send_volume(AnomalyWatchInput(end=END))).alerts] == ["no_sends"]
    assert (await activities.store.alerts())[0].webhook_status == "500"
    unreachable = watch(db_sessionmaker, http, webhook_url="http://127.0.0.1:9/hook")
    await unreachable.check_send_volume(AnomalyWatchInput(end=END + timedelta(minutes=1)))
    assert (await activities.store.alerts())[1].webhook_status == "error: ConnectError"


@pytest.mark.devserver
async def test_the_schedule_runs_the_watch_every_15_minutes_on_the_dev_server(
    dev_server: WorkflowEnvironment, tmp_path: Any, webhook: FakeWebhook
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/watch.db"
    settings = Settings(database_url=database_url, environment="test", alert_webhook_url=SecretStr(webhook.url))
    async with local_stack(database_url, time_skipping=False, env=dev_server, settings=settings) as stack:
        now = (await stack.now()).replace(second=0, microsecond=0)
        sessionmaker = stack.store.sessionmaker
        await insert(sessionmaker, [row(now - timedelta(weeks=5), status="skipped", reason="daily_cap")])
        for k in range(1, 5):
            await insert(sessionmaker, sends(now - timedelta(weeks=k) + timedelta(minutes=1), 30))
        # Nothing in the last hour: the worker "stopped sending".
        handle = await ensure_anomaly_schedule(
            stack.client, task_queue=stack.task_queue, every=timedelta(minutes=15), input=AnomalyWatchInput()
        )
        try:
            described = await handle.describe()
            assert described.schedule.spec.intervals[0].every == timedelta(minutes=15)
            action = described.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "AnomalyWatchWorkflow" and action.id == ANOMALY_WORKFLOW_ID
            await handle.trigger()
            await wait_for(lambda: _posted(webhook), timeout=30)
            started = (await handle.describe()).info.recent_actions[-1].action
            assert started.workflow_id.startswith(ANOMALY_WORKFLOW_ID)  # the schedule suffixes its start time
            result = await stack.client.get_workflow_handle_for(AnomalyWatchWorkflow.run, started.workflow_id).result()
            assert [a.kind for a in result.alerts] == ["no_sends"]
            assert "no notification sent" in webhook.received()[0]["text"]
        finally:
            await stack.client.get_schedule_handle(ANOMALY_SCHEDULE_ID).delete()


async def _posted(webhook: FakeWebhook) -> bool:
    return bool(webhook.received())
