"""The schedule: which notification is due when, and what to do with it now.

Pure functions over a plan snapshot and the workflow state. The workflow calls :func:`evaluate` on every wake-up and
the `coach plan status` query shows its ``upcoming`` list; the simulator runs the same workflow, so there is one copy
of every rule. All rule constants live here and are listed in the README's rules table.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from coaching.ids import notification_id
from coaching.models import (
    Action,
    CadenceSnapshot,
    CadenceWindow,
    Completion,
    Decision,
    MissedState,
    NotificationPrefs,
    NotificationType,
    PausePeriod,
    PlannedNotification,
    PlanSession,
    PlanSnapshot,
    PlanState,
    PlanStatus,
)
from coaching.preferences import type_enabled
from coaching.timeutil import (
    end_of_quiet_hours,
    format_local,
    local_date,
    local_minute,
    local_to_utc,
    minute_label,
    to_local,
)

# --- rules (README "Rules" table) --------------------------------------------------------------------------
#: The rules as first released: running plans keep them until their history records the workflow's
#: ``timing-rules-v2`` patch (README "Rule versions").
RULES_V1 = 1
#: Issue 11's timing rules: the brief's sleep buffer in elapsed time, nothing due before the plan was created, a
#: fresh ruck's celebration through quiet hours, no follow-up for a session that fell in a pause, skip reasons
#: ``quiet_hours`` / ``ruck_too_old`` / ``before_plan``, and the ``sessions_done`` fact for the copy.
RULES_V2 = 2
#: What a new plan gets.
RULES_LATEST = RULES_V2
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
#: A celebration for a ruck that finished less than this long ago goes out at once, even in quiet hours: the
#: athlete is awake (RULES_V2; an older one, an import or a late sync, waits for the end of quiet hours).
FRESH_RUCK = timedelta(minutes=30)

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


def evening_brief_at(session_day: date, timing: SessionTiming, prefs: NotificationPrefs) -> tuple[datetime, str]:
    """When a session's evening brief is due, and why (RULES_V2): the athlete's brief time the evening before,
    unless that leaves less than ``BRIEF_SLEEP_BUFFER`` of *elapsed* time before the session (its window's
    opening); then that much before it, but not before ``BRIEF_EARLIEST_MINUTE`` that evening. Measured in UTC,
    so a spring-forward night still leaves 10 h, and a fall-back night does not move the brief earlier than it
    needs to be."""
    brief_day, tz = session_day - timedelta(days=1), prefs.timezone
    usual = local_to_utc(brief_day, prefs.evening_brief_minute, tz)
    latest = timing.opens_at - BRIEF_SLEEP_BUFFER
    if usual <= latest:
        return usual, f"your evening brief time {minute_label(prefs.evening_brief_minute)}"
    due = max(latest, local_to_utc(brief_day, BRIEF_EARLIEST_MINUTE, tz))
    return due, (
        f"{minute_label(local_minute(due, tz))}, earlier than your usual {minute_label(prefs.evening_brief_minute)} "
        f"so an early session leaves a full night's sleep"
    )


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


def _escalation(run: int) -> MissedState:
    if run <= 1:
        return MissedState.FIRST_MISS
    if run == 2:
        return MissedState.REPEATED_MISS
    return MissedState.PLAN_AT_RISK


def _missed_runs(
    snapshot: PlanSnapshot,
    ordered: Sequence[PlanSession],
    done: set[int],
    starts: dict[int, SessionTiming],
    paused: Collection[int] = (),
) -> tuple[dict[int, int], int]:
    """Per session, how many sessions in a row, ending at it, went without a completion; and the run at the end.

    One pass over the plan (the escalation of every session at once). Sessions before the athlete joined, taken off
    the plan (skipped, modified) or, with RULES_V2, that fell in a pause are neither a miss nor a completion.
    """
    out: dict[int, int] = {}
    run = 0
    for s in ordered:
        this = 0 if s.id in done else run + 1
        out.setdefault(s.id, this)
        if _before_plan(snapshot, starts.get(s.id)) or s.completion_status in ("skipped", "modified") or s.id in paused:
            continue
        run = this
    return out, run


def missed_state_for(
    snapshot: PlanSnapshot, done: set[int], session_id: int, starts: dict[int, SessionTiming] | None = None
) -> MissedState:
    """Escalation: how many sessions in a row, ending at this one, went without a completion."""
    starts = session_starts(snapshot) if starts is None else starts
    runs, last = _missed_runs(snapshot, _ordered_sessions(snapshot), done, starts)
    return _escalation(runs.get(session_id, last))


class _DoneRuns:
    """Runs of consecutive completed sessions in plan order (a union-find over their positions): marking one done
    and asking for the run ending before a position are near O(1), so the streak of every completion is linear."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))
        self.lo = list(range(size))
        self.hi = list(range(size))
        self.done = [False] * size

    def _find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def _join(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self.parent[rb] = ra
            self.lo[ra] = min(self.lo[ra], self.lo[rb])
            self.hi[ra] = max(self.hi[ra], self.hi[rb])

    def mark(self, i: int) -> None:
        if self.done[i]:
            return
        self.done[i] = True
        if i > 0 and self.done[i - 1]:
            self._join(i - 1, i)
        if i + 1 < len(self.done) and self.done[i + 1]:
            self._join(i, i + 1)

    def streak(self, first_later: int) -> int:
        """The run of done sessions just before the first open session at or after ``first_later``."""
        stop = first_later
        if stop < len(self.done) and self.done[stop]:
            stop = self.hi[self._find(stop)] + 1
        last = stop - 1
        if last < 0 or not self.done[last]:
            return 0
        return last - self.lo[self._find(last)] + 1


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
    positions: dict[int, list[int]] = {}
    for i, s in enumerate(ordered):
        positions.setdefault(s.id, []).append(i)
    runs = _DoneRuns(total)
    for sid in done:
        for i in positions.get(sid, ()):
            runs.mark(i)
    days = [s.scheduled_date for s in ordered if s.scheduled_date is not None]  # all of them, in order
    reached: set[str] = set()
    for c in sorted(completions, key=lambda c: (c.received_at, c.ruck_id)):
        if c.plan_session_id is None or c.plan_session_id not in current or c.plan_session_id in done:
            continue
        before = len(done)
        done.add(c.plan_session_id)
        for i in positions[c.plan_session_id]:
            runs.mark(i)
        after = len(done)
        candidates: list[tuple[int, str, str]] = []
        for pct in PERCENT_MILESTONES:
            threshold = -(-pct * total // 100)
            if before < threshold <= after:
                label = "plan complete" if pct == 100 else f"{pct}% of the plan done"
                candidates.append((100 + pct, f"pct{pct}", label))
        # In plan order, the run of done sessions up to the first open one dated after the ruck's day.
        streak = runs.streak(bisect_right(days, c.local_date))
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


def _progress(joined: list[PlanSession], done: set[int], *, rules: int = RULES_LATEST) -> dict[int, dict[str, str]]:
    """Per session, what the copy can say about the plan so far: the plan's length, the session's week so far, the
    streak of completed sessions and the run of misses just before it (sessions before the athlete joined excluded);
    with RULES_V2 also how many sessions were done before it (``sessions_done``: no "welcome back" to an athlete who
    never rucked)."""
    plan_weeks = max((s.planned_week for s in joined), default=1)
    week_planned: dict[int, int] = {}
    week_completed: dict[int, int] = {}
    for s in joined:
        week_planned[s.planned_week] = week_planned.get(s.planned_week, 0) + 1
        week_completed[s.planned_week] = week_completed.get(s.planned_week, 0) + (s.id in done)
    out: dict[int, dict[str, str]] = {}
    streak = misses = done_before = 0
    for s in joined:
        out[s.id] = {
            "plan_weeks": str(plan_weeks),
            "week_planned": str(week_planned[s.planned_week]),
            "week_completed": str(week_completed[s.planned_week]),
            "streak": str(streak),
            "recent_misses": str(misses),
        }
        if rules >= RULES_V2:
            out[s.id]["sessions_done"] = str(done_before)
        streak, misses = (streak + 1, 0) if s.id in done else (0, misses + 1)
        done_before += s.id in done
    return out


# --- candidates ----------------------------------------------------------------------------------------------


def _before_plan(snapshot: PlanSnapshot, timing: SessionTiming | None) -> bool:
    return timing is not None and timing.start_at <= snapshot.created_at


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
    # Built without validation (every value is computed here, of its type): validating thousands of candidates on
    # each wake-up was most of evaluate()'s time on a long plan. Facts are copied, as validation would.
    return PlannedNotification.model_construct(
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
        facts=dict(facts) if facts else {},
    )


def paused_sessions(
    snapshot: PlanSnapshot, starts: dict[int, SessionTiming], pauses: Sequence[PausePeriod]
) -> set[int]:
    """The sessions that started while the plan was paused (RULES_V2): no follow-up, and not a miss."""
    if not pauses:
        return set()
    merged: list[tuple[datetime, datetime | None]] = []
    for p in sorted(pauses, key=lambda p: p.start):
        if merged and (merged[-1][1] is None or p.start <= merged[-1][1]):
            last_end = merged[-1][1]
            end = None if last_end is None or p.end is None else max(last_end, p.end)
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((p.start, p.end))
    begins = [start for start, _ in merged]
    out: set[int] = set()
    for s in snapshot.sessions:
        timing = starts.get(s.id)
        if timing is None:
            continue
        i = bisect_right(begins, timing.start_at) - 1
        if i >= 0 and (merged[i][1] is None or timing.start_at < merged[i][1]):  # type: ignore[operator]
            out.add(s.id)
    return out


def candidates(
    snapshot: PlanSnapshot,
    completions: list[Completion],
    starts: dict[int, SessionTiming] | None = None,
    *,
    rules: int = RULES_LATEST,
    paused: Collection[int] = (),
) -> list[PlannedNotification]:
    """Every notification the plan calls for over its whole life, before quiet hours, staleness and the cap.

    Linear in the plan's sessions and completions (a year of six a week is evaluated on every wake-up). ``paused``:
    sessions that fell in a pause (RULES_V2), left out of the missed escalation.
    """
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

    progress = _progress(joined, done, rules=rules)
    missed_runs, _ = _missed_runs(snapshot, ordered, done, starts, paused if rules >= RULES_V2 else ())
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
        if rules >= RULES_V2:
            brief_at, brief_why = evening_brief_at(session.scheduled_date, timing, prefs)
        else:
            brief_minute, brief_why = evening_brief_minute(timing.opens_minute, prefs)
            brief_at = local_to_utc(session.scheduled_date - timedelta(days=1), brief_minute, tz)
        out.append(
            _planned(
                plan_id,
                NotificationType.EVENING_BRIEF,
                day=session.scheduled_date,
                session_id=session.id,
                due_at=brief_at,
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
        state = _escalation(missed_runs[session.id])
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

    by_id: dict[int, PlanSession] = {}
    for s in snapshot.sessions:
        by_id.setdefault(s.id, s)
    for c in completions:
        session_key = c.plan_session_id
        subkey = f"ruck{c.ruck_id}"
        facts = {"source": c.source.value}
        if c.distance_km is not None:
            facts["distance_km"] = f"{c.distance_km:g}"
        if c.duration_seconds is not None:
            facts["duration_minutes"] = str(round(c.duration_seconds / 60))
        matched = by_id.get(session_key) if session_key is not None else None
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
        # The joined sessions by start, with a running count of the completed ones: each week is two bisections.
        by_start = sorted(joined, key=lambda s: starts[s.id].start_at)
        start_ats = [starts[s.id].start_at for s in by_start]
        done_upto = [0]
        for s in by_start:
            done_upto.append(done_upto[-1] + (s.id in done))
        day = first + timedelta(days=(prefs.weekly_digest_weekday - first.weekday()) % 7)
        while day <= last + timedelta(days=7):
            digest_at = local_to_utc(day, prefs.weekly_digest_minute, tz)
            previous_at = local_to_utc(day - timedelta(days=7), prefs.weekly_digest_minute, tz)
            # The week runs from the previous digest to this one (by local time, so a DST week is 167 or 169
            # hours): a session later that evening is next week's, and none falls between two digests.
            lo, hi = bisect_right(start_ats, previous_at), bisect_right(start_ats, digest_at)
            planned = hi - lo
            if planned > 0:
                completed = done_upto[hi] - done_upto[lo]
                out.append(
                    _planned(
                        plan_id,
                        NotificationType.WEEKLY_DIGEST,
                        day=day,
                        due_at=digest_at,
                        reason=f"your digest time, {_WEEKDAYS[prefs.weekly_digest_weekday]} "
                        f"{minute_label(prefs.weekly_digest_minute)}",
                        facts={
                            "planned": str(planned),
                            "completed": str(completed),
                            "adherence_pct": str(round(100 * completed / planned)),
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
    "RULES_LATEST",
    "RULES_V1",
    "RULES_V2",
    "Evaluation",
    "active_snooze",
    "candidates",
    "describe",
    "evaluate",
    "evening_brief_at",
    "evening_brief_minute",
    "local_day_key",
    "match_completion",
    "missed_state_for",
    "paused_sessions",
    "session_start",
    "to_local",
]
