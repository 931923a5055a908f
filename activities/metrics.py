"""The service's own Prometheus metrics (``prometheus-client``), and the code that serves them.

Every label value is a bounded code: a notification type, an outcome, a reason *code* (the part of a ledger reason
before its colon, and only if it looks like a code), an FCM error code, a route *template*. Never a user id, a token,
a plan id or any copy text: :func:`code` is the one gate they all go through. The Temporal SDK's own runtime metrics
are served by the SDK core on a port of their own (:func:`starter.temporal.route_core_logs_to_python`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import UserCoachingPlan
from coaching.anomaly import AlertKind
from coaching.models import NotificationType

log = logging.getLogger(__name__)

#: What a label value may look like; anything else is reported as ``other``.
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,47}")

#: Seconds from a notification's due time to FCM taking it.
LATENESS_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600)

NOTIFICATIONS = Counter(
    "coach_notifications",
    "Notifications by type and outcome (sent, skipped, failed, shadow) and the reason code of a skip or failure.",
    ["type", "outcome", "reason"],
)
LATENESS = Histogram(
    "coach_notification_lateness_seconds",
    "Sent minus due, per notification type.",
    ["type"],
    buckets=LATENESS_BUCKETS,
)
FCM_ERRORS = Counter("coach_fcm_errors", "FCM refusals and failures by error code, per device token.", ["code"])
COPY = Counter(
    "coach_copy",
    "Notification copy by source (ai or template) and, for the template, why AI copy was not used.",
    ["type", "source", "reason"],
)
WEATHER_CACHE = Counter("coach_weather_cache", "Weather look-ups by cache result (hit or miss).", ["result"])
PLANS = Gauge("coach_plans", "Coaching plans by status (refreshed from the database).", ["status"])
ANOMALY_ALERTS = Counter("coach_anomaly_alerts", "Alerts raised by the anomaly watch, by kind.", ["kind", "type"])
ANOMALY_LAST_RUN = Gauge(
    "coach_anomaly_watch_last_run_timestamp_seconds", "When the anomaly watch last finished a pass (Unix time)."
)
HTTP_REQUESTS = Counter(
    "coach_http_requests", "HTTP API requests by route template, method and status.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "coach_http_request_duration_seconds",
    "HTTP API latency by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def _zeros() -> None:
    """Start the series every deployment has at 0, so the first send or alert is an increase Prometheus sees (a
    series born at 1 shows no rate) and the dashboard's panels have lines from the start."""
    for ntype in NotificationType:
        NOTIFICATIONS.labels(ntype.value, "sent", "")
    for kind in AlertKind:
        ANOMALY_ALERTS.labels(kind.value, "all")
    for ntype in NotificationType:
        ANOMALY_ALERTS.labels(AlertKind.VOLUME_HIGH.value, ntype.value)
    for result in ("hit", "miss"):
        WEATHER_CACHE.labels(result)


_zeros()


def code(value: str | None, *, default: str = "none") -> str:
    """A label value: the code before the first colon (``"stale: the delivery began …"`` → ``stale``), or the
    upper-case error code leading it (``"NOT_FOUND (UnregisteredError): …"`` → ``NOT_FOUND``), when it looks like a
    code; ``other`` otherwise, so no free text (and nothing personal) becomes a label."""
    if not value:
        return default
    head = value.split(":", 1)[0].strip()
    if " " in head:  # free text before any colon: only an upper-case error code leading it counts (NOT_FOUND (…))
        first = head.split(" ", 1)[0]
        head = first if _ERROR_CODE.fullmatch(first) else ""
    return head if _CODE.fullmatch(head) else "other"


def notification(ntype: str, status: str, reason: str | None = None) -> None:
    """Count one notification's outcome: its ledger status (``sent``, ``skipped``, ``failed``, ``shadow``, …)."""
    NOTIFICATIONS.labels(code(ntype), code(status), "" if status == "sent" else code(reason)).inc()


def lateness(ntype: str, seconds: float) -> None:
    LATENESS.labels(code(ntype)).observe(max(0.0, seconds))


def fcm_error(error: str | None) -> None:
    FCM_ERRORS.labels(code(error, default="unknown")).inc()


def copy(ntype: str, source: str, reason: str | None) -> None:
    COPY.labels(code(ntype), code(source), "" if source == "ai" else code(reason)).inc()


def weather_cache(hit: bool) -> None:
    WEATHER_CACHE.labels("hit" if hit else "miss").inc()


def plans(counts: dict[str, int]) -> None:
    """Set the plans-by-status gauge; a status no longer present goes to 0 rather than keeping its old value."""
    for status in list(_known_statuses):
        if status not in counts:
            PLANS.labels(status).set(0)
    for status, count in counts.items():
        _known_statuses.add(code(status))
        PLANS.labels(code(status)).set(count)


_known_statuses: set[str] = set()


class PlanCounts:
    """Plans by status, read from ``user_coaching_plans`` for the ``coach_plans`` gauge."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def by_status(self) -> dict[str, int]:
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(UserCoachingPlan.current_status, func.count()).group_by(UserCoachingPlan.current_status)
            )
            return {str(status or "unknown"): int(count) for status, count in rows.all()}


@contextmanager
def serving(
    address: str | None, registry: CollectorRegistry = REGISTRY, *, busy_ok: bool = False
) -> Iterator[str | None]:
    """Serve ``registry`` on ``host:port`` (``/metrics``, any path in fact) while the context is open; yields the
    URL, or None when ``address`` is empty (metrics off) or, with ``busy_ok``, the port is taken (logged: a second
    worker on one host must still run). Port 0 picks a free one."""
    if not address:
        yield None
        return
    host, port = split_address(address)
    server: WSGIServer
    thread: threading.Thread
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as err:
        if not busy_ok:
            raise
        log.error("service metrics not served: %s is taken (%s)", address, err.strerror)
        yield None
        return
    bound = server.server_address[1]
    url = f"http://{host}:{bound}/metrics"
    log.info("service metrics on %s", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) as a host and a port; raises ValueError naming what is wrong."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"metrics address {address!r}: expected host:port")
    return host.strip("[]") or "0.0.0.0", int(port)


__all__ = [
    "ANOMALY_ALERTS",
    "ANOMALY_LAST_RUN",
    "COPY",
    "FCM_ERRORS",
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "LATENESS",
    "NOTIFICATIONS",
    "PLANS",
    "WEATHER_CACHE",
    "code",
    "serving",
    "split_address",
]
