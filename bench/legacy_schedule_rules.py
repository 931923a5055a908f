"""FROZEN copy, part two of two: the rule constants, session timing, completions, milestones and progress of
``coaching/schedule.py`` as it was before issue 11 item 13 (commit 9b71893). ``bench/legacy_schedule.py`` holds the
candidates and ``evaluate``, and says why the copy exists.

Never edit this file (nor import it from production code): ``tests/test_schedule_linear.py`` checks the production
rules against the copy on random plans. It was split out of ``legacy_schedule.py`` (issue 15, modules under 600 lines)
by moving whole definitions, without changing a line of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from coaching.models import (
    CadenceSnapshot,
    CadenceWindow,
    Completion,
    MissedState,
    NotificationPrefs,
    NotificationType,
    PlanSession,
    PlanSnapshot,
)
from coaching.timeutil import local_date, local_to_utc, minute_label

# --- rules (README "Rules" table) --------------------------------------------------------------------------
#: An early session's brief comes at least this long before its start (a night's sleep plus winding down).
BRIEF_SLEEP_BUFFER = timedelta(hours=10)
#: …but never before this local time the evening before.
BRIEF_EARLIEST_MINUTE = 17 * 60
#: A missed follow-up goes out the morning after the session's day, once that day has really passed.
MISSED_FOLLOWUP_MINUTE = 9 * 60
#: A completion is matched to the session of its local day, else to the nearest open one within this many days.
MATCH_WINDOW_DAYS = 1
#: Cadence is trusted for a session's start time from this confidence up.
CADENCE_CONFIDENCE_THRESHOLD = 0.5
#: The last link of the start-time chain: a session with no time, for an athlete with no history and no default.
POPULATION_DEFAULT_START_MINUTE = 7 * 60
#: Milestones follow the celebration after this delay, so the two do not land on each other.
MILESTONE_DELAY = timedelta(minutes=2)
PERCENT_MILESTONES = (25, 50, 75, 100)
STREAK_MILESTONES = (3, 5, 10, 15, 20, 30)
#: A notification is dropped as stale when it could only go out later than this after its time.
MAX_LATENESS: dict[NotificationType, timedelta] = {
    NotificationType.KICKOFF_PRIMER: timedelta(hours=24),
    NotificationType.EVENING_BRIEF: timedelta(hours=3),
    NotificationType.MORNING_HYPE: timedelta(minutes=45),
    NotificationType.COMPLETION_CELEBRATION: timedelta(hours=12),
    NotificationType.MISSED_FOLLOWUP: timedelta(hours=8),
    NotificationType.WEEKLY_DIGEST: timedelta(hours=12),
    NotificationType.MILESTONE_ALERT: timedelta(hours=12),
}
#: When several are due at once, the more important goes first (and wins a place under the daily cap).
PRIORITY: dict[NotificationType, int] = {
    NotificationType.COMPLETION_CELEBRATION: 0,
    NotificationType.MORNING_HYPE: 1,
    NotificationType.MISSED_FOLLOWUP: 2,
    NotificationType.EVENING_BRIEF: 3,
    NotificationType.MILESTONE_ALERT: 4,
    NotificationType.KICKOFF_PRIMER: 5,
    NotificationType.WEEKLY_DIGEST: 6,
}
#: The notifications about one planned session: a completed (or removed) session no longer wants them.
SESSION_REMINDERS = (NotificationType.EVENING_BRIEF, NotificationType.MORNING_HYPE, NotificationType.MISSED_FOLLOWUP)
#: What a completed plan still sends for its last ruck.
FINAL_TYPES = (NotificationType.COMPLETION_CELEBRATION, NotificationType.MILESTONE_ALERT)
#: Notifications whose last chance passed more than this long ago are neither sent nor logged again.
FORGET_AFTER = timedelta(days=14)

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class SessionTiming:
    """When a session is expected to start, and when the athlete's window for it opens (the same without one)."""

    start_minute: int
    start_at: datetime
    reason: str
    #: Minute of the session's date the window opens; negative when it opens the evening before (wraps midnight).
    opens_minute: int
    opens_at: datetime


# --- session timing ----------------------------------------------------------------------------------------


