"""FROZEN copy of ``coaching/schedule.py`` as it was before issue 11 item 13 (commit 9b71893): the quadratic
``evaluate`` whose results the linear one must reproduce under RULES_V1.

Never edit this file (nor import it from production code): ``tests/test_schedule_linear.py`` checks the production
rules against it on random plans, and ``bench/evaluate.py`` times it as the baseline. It is split in two modules
(issue 15, modules under 600 lines; whole definitions moved, not a line of them changed): the rule constants, session
timing, completions, milestones and progress are in ``bench/legacy_schedule_rules.py``, the candidates and the
evaluation here. The original docstring follows.

The schedule: which notification is due when, and what to do with it now.

Pure functions over a plan snapshot and the workflow state. The workflow calls :func:`evaluate` on every wake-up and
the `coach plan status` query shows its ``upcoming`` list; the simulator runs the same workflow, so there is one copy
of every rule. All rule constants live here and are listed in the README's rules table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bench.legacy_schedule_rules import (
    _WEEKDAYS,
    FINAL_TYPES,
    FORGET_AFTER,
    MAX_LATENESS,
    MILESTONE_DELAY,
    MISSED_FOLLOWUP_MINUTE,
    PRIORITY,
    SESSION_REMINDERS,
    SessionTiming,
    _before_plan,
    _milestones_for,
    _ordered_sessions,
    _progress,
    completed_session_ids,
    evening_brief_minute,
    match_completion,
    missed_state_for,
    session_start,
    session_starts,
)
from coaching.ids import notification_id
from coaching.models import (
    Action,
    Completion,
    Decision,
    NotificationType,
    PlannedNotification,
    PlanSnapshot,
    PlanState,
    PlanStatus,
)
from coaching.preferences import type_enabled
from coaching.timeutil import (
    end_of_quiet_hours,
    format_local,
    local_date,
    local_to_utc,
    minute_label,
    to_local,
)


@dataclass
class Evaluation:
    """What to do now (``actions``), what comes next (``upcoming``) and when to wake up."""

    actions: list[Action] = field(default_factory=list)
    upcoming: list[PlannedNotification] = field(default_factory=list)
    #: When notifications not shown as upcoming (their category is off) are due: each is logged as skipped then.
    silent_due: list[datetime] = field(default_factory=list)

    @property
    def next_wake(self) -> datetime | None:
        return min([*(n.send_at for n in self.upcoming), *self.silent_due], default=None)


# --- candidates ----------------------------------------------------------------------------------------------


def _planned(
    plan_id: int,
    ntype: NotificationType,
    *,
    day: date,
    due_at: datetime,
    reason: str,
    session_id: int | None = None,
    subkey: str = "",
    expires_at: datetime | None = None,
    facts: dict[str, str] | None = None,
    key_day: date | None = None,
) -> PlannedNotification:
    limit = due_at + MAX_LATENESS[ntype]
    # A celebration is keyed by its ruck alone: matching it to a session later must not make it a new notification.
    key_session = None if ntype is NotificationType.COMPLETION_CELEBRATION else session_id
    return PlannedNotification(
        notification_id=notification_id(plan_id, ntype, key_session, key_day or day, subkey),
        type=ntype,
        plan_session_id=session_id,
        local_date=day,
        due_at=due_at,
        send_at=due_at,
        expires_at=min(limit, expires_at) if expires_at else limit,
        reason=reason,
        subkey=subkey,
        counts_toward_cap=ntype is not NotificationType.COMPLETION_CELEBRATION,
        facts=facts or {},
    )


def candidates(
    snapshot: PlanSnapshot, completions: list[Completion], starts: dict[int, SessionTiming] | None = None
) -> list[PlannedNotification]:
    """Every notification the plan calls for over its whole life, before quiet hours, staleness and the cap."""
    prefs, tz, plan_id = snapshot.prefs, snapshot.prefs.timezone, snapshot.plan_id
    starts = session_starts(snapshot) if starts is None else starts
    done = completed_session_ids(snapshot, completions)
    out: list[PlannedNotification] = []

    ordered = _ordered_sessions(snapshot)
    # Sessions that were over before the athlete joined are not theirs to have done or missed.
    joined = [s for s in ordered if not _before_plan(snapshot, starts.get(s.id))]
    first_ahead = joined[0].scheduled_date if joined else snapshot.start_date
    out.append(
        _planned(
            plan_id,
            NotificationType.KICKOFF_PRIMER,
            # The UTC date: a key that a later time-zone change cannot alter (or the kickoff could go twice).
            day=snapshot.created_at.astimezone(UTC).date(),
            due_at=snapshot.created_at,
            reason="when the plan was created",
            facts={"plan_name": snapshot.plan_name, "start_date": (first_ahead or snapshot.start_date).isoformat()},
        )
    )

    progress = _progress(joined, done)
    for session in ordered:
        timing = starts.get(session.id)
        if timing is None or session.completion_status in ("skipped", "modified") and session.id not in done:
            continue
        assert session.scheduled_date is not None
        facts = {
            **progress.get(session.id, {}),
            "session_focus": session.planned_session_type,
            "session_date": session.scheduled_date.isoformat(),
            "weekday": _WEEKDAYS[session.scheduled_date.weekday()],
            "start_time": minute_label(timing.start_minute),
            "planned_week": str(session.planned_week),
        }
        if session.distance_km is not None:
            facts["distance_km"] = f"{session.distance_km:g}"
        if session.duration_minutes is not None:
            facts["duration_minutes"] = str(session.duration_minutes)
        if session.weight_kg is not None:
            facts["weight_kg"] = f"{session.weight_kg:g}"
        if session.id in done:
            continue
        brief_minute, brief_why = evening_brief_minute(timing.opens_minute, prefs)
        brief_day = session.scheduled_date - timedelta(days=1)
        out.append(
            _planned(
                plan_id,
                NotificationType.EVENING_BRIEF,
                day=session.scheduled_date,
                session_id=session.id,
                due_at=local_to_utc(brief_day, brief_minute, tz),
                expires_at=timing.opens_at - timedelta(minutes=prefs.morning_hype_lead_minutes),
                reason=f"evening before {facts['weekday']}'s {session.planned_session_type} "
                f"({timing.reason}) at {brief_why}",
                facts=facts,
            )
        )
        out.append(
            _planned(
                plan_id,
                NotificationType.MORNING_HYPE,
                day=session.scheduled_date,
                session_id=session.id,
                due_at=timing.opens_at - timedelta(minutes=prefs.morning_hype_lead_minutes),
                expires_at=timing.opens_at,
                reason=f"{prefs.morning_hype_lead_minutes} min before "
                + ("the start at " if timing.opens_at == timing.start_at else "your window opens, for ")
                + timing.reason,
                facts=facts,
            )
        )
        if _before_plan(snapshot, timing):
            # The session was over before the athlete joined: it cannot have been missed (RuckTracker bug #5).
            continue
        state = missed_state_for(snapshot, done, session.id, starts)
        out.append(
            _planned(
                plan_id,
                NotificationType.MISSED_FOLLOWUP,
                day=session.scheduled_date,
                session_id=session.id,
                due_at=local_to_utc(session.scheduled_date + timedelta(days=1), MISSED_FOLLOWUP_MINUTE, tz),
                reason=f"{minute_label(MISSED_FOLLOWUP_MINUTE)} the morning after "
                f"{facts['weekday']}'s session, if no completed ruck matches it",
                facts={**facts, "missed_state": state.value},
            )
        )

    for c in completions:
        session_key = c.plan_session_id
        subkey = f"ruck{c.ruck_id}"
        facts = {"source": c.source.value}
        if c.distance_km is not None:
            facts["distance_km"] = f"{c.distance_km:g}"
        if c.duration_seconds is not None:
            facts["duration_minutes"] = str(round(c.duration_seconds / 60))
        matched = next((s for s in snapshot.sessions if s.id == session_key), None)
        if matched is not None:
            facts["session_focus"] = matched.planned_session_type
        out.append(
            _planned(
                plan_id,
                NotificationType.COMPLETION_CELEBRATION,
                day=c.local_date,
                session_id=session_key,
                subkey=subkey,
                due_at=c.received_at,
                expires_at=c.completed_at + MAX_LATENESS[NotificationType.COMPLETION_CELEBRATION],
                reason="as soon as the completed ruck was reported",
                facts=facts,
            )
        )

    for c, key, label in _milestones_for(snapshot, completions):
        out.append(
            _planned(
                plan_id,
                NotificationType.MILESTONE_ALERT,
                day=c.local_date,
                # Keyed by the milestone alone (the plan's start date stands for "once per plan"): when sessions
                # are added or a ruck re-matched, the same milestone reached by another ruck is not a new one.
                key_day=snapshot.start_date,
                subkey=key,
                due_at=c.received_at + MILESTONE_DELAY,
                expires_at=c.completed_at + MAX_LATENESS[NotificationType.MILESTONE_ALERT],
                reason=f"right after the celebration: {label}",
                facts={"milestone": key, "milestone_label": label},
            )
        )

    if ordered:
        first = ordered[0].scheduled_date
        last = ordered[-1].scheduled_date
        assert first is not None and last is not None
        day = first + timedelta(days=(prefs.weekly_digest_weekday - first.weekday()) % 7)
        while day <= last + timedelta(days=7):
            digest_at = local_to_utc(day, prefs.weekly_digest_minute, tz)
            previous_at = local_to_utc(day - timedelta(days=7), prefs.weekly_digest_minute, tz)
            # The week runs from the previous digest to this one (by local time, so a DST week is 167 or 169
            # hours): a session later that evening is next week's, and none falls between two digests.
            week = [s for s in joined if previous_at < starts[s.id].start_at <= digest_at]
            if week:
                completed = sum(1 for s in week if s.id in done)
                out.append(
                    _planned(
                        plan_id,
                        NotificationType.WEEKLY_DIGEST,
                        day=day,
                        due_at=digest_at,
                        reason=f"your digest time, {_WEEKDAYS[prefs.weekly_digest_weekday]} "
                        f"{minute_label(prefs.weekly_digest_minute)}",
                        facts={
                            "planned": str(len(week)),
                            "completed": str(completed),
                            "adherence_pct": str(round(100 * completed / len(week))),
                        },
                    )
                )
            day += timedelta(days=7)
    return out


# --- evaluation ----------------------------------------------------------------------------------------------


def _still_relevant(n: PlannedNotification, done: set[int]) -> bool:
    """A brief, hype or missed follow-up for a session that has since been completed is no longer wanted."""
    if n.type in SESSION_REMINDERS:
        return n.plan_session_id not in done
    return True


def session_seen_key(session_id: int, day: date | None) -> str:
    return f"{session_id}:{day.isoformat() if day else '-'}"


def _learned_too_late(n: PlannedNotification, state: PlanState, starts: dict[int, SessionTiming]) -> bool:
    """A session moved onto a time already past (a plan review correcting dates) cannot have been missed."""
    if n.plan_session_id is None:
        return False
    seen = state.sessions_seen.get(session_seen_key(n.plan_session_id, n.local_date))
    start = starts.get(n.plan_session_id)
    return seen is not None and start is not None and seen > start.start_at


def active_snooze(state: PlanState, now: datetime) -> datetime | None:
    """When the athlete's snooze ends, if it has not ended by ``now``."""
    until = state.snoozed_until
    return until if until is not None and until > now else None


