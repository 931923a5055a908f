"""``coach rollout compare``: the service's shadow (and sent) ledger lined up with what RuckTracker's legacy pipeline
sent (its ``plan_notification_audit``), per athlete and local day.

For each athlete and local day (the athlete's zone, as the service reads it: ``"user".plan_notification_timezone``,
else the plan's, else UTC) and each notification type: how many each side sent, the time deltas of the pairs (the
service's n-th against the legacy's n-th of that type that day; positive: the service is later), and what one sent
and the other did not. The legacy side is its rows with ``status = 'sent'`` by ``sent_at``; the service's are its
ledger rows ``shadow`` or ``sent`` by ``sent_at`` (for shadow: when it would have been pushed).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import AppUser, NotificationLedgerEntry, UserCoachingPlan, UserId, UTCDateTime
from activities.plan_rows import athlete_zone
from coaching.timeutil import local_date

LEGACY_TABLE = "plan_notification_audit"
#: The longest window one comparison reads.
MAX_WINDOW = timedelta(days=92)

_legacy = sa.table(
    LEGACY_TABLE,
    sa.column("id", sa.BigInteger()),
    sa.column("user_id", UserId),
    sa.column("user_coaching_plan_id", sa.Integer()),
    sa.column("notification_type", sa.Text()),
    sa.column("sent_at", UTCDateTime()),
    sa.column("status", sa.Text()),
)


class CompareError(ValueError):
    """The comparison cannot be made (a bad window, no legacy table); the message says why."""


@dataclass(frozen=True)
class Sent:
    """One notification one side sent (or, for shadow, would have)."""

    type: str
    at: datetime
    ref: str  # the service's notification id, or the legacy row's id
    status: str  # sent / shadow (service), sent (legacy)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "at": self.at.isoformat(), "ref": self.ref, "status": self.status}


@dataclass
class TypeDay:
    service: int = 0
    legacy: int = 0
    #: Seconds, the service's minus the legacy's, pair by pair in time order.
    deltas_seconds: list[float] = field(default_factory=list)


@dataclass
class AthleteDay:
    user_id: str
    local_date: date
    timezone: str
    types: dict[str, TypeDay] = field(default_factory=dict)
    service_only: list[Sent] = field(default_factory=list)
    legacy_only: list[Sent] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "local_date": self.local_date.isoformat(),
            "timezone": self.timezone,
            "types": {
                t: {"service": v.service, "legacy": v.legacy, "deltas_seconds": v.deltas_seconds}
                for t, v in sorted(self.types.items())
            },
            "service_only": [s.as_dict() for s in self.service_only],
            "legacy_only": [s.as_dict() for s in self.legacy_only],
        }


@dataclass
class CompareReport:
    since: datetime
    until: datetime
    days: list[AthleteDay]

    def totals(self) -> dict[str, Any]:
        service: dict[str, int] = defaultdict(int)
        legacy: dict[str, int] = defaultdict(int)
        deltas: list[float] = []
        for day in self.days:
            for t, v in day.types.items():
                service[t] += v.service
                legacy[t] += v.legacy
                deltas.extend(v.deltas_seconds)
        return {
            "service_by_type": {t: n for t, n in sorted(service.items()) if n},
            "legacy_by_type": {t: n for t, n in sorted(legacy.items()) if n},
            "matched": len(deltas),
            "service_only": sum(len(d.service_only) for d in self.days),
            "legacy_only": sum(len(d.legacy_only) for d in self.days),
            "median_delta_seconds": statistics.median(deltas) if deltas else None,
            "max_abs_delta_seconds": max((abs(d) for d in deltas), default=None),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "totals": self.totals(),
            "days": [d.as_dict() for d in self.days],
        }


def check_window(since: datetime, until: datetime) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise CompareError("--since/--until: give an offset (2027-01-04T00:00:00+00:00)")
    if until <= since:
        raise CompareError("--until: must be after --since")
    if until - since > MAX_WINDOW:
        raise CompareError(f"--until: the window is at most {MAX_WINDOW.days} days")


async def compare(sessionmaker: async_sessionmaker[AsyncSession], since: datetime, until: datetime) -> CompareReport:
    """Line up both sides over ``[since, until)`` (by send time)."""
    check_window(since, until)
    async with sessionmaker() as session:
        has_legacy = await session.run_sync(lambda s: sa.inspect(s.connection()).has_table(LEGACY_TABLE))
        if not has_legacy:
            raise CompareError(
                f"no {LEGACY_TABLE} table in this database: compare runs on RuckTracker's database (rucktracker mode)"
            )
        ledger = NotificationLedgerEntry
        service_rows = (
            await session.execute(
                sa.select(
                    ledger.user_id, ledger.notification_type, ledger.sent_at, ledger.notification_id, ledger.status
                )
                .where(ledger.status.in_(["sent", "shadow"]), ledger.sent_at >= since, ledger.sent_at < until)
                .order_by(ledger.sent_at)
            )
        ).all()
        legacy_rows = (
            await session.execute(
                sa.select(_legacy.c.user_id, _legacy.c.notification_type, _legacy.c.sent_at, _legacy.c.id)
                .where(_legacy.c.status == "sent", _legacy.c.sent_at >= since, _legacy.c.sent_at < until)
                .order_by(_legacy.c.sent_at)
            )
        ).all()
        users = {str(r[0]) for r in service_rows} | {str(r[0]) for r in legacy_rows}
        zones = await _zones(session, users)

    sides: dict[tuple[str, date], tuple[list[Sent], list[Sent]]] = defaultdict(lambda: ([], []))
    for user_id, type, at, ref, status in service_rows:
        assert at is not None  # selected by sent_at
        uid = str(user_id)
        sides[(uid, local_date(at, zones[uid]))][0].append(Sent(type, at, str(ref), str(status)))
    for user_id, type, at, ref in legacy_rows:
        assert at is not None
        uid = str(user_id)
        sides[(uid, local_date(at, zones[uid]))][1].append(Sent(type, at, str(ref), "sent"))

    days: list[AthleteDay] = []
    for (uid, day), (service, legacy) in sorted(sides.items()):
        out = AthleteDay(user_id=uid, local_date=day, timezone=zones[uid])
        for type in sorted({s.type for s in service} | {s.type for s in legacy}):
            mine = sorted((s for s in service if s.type == type), key=lambda s: s.at)
            theirs = sorted((s for s in legacy if s.type == type), key=lambda s: s.at)
            pairs = min(len(mine), len(theirs))
            out.types[type] = TypeDay(
                service=len(mine),
                legacy=len(theirs),
                deltas_seconds=[(mine[i].at - theirs[i].at).total_seconds() for i in range(pairs)],
            )
            out.service_only.extend(mine[pairs:])
            out.legacy_only.extend(theirs[pairs:])
        days.append(out)
    return CompareReport(since=since, until=until, days=days)


async def _zones(session: AsyncSession, users: set[str]) -> dict[str, str]:
    """Each athlete's zone as the service reads it (the user's, else their latest plan's, else UTC)."""
    zones: dict[str, str] = dict.fromkeys(users, "UTC")
    if not users:
        return zones
    user_zone = {
        str(uid): zone
        for uid, zone in (
            await session.execute(
                sa.select(AppUser.id, AppUser.plan_notification_timezone).where(AppUser.id.in_(sorted(users)))
            )
        ).all()
    }
    plan_zone: dict[str, str | None] = {}
    for uid, zone in (
        await session.execute(
            sa.select(UserCoachingPlan.user_id, UserCoachingPlan.plan_notification_timezone)
            .where(UserCoachingPlan.user_id.in_(sorted(users)))
            .order_by(UserCoachingPlan.id)
        )
    ).all():
        plan_zone[str(uid)] = zone  # the latest plan wins
    for uid in users:
        zones[uid] = athlete_zone(user_zone.get(uid), plan_zone.get(uid))
    return zones