def session_start(
    session: PlanSession, prefs: NotificationPrefs, cadence: CadenceSnapshot, *, adaptive: bool = True
) -> SessionTiming | None:
    """The local start of a session, by the fallback chain (README "Cadence"; first that applies wins):

    0. a time the athlete fixed for this very session;
    1. their window for the session's weekday, 2. their overall window, when confident enough;
    3. the session's own scheduled start; 4. the athlete's default start; 5. the population default.

    With a window, the session starts at the window's centre (their usual time) and the window's opening is what
    the morning hype and the evening brief's sleep buffer are measured from. ``adaptive=False`` is the rule of
    plans whose history predates the analyzer (see the workflow's patch): start time, then the window's opening.
    """
    if session.scheduled_date is None:
        return None
    day, tz = session.scheduled_date, prefs.timezone
    window: CadenceWindow | None = None
    if not adaptive:
        if session.scheduled_start_minute is not None:
            minute, why = session.scheduled_start_minute, "its scheduled start"
        elif cadence.window_start_minute is not None and cadence.confidence >= CADENCE_CONFIDENCE_THRESHOLD:
            minute, why = cadence.window_start_minute, f"your usual start (confidence {cadence.confidence:.2f})"
        else:
            minute, why = _default_start(prefs)
    elif session.start_fixed and session.scheduled_start_minute is not None:
        minute, why = session.scheduled_start_minute, "the time you set for this session"
    else:
        weekday = cadence.weekday_windows.get(day.weekday())
        overall = cadence.overall
        if weekday is not None and weekday.confidence >= CADENCE_CONFIDENCE_THRESHOLD:
            window, label = weekday, f"your usual {_WEEKDAYS[day.weekday()]} start"
        elif overall is not None and overall.confidence >= CADENCE_CONFIDENCE_THRESHOLD:
            window, label = overall, "your usual start"
        if window is not None:
            minute = window.centre_minute
            why = (
                f"{label} (you set out {minute_label(window.start_minute)}–{minute_label(window.end_minute)}, "
                f"confidence {window.confidence:.2f})"
            )
        elif session.scheduled_start_minute is not None:
            minute, why = session.scheduled_start_minute, "its scheduled start"
        else:
            minute, why = _default_start(prefs)
    start_at = local_to_utc(day, minute, tz)
    opens_minute, opens_at = minute, start_at
    if window is not None:
        opens_minute = minute - (minute - window.start_minute) % (24 * 60)
        opens_day = day if opens_minute >= 0 else day - timedelta(days=1)
        opens_at = min(local_to_utc(opens_day, opens_minute % (24 * 60), tz), start_at)
    return SessionTiming(minute, start_at, f"{minute_label(minute)}, {why}", opens_minute, opens_at)


def _default_start(prefs: NotificationPrefs) -> tuple[int, str]:
    if prefs.default_start_minute is not None:
        return prefs.default_start_minute, "your default start (no start time set)"
    return POPULATION_DEFAULT_START_MINUTE, "the default start (no start time set)"


def session_starts(snapshot: PlanSnapshot, *, adaptive: bool = True) -> dict[int, SessionTiming]:
    """Every dated session's start, computed once per evaluation (each is a time-zone conversion)."""
    prefs, cadence = snapshot.prefs, snapshot.cadence
    return {s.id: t for s in snapshot.sessions if (t := session_start(s, prefs, cadence, adaptive=adaptive))}


