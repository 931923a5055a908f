"""The population of ``reconcile.py`` and its database: a reconciler's steady state filled by COPY, and the minute's
worth of change put on top of it (and taken off again) before each pass.

The steady state: every athlete a ``"user"`` row with one live plan (and for some an older, ended one), three plan
sessions, ~40 rucks over 90 days, every plan's ``coach_plan_runs`` row and every completed ruck told to its plan
(``coach_plan_rucks``). The minute's worth: new completed rucks, plans paused, resumed or ended, new plans.
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from _pg import (
    RUCK_COLUMNS,
    Target,
    copy_plan_template,
    copy_users,
    database_size,
    reuse_or_recreate,
    sync_sequences,
    write_meta,
)

from activities.migrate import upgrade_database

# The activities' own rules for an ended plan (private ones, on purpose), so the steady state is what they write.
from activities.reconcile import _TERMINAL, _reason

#: The pass being timed (fixed, so a ``--keep`` database stays valid whatever the day).
AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
#: The pass being timed (fixed, so a ``--keep`` database stays valid whatever the day).
AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
#: Days of ruck history.
DAYS = 90
#: The minute's worth of new rucks completed in this window before AS_OF; the history ends before it.
RECENT = timedelta(minutes=2)
#: Bump when the generated population (or the schema it is written to) changes, so ``--keep`` refills an older one.
FILL_VERSION = 1

PLAN_COLUMNS = [
    "id",
    "user_id",
    "coaching_plan_id",
    "coaching_personality",
    "start_date",
    "current_week",
    "current_status",
    "plan_notification_timezone",
    "created_at",
    "updated_at",
]
SESSION_COLUMNS = [
    "user_coaching_plan_id",
    "planned_week",
    "planned_session_type",
    "completion_status",
    "scheduled_date",
    "completed_date",
]
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "UTC")
TONES = ("Supportive Friend", "Drill Sergeant", "Session Analyst", "Nature Lover")


# --- population ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Athlete:
    user_id: str
    plan_id: int  # the live plan
    status: str
    created_at: datetime  # of the live plan
    rucks_per_day: float
    #: An older plan, cancelled or completed: (id, status, created, ended).
    old: tuple[int, str, datetime, datetime] | None = None


def make_population(n: int, seed: int) -> list[Athlete]:
    rng = random.Random(seed)
    with_old = [rng.random() < 0.2 for _ in range(n)]
    old_ids = iter(range(1, sum(with_old) + 1))  # the older plans were created first: the lower ids
    next_live = sum(with_old) + 1
    athletes: list[Athlete] = []
    for i in range(n):
        status = "paused" if rng.random() < 0.05 else "active"
        a = Athlete(
            user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            plan_id=next_live + i,
            status=status,
            # A few hundred plans began within the lookback: their earlier rucks there are not theirs.
            created_at=AS_OF - timedelta(days=rng.uniform(1.0, 240.0)),
            rucks_per_day=rng.uniform(0.5, 1.5),
        )
        if with_old[i]:
            ended = AS_OF - timedelta(days=rng.uniform(3.0, 85.0))
            created = ended - timedelta(days=rng.uniform(30.0, 120.0))
            a.old = (next(old_ids), rng.choice(("cancelled", "completed")), created, ended)
            a.created_at = ended + timedelta(hours=rng.uniform(1.0, 48.0))
        athletes.append(a)
    return athletes


def plan_rows(athletes: Sequence[Athlete], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    for a in athletes:
        if a.old:
            old_id, old_status, created, ended = a.old
            yield (old_id, a.user_id, 1, rng.choice(TONES), created.date(), 8, old_status, "UTC", created, ended)
    for a in athletes:
        week = max(1, (AS_OF - a.created_at).days // 7 + 1)
        tz = rng.choice(ZONES)
        yield (a.plan_id, a.user_id, 1, rng.choice(TONES), a.created_at.date(), week, a.status, tz, a.created_at, None)


def session_rows(plans: Sequence[tuple[int, datetime]], rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Three sessions per plan: one completed (date only), two planned in the next days."""
    today = AS_OF.date()
    for plan_id, created_at in plans:
        week = max(1, (AS_OF - created_at).days // 7 + 1)
        done = today - timedelta(days=rng.randint(1, 6))
        yield (plan_id, week, "base_ruck", "completed", done, done)
        for ahead in (rng.randint(0, 2), rng.randint(3, 6)):
            yield (plan_id, week, rng.choice(("tempo_ruck", "long_ruck")), "planned", today + timedelta(ahead), None)


def ruck(
    ruck_id: int, user_id: str, completed: float, rng: random.Random, status: str = "completed"
) -> tuple[Any, ...]:
    duration = rng.randint(25 * 60, 100 * 60)
    started = datetime.fromtimestamp(completed - duration, UTC)
    distance = round(duration / 3600 * rng.uniform(4.5, 6.5), 2)
    weight = float(rng.randint(8, 30))
    if status != "completed":
        return (ruck_id, user_id, status, started, None, None, None, weight)
    return (ruck_id, user_id, status, started, datetime.fromtimestamp(completed, UTC), duration, distance, weight)


def history_rows(athletes: Sequence[Athlete], per_athlete: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """``ruck_session`` rows over the last DAYS days, day by day and in completion order, as a live table fills up;
    the last one ends before the minute's worth."""
    cum: list[float] = []
    total = 0.0
    for a in athletes:
        total += a.rucks_per_day
        cum.append(total)
    users = [a.user_id for a in athletes]
    per_day = len(athletes) * per_athlete / DAYS
    end = (AS_OF - RECENT).timestamp()
    ruck_id = 0
    for d in range(DAYS):
        day_start = end - (DAYS - d) * 86400
        k = max(0, round(rng.gauss(per_day, per_day**0.5)))
        who = rng.choices(users, cum_weights=cum, k=k)
        when = sorted(rng.uniform(day_start, day_start + 86400) for _ in range(k))
        for user_id, completed in zip(who, when, strict=True):
            ruck_id += 1
            roll = rng.random()
            status = "cancelled" if roll < 0.015 else "in_progress" if roll < 0.02 else "completed"
            yield ruck(ruck_id, user_id, completed, rng, status)


async def fill(conn: asyncpg.Connection, athletes: Sequence[Athlete], args: argparse.Namespace) -> dict[str, float]:
    rng = random.Random(args.seed + 7)
    times: dict[str, float] = {}
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET maintenance_work_mem = '512MB'")
    t0 = perf_counter()
    await copy_plan_template(conn)
    await copy_users(conn, ((a.user_id, "UTC") for a in athletes))
    await conn.copy_records_to_table("user_coaching_plans", records=plan_rows(athletes, rng), columns=PLAN_COLUMNS)
    await conn.copy_records_to_table(
        "plan_sessions",
        records=session_rows([(a.plan_id, a.created_at) for a in athletes], rng),
        columns=SESSION_COLUMNS,
    )
    times["users, plans, sessions"] = perf_counter() - t0

    # ruck_session's secondary indexes are built after the COPY: a sorted build takes seconds where 4 M inserts into
    # two user_id indexes take minutes. Their definitions are read back from the migrated database (the migration's).
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'ruck_session' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    for index in indexes:
        await conn.execute(f'DROP INDEX "{index["indexname"]}"')
    t0 = perf_counter()
    await conn.copy_records_to_table(
        "ruck_session", records=history_rows(athletes, args.history_rucks, rng), columns=RUCK_COLUMNS
    )
    times["ruck_session"] = perf_counter() - t0
    t0 = perf_counter()
    for index in indexes:
        await conn.execute(index["indexdef"])
    times[f"its {len(indexes)} indexes"] = perf_counter() - t0

    # The steady state: every plan has its run (the live ones running, the old ones ended) ...
    t0 = perf_counter()
    runs: list[tuple[Any, ...]] = []
    for a in athletes:
        if a.old:
            old_id, old_status, created, ended = a.old
            reason = _reason(old_status)
            runs.append((old_id, a.user_id, old_status, created, ended, reason, ended))
        started = a.created_at + timedelta(seconds=rng.uniform(1.0, 60.0))
        runs.append((a.plan_id, a.user_id, a.status, started, None, None, started))
    runs.sort()
    await conn.copy_records_to_table(
        "coach_plan_runs",
        records=runs,
        columns=["plan_id", "user_id", "status_seen", "started_at", "ended_at", "end_reason", "updated_at"],
    )
    # ... and every completed ruck was told to the plan it belongs to (a live plan since it was created, an old one
    # while it lived), in key order so the primary key is built sequentially.
    await conn.execute(
        """
        INSERT INTO coach_plan_rucks (plan_id, ruck_id, signalled_at, source)
        SELECT p.id, r.id, r.completed_at + interval '30 seconds', 'reconciler'
        FROM ruck_session r JOIN user_coaching_plans p ON p.user_id = r.user_id
        WHERE r.status = 'completed' AND r.completed_at >= p.created_at
          AND (p.current_status IN ('active', 'paused') OR r.completed_at <= p.updated_at)
        ORDER BY p.id, r.id
        """
    )
    times["coach_plan_runs, coach_plan_rucks"] = perf_counter() - t0
    await sync_sequences(conn, ("coaching_plan_templates", "user_coaching_plans", "plan_sessions", "ruck_session"))
    return times


# --- database setup and the minute's worth ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Steady:
    """What the steady state holds: rows above these ids are the minute's worth."""

    max_ruck: int
    max_plan: int
    athletes: int
    live_plans: int
    rucks: int
    completed_rucks: int
    told: int
    runs: int


async def prepare(target: Target, args: argparse.Namespace) -> Steady:
    """Create, migrate and fill the bench database, unless ``--keep`` finds it filled the same way."""
    wanted = {
        "version": FILL_VERSION,
        "athletes": args.athletes,
        "history_rucks": args.history_rucks,
        "seed": args.seed,
        "as_of": AS_OF.isoformat(),
    }
    meta = await reuse_or_recreate(target, wanted, keep=args.keep, needs=("steady",))
    if meta is not None:
        return Steady(**meta["steady"])

    t0 = perf_counter()
    await upgrade_database(target.url, "standalone")
    t_migrate = perf_counter() - t0
    conn = await asyncpg.connect(target.dsn)
    try:
        t0 = perf_counter()
        athletes = make_population(args.athletes, args.seed)
        t_population = perf_counter() - t0
        times = await fill(conn, athletes, args)
        t0 = perf_counter()
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
        t_vacuum = perf_counter() - t0
        # What the minute's worth is undone to before each pass.
        await conn.execute(
            "CREATE TABLE bench_plan_state AS SELECT id, current_status, updated_at FROM user_coaching_plans"
        )
        await conn.execute("ALTER TABLE bench_plan_state ADD PRIMARY KEY (id)")
        await conn.execute("CREATE TABLE bench_run_state AS SELECT * FROM coach_plan_runs")
        await conn.execute("ALTER TABLE bench_run_state ADD PRIMARY KEY (plan_id)")
        await conn.execute("ANALYZE bench_plan_state, bench_run_state")
        row = await conn.fetchrow(
            """
            SELECT (SELECT max(id) FROM ruck_session) AS max_ruck,
                   (SELECT max(id) FROM user_coaching_plans) AS max_plan,
                   (SELECT count(*) FROM "user") AS athletes,
                   (SELECT count(*) FROM user_coaching_plans
                    WHERE current_status IN ('active', 'paused')) AS live_plans,
                   (SELECT count(*) FROM ruck_session) AS rucks,
                   (SELECT count(*) FROM ruck_session WHERE status = 'completed') AS completed_rucks,
                   (SELECT count(*) FROM coach_plan_rucks) AS told, (SELECT count(*) FROM coach_plan_runs) AS runs
            """
        )
        steady = Steady(**dict(row))
        await write_meta(conn, {"fill": wanted, "steady": steady.__dict__})
        size = await database_size(conn)
    finally:
        await conn.close()
    print(
        f"fill: migrations {t_migrate:.1f} s, population {t_population:.1f} s, "
        + ", ".join(f"{what} {s:.1f} s" for what, s in times.items())
        + f", VACUUM ANALYZE {t_vacuum:.1f} s; database {size}"
    )
    return steady


@dataclass(frozen=True)
class Change:
    new_rucks: int
    in_progress: int
    changed: dict[str, int]
    new_plans: int
    #: New rucks whose athlete's plan stays live: what the pass should tell.
    expected_rucks: int


async def reset(conn: asyncpg.Connection, steady: Steady) -> None:
    """Undo the minute's worth and what a pass wrote, back to the steady state (then VACUUM the tables touched)."""
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM coach_plan_rucks WHERE ruck_id > $1 OR plan_id > $2", steady.max_ruck, steady.max_plan
        )
        # No plan session points at these rucks: skip the foreign key's trigger, which would look for them in
        # plan_sessions (session_id has no index) once per ruck.
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("DELETE FROM ruck_session WHERE id > $1", steady.max_ruck)
        await conn.execute("SET LOCAL session_replication_role = DEFAULT")
        await conn.execute("DELETE FROM coach_plan_runs WHERE plan_id > $1", steady.max_plan)
        await conn.execute("DELETE FROM plan_sessions WHERE user_coaching_plan_id > $1", steady.max_plan)
        await conn.execute(
            'WITH gone AS (DELETE FROM user_coaching_plans WHERE id > $1 RETURNING user_id) DELETE FROM "user" '
            "WHERE id IN (SELECT user_id FROM gone)",
            steady.max_plan,
        )
        await conn.execute(
            "UPDATE user_coaching_plans p SET current_status = s.current_status, updated_at = s.updated_at "
            "FROM bench_plan_state s WHERE p.id = s.id AND (p.current_status, p.updated_at) IS DISTINCT FROM "
            "(s.current_status, s.updated_at)"
        )
        await conn.execute(
            "UPDATE coach_plan_runs r SET user_id = s.user_id, status_seen = s.status_seen, started_at = s.started_at, "
            "ended_at = s.ended_at, end_reason = s.end_reason, updated_at = s.updated_at FROM bench_run_state s "
            "WHERE r.plan_id = s.plan_id AND r.updated_at IS DISTINCT FROM s.updated_at"
        )
        await conn.execute(
            "INSERT INTO coach_plan_runs SELECT * FROM bench_run_state s "
            "WHERE NOT EXISTS (SELECT 1 FROM coach_plan_runs r WHERE r.plan_id = s.plan_id)"
        )
    await conn.execute(
        'VACUUM coach_plan_rucks, ruck_session, coach_plan_runs, plan_sessions, user_coaching_plans, "user"'
    )


async def apply_change(conn: asyncpg.Connection, steady: Steady, seed: int, args: argparse.Namespace) -> Change:
    """The minute's worth on top of the steady state: new rucks, plans paused/resumed/cancelled/completed, new plans."""
    rng = random.Random(seed)
    live = await conn.fetch(
        "SELECT id, user_id::text AS user_id, current_status FROM user_coaching_plans "
        "WHERE id <= $1 AND current_status IN ('active', 'paused') ORDER BY id",
        steady.max_plan,
    )
    # Plans changing status: 40 % paused, 30 % resumed, 20 % cancelled, 10 % completed.
    active = [r for r in live if r["current_status"] == "active"]
    paused = [r for r in live if r["current_status"] == "paused"]
    n = args.status_changes
    moves = {"paused": round(n * 0.4), "cancelled": round(n * 0.2), "completed": round(n * 0.1)}
    resumed = rng.sample(paused, min(len(paused), n - sum(moves.values())))
    picked = iter(rng.sample(active, min(len(active), sum(moves.values()))))
    updates: list[tuple[int, str, datetime]] = [(r["id"], "active", AS_OF - timedelta(seconds=20)) for r in resumed]
    for status, count in moves.items():
        for r in [next(picked, None) for _ in range(count)]:
            if r is not None:
                updates.append((r["id"], status, AS_OF - timedelta(seconds=rng.uniform(0, 60))))
    ended_users = {r["user_id"] for r in live if any(u[0] == r["id"] and u[1] in _TERMINAL for u in updates)}

    # New rucks completed in the last two minutes, across random athletes, and some started and not completed.
    who = rng.choices(live, k=args.new_rucks)
    end = AS_OF.timestamp()
    when = sorted(rng.uniform(end - RECENT.total_seconds(), end) for _ in who)
    rows = [ruck(steady.max_ruck + i + 1, r["user_id"], t, rng) for i, (r, t) in enumerate(zip(who, when, strict=True))]
    in_progress = round(args.new_rucks * 0.05)
    for r in rng.choices(live, k=in_progress):
        rows.append(ruck(steady.max_ruck + len(rows) + 1, r["user_id"], end, rng, "in_progress"))

    # New athletes with a plan, which no workflow runs yet.
    new_users = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(args.new_plans)]
    new_plans = [
        (steady.max_plan + i + 1, u, 1, "Supportive Friend", AS_OF.date(), 1, "active", "UTC", created, created)
        for i, u in enumerate(new_users)
        for created in [AS_OF - timedelta(seconds=rng.uniform(0, 60))]
    ]
    async with conn.transaction():
        await conn.executemany(
            "UPDATE user_coaching_plans SET current_status = $2, updated_at = $3 WHERE id = $1", updates
        )
        await conn.copy_records_to_table("ruck_session", records=rows, columns=RUCK_COLUMNS)
        await copy_users(conn, [(u, "UTC") for u in new_users])
        await conn.copy_records_to_table("user_coaching_plans", records=new_plans, columns=PLAN_COLUMNS)
        await conn.copy_records_to_table(
            "plan_sessions", records=session_rows([(p[0], p[8]) for p in new_plans], rng), columns=SESSION_COLUMNS
        )
    changed: dict[str, int] = {}
    for _, status, _ in updates:
        changed[status] = changed.get(status, 0) + 1
    return Change(
        new_rucks=args.new_rucks,
        in_progress=in_progress,
        changed=changed,
        new_plans=len(new_plans),
        expected_rucks=sum(1 for r in who if r["user_id"] not in ended_users),
    )


async def minute(target: Target, steady: Steady, seed: int, args: argparse.Namespace) -> Change:
    """Back to the steady state, then a minute's worth on top (on a connection closed before the pass)."""
    conn = await asyncpg.connect(target.dsn)
    try:
        await reset(conn, steady)
        change = await apply_change(conn, steady, seed, args)
        await conn.execute("CHECKPOINT")
        return change
    finally:
        await conn.close()
