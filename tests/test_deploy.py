"""deploy/: the alerting rules pass `promtool test rules`, and a real Prometheus server (Debian's ``prometheus``
package, the same one that ships promtool) scraping a running worker and HTTP API answers every query of the Grafana
dashboard with data. The scraped metrics carry no user id, token or copy text in any label.

The binaries are required: missing, these tests skip locally and fail in CI (``CI=true``), like the PostgreSQL tier;
``.ci/run`` installs the package when it is missing.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.database import make_engine, make_sessionmaker
from activities.db import NotificationLedgerEntry
from activities.demo import create_demo_plan
from activities.migrate import upgrade_database
from activities.store import Store
from coaching.ids import ANOMALY_SCHEDULE_ID
from tests.conftest import _in_ci
from tests.fakes.fcm import FakeFcm
from tests.fakes.openweather import FakeOpenWeather
from tests.fakes.webhook import FakeWebhook
from tests.test_weather import LONDON, add_ruck

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "coaching-notifications.json"
SERVICE_TOKEN = "deploy-test-service-token-0123456789"
WEATHER_KEY = "owm-test-key"
LABEL_VALUE = re.compile(r"[A-Za-z0-9_+.:/{}\-]*")  # codes, numbers, route templates, host:port, le="+Inf"


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        reason = f"{name} not found (Debian package prometheus: apt-get install prometheus)"
        if _in_ci():
            pytest.fail(f"{reason} (CI=true: the deploy/ tests are required; .ci/run installs it)", pytrace=False)
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]


# ---- static checks -----------------------------------------------------------------------------------------------


def test_promtool_unit_tests_of_the_alerting_rules_pass() -> None:
    promtool = binary("promtool")
    folder = DEPLOY / "prometheus"
    checked = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "rules.test.yml", "rules.weekly.test.yml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == 2, tested.stdout


def test_the_dashboard_uses_the_provisioned_datasource_and_every_panel_queries() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    provisioned = (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert "uid: prometheus" in provisioned
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels and all(p["datasource"]["uid"] == "prometheus" and p["targets"] for p in panels)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    exprs = " ".join(e for _, e in dashboard_queries())
    for metric in (
        "coach_notifications_total",
        "coach_notification_lateness_seconds_bucket",
        "coach_fcm_errors_total",
        "coach_copy_total",
        "coach_weather_cache_total",
        "coach_plans",
        "coach_anomaly_alerts_total",
        "coach_http_requests_total",
        "coach_http_request_duration_seconds_bucket",
        "temporal_",
    ):
        assert metric in exprs, metric


# ---- a live Prometheus over a running worker and API -------------------------------------------------------------


class Processes:
    """Child processes, stopped (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self) -> None:
        self.started: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(args, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        self.started.append((process, log))
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name} ({'running' if p.poll() is None else f'exited {p.returncode}'})\n{log.read_text()[-3000:]}"
            for p, log in self.started
            if log.exists()
        )

    def stop(self) -> None:
        for process, _ in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture
def processes() -> Iterator[Processes]:
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop()


