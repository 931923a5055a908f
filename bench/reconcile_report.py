"""How ``reconcile.py`` records a pass and reports it: the :class:`Recorder` that labels each store call and, in
``explain`` mode, runs each statement under ``EXPLAIN (ANALYZE, BUFFERS)`` first (the database time and the shared
buffers read back from the plan's text), the records of a pass, and the tables printed from them."""

from __future__ import annotations

import re
import statistics
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

_T = TypeVar("_T")


# --- measuring ------------------------------------------------------------------------------------------------------

_PLANNING = re.compile(r"Planning Time: ([\d.]+) ms")
_EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")
#: The top node's buffers (its children's and parallel workers' included), the first line of the plan that has them.
_BUFFERS = re.compile(r"^\s*Buffers: shared((?: \w+=\d+)+)", re.MULTILINE)


@dataclass
class Statement:
    """One statement of a pass, as the database ran it under EXPLAIN ANALYZE (an executemany: each row's summed)."""

    label: str
    phase: str
    read: bool
    planning_ms: float
    execution_ms: float
    executions: int
    #: Shared buffers the execution touched (hit, read, dirtied, written): the work done, whatever the machine's load.
    buffers: int
    plan: str | None = None  # with timing, when asked for

    @property
    def ms(self) -> float:
        return self.planning_ms + self.execution_ms


@dataclass
class Call:
    label: str
    phase: str
    seconds: float
    rows: int


class Recorder:
    """Labels each store call; in ``explain`` mode, runs each statement first under EXPLAIN ANALYZE on the same
    connection and transaction (a write inside a savepoint rolled back), then lets it run for real."""

    def __init__(self, engine: AsyncEngine, *, explain: bool, plans: bool = False) -> None:
        self.explain, self.plans = explain, plans
        self.label, self.phase = "", ""
        self.calls: list[Call] = []
        self.statements: list[Statement] = []
        if explain:
            event.listen(engine.sync_engine, "before_cursor_execute", self._before)

    async def call(self, label: str, phase: str, work: Awaitable[_T]) -> _T:
        self.label, self.phase = label, phase
        t0 = perf_counter()
        result = await work
        seconds = perf_counter() - t0
        self.calls.append(Call(label, phase, seconds, len(result) if isinstance(result, list) else 0))
        return result

    def _before(
        self, conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
    ) -> None:
        cursor = conn.connection.cursor()
        read = statement.lstrip()[:6].upper() == "SELECT"
        sets = list(parameters) if executemany else [parameters]
        planning = execution = 0.0
        buffers = 0
        plan: str | None = None
        if not read:
            cursor.execute("SAVEPOINT bench_explain")
        for params in sets:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + statement, params)
            text = "\n".join(str(row[0]) for row in cursor.fetchall())
            planning += _ms(_PLANNING, text)
            execution += _ms(_EXECUTION, text)
            buffers += _buffers(text)
        if not read:
            cursor.execute("ROLLBACK TO SAVEPOINT bench_explain")
            cursor.execute("RELEASE SAVEPOINT bench_explain")
        elif self.plans:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, sets[0])
            plan = "\n".join(str(row[0]) for row in cursor.fetchall())
        cursor.close()
        self.statements.append(Statement(self.label, self.phase, read, planning, execution, len(sets), buffers, plan))


def _ms(pattern: re.Pattern[str], text: str) -> float:
    found = pattern.search(text)
    return float(found.group(1)) if found else 0.0


def _buffers(text: str) -> int:
    found = _BUFFERS.search(text.split("\nPlanning:")[0])
    return sum(int(part.split("=")[1]) for part in found.group(1).split()) if found else 0


@dataclass
class Outcome:
    started: int = 0
    status_changes: int = 0
    ended: int = 0
    rucks: int = 0


@dataclass
class PassResult:
    outcome: Outcome
    calls: list[Call]
    statements: list[Statement]
    wall: float = 0.0
    active_ms: float = 0.0  # pg_stat_database.active_time over the pass


# --- reporting ------------------------------------------------------------------------------------------------------

