"""The metrics' label gate (activities/metrics.py), the HTTP API's request metrics and /metrics
(starter/api/metrics.py), and the worker's metrics server. The live scrape of a running worker and API is in
tests/test_deploy.py."""

from __future__ import annotations

import socket
from typing import Any, cast

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from activities import metrics
from starter.api import create_app
from starter.api.metrics import route_template
from starter.client import PlanNotifications

TOKEN = "metrics-test-service-token-0123456789"


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("stale: the delivery began after 2027-01-01T10:00Z, the notification's last useful moment", "stale"),
        ("quiet_hours", "quiet_hours"),
        ("NOT_FOUND (UnregisteredError): Requested entity was not found.", "NOT_FOUND"),
        ("no_device: the athlete has no active push token", "no_device"),
        ("FCM refused it for good on every device: INVALID_ARGUMENT", "FCM"),
        ("Oi Sam, your 5 km tempo ruck is tomorrow at 07:00", "other"),
        ("Sam, time to ruck", "other"),
        ("5d3c2a40-1111-4222-8333-944455556666: a user id first", "other"),
        ("c0ffee:token", "c0ffee"),
        ("e2e-device-token", "other"),
        ("Привет: not a code", "other"),
        ("", "none"),
        (None, "none"),
    ],
)
def test_a_label_is_the_code_before_the_colon_or_other(reason: str | None, label: str) -> None:
    assert metrics.code(reason) == label


def test_no_label_value_can_carry_more_than_a_short_code() -> None:
    long_word = "a" * 49
    assert metrics.code(long_word) == "other" and metrics.code("a" * 48) == "a" * 48
    assert metrics.code("two words") == "other"  # free text, not a code
    assert metrics.code("TIMEOUT after 10 s") == "TIMEOUT"  # an error code leading a message


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_outcomes_count_by_ledger_status_shadow_included() -> None:
    before = {
        s: sample("coach_notifications_total", type="plan_morning_hype", outcome=s, reason=r)
        for s, r in (("sent", ""), ("shadow", "none"), ("skipped", "quiet_hours"))
    }
    metrics.notification("plan_morning_hype", "sent", "via fcm to 1 device(s)")
    metrics.notification("plan_morning_hype", "shadow")
    metrics.notification("plan_morning_hype", "skipped", "quiet_hours: held past its limit")
    assert (
        sample("coach_notifications_total", type="plan_morning_hype", outcome="sent", reason="") == before["sent"] + 1
    )
    assert (
        sample("coach_notifications_total", type="plan_morning_hype", outcome="shadow", reason="none")
        == before["shadow"] + 1
    )
    assert (
        sample("coach_notifications_total", type="plan_morning_hype", outcome="skipped", reason="quiet_hours")
        == before["skipped"] + 1
    )


def test_the_plans_gauge_drops_a_status_that_is_gone() -> None:
    metrics.plans({"active": 3, "paused": 1})
    assert sample("coach_plans", status="active") == 3 and sample("coach_plans", status="paused") == 1
    metrics.plans({"active": 2})
    assert sample("coach_plans", status="active") == 2 and sample("coach_plans", status="paused") == 0


def test_the_metrics_server_serves_and_a_taken_port_is_tolerated_only_when_asked() -> None:
    registry = CollectorRegistry()
    Counter("probe", "A probe.", registry=registry).inc()
    with metrics.serving("127.0.0.1:0", registry) as url:
        assert url is not None
        assert "probe_total 1.0" in httpx.get(url, timeout=5).text
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with metrics.serving(f"127.0.0.1:{port}", registry, busy_ok=True) as second:
            assert second is None
        with pytest.raises(OSError), metrics.serving(f"127.0.0.1:{port}", registry):
            pass
    with socket.socket() as sock:  # closed with its context
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    with metrics.serving("", registry) as off:
        assert off is None


@pytest.mark.parametrize("address", ["9464", "host:", "host:port", "host:70000"])
def test_a_bad_metrics_address_names_itself(address: str) -> None:
    with pytest.raises(ValueError, match="metrics address"):
        metrics.split_address(address)


def test_metrics_addresses_split() -> None:
    assert metrics.split_address("0.0.0.0:9464") == ("0.0.0.0", 9464)
    assert metrics.split_address(":9464") == ("0.0.0.0", 9464)
    assert metrics.split_address("[::1]:9464") == ("::1", 9464)


async def test_the_api_counts_requests_by_route_template_and_serves_metrics() -> None:
    # The routes below answer before they would reach Temporal (health, refusals, not found): no plans client needed.
    app = create_app(cast(PlanNotifications, None), service_token=TOKEN)
    transport = httpx.ASGITransport(app=app)
    secret_plan = 1_234_567
    before = sample("coach_http_requests_total", route="/v1/plans/{plan_id}/schedule", method="GET", status="401")
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get(f"/v1/plans/{secret_plan}/schedule")).status_code == 401
        assert (await http.get("/no/such/route/5d3c2a40-1111-4222-8333-944455556666")).status_code == 404
        assert (await http.request("PROPFIND", "/healthz")).status_code == 405
        exposition = await http.get("/metrics")
    assert exposition.status_code == 200 and exposition.headers["content-type"].startswith("text/plain")
    text = exposition.text
    assert 'route="/v1/plans/{plan_id}/schedule"' in text and str(secret_plan) not in text
    assert "5d3c2a40" not in text and 'route="unmatched"' in text and 'method="other"' in text
    assert (
        sample("coach_http_requests_total", route="/v1/plans/{plan_id}/schedule", method="GET", status="401")
        == before + 1
    )
    assert sample("coach_http_request_duration_seconds_count", route="/healthz", method="GET") >= 1
    # /metrics is for Prometheus, not part of the documented API.
    assert "/metrics" not in app.openapi()["paths"]


def test_route_template_of_a_scope() -> None:
    app = create_app(cast(PlanNotifications, None), service_token=TOKEN)

    def scope(path: str, method: str = "GET") -> dict[str, Any]:
        return {"type": "http", "app": app, "path": path, "method": method, "root_path": ""}

    assert route_template(scope("/v1/plans/42/schedule")) == "/v1/plans/{plan_id}/schedule"
    assert route_template(scope("/v1/plans/42/schedule", "DELETE")) == "/v1/plans/{plan_id}/schedule"  # a 405
    assert route_template(scope("/nope")) == "unmatched"
    assert route_template({"type": "http", "path": "/healthz"}) == "unmatched"