async def eventually(check: Any, what: str, processes: Processes, timeout: float = 60.0) -> Any:
    """Poll ``check`` (async, returns something truthy when done) until it holds; fail with the children's logs."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        try:
            last = await check()
        except httpx.HTTPError as err:  # not listening yet: kept for the failure message, never taken as done
            last = err
        else:
            if last:
                return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})\n{processes.logs()}")


async def query(http: httpx.AsyncClient, prometheus: str, expr: str) -> list[dict[str, Any]]:
    response = await http.get(f"{prometheus}/api/v1/query", params={"query": expr})
    if response.status_code == 503:  # still starting (loading its storage and rules): asked again by the caller
        return []
    answer = response.json()
    assert answer["status"] == "success", (expr, answer)
    return list(answer["data"]["result"])


async def three_plans(store: Store, tag: str, tomorrow: Any, session: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """A plan whose athlete's device takes pushes (and who rucked in London, for the weather), one with no device
    and one whose only token FCM refuses as unregistered. Their ids and athletes."""
    plans: dict[str, tuple[int, str]] = {}
    for kind, token in (("ok", f"good-{tag}"), ("none", None), ("dead", f"dead-{tag}")):
        user = str(uuid.uuid4())
        plan_id = await create_demo_plan(
            store,
            user_id=user,
            timezone="UTC",
            start_date=tomorrow,
            sessions=[session],
            fcm_token=token,
            created_at=datetime.now(UTC) - timedelta(minutes=1),
        )
        plans[kind] = (plan_id, user)
    where = [LONDON, (LONDON[0] + 0.01, LONDON[1] + 0.01)]
    await add_ruck(store.sessionmaker, plans["ok"][1], where, completed_at=datetime.now(UTC) - timedelta(days=1))
    return plans


@pytest.mark.devserver
async def test_a_live_prometheus_answers_every_dashboard_query_from_a_running_worker_and_api(
    dev_server: WorkflowEnvironment, fcm: FakeFcm, tmp_path: Path, processes: Processes
) -> None:
    prometheus_bin = binary("prometheus")
    database_url = f"sqlite+aiosqlite:///{tmp_path}/live.db"
    await upgrade_database(database_url)
    engine = make_engine(database_url)
    store = Store(make_sessionmaker(engine))

    # A session starting in 70 minutes: its morning hype is due in 10, so its copy (with the weather) is prepared
    # at once; its evening brief is long past (a stale skip).
    start = (datetime.now(UTC) + timedelta(minutes=70)).replace(second=0, microsecond=0)
    session = {
        "scheduled_date": start.date(),
        "scheduled_start_time": f"{start:%H:%M}",
        "planned_session_type": "Tempo",
    }
    first = await three_plans(store, "1", start.date(), session)
    second = await three_plans(store, "2", start.date(), session)
    for tag in ("1", "2"):
        fcm.set_behaviour(f"dead-{tag}", "unregistered")

    worker_port, sdk_port, api_port, prometheus_port = free_port(), free_port(), free_port(), free_port()
    task_queue = f"coaching-deploy-{uuid.uuid4().hex[:8]}"
    settings = fcm.service_settings(database_url)
    with FakeWebhook() as webhook, FakeOpenWeather(WEATHER_KEY, datetime.now(UTC)) as owm:
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
            "COACH_ENVIRONMENT": "test",
            "COACH_DATABASE_URL": database_url,
            "COACH_FIREBASE_CREDENTIALS_JSON": settings.firebase_credentials or "",
            "COACH_FCM_ENDPOINT": settings.fcm_endpoint or "",
            "COACH_TASK_QUEUE": task_queue,
            "COACH_OPENWEATHER_API_KEY": WEATHER_KEY,
            "COACH_OPENWEATHER_BASE_URL": owm.base_url,
            "COACH_METRICS_ADDRESS": f"127.0.0.1:{worker_port}",
            "COACH_TEMPORAL_METRICS_ADDRESS": f"127.0.0.1:{sdk_port}",
            "COACH_ALERT_WEBHOOK_URL": webhook.url,
            "COACH_PLANS_GAUGE_INTERVAL_SECONDS": "5",
            "COACH_RECONCILE_INTERVAL_SECONDS": "0",  # this test starts the plans itself, through the API
            "COACH_CADENCE_SCHEDULE": "false",
            "COACH_SERVICE_TOKEN": SERVICE_TOKEN,
            "COACH_API_PORT": str(api_port),
        }
        coach = [sys.executable, "-m", "starter.cli"]
        processes.start([*coach, "worker"], env, tmp_path / "worker.log")
        processes.start([*coach, "api"], env, tmp_path / "api.log")

        config = tmp_path / "prometheus.yml"
        shutil.copy(DEPLOY / "prometheus" / "rules.yml", tmp_path / "rules.yml")  # a real server loads them too
        targets = {"coach-worker": worker_port, "coach-worker-temporal": sdk_port, "coach-api": api_port}
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            "scrape_configs:\n"
            + "".join(
                f"  - {{job_name: {job}, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}\n"
                for job, port in targets.items()
            )
        )
        processes.start(
            [
                prometheus_bin,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
                "--log.level=warn",
            ],
            env,
            tmp_path / "prometheus.log",
        )
        prometheus = f"http://127.0.0.1:{prometheus_port}"
        api = f"http://127.0.0.1:{api_port}"
        service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}

        async with httpx.AsyncClient(timeout=10) as http:

            async def all_up() -> bool:
                up = await query(http, prometheus, "up == 1")
                return {r["metric"]["job"] for r in up} == set(targets)

            await eventually(all_up, "Prometheus scrapes the worker (both ports) and the API", processes, 90)

            async def run_phase(plans: dict[str, tuple[int, str]], seen: int) -> None:
                for plan_id, _ in plans.values():
                    started = await http.post(f"{api}/v1/plans/{plan_id}/start", headers=service)
                    assert started.status_code in (200, 201, 202), started.text

                async def settled() -> bool:
                    rows = await _ledger(store.sessionmaker)
                    kickoffs = {r.plan_id: r.status for r in rows if r.notification_type == "plan_kickoff_primer"}
                    return all(kickoffs.get(p) in ("sent", "skipped", "failed") for p, _ in plans.values())

                await eventually(settled, "the kickoffs are sent, skipped and failed", processes)

                async def scraped() -> bool:
                    total = await query(http, prometheus, 'sum(coach_notifications_total{type="plan_kickoff_primer"})')
                    return bool(total) and float(total[0]["value"][1]) >= seen

                await eventually(scraped, "Prometheus has the outcomes", processes)

            # Two rounds, each scraped before the next, so every counter moves while Prometheus watches (a rate
            # needs two samples apart).
            await run_phase(first, 3)
            await run_phase(second, 6)
            rows = await _ledger(store.sessionmaker)
            outcomes = {(r.plan_id, r.status) for r in rows if r.notification_type == "plan_kickoff_primer"}
            assert {(first["ok"][0], "sent"), (first["none"][0], "skipped"), (first["dead"][0], "failed")} <= outcomes
            # The morning hype's copy is prepared ahead, with the weather (fetched once: the second athlete rucks
            # in the same place, a cache hit).
            await eventually(lambda: _async(owm.requests), "the weather is looked up for the morning hype", processes)

            # The anomaly watch on its schedule: five stale skips in the last hour make it alert.
            now = datetime.now(UTC)
            await _insert_stale_skips(store.sessionmaker, now - timedelta(minutes=10), 5)
            await dev_server.client.get_schedule_handle(ANOMALY_SCHEDULE_ID).trigger()
            await eventually(lambda: _async(webhook.received()), "the watch posts to the webhook", processes)
            assert "stale_skips" in webhook.received()[0]["text"]

            async def watch_scraped() -> bool:
                return bool(await query(http, prometheus, 'coach_anomaly_alerts_total{kind="stale_skips"} >= 1'))

            await eventually(watch_scraped, "Prometheus has the watch's alert", processes)

            # Every dashboard query returns data, and a number.
            empty: list[str] = []
            for title, expr in dashboard_queries():
                result = await query(
                    http, prometheus, expr.replace("$__rate_interval", "3m").replace("$__range", "10m")
                )
                values = [float(r["value"][1]) for r in result]
                if not values or not any(math.isfinite(v) for v in values):
                    empty.append(f"{title}: {expr} -> {result}")
            assert not empty, "dashboard queries without data:\n" + "\n".join(empty)

            # No user id, device token, plan copy or free text in any label of any endpoint.
            secrets_ = [user for plans in (first, second) for _, user in plans.values()]
            secrets_ += [f"{k}-{t}" for k in ("good", "dead") for t in ("1", "2")]
            secrets_ += [r.payload.get(f, "") for r in rows for f in ("title", "body") if r.payload.get(f)]
            for port in (worker_port, sdk_port, api_port):
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        for name, value in sample.labels.items():
                            assert LABEL_VALUE.fullmatch(value), (family.name, name, value)
                            assert not any(s and s in value for s in secrets_), (family.name, name, value)
                if port == api_port:
                    assert 'route="/v1/plans/{plan_id}/start"' in text and f"/v1/plans/{first['ok'][0]}/" not in text
    await engine.dispose()


async def _async(value: Any) -> Any:
    return value


async def _ledger(sessionmaker: async_sessionmaker[AsyncSession]) -> list[NotificationLedgerEntry]:
    from sqlalchemy import select

    async with sessionmaker() as session:
        return list((await session.scalars(select(NotificationLedgerEntry))).all())


async def _insert_stale_skips(sessionmaker: async_sessionmaker[AsyncSession], at: datetime, count: int) -> None:
    async with sessionmaker.begin() as session:
        for i in range(count):
            session.add(
                NotificationLedgerEntry(
                    notification_id=f"p999:evening_brief:s{i}:{at.date()}",
                    user_id=str(uuid.UUID(int=i + 1)),
                    plan_id=999,
                    plan_session_id=i,
                    notification_type="plan_evening_brief",
                    local_date=at.date(),
                    status="skipped",
                    reason="stale: injected by the test",
                    scheduled_for=at,
                    payload={},
                )
            )