READS = ("plans_to_start", "status_changes", "new_rucks")
LABELS = (*READS, "record_started", "record_ended", "record_seen", "record_rucks")
PHASES = ("starts", "statuses", "rucks")


def sum_db(p: PassResult, *, label: str | None = None, phase: str | None = None, read: bool | None = None) -> float:
    """Database seconds of a pass's statements (all, or those of one label, phase, or reads/writes)."""
    return (
        sum(
            s.ms
            for s in p.statements
            if label in (None, s.label) and phase in (None, s.phase) and read in (None, s.read)
        )
        / 1000
    )


def sum_wall(p: PassResult, *, label: str | None = None, phase: str | None = None) -> float:
    return sum(c.seconds for c in p.calls if label in (None, c.label) and phase in (None, c.phase))


def _fmt(values: Sequence[float]) -> str:
    return f"{statistics.median(values) * 1000:>9,.1f} {max(values) * 1000:>9,.1f}"


def sum_buffers(p: PassResult, *, label: str | None = None, phase: str | None = None) -> int:
    return sum(s.buffers for s in p.statements if label in (None, s.label) and phase in (None, s.phase))


def report_runs(walls: Sequence[PassResult], explains: Sequence[PassResult]) -> None:
    print()
    print(
        f"{'per pass, ms':<18}{'calls':>6}{'rows':>7}   {'DB median':>9} {'DB max':>9}   "
        f"{'wall med':>9} {'wall max':>9}   {'buffers':>9}"
    )
    for label in LABELS:
        calls = [sum(1 for c in p.calls if c.label == label) for p in walls]
        rows = [sum(c.rows for c in p.calls if c.label == label) for p in walls]
        db = [sum_db(p, label=label) for p in explains]
        wall = [sum_wall(p, label=label) for p in walls]
        buffers = statistics.median(sum_buffers(p, label=label) for p in explains)
        row_text = f"{statistics.median(rows):>7,.0f}" if label in READS else f"{'':>7}"
        print(f"{label:<18}{statistics.median(calls):>6.0f}{row_text}   {_fmt(db)}   {_fmt(wall)}   {buffers:>9,.0f}")
    print()
    for phase in PHASES:
        db = [sum_db(p, phase=phase) for p in explains]
        wall = [sum_wall(p, phase=phase) for p in walls]
        buffers = statistics.median(sum_buffers(p, phase=phase) for p in explains)
        print(f"{'phase ' + phase:<31}   {_fmt(db)}   {_fmt(wall)}   {buffers:>9,.0f}")
    db = [sum_db(p) for p in explains]
    wall = [p.wall for p in walls]
    buffers = statistics.median(sum_buffers(p) for p in explains)
    print(f"{'whole pass':<31}   {_fmt(db)}   {_fmt(wall)}   {buffers:>9,.0f}")
    active = [p.active_ms / 1000 for p in walls]
    print(f"{'  server active time (pg_stat)':<31}   {'':>19}   {_fmt(active)}")
    reads = [sum_db(p, read=True) for p in explains]
    print(f"{'  of which the three reads':<31}   {_fmt(reads)}")
    print(
        "(DB: planning + execution under EXPLAIN ANALYZE; wall: the store call, commit included; buffers: shared "
        "buffers touched, the same whatever the machine's load)"
    )

    last = explains[-1]
    print(
        "new_rucks per page (last run): "
        + ", ".join(f"{s.ms:.1f} ms/{s.buffers:,}" for s in last.statements if s.label == "new_rucks")
        + " buffers; record_rucks per page: "
        + ", ".join(f"{s.ms:.1f} ms" for s in last.statements if s.label == "record_rucks")
    )


def report_plans(explain: PassResult) -> None:
    for label in READS:
        calls = [s for s in explain.statements if s.label == label and s.plan]
        if not calls:
            continue
        slowest = max(calls, key=lambda s: s.ms)
        print()
        print(f"--- {label}: the slowest of {len(calls)} call(s), EXPLAIN (ANALYZE, BUFFERS) ---")
        print(slowest.plan)
