"""The schedule's decision: at a wake-up, what to send now, what to skip (and why), and what comes next.

Pure functions over a plan snapshot and the workflow state. The workflow calls :func:`evaluate` on every wake-up and
the `coach plan status` query shows its ``upcoming`` list; the simulator runs the same workflow, so there is one copy
of every rule. The schedule is in parts, each importing only the ones before it:

- :mod:`coaching.schedule_rules`: the rule versions and every rule constant (the README's rules table);
- :mod:`coaching.sessions`: when each session starts, its evening brief's time, the sessions that fell in a pause;
- :mod:`coaching.progress`: the sessions done, the session a ruck counts for, missed runs, milestones;
- :mod:`coaching.candidates`: every notification the plan calls for over its life;
- this module: quiet hours, snoozes, categories, staleness and the daily cap, applied at ``now``.

This module also re-exports the public names of those parts (``__all__``), so ``from coaching.schedule import X``
stays the one import for the workflow, the activities, the CLI and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from coaching.candidates import candidates
from coaching.categories import type_enabled
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
from coaching.progress import completed_session_ids, match_completion, missed_state_for
from coaching.schedule_rules import (
    BRIEF_EARLIEST_MINUTE,
    BRIEF_SLEEP_BUFFER,
    CADENCE_CONFIDENCE_THRESHOLD,
    FINAL_TYPES,
    FORGET_AFTER,
    FRESH_RUCK,
    MATCH_WINDOW_DAYS,
    MAX_LATENESS,
    MILESTONE_DELAY,
    MISSED_FOLLOWUP_MINUTE,
    PERCENT_MILESTONES,
    POPULATION_DEFAULT_START_MINUTE,
    PRIORITY,
    RULES_LATEST,
    RULES_V1,
    RULES_V2,
    SESSION_REMINDERS,
    STREAK_MILESTONES,
)
from coaching.sessions import (
    SessionTiming,
    evening_brief_at,
    evening_brief_minute,
    paused_sessions,
    session_start,
    session_starts,
)
from coaching.timeutil import end_of_quiet_hours, format_local, local_date, to_local


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


def evaluate(
    snapshot: PlanSnapshot,
    state: PlanState,
    now: datetime,
    *,
    adaptive: bool = True,
    rules: int = RULES_LATEST,
) -> Evaluation:
    """Decide, at ``now``, what to send, what to skip (and why), and what is coming next.

    A notification is held to the end of the athlete's snooze (reminders only: a celebration or milestone answers
    what they just did) and of quiet hours; it is skipped when it could then only go out after its last useful
    moment (``expires_at``), when the plan is paused, when its category is switched off, or when the local day's
    cap is used up. ``rules``: RULES_V1 for plans whose history predates the timing-rules-v2 patch, else RULES_V2
    (it adds: ``before_plan``, a fresh ruck's celebration through quiet hours, ``ruck_too_old``, a hype held up to
    the session's start dropped as ``quiet_hours``/``snoozed``, no follow-up for a session that fell in a pause).
    Linear in the number of sessions.
    """
    prefs, tz = snapshot.prefs, snapshot.prefs.timezone
    quiet = prefs.quiet_hours
    snoozed = active_snooze(state, now)
    done = completed_session_ids(snapshot, state.completions)
    result = Evaluation()
    due_now: list[tuple[PlannedNotification, str | None]] = []
    starts = session_starts(snapshot, adaptive=adaptive)
    v2 = rules >= RULES_V2
    paused = paused_sessions(snapshot, starts, state.pauses) if v2 else set()
    rucks = {f"ruck{c.ruck_id}": c for c in state.completions} if v2 else {}
    for n in candidates(snapshot, state.completions, starts, rules=rules, paused=paused):
        if n.notification_id in state.handled or not _still_relevant(n, done):
            continue
        if n.type is NotificationType.MISSED_FOLLOWUP and _learned_too_late(n, state, starts):
            continue
        if n.expires_at < now - FORGET_AFTER:
            continue
        if v2:
            skip = _v2_skip(n, snapshot, paused, rucks)
            if skip is not None:
                # Decided (and logged) at its due time, like every skip.
                if n.due_at <= now:
                    due_now.append((n, skip))
                else:
                    result.silent_due.append(n.due_at)
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
        if quiet is not None and not (v2 and _fresh_celebration(n, rucks, held)):
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
            if v2 and quiet is not None and end_of_quiet_hours(n.due_at, tz, quiet) >= n.expires_at:
                # Quiet hours held it from its time to its last useful moment: that, not lateness, is why.
                due_now.append(
                    (
                        n,
                        f"quiet_hours: quiet hours last from its time past its last useful moment "
                        f"({format_local(n.expires_at, tz)})",
                    )
                )
                continue
            due_now.append(
                (
                    n,
                    f"stale: due {format_local(n.due_at, tz)}, could only go out at {format_local(now, tz)}, "
                    f"past its last useful moment (plan started late or worker down)",
                )
            )
            continue
        if n.send_at > n.expires_at or (
            v2 and n.type is NotificationType.MORNING_HYPE and held != base and n.send_at >= n.expires_at
        ):
            # (RULES_V2: a hype held up to the session's start is as good as gone.)
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


def _v2_skip(
    n: PlannedNotification, snapshot: PlanSnapshot, paused: set[int], rucks: dict[str, Completion]
) -> str | None:
    """Why RULES_V2 skips ``n`` whatever the moment, or None."""
    tz = snapshot.prefs.timezone
    if n.due_at < snapshot.created_at and n.type is not NotificationType.KICKOFF_PRIMER:
        return (
            f"before_plan: due {format_local(n.due_at, tz)}, before the plan was created "
            f"({format_local(snapshot.created_at, tz)}); the kickoff covers it"
        )
    if n.type is NotificationType.MISSED_FOLLOWUP and n.plan_session_id in paused:
        weekday = n.facts.get("weekday")
        return f"plan_paused: {weekday + chr(39) + 's' if weekday else 'the'} session fell while the plan was paused"
    if n.type in FINAL_TYPES and n.due_at > n.expires_at:
        ruck = rucks.get(n.subkey)
        when = f" ({format_local(ruck.completed_at, tz)})" if ruck is not None else ""
        late = MAX_LATENESS[n.type].total_seconds() / 3600
        return f"ruck_too_old: the ruck finished{when} more than {late:g} h before it was reported"
    return None


def _fresh_celebration(n: PlannedNotification, rucks: dict[str, Completion], at: datetime) -> bool:
    """A celebration that could go at ``at`` for a ruck finished less than FRESH_RUCK before: the athlete is
    awake, so quiet hours do not hold it (RULES_V2)."""
    if n.type is not NotificationType.COMPLETION_CELEBRATION:
        return False
    ruck = rucks.get(n.subkey)
    return ruck is not None and at - ruck.completed_at <= FRESH_RUCK


def local_day_key(instant: datetime, tz: str) -> str:
    return local_date(instant, tz).isoformat()


def describe(n: PlannedNotification, tz: str) -> str:
    return f"{format_local(n.send_at, tz)} {n.type.value}: {n.reason}"


__all__ = [
    # This module's own.
    "Evaluation",
    "active_snooze",
    "describe",
    "evaluate",
    "local_day_key",
    "session_seen_key",
    # Re-exported from the schedule's parts (see the module docstring).
    "BRIEF_EARLIEST_MINUTE",
    "BRIEF_SLEEP_BUFFER",
    "CADENCE_CONFIDENCE_THRESHOLD",
    "FINAL_TYPES",
    "FORGET_AFTER",
    "FRESH_RUCK",
    "MATCH_WINDOW_DAYS",
    "MAX_LATENESS",
    "MILESTONE_DELAY",
    "MISSED_FOLLOWUP_MINUTE",
    "PERCENT_MILESTONES",
    "POPULATION_DEFAULT_START_MINUTE",
    "PRIORITY",
    "RULES_LATEST",
    "RULES_V1",
    "RULES_V2",
    "SESSION_REMINDERS",
    "STREAK_MILESTONES",
    "SessionTiming",
    "candidates",
    "completed_session_ids",
    "evening_brief_at",
    "evening_brief_minute",
    "match_completion",
    "missed_state_for",
    "paused_sessions",
    "session_start",
    "session_starts",
    "to_local",
]
