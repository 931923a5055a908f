"""`coach plan history PLAN_ID`: every notification of a plan as the ledger holds it, with the text that was sent.

Read from the database only (``coach_notification_ledger``), so it answers with Temporal down and for plans whose
workflow ended long ago. Times are shown in the athlete's zone as delivery recorded it (the push's context), else the
plan's current zone.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from activities.ledger_store import LedgerRow
from coaching.timeutil import format_local
from starter.settings import Settings


class HistoryRow(BaseModel):
    notification_id: str
    type: str
    status: str
    #: When it was planned to go out, and when it went out (None unless sent).
    scheduled_for: datetime
    sent_at: datetime | None
    local_time: str
    plan_session_id: int | None
    reason: str | None
    copy_source: str | None
    attempts: int
    title: str | None
    body: str | None


class PlanNotInDatabase(LookupError):
    """No such plan in ``user_coaching_plans`` (and nothing in the ledger for it)."""


async def plan_history(settings: Settings, plan_id: int) -> list[HistoryRow]:
    from activities.database import make_engine, make_sessionmaker
    from activities.store import Store

    engine = make_engine(settings.database_url)
    try:
        store = Store(make_sessionmaker(engine))
        rows = await store.ledger_rows(plan_id)
        try:
            snapshot = await store.load_plan_snapshot(plan_id)
        except ValueError:  # a row the workflow would refuse (bad zone, …): its ledger is still worth reading
            snapshot = None
        if not rows and snapshot is None:
            raise PlanNotInDatabase(f"plan {plan_id}: plan_not_found: no such row in user_coaching_plans")
    finally:
        await engine.dispose()
    zone = snapshot.prefs.timezone if snapshot else "UTC"
    out = [_row(r, zone) for r in rows]
    out.sort(key=lambda r: (r.sent_at or r.scheduled_for, r.notification_id))
    return out


def _row(r: LedgerRow, fallback_zone: str) -> HistoryRow:
    payload: dict[str, Any] = r.payload or {}
    when = r.sent_at or r.scheduled_for
    return HistoryRow(
        notification_id=r.notification_id,
        type=r.notification_type,
        status=r.status,
        scheduled_for=r.scheduled_for,
        sent_at=r.sent_at,
        local_time=format_local(when, _zone_of(payload) or fallback_zone),
        plan_session_id=r.plan_session_id,
        reason=r.reason,
        copy_source=r.copy_source,
        attempts=r.attempts,
        title=payload.get("title"),
        body=payload.get("body"),
    )


def _zone_of(payload: dict[str, Any]) -> str | None:
    """The athlete's zone when the push was composed (``context.timezone``), if it is a zone this machine knows."""
    from coaching.timeutil import validate_timezone

    try:
        context = json.loads((payload.get("data") or {}).get("context") or "{}")
        tz = context.get("timezone") if isinstance(context, dict) else None
        return validate_timezone(tz) if isinstance(tz, str) else None
    except (TypeError, ValueError):
        return None


def render_history(plan_id: int, rows: list[HistoryRow]) -> str:
    sent = sum(r.status == "sent" for r in rows)
    lines = [f"Plan {plan_id}: {len(rows)} notification(s) in the ledger, {sent} sent"]
    for r in rows:
        session = f" session {r.plan_session_id}" if r.plan_session_id else ""
        lines.append(f"  {r.local_time:<26} {r.type:<28} {r.status.upper()}{session}")
        if r.title or r.body:
            lines.append(f"      {r.title or ''}: {r.body or ''}  [{r.copy_source or 'template'}]")
        if r.reason:
            lines.append(f"      reason: {r.reason}")
    return "\n".join(lines)