def format_report(report: CompareReport) -> str:
    """The comparison as a table: one line per athlete, day and type, then what only one side sent."""
    totals = report.totals()
    lines = [
        f"Shadow/sent (service) against legacy sent (plan_notification_audit), {report.since:%Y-%m-%d %H:%M %z} to "
        f"{report.until:%Y-%m-%d %H:%M %z}",
        "",
        f"{'athlete':<10} {'local day':<10} {'type':<28} {'service':>7} {'legacy':>7}  deltas (service - legacy)",
    ]
    for day in report.days:
        for type, v in sorted(day.types.items()):
            deltas = ", ".join(_duration(d) for d in v.deltas_seconds) or "-"
            flag = "" if v.service == v.legacy else "  <- differs"
            lines.append(
                f"{day.user_id[:8]:<10} {day.local_date.isoformat():<10} {type:<28} {v.service:>7} {v.legacy:>7}  "
                f"{deltas}{flag}"
            )
    only = [(d, s, "service only") for d in report.days for s in d.service_only]
    only += [(d, s, "legacy only") for d in report.days for s in d.legacy_only]
    if only:
        lines += ["", "Sent by one side only:"]
        for day, sent, side in sorted(only, key=lambda x: (x[0].user_id, x[1].at)):
            lines.append(
                f"  {side:<13} {day.user_id[:8]} {sent.at:%Y-%m-%d %H:%M} UTC  {sent.type} ({sent.status}, {sent.ref})"
            )
    lines += [
        "",
        "Totals by type (service / legacy): "
        + (
            ", ".join(
                f"{t} {totals['service_by_type'].get(t, 0)}/{totals['legacy_by_type'].get(t, 0)}"
                for t in sorted(set(totals["service_by_type"]) | set(totals["legacy_by_type"]))
            )
            or "none"
        ),
        f"Matched {totals['matched']}, service only {totals['service_only']}, legacy only {totals['legacy_only']}; "
        f"median delta {_duration(totals['median_delta_seconds'])}, "
        f"largest {_duration(totals['max_abs_delta_seconds'])}",
    ]
    return "\n".join(lines)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else "+"
    s = abs(int(round(seconds)))
    return f"{sign}{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{sign}{s // 60}m{s % 60:02d}s"
