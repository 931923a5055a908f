"""How the plan's sessions, read again from the database or moved by the athlete, merge into the workflow's state.

Pure functions of the state (no Temporal API): the workflow passes the time. Which status wins after a load is the
workflow's call (:meth:`workflows.plan.CoachingPlanWorkflow._load_plan`), since it depends on a patch.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coaching.models import PlanSession, PlanSnapshot, PlanState
    from coaching.schedule import match_completion, session_seen_key


def merge_loaded_snapshot(state: PlanState, loaded: PlanSnapshot, now: datetime) -> None:
    """Make ``loaded`` the plan's snapshot, keeping what the workflow knew before it: the athlete's snooze, when each
    session was first seen, and which session each ruck counts for."""
    if state.snapshot is None and state.snoozed_until is None:
        # A fresh run for the plan (e.g. started again after an outage) keeps the athlete's stored snooze.
        state.snoozed_until = loaded.snoozed_until
    # Sessions in the plan from the start count as known since its creation (a late first load, e.g. after an
    # outage, must not make them look moved); later ones from when this workflow first saw them.
    seen_at = loaded.created_at if state.snapshot is None else now
    state.snapshot = loaded
    for session in loaded.sessions:
        state.sessions_seen.setdefault(session_seen_key(session.id, session.scheduled_date), seen_at)
    rematch_completions(state, loaded)


def merge_moved_session(state: PlanState, moved: PlanSession, now: datetime) -> None:
    """Put a session the athlete moved (as saved) into the plan's snapshot."""
    current = state.snapshot
    assert current is not None
    current.sessions = [moved if s.id == moved.id else s for s in current.sessions]
    # A moved session is new from now on, as when the core API moves one (see merge_loaded_snapshot).
    state.sessions_seen.setdefault(session_seen_key(moved.id, moved.scheduled_date), now)
    rematch_completions(state, current)


def rematch_completions(state: PlanState, snapshot: PlanSnapshot) -> None:
    """After sessions moved: a ruck that matched nothing (or a session now gone) may count for one now."""
    current = {s.id for s in snapshot.sessions}
    for c in sorted(state.completions, key=lambda c: (c.received_at, c.ruck_id)):
        if c.plan_session_id is not None and c.plan_session_id in current:
            continue
        others = [x for x in state.completions if x is not c]
        c.plan_session_id = match_completion(snapshot, others, c.started_at or c.completed_at)
        c.recorded = c.plan_session_id is None
