"""The anomaly watch's I/O: read the ledger's figures, and send each alert to a webhook, a table, a metric and the log.

The rules are pure (:mod:`coaching.anomaly`); this module reads what they judge from ``coach_notification_ledger``
(sends by ``sent_at``, shadow rows as sends; failures and stale skips by their due time, ``scheduled_for``) and
hands on what they find.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import metrics
from activities.db import AlertRow, NotificationLedgerEntry
from activities.rollout import engage_kill_switch
from activities.store_base import dialect_insert
from coaching.anomaly import Alert, Thresholds, WindowStats, baseline_windows, detect, should_brake
from coaching.models import AnomalyAlert, AnomalyWatchInput, AnomalyWatchResult, NotificationType
from coaching.rollout import MAX_REASON

log = logging.getLogger(__name__)

#: The types sent at most once per (plan, session, local day): a second sent row with the same key is a duplicate.
#: (Celebrations and milestones may legitimately come twice a day: one per ruck, one per milestone.)
ONCE_PER_KEY = (
    NotificationType.KICKOFF_PRIMER.value,
    NotificationType.EVENING_BRIEF.value,
    NotificationType.MORNING_HYPE.value,
    NotificationType.MISSED_FOLLOWUP.value,
    NotificationType.WEEKLY_DIGEST.value,
)

#: The ledger status of a notification decided and written but not pushed (the rollout controls' shadow mode).
SHADOW = "shadow"

#: The brake hook: receives an alert the brake factor says to act on, returns whether it braked (turned the kill
#: switch on). Wired by whoever owns the kill switch; without one the alert says the brake is not wired.
BrakeHook = Callable[[Alert], Awaitable[bool]]

_Ledger = NotificationLedgerEntry


class AnomalyStore:
    """The ledger's figures for a window, and the alerts table."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def first_activity(self) -> datetime | None:
        """When the ledger's first notification was due (None: empty): weeks before it were not observed."""
        async with self.sessionmaker() as session:
            first: datetime | None = await session.scalar(select(func.min(_Ledger.scheduled_for)))
            return first

    async def window(self, start: datetime, end: datetime, *, details: bool = True) -> WindowStats:
        """Sends per type in [start, end); with ``details`` also failures, stale skips, duplicates and lateness."""
        async with self.sessionmaker() as session:
            sent_in = and_(_Ledger.status == "sent", _Ledger.sent_at >= start, _Ledger.sent_at < end)
            # Volume counts what the service decided to send: pushed, or written as ``shadow`` (rollout's shadow
            # mode, which pushes nothing), so a cohort moving from shadow to live is no burst and a worker in
            # shadow mode is no dead one.
            shown = func.coalesce(_Ledger.sent_at, _Ledger.scheduled_for)
            shadow_in = and_(_Ledger.status == SHADOW, shown >= start, shown < end)
            rows = await session.execute(
                select(_Ledger.notification_type, func.count())
                .where(or_(sent_in, shadow_in))
                .group_by(_Ledger.notification_type)
            )
            sent = {str(t): int(c) for t, c in rows.all()}
            if not details:
                return WindowStats(start=start, end=end, sent=sent)
            due_in = and_(_Ledger.scheduled_for >= start, _Ledger.scheduled_for < end)
            failed = await session.scalar(select(func.count()).where(due_in, _Ledger.status == "failed")) or 0
            stale = (
                await session.scalar(
                    select(func.count()).where(
                        due_in, _Ledger.status.in_(("skipped", "failed")), _Ledger.reason.like("stale%")
                    )
                )
                or 0
            )
            key = (_Ledger.plan_id, _Ledger.notification_type, _Ledger.plan_session_id, _Ledger.local_date)
            twice = await session.execute(
                select(*key, func.count())
                .where(sent_in, _Ledger.notification_type.in_(ONCE_PER_KEY))
                .group_by(*key)
                .having(func.count() > 1)
            )
            # The key as the figures show it: plan, type, session, date (ids of plans and sessions, no personal data).
            duplicates = {f"p{p}:{t}:s{s}:{d}": int(c) for p, t, s, d, c in twice.all()}
            times = await session.execute(select(_Ledger.scheduled_for, _Ledger.sent_at).where(sent_in))
            lateness = [(sent_at - due).total_seconds() for due, sent_at in times.all() if sent_at is not None]
        return WindowStats(
            start=start,
            end=end,
            sent=sent,
            failed=int(failed),
            stale_skips=int(stale),
            duplicates=duplicates,
            lateness_seconds=lateness,
        )

    async def set_webhook_status(self, alert_key: str, status: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(update(AlertRow).where(AlertRow.alert_key == alert_key).values(webhook_status=status))

    async def record(self, alert: Alert, *, braked: bool) -> bool:
        """Store the alert; False when it was already stored (a retried pass)."""
        async with self.sessionmaker() as session, session.begin():
            statement = (
                dialect_insert(session, AlertRow)
                .values(
                    alert_key=alert.key,
                    kind=alert.kind.value,
                    notification_type=alert.notification_type,
                    window_start=alert.window_start,
                    window_end=alert.window_end,
                    summary=alert.summary,
                    figures=dict(alert.figures),
                    braked=braked,
                )
                .on_conflict_do_nothing(index_elements=["alert_key"])
            )
            result = cast(CursorResult[Any], await session.execute(statement))
            return result.rowcount == 1

    async def alerts(self, since: datetime | None = None) -> list[AlertRow]:
        async with self.sessionmaker() as session:
            query = select(AlertRow).order_by(AlertRow.window_end, AlertRow.id)
            if since is not None:
                query = query.where(AlertRow.window_end >= since)
            return list((await session.scalars(query)).all())


@dataclass
class AnomalyActivities:
    store: AnomalyStore
    http: httpx.AsyncClient
    #: A Slack-compatible incoming webhook (``{"text": …}``); None: alerts go to the table, metric and log only.
    webhook_url: str | None = None
    #: The optional brake (see :func:`coaching.anomaly.should_brake`); None: off.
    brake_factor: float | None = None
    brake: BrakeHook | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)

    @activity.defn
    async def check_send_volume(self, input: AnomalyWatchInput) -> AnomalyWatchResult:
        """Judge the window ending at ``input.end`` (else now), then report each alert (webhook, table, metric,
        log)."""
        end = input.end or _now()
        window = timedelta(minutes=input.window_minutes)
        current = await self.store.window(end - window, end)
        first = await self.store.first_activity()
        history = [
            await self.store.window(start, stop, details=False)
            for start, stop in baseline_windows(end, window, input.baseline_weeks)
            # A week before the service's first notification was not observed (a new install has no baseline yet).
            if first is not None and first <= start
        ]
        thresholds = self.thresholds
        if thresholds.baseline_weeks != input.baseline_weeks:
            thresholds = Thresholds(**{**thresholds.__dict__, "baseline_weeks": input.baseline_weeks})
        found = detect(current, history, thresholds)
        reported = [await self._report(alert) for alert in found]
        metrics.ANOMALY_LAST_RUN.set(end.timestamp())
        return AnomalyWatchResult(
            window_start=current.start, window_end=current.end, sent=dict(current.sent), alerts=reported
        )

    async def _report(self, alert: Alert) -> AnomalyAlert:
        braked = False
        summary = alert.summary
        if should_brake(alert, self.brake_factor):
            if self.brake is None:
                summary += f" (over the brake's {self.brake_factor:g}x, but no kill switch is wired to it)"
            else:
                braked = await self.brake(alert)
                summary += (
                    f"; BRAKE: over {self.brake_factor:g}x the baseline, the kill switch was turned on"
                    if braked
                    else f"; over the brake's {self.brake_factor:g}x, but the kill switch was not turned on"
                )
        shown = Alert(alert.kind, alert.notification_type, summary, alert.figures, alert.window_start, alert.window_end)
        # Recorded first: a retried pass finds it there and neither posts nor counts it again.
        if await self.store.record(shown, braked=braked):
            metrics.ANOMALY_ALERTS.labels(alert.kind.value, metrics.code(alert.notification_type)).inc()
            log.warning("anomaly %s: %s %s", alert.kind.value, summary, dict(alert.figures))
            if self.webhook_url:
                await self.store.set_webhook_status(shown.key, await self._post(shown))
        return AnomalyAlert(
            kind=alert.kind.value,
            notification_type=alert.notification_type,
            summary=summary,
            figures=dict(alert.figures),
            braked=braked,
        )

    async def _post(self, alert: Alert) -> str:
        """Send the alert to the webhook; its answer (never raises: the table, metric and log still have it)."""
        assert self.webhook_url is not None
        try:
            response = await self.http.post(self.webhook_url, json=slack_message(alert), timeout=10)
        except httpx.HTTPError as err:
            log.warning("alert webhook unreachable: %s", type(err).__name__)
            return f"error: {type(err).__name__}"[:40]
        if response.is_error:
            log.warning("alert webhook answered %d", response.status_code)
        return str(response.status_code)

    def all(self) -> list[Callable[..., Any]]:
        return [self.check_send_volume]


