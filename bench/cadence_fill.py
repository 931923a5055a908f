"""The population of ``cadence_recompute.py`` and its database: seeded synthetic athletes (where they live, how
they ruck: early birds, evening and weekday/weekend athletes, midnight wrappers, noisy, sparse, routine shifters,
travellers with time-zone history), written by COPY where the service reads them, in a database made or reused by
:func:`prepare`.
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

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
from coaching.cadence import LOOKBACK

#: The nightly run being timed (fixed, so a ``--keep`` database stays valid whatever the day).
AS_OF = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
#: Days of history generated (a little more than the analyzer's lookback, so the cut-off is exercised).
DAYS = LOOKBACK.days + 2
#: Bump when the generated population (or the schema it is written to) changes, so ``--keep`` refills an older one.
FILL_VERSION = 2

#: (zone, weight): where the athletes live.
ZONES = (
    ("America/New_York", 25),
    ("America/Los_Angeles", 18),
    ("Europe/London", 15),
    ("Asia/Kolkata", 12),
    ("Europe/Berlin", 8),
    ("Asia/Kathmandu", 5),
    ("UTC", 5),
    ("America/Sao_Paulo", 4),
    ("Australia/Lord_Howe", 4),
    ("Asia/Tokyo", 4),
)
#: (pattern, weight): how they ruck.
KINDS = (
    ("early", 22),  # ~05:10 regulars
    ("evening", 20),  # ~18:30
    ("split", 13),  # weekdays ~06:00, weekends ~09:30
    ("midnight", 5),  # ~23:45, wrapping past midnight
    ("noisy", 15),  # any time 05:00-22:00
    ("sparse", 7),  # at most 3 rucks in the whole period
    ("shifter", 10),  # ~06:30, then ~19:00 for the last 14 days
    ("traveller", 8),  # a routine kept in local time through a trip or a move (coach_athlete_timezones rows)
)


# --- population ---------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Athlete:
    user_id: str
    plan_id: int
    kind: str
    home: str
    per_day: float  # chance of a ruck on a given day
    minute: int  # usual local start (minutes after local midnight)
    other: int  # the weekend start (split) or the new start (shifter)
    jitter: float  # standard deviation of the start, minutes
    #: (first day index, zone) changes after the home zone; empty for most athletes.
    moves: list[tuple[int, str]] = field(default_factory=list)
    sparse_days: frozenset[int] = frozenset()

    def zone_on(self, day: int) -> str:
        current = self.home
        for first, zone in self.moves:
            if day >= first:
                current = zone
        return current


@dataclass
class Population:
    athletes: list[Athlete]
    first_day: date
    #: zone -> epoch second of local midnight of each generated day (offset taken at local noon).
    midnights: dict[str, list[int]]
    #: (plan id, ruck id, local date) of rucks that a plan session records as completed.
    linked: list[tuple[int, int, date]] = field(default_factory=list)
    rucks: int = 0


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([name for name, _ in table], weights=[w for _, w in table])[0]


def make_population(n: int, seed: int) -> Population:
    rng = random.Random(seed)
    first_day = AS_OF.date() - timedelta(days=DAYS - 1)
    zones = [z for z, _ in ZONES]
    athletes: list[Athlete] = []
    for i in range(n):
        kind = _weighted(rng, KINDS)
        home = _weighted(rng, ZONES)
        shift = rng.randint(-30, 30)  # everyone's routine is their own
        a = Athlete(
            user_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            plan_id=i + 1,
            kind=kind,
            home=home,
            per_day=rng.uniform(3.0, 5.0) / 7,
            minute=310 + shift,
            other=0,
            jitter=rng.uniform(5.0, 15.0),
        )
        if kind == "evening":
            a.minute = 1110 + shift
        elif kind == "split":
            a.minute, a.other = 360 + shift // 2, 570 + shift
        elif kind == "midnight":
            a.minute = 1425 + shift // 3
        elif kind == "sparse":
            a.minute = rng.randint(300, 1200)
            a.sparse_days = frozenset(rng.sample(range(DAYS), rng.randint(0, 3)))
        elif kind == "shifter":
            a.minute, a.other = 390 + shift, 1140 + shift
        elif kind == "traveller":
            a.minute = rng.choice((310, 1110)) + shift
            away = rng.choice([z for z in zones if z != home])
            if rng.random() < 0.3:  # moved for good in the last weeks
                a.moves = [(rng.randint(DAYS - 21, DAYS - 5), away)]
            else:  # a trip, then home again
                start = rng.randint(20, DAYS - 25)
                a.moves = [(start, away), (start + rng.randint(5, 12), home)]
        athletes.append(a)
    midnights = {
        zone: [
            int(datetime.combine(first_day + timedelta(days=d), time(12), ZoneInfo(zone)).timestamp()) - 12 * 3600
            for d in range(DAYS + 1)
        ]
        for zone in zones
    }
    return Population(athletes, first_day, midnights)


def ruck_rows(pop: Population, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """``ruck_session`` rows in chronological order (day by day, all athletes), as a live table fills up."""
    as_of = int(AS_OF.timestamp())
    recent_from = DAYS - 14
    rnd, gauss, randint = rng.random, rng.gauss, rng.randint
    stamp = datetime.fromtimestamp
    ruck_id = 0
    for d in range(DAYS):
        weekend = (pop.first_day + timedelta(days=d)).weekday() >= 5
        for a in pop.athletes:
            kind = a.kind
            if kind == "sparse":
                if d not in a.sparse_days:
                    continue
            elif kind == "split":
                if rnd() >= (0.8 if weekend else a.per_day * 0.8):
                    continue
            elif rnd() >= a.per_day:
                continue
            if kind == "noisy":
                minute = randint(300, 1320)
            elif kind == "split" and weekend:
                minute = round(gauss(a.other, a.jitter * 2))
            elif kind == "shifter" and d >= recent_from:
                minute = round(gauss(a.other, a.jitter))
            elif kind == "sparse":
                minute = round(gauss(a.minute, 30))
            else:
                minute = round(gauss(a.minute, a.jitter))
            zone = a.zone_on(d) if a.moves else a.home
            start = pop.midnights[zone][d] + minute * 60 + randint(0, 59)
            duration = randint(25 * 60, 100 * 60)
            end = start + duration
            if end > as_of:
                continue
            ruck_id += 1
            roll = rnd()
            distance = round(duration / 3600 * rng.uniform(4.5, 6.5), 2)
            weight = float(randint(8, 30))
            if roll < 0.015:
                yield (ruck_id, a.user_id, "cancelled", stamp(start, UTC), None, None, None, weight)
                continue
            if roll < 0.02:
                yield (ruck_id, a.user_id, "in_progress", stamp(start, UTC), None, None, None, weight)
                continue
            started = None if roll > 0.99 else stamp(start, UTC)  # no start: the duration gives it
            pop.rucks += 1
            if rnd() < 0.05:
                pop.linked.append((a.plan_id, ruck_id, pop.first_day + timedelta(days=d)))
            yield (ruck_id, a.user_id, "completed", started, stamp(end, UTC), duration, distance, weight)


def session_rows(pop: Population, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """``plan_sessions``: the completed ones linked to a ruck, one date-only completion and one planned session each."""
    start_date = AS_OF.date() - timedelta(days=DAYS + 14)

    def week(day: date) -> int:
        return max(1, (day - start_date).days // 7 + 1)

    session_id = 0
    for plan_id, ruck_id, day in pop.linked:
        session_id += 1
        yield (session_id, plan_id, ruck_id, week(day), "base_ruck", "completed", day, day)
    for a in pop.athletes:
        done = pop.first_day + timedelta(days=rng.randrange(DAYS))
        planned = AS_OF.date() + timedelta(days=rng.randint(0, 3))
        session_id += 1
        yield (session_id, a.plan_id, None, week(done), "base_ruck", "completed", done, done)
        session_id += 1
        yield (session_id, a.plan_id, None, week(planned), "tempo_ruck", "planned", planned, None)


async def fill(conn: asyncpg.Connection, pop: Population, seed: int) -> dict[str, int]:
    rng = random.Random(seed + 7)
    start_date = AS_OF.date() - timedelta(days=DAYS + 14)
    current_week = (AS_OF.date() - start_date).days // 7 + 1
    await conn.execute("SET synchronous_commit = off")
    await copy_plan_template(conn)
    athletes: list[tuple[str, str | None]] = []
    for a in pop.athletes:
        roll = rng.random()
        if roll < 0.5:
            athletes.append((a.user_id, a.home))  # the athlete's own zone
        elif roll < 0.8:
            athletes.append((a.user_id, "UTC"))  # the column default: the plan's zone wins
        else:
            athletes.append((a.user_id, None))  # never set: the plan's zone
    await copy_users(conn, athletes)
    await conn.copy_records_to_table(
        "user_coaching_plans",
        records=(
            # The tone as RuckTracker stores it: a client display name (its CHECK accepts only those).
            (a.plan_id, a.user_id, 1, start_date, current_week, "active", a.home, "Supportive Friend")
            for a in pop.athletes
        ),
        columns=[
            "id",
            "user_id",
            "coaching_plan_id",
            "start_date",
            "current_week",
            "current_status",
            "plan_notification_timezone",
            "coaching_personality",
        ],
    )
    history: list[tuple[int, str, str, datetime]] = []
    for a in pop.athletes:
        if a.moves or rng.random() < 0.3:  # travellers, and some whose zone was recorded when their plan began
            history.append((len(history) + 1, a.user_id, a.home, datetime.combine(start_date, time(), UTC)))
            for day, zone in a.moves:
                history.append(
                    (len(history) + 1, a.user_id, zone, datetime.fromtimestamp(pop.midnights[zone][day], UTC))
                )
    await conn.copy_records_to_table(
        "coach_athlete_timezones", records=history, columns=["id", "user_id", "timezone", "effective_from"]
    )
    await conn.copy_records_to_table("ruck_session", records=ruck_rows(pop, rng), columns=RUCK_COLUMNS)
    await conn.copy_records_to_table(
        "plan_sessions",
        records=session_rows(pop, rng),
        columns=[
            "id",
            "user_coaching_plan_id",
            "session_id",
            "planned_week",
            "planned_session_type",
            "completion_status",
            "scheduled_date",
            "completed_date",
        ],
    )
    await sync_sequences(
        conn,
        ("coaching_plan_templates", "user_coaching_plans", "coach_athlete_timezones", "ruck_session", "plan_sessions"),
    )
    counts: dict[str, int] = {}
    for table in ('"user"', "user_coaching_plans", "coach_athlete_timezones", "ruck_session", "plan_sessions"):
        counts[table.strip('"')] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    return counts


# --- database setup -----------------------------------------------------------------------------------------------


async def prepare(target: Target, args: argparse.Namespace) -> None:
    """Drop, recreate, migrate and fill the bench database, unless ``--keep`` finds it filled the same way."""
    wanted = {"version": FILL_VERSION, "athletes": args.athletes, "seed": args.seed, "as_of": AS_OF.isoformat()}
    if await reuse_or_recreate(target, wanted, keep=args.keep) is not None:
        return

    t0 = perf_counter()
    await upgrade_database(target.url)
    t_migrate = perf_counter() - t0
    conn = await asyncpg.connect(target.dsn)
    try:
        t0 = perf_counter()
        pop = make_population(args.athletes, args.seed)
        counts = await fill(conn, pop, args.seed)
        t_fill = perf_counter() - t0
        t0 = perf_counter()
        await conn.execute("VACUUM ANALYZE")
        t_vacuum = perf_counter() - t0
        await write_meta(conn, {"fill": wanted})
        size = await database_size(conn)
    finally:
        await conn.close()
    print(
        f"fill: migrations {t_migrate:.1f} s, generate + COPY {t_fill:.1f} s, VACUUM ANALYZE {t_vacuum:.1f} s; "
        f"database {size}"
    )
    print("      " + ", ".join(f"{table} {n:,}" for table, n in counts.items()))
    print(f"      completed rucks {pop.rucks:,} (~{pop.rucks / max(args.athletes, 1):.0f} per athlete)")
