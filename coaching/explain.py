"""What the Temporal Web UI shows of a plan: timer and activity summaries, the static summary, the current details.

Pure text from the plan's state (no I/O, no clock): the workflow calls these, so a plan's page answers "why did this
go out then, and why not that" without a database query. Nothing personal goes in: plan and session ids,
notification types, times, the athlete's time zone and tone, and the schedule's own reasons. Every text here is a
payload (sealed by the codec when keys are configured), never a search attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from coaching.ids import PLAN_WORKFLOW_TYPE, SEARCH_ATTRIBUTE_NEXT_AT, SEARCH_ATTRIBUTE_STATUS
from coaching.models import NotificationType, PlannedNotification, PlanSnapshot, PlanStatus
from coaching.timeutil import format_local, minute_label, to_local

#: At most this many upcoming notifications and recent outcomes are listed (the Web UI's details stay readable).
MAX_ROWS = 12
#: Markdown cells are cut at this many characters (a reason is a sentence).
_MAX_CELL = 160


@dataclass(frozen=True)
class Outcome:
    """What became of a notification the plan handled: sent, skipped or failed, and why."""

    notification_id: str
    type: NotificationType
    plan_session_id: int | None
    at: datetime
    status: str
    reason: str


def kind(t: NotificationType) -> str:
    """``plan_evening_brief`` as ``evening brief``."""
    return t.value.removeprefix("plan_").replace("_", " ")


def notification_label(n: PlannedNotification, tz: str) -> str:
    """``evening brief · session 12 · Tue 20:00 America/New_York``: a timer's summary."""
    parts = [kind(n.type)]
    if n.plan_session_id is not None:
        parts.append(f"session {n.plan_session_id}")
    parts.append(f"{to_local(n.send_at, tz):%a %H:%M} {tz}")
    return " · ".join(parts)


def activity_summary(what: str, n: PlannedNotification) -> str:
    """``deliver · evening brief · <notification id>``: an activity's summary (type and notification id)."""
    return f"{what} · {kind(n.type)} · {n.notification_id}"


def static_summary(plan_id: int, timezone: str | None = None, tone: str | None = None) -> str:
    """The workflow's one-line summary, set by whoever starts it: the plan, and its time zone and tone if known."""
    return " · ".join([f"coaching plan {plan_id}", *(v for v in (timezone, tone) if v)])


def static_details(plan_id: int) -> str:
    """The workflow's fixed details (Markdown): where on its page to look."""
    return (
        f"Notifications of coaching plan **{plan_id}**.\n\n"
        "- **Current details**: the next notifications, their times and why; what was sent or skipped lately, "
        "and why.\n"
        "- Each timer is named for the notification it waits for (a timer *prepare …* fires when its copy is written, "
        "ahead of the notification).\n"
        "- Each activity is named for its notification (type and id, as in the ledger `coach_notification_ledger`).\n"
    )


def current_details(
    plan_id: int,
    snapshot: PlanSnapshot | None,
    status: PlanStatus,
    upcoming: Sequence[PlannedNotification],
    recent: Sequence[Outcome],
    *,
    snoozed_until: datetime | None = None,
    end_reason: str = "",
) -> str:
    """The plan's current details in Markdown: what comes next and why, what happened lately and why."""
    if snapshot is None:
        return f"**Plan {plan_id}**: loading the plan from the database"
    prefs = snapshot.prefs
    tz = prefs.timezone
    lines = [f"**Plan {plan_id}** · {status.value} · {tz} · tone {prefs.coaching_tone}"]
    rules = [f"evening brief {minute_label(prefs.evening_brief_minute)}", f"daily cap {prefs.daily_cap}"]
    if prefs.quiet_hours is not None:
        start, end = prefs.quiet_hours
        rules.append(f"quiet hours {minute_label(start)}–{minute_label(end)}")
    categories = (("weekly digest", prefs.weekly_digest_enabled), ("milestones", prefs.milestones_enabled))
    off = [name for name, on in categories if not on]
    if off:
        rules.append(f"off: {', '.join(off)}")
    if snoozed_until is not None:
        rules.append(f"**snoozed until {format_local(snoozed_until, tz)}** (reminders held; celebrations go out)")
    lines += ["", "Rules in force: " + " · ".join(rules)]
    if status is PlanStatus.PAUSED:
        lines.append("**Paused**: reminders due while paused are skipped (the ledger says so); celebrations still go.")
    if end_reason:
        lines.append(f"**Ended**: {_cell(end_reason)}")
    lines.append("")
    lines.append("### Next")
    if upcoming:
        lines += ["| when | notification | session | why then |", "|---|---|---|---|"]
        for n in upcoming[:MAX_ROWS]:
            session = str(n.plan_session_id) if n.plan_session_id is not None else "–"
            lines.append(f"| {format_local(n.send_at, tz)} | {kind(n.type)} | {session} | {_cell(n.reason)} |")
        if len(upcoming) > MAX_ROWS:
            lines.append(f"\n…and {len(upcoming) - MAX_ROWS} more (`coach plan status {plan_id}`)")
    else:
        lines.append("Nothing upcoming.")
    lines.append("")
    lines.append("### Lately")
    if recent:
        lines += ["| at | notification | session | outcome | why |", "|---|---|---|---|---|"]
        for o in list(recent)[-MAX_ROWS:][::-1]:
            session = str(o.plan_session_id) if o.plan_session_id is not None else "–"
            lines.append(f"| {format_local(o.at, tz)} | {kind(o.type)} | {session} | {o.status} | {_cell(o.reason)} |")
    else:
        lines.append("Nothing sent or skipped by this run yet (earlier runs: `coach plan history`, the ledger).")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: one line, no pipes, bounded."""
    flat = " ".join(text.split()).replace("|", "/")
    return flat if len(flat) <= _MAX_CELL else flat[: _MAX_CELL - 1] + "…"


def saved_queries(now: datetime) -> dict[str, str]:
    """The workflow list's saved views (README, Operations) as of ``now``: Temporal's list filter has no clock of its
    own, so "the next hour" is two instants."""
    plans = f"WorkflowType = '{PLAN_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'"
    active = f"{plans} AND {SEARCH_ATTRIBUTE_STATUS} = 'active'"
    soon, later = (t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in (now, now + timedelta(hours=1)))
    return {
        "paused plans": f"{plans} AND {SEARCH_ATTRIBUTE_STATUS} = 'paused'",
        "due in the next hour": f"{active} AND {SEARCH_ATTRIBUTE_NEXT_AT} BETWEEN '{soon}' AND '{later}'",
        # A delivery that failed for good leaves no search attribute (the plan goes on; the ledger and the plan's
        # current details have it). What the list shows is a plan stuck behind its next notification: a worker
        # down, or a workflow task failing.
        "overdue plans": (
            f"{active} AND {SEARCH_ATTRIBUTE_NEXT_AT} < "
            f"'{(now - timedelta(minutes=15)).astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}'"
        ),
    }