def slack_message(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message (``text`` for notifications and other chat tools, ``blocks`` for Slack)."""
    window = f"{alert.window_start:%Y-%m-%d %H:%M}-{alert.window_end:%H:%M} UTC"
    figures = "\n".join(f"• {name}: {value}" for name, value in alert.figures.items())
    text = f":rotating_light: coaching notifications, {alert.kind.value} ({alert.notification_type}): {alert.summary}"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*\nwindow {window}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": figures or "(no figures)"}},
        ],
    }


def _now() -> datetime:
    """The attempt's server time: the host clock in production, the skipped-to time in time-skipping tests."""
    return activity.info().current_attempt_scheduled_time or datetime.now(UTC)


__all__ = ["AnomalyActivities", "AnomalyStore", "BrakeHook", "slack_message"]


def kill_switch_brake(sessionmaker: async_sessionmaker[AsyncSession]) -> BrakeHook:
    """The brake the worker wires by default: turn the rollout kill switch on (recorded as actor ``anomaly-watch``
    with the alert's summary as the reason, so ``coach rollout show`` says why); True if this turned it on."""

    async def brake(alert: Alert) -> bool:
        text = "".join(c if c.isprintable() else " " for c in f"anomaly brake: {alert.summary}")
        reason = text[:MAX_REASON].strip()
        return await engage_kill_switch(sessionmaker, actor="anomaly-watch", reason=reason)

    return brake