def evening_brief_minute(start_minute: int, prefs: NotificationPrefs) -> tuple[int, str]:
    """Local minute (on the day before) of a session's evening brief, and why."""
    buffer = int(BRIEF_SLEEP_BUFFER.total_seconds() // 60)
    latest_for_sleep = start_minute + 24 * 60 - buffer
    if latest_for_sleep >= prefs.evening_brief_minute:
        return (
            prefs.evening_brief_minute,
            f"your evening brief time {minute_label(prefs.evening_brief_minute)}",
        )
    minute = max(latest_for_sleep, BRIEF_EARLIEST_MINUTE)
    return minute, (
        f"{minute_label(minute)}, earlier than your usual {minute_label(prefs.evening_brief_minute)} "
        f"so an early session leaves a full night's sleep"
    )


def _before_plan(snapshot: PlanSnapshot, timing: SessionTiming | None) -> bool:
    return timing is not None and timing.start_at <= snapshot.created_at


# --- completions ---------------------------------------------------------------------------------------------


def completed_session_ids(snapshot: PlanSnapshot, completions: Iterable[Completion]) -> set[int]:
    done = {s.id for s in snapshot.sessions if s.completion_status == "completed"}
    done.update(c.plan_session_id for c in completions if c.plan_session_id is not None)
    return done


def match_completion(
    snapshot: PlanSnapshot,
    completions: list[Completion],
    completed_at: datetime,
    explicit_session_id: int | None = None,
) -> int | None:
    """The plan session a completed ruck counts for (``completed_at``: pass the ruck's start when known).

    An explicit session id from the caller wins (or, already done, no session); else the session planned for the
    ruck's local day; otherwise the nearest open session within ``MATCH_WINDOW_DAYS`` (an earlier, missed one before
    a later one). Never oldest-first.
    """
    done = completed_session_ids(snapshot, completions)
    open_sessions = [s for s in snapshot.sessions if s.id not in done and s.scheduled_date is not None]
    if explicit_session_id is not None and any(s.id == explicit_session_id for s in snapshot.sessions):
        # The caller knows which session this ruck was for: that one, or (already done) none, never another.
        return explicit_session_id if explicit_session_id not in done else None
    day = local_date(completed_at, snapshot.prefs.timezone)
    best: tuple[int, int, int, int] | None = None
    for s in open_sessions:
        assert s.scheduled_date is not None
        delta = (s.scheduled_date - day).days
        if abs(delta) > MATCH_WINDOW_DAYS:
            continue
        rank = (abs(delta), 0 if delta <= 0 else 1, s.scheduled_start_minute or 0, s.id)
        if best is None or rank < best:
            best = rank
    return best[3] if best else None


def _ordered_sessions(snapshot: PlanSnapshot) -> list[PlanSession]:
    return sorted(
        (s for s in snapshot.sessions if s.scheduled_date is not None),
        key=lambda s: (s.scheduled_date, s.scheduled_start_minute or 0, s.id),
    )


def missed_state_for(
    snapshot: PlanSnapshot, done: set[int], session_id: int, starts: dict[int, SessionTiming] | None = None
) -> MissedState:
    """Escalation: how many sessions in a row, ending at this one, went without a completion."""
    starts = session_starts(snapshot) if starts is None else starts
    run = 0
    for s in _ordered_sessions(snapshot):
        if s.id != session_id and (
            _before_plan(snapshot, starts.get(s.id)) or s.completion_status in ("skipped", "modified")
        ):
            continue  # neither a miss nor a completion: before the athlete joined, or taken off the plan
        run = 0 if s.id in done else run + 1
        if s.id == session_id:
            break
    if run <= 1:
        return MissedState.FIRST_MISS
    if run == 2:
        return MissedState.REPEATED_MISS
    return MissedState.PLAN_AT_RISK


def _milestones_for(snapshot: PlanSnapshot, completions: list[Completion]) -> list[tuple[Completion, str, str]]:
    """(completion, key, label) for each completion that reached a milestone; the biggest one per completion."""
    ordered = _ordered_sessions(snapshot)
    total = len(ordered)
    if total == 0:
        return []
    out: list[tuple[Completion, str, str]] = []
    current = {s.id for s in ordered}
    ours = {c.plan_session_id for c in completions}
    # Sessions completed elsewhere (the core API) are the baseline; ones we recorded ourselves are replayed below,
    # so a reload after record_completion does not make their milestone vanish.
    done: set[int] = {s.id for s in snapshot.sessions if s.completion_status == "completed" and s.id not in ours}
    reached: set[str] = set()
    for c in sorted(completions, key=lambda c: (c.received_at, c.ruck_id)):
        if c.plan_session_id is None or c.plan_session_id not in current or c.plan_session_id in done:
            continue
        before = len(done)
        done.add(c.plan_session_id)
        after = len(done)
        candidates: list[tuple[int, str, str]] = []
        for pct in PERCENT_MILESTONES:
            threshold = -(-pct * total // 100)
            if before < threshold <= after:
                label = "plan complete" if pct == 100 else f"{pct}% of the plan done"
                candidates.append((100 + pct, f"pct{pct}", label))
        streak = 0
        for s in ordered:
            if s.scheduled_date is not None and s.scheduled_date > c.local_date and s.id not in done:
                break
            streak = streak + 1 if s.id in done else 0
        if streak in STREAK_MILESTONES:
            candidates.append((50 + streak, f"streak{streak}", f"{streak} sessions in a row"))
        if after == 1:
            candidates.append((10, "first", "first session done"))
        fresh = [cand for cand in candidates if cand[1] not in reached]
        if fresh:
            _, key, label = max(fresh)
            reached.add(key)
            out.append((c, key, label))
    return out


def _progress(joined: list[PlanSession], done: set[int]) -> dict[int, dict[str, str]]:
    """Per session, what the copy can say about the plan so far: the plan's length, the session's week so far, the
    streak of completed sessions and the run of misses just before it (sessions before the athlete joined excluded)."""
    plan_weeks = max((s.planned_week for s in joined), default=1)
    per_week: dict[int, list[PlanSession]] = {}
    for s in joined:
        per_week.setdefault(s.planned_week, []).append(s)
    out: dict[int, dict[str, str]] = {}
    streak = misses = 0
    for s in joined:
        week = per_week[s.planned_week]
        out[s.id] = {
            "plan_weeks": str(plan_weeks),
            "week_planned": str(len(week)),
            "week_completed": str(sum(1 for w in week if w.id in done)),
            "streak": str(streak),
            "recent_misses": str(misses),
        }
        streak, misses = (streak + 1, 0) if s.id in done else (0, misses + 1)
    return out