def evaluate(snapshot: PlanSnapshot, state: PlanState, now: datetime, *, adaptive: bool = True) -> Evaluation:
    """Decide, at ``now``, what to send, what to skip (and why), and what is coming next.

    A notification is held to the end of the athlete's snooze (reminders only: a celebration or milestone answers
    what they just did) and of quiet hours; it is skipped when it could then only go out after its last useful
    moment (``expires_at``), when the plan is paused, when its category is switched off, or when the local day's
    cap is used up.
    """
    prefs, tz = snapshot.prefs, snapshot.prefs.timezone
    quiet = prefs.quiet_hours
    snoozed = active_snooze(state, now)
    done = completed_session_ids(snapshot, state.completions)
    result = Evaluation()
    due_now: list[tuple[PlannedNotification, str | None]] = []
    starts = session_starts(snapshot, adaptive=adaptive)
    for n in candidates(snapshot, state.completions, starts):
        if n.notification_id in state.handled or not _still_relevant(n, done):
            continue
        if n.type is NotificationType.MISSED_FOLLOWUP and _learned_too_late(n, state, starts):
            continue
        if n.expires_at < now - FORGET_AFTER:
            continue
        if not type_enabled(prefs, n.type):
            # Decided (and logged) at its due time, so re-enabling the category does not bring it back.
            if n.due_at <= now:
                due_now.append((n, f"category_off: you switched {n.type.value} notifications off"))
            else:
                result.silent_due.append(n.due_at)
            continue
        # Checked at the moment it could actually go out: a late wake-up inside quiet hours holds it too.
        base = max(n.due_at, now)
        held, hold = base, "quiet_hours"
        if snoozed is not None and held < snoozed and n.type not in FINAL_TYPES:
            held, hold = snoozed, "snoozed"
            n.reason += f"; held: you snoozed reminders until {format_local(held, tz)}"
        if quiet is not None:
            end = end_of_quiet_hours(held, tz, quiet)
            if end != held:
                # Named after what made it too late: a snooze that alone does so stays the reason.
                held, hold = end, hold if held > n.expires_at else "quiet_hours"
                n.reason += f"; held for quiet hours until {format_local(held, tz)}"
        if held != base:
            n.send_at = held
        if state.status is PlanStatus.PAUSED and n.type is not NotificationType.COMPLETION_CELEBRATION:
            if n.due_at <= now:
                due_now.append((n, "plan_paused: the athlete paused the plan"))
            else:
                n.reason += "; plan paused: skipped at its time unless the plan is resumed first"
                result.upcoming.append(n)
            continue
        if n.due_at <= now and now > n.expires_at:
            due_now.append(
                (
                    n,
                    f"stale: due {format_local(n.due_at, tz)}, could only go out at {format_local(now, tz)}, "
                    f"past its last useful moment (plan started late or worker down)",
                )
            )
            continue
        if n.send_at > n.expires_at:
            if n.due_at <= now:
                due_now.append(
                    (
                        n,
                        f"{hold}: could only go out at {format_local(n.send_at, tz)}, "
                        f"after it stopped making sense ({format_local(n.expires_at, tz)})",
                    )
                )
            else:
                # Decide (and log) the drop at its due time, not at the end of the hold when it is long stale.
                why = "the snooze lasts" if hold == "snoozed" else "quiet hours last"
                n.reason += f"; will be dropped: {why} past its useful time"
                n.send_at = n.due_at
                result.upcoming.append(n)
            continue
        if n.send_at <= now:
            due_now.append((n, None))
        else:
            result.upcoming.append(n)

    due_now.sort(key=lambda item: (PRIORITY[item[0].type], item[0].send_at, item[0].notification_id))
    today = local_date(now, tz).isoformat()
    sent_today = state.sent_per_local_day.get(today, 0)
    for n, skip in due_now:
        if skip is None and n.counts_toward_cap and sent_today >= prefs.daily_cap:
            skip = f"daily_cap: {prefs.daily_cap} plan notifications already sent on {today}"
        if skip is None:
            if n.counts_toward_cap:
                sent_today += 1
            result.actions.append(Action(notification=n, decision=Decision.SEND))
        else:
            result.actions.append(Action(notification=n, decision=Decision.SKIP, skip_reason=skip))
    result.upcoming.sort(key=lambda n: (n.send_at, PRIORITY[n.type]))
    return result


def local_day_key(instant: datetime, tz: str) -> str:
    return local_date(instant, tz).isoformat()


def describe(n: PlannedNotification, tz: str) -> str:
    return f"{format_local(n.send_at, tz)} {n.type.value}: {n.reason}"


__all__ = [
    "Evaluation",
    "active_snooze",
    "candidates",
    "describe",
    "evaluate",
    "evening_brief_minute",
    "local_day_key",
    "match_completion",
    "missed_state_for",
    "session_start",
    "to_local",
]
