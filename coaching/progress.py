"""What the athlete has done of the plan: the sessions done, the session a ruck counts for, runs of misses (the
missed follow-up's escalation), the milestones reached and the progress facts the copy quotes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from coaching.models import Completion, MissedState, PlanSession, PlanSnapshot
from coaching.schedule_rules import (
    MATCH_WINDOW_DAYS,
    PERCENT_MILESTONES,
    RULES_LATEST,
    RULES_V2,
    STREAK_MILESTONES,
)
from coaching.sessions import SessionTiming, before_plan, ordered_sessions, session_starts
from coaching.timeutil import local_date


def completed_session_ids(snapshot: PlanSnapshot, completions: Iterable[Completion]) -> set[int]:
    """The sessions done: completed in the database, or matched by a ruck the workflow recorded."""
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


def escalation(run: int) -> MissedState:
    """The missed follow-up's escalation after ``run`` sessions in a row without a completion."""
    if run <= 1:
        return MissedState.FIRST_MISS
    if run == 2:
        return MissedState.REPEATED_MISS
    return MissedState.PLAN_AT_RISK


def count_missed_runs(
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
        if before_plan(snapshot, starts.get(s.id)) or s.completion_status in ("skipped", "modified") or s.id in paused:
            continue
        run = this
    return out, run


def missed_state_for(
    snapshot: PlanSnapshot, done: set[int], session_id: int, starts: dict[int, SessionTiming] | None = None
) -> MissedState:
    """Escalation: how many sessions in a row, ending at this one, went without a completion."""
    starts = session_starts(snapshot) if starts is None else starts
    runs, last = count_missed_runs(snapshot, ordered_sessions(snapshot), done, starts)
    return escalation(runs.get(session_id, last))


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


def milestones_for(snapshot: PlanSnapshot, completions: list[Completion]) -> list[tuple[Completion, str, str]]:
    """(completion, key, label) for each completion that reached a milestone; the biggest one per completion."""
    ordered = ordered_sessions(snapshot)
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


def progress_facts(
    joined: list[PlanSession], done: set[int], *, rules: int = RULES_LATEST
) -> dict[int, dict[str, str]]:
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
