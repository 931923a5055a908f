"""Time coaching.schedule.evaluate() per call on long plans, beside the quadratic original in the same run.

The workflow evaluates on every wake-up (several times per notification), so a call must stay far below the SDK's
deadlock detector (2 s per workflow task) for the longest plan. Plans: a year of six sessions a week (312 sessions)
and 1,000 sessions, in America/New_York with quiet hours, two thirds of the sessions already past (most completed,
their notifications handled), a learned window, evaluated at a moment in the middle of the plan.

    .venv/bin/python bench/evaluate.py [--repeat N]

The baseline is bench/legacy_schedule.py, a frozen copy of the schedule before the change
(tests/test_schedule_linear.py proves both decide the same under RULES_V1).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import legacy_schedule  # noqa: E402
from coaching.models import (  # noqa: E402
    CadenceSnapshot,
    Completion,
    NotificationPrefs,
    PlanSession,
    PlanSnapshot,
    PlanState,
)
from coaching.schedule import RULES_V1, RULES_V2, candidates, evaluate  # noqa: E402
from coaching.timeutil import local_to_utc, pin_tzdata  # noqa: E402

TZ = "America/New_York"
FIRST = date(2027, 1, 4)  # a Monday


def plan(count: int, seed: int = 11) -> tuple[PlanSnapshot, PlanState, datetime]:
    """``count`` sessions, six a week (Sunday off), the first two thirds past, 85 % of those completed."""
    rng = random.Random(seed)
    sessions: list[PlanSession] = []
    day = FIRST
    while len(sessions) < count:
        if day.weekday() != 6:
            sessions.append(
                PlanSession(
                    id=len(sessions) + 1,
                    planned_week=(day - FIRST).days // 7 + 1,
                    planned_session_type="Tempo Ruck",
                    scheduled_date=day,
                    scheduled_start_minute=rng.choice([6 * 60, 6 * 60 + 30, 7 * 60, 18 * 60]),
                    distance_km=6.0,
                )
            )
        day += timedelta(days=1)
    snapshot = PlanSnapshot(
        plan_id=1,
        user_id="00000000-0000-0000-0000-000000000001",
        start_date=FIRST,
        created_at=datetime(2027, 1, 1, tzinfo=UTC),
        prefs=NotificationPrefs(timezone=TZ, quiet_hours_start_minute=22 * 60, quiet_hours_end_minute=6 * 60),
        cadence=CadenceSnapshot(window_start_minute=6 * 60, window_end_minute=7 * 60, centre_minute=6 * 60 + 30),
        sessions=sessions,
    )
    past = sessions[: 2 * count // 3]
    assert past[-1].scheduled_date is not None
    now = local_to_utc(past[-1].scheduled_date, 12 * 60, TZ)
    completions: list[Completion] = []
    for s in past:
        if rng.random() < 0.85 and s.scheduled_date is not None:
            at = local_to_utc(s.scheduled_date, (s.scheduled_start_minute or 0) + 50, TZ)
            completions.append(
                Completion(
                    ruck_id=10_000 + s.id,
                    completed_at=at,
                    received_at=at,
                    local_date=s.scheduled_date,
                    plan_session_id=s.id,
                    distance_km=6.2,
                    duration_seconds=3_300,
                )
            )
    state = PlanState(snapshot=snapshot, completions=completions)
    state.handled = {n.notification_id: "sent" for n in candidates(snapshot, completions) if n.due_at < now}
    return snapshot, state, now


def per_call(fn: Callable[[], object], repeat: int) -> float:
    """Seconds of this process's CPU per call, the best of ``repeat`` calls after one warm-up (CPU time, not the
    wall clock: the figures hold on a machine busy with other work, as the shared CI runners are)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="calls timed per figure (median reported)")
    args = parser.parse_args()
    pin_tzdata()
    print(f"evaluate() CPU per call, best of {args.repeat}; {TZ}, quiet hours, two thirds of the plan past")
    header = ("sessions", "completions", "quadratic (before)", "linear V1", "linear V2", "speed-up")
    print("{:>8} {:>11} {:>19} {:>10} {:>10} {:>8}".format(*header))
    for count in (312, 1000):
        snapshot, state, now = plan(count)
        old = per_call(partial(legacy_schedule.evaluate, snapshot, state, now), args.repeat)
        v1 = per_call(partial(evaluate, snapshot, state, now, rules=RULES_V1), args.repeat)
        v2 = per_call(partial(evaluate, snapshot, state, now, rules=RULES_V2), args.repeat)
        print(
            f"{count:>8} {len(state.completions):>11} {old * 1000:>16.1f} ms {v1 * 1000:>7.1f} ms "
            f"{v2 * 1000:>7.1f} ms {old / v1:>7.1f}x"
        )


if __name__ == "__main__":
    main()
