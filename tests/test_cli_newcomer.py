"""`coach` as a newcomer meets it: help on every command and option, Temporal down said plainly with how to start it,
a closed pipe that stays quiet, and `coach plan history` reading the ledger with the text that was sent."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities.database import make_engine, make_sessionmaker
from activities.demo import create_demo_plan
from activities.migrate import upgrade_database
from activities.store import Store
from coaching.models import LedgerStatus, NotificationType, PlannedNotification
from starter.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = {"TEMPORAL_ADDRESS": "127.0.0.1:1"}


def coach(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "starter.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **UNREACHABLE, **(env or {})},
    )


def _undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += _undocumented(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_command_and_option_has_help() -> None:
    assert _undocumented(build_parser(), "coach") == []


@pytest.mark.parametrize(
    "args",
    [("plan", "status", "1"), ("plan", "pause", "1"), ("worker",), ("cadence", "recompute")],
    ids=["status", "pause", "worker", "recompute"],
)
def test_temporal_unreachable_is_said_plainly_with_how_to_start_it(args: tuple[str, ...]) -> None:
    result = coach(*args)
    assert result.returncode == 1
    assert result.stderr.startswith("error: Temporal is not reachable at 127.0.0.1:1")
    assert "make run" in result.stderr and "TEMPORAL_ADDRESS" in result.stderr
    assert "tonic" not in result.stderr and "Traceback" not in result.stderr


def test_a_closed_pipe_is_quiet() -> None:
    # `coach … | head -1` with a long output: the reader is gone by the time the rest is written. Here the reader
    # goes at once (`true`), long before the simulation prints, so every write meets the closed pipe.
    shell = f"{sys.executable} -m starter.cli simulate examples/plan_completed_early.json --json | true"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.stderr == "" and result.returncode == 141


async def _plan_with_ledger(database_url: str) -> int:
    await upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        store = Store(make_sessionmaker(engine))
        now = datetime(2027, 3, 14, 0, 30, tzinfo=UTC)
        plan_id = await create_demo_plan(
            store,
            timezone="Asia/Kathmandu",
            start_date=now.date() + timedelta(days=1),
            sessions=[{"scheduled_date": now.date() + timedelta(days=1), "scheduled_start_time": "06:00"}],
        )
        snapshot = await store.load_plan_snapshot(plan_id)
        assert snapshot is not None
        [session] = snapshot.sessions

        def planned(ntype: NotificationType, at: datetime) -> PlannedNotification:
            return PlannedNotification(
                notification_id=f"p{plan_id}-{ntype.value}-{at:%Y%m%d%H%M}",
                type=ntype,
                plan_session_id=session.id,
                local_date=at.date(),
                due_at=at,
                send_at=at,
                expires_at=at + timedelta(hours=3),
                reason="test",
            )

        brief = planned(NotificationType.EVENING_BRIEF, now)
        await store.ledger_begin(plan_id, snapshot.user_id, brief)
        await store.ledger_finish(
            brief.notification_id,
            LedgerStatus.SENT,
            payload={"title": "Pack tonight", "body": "Tempo Ruck tomorrow at 06:00."},
            sent_at=now,
            reason="via outbox to 1 device(s)",
            copy_source="template",
        )
        hype = planned(NotificationType.MORNING_HYPE, now + timedelta(hours=9))
        await store.ledger_skip(plan_id, snapshot.user_id, hype, "quiet_hours: held past its last useful moment")
        return plan_id
    finally:
        await engine.dispose()


async def test_plan_history_shows_every_ledger_row_with_its_text(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/coach.db"
    plan_id = await _plan_with_ledger(database_url)
    env = {"COACH_DATABASE_URL": database_url}
    # Temporal is unreachable here: the history comes from the database alone.
    result = coach("plan", "history", str(plan_id), env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"Plan {plan_id}: 2 notification(s) in the ledger, 1 sent"
    # In the athlete's zone (+05:45): 00:30 UTC is 06:15 local.
    assert (
        lines[1].startswith("  Sun 2027-03-14 06:15 +0545") and "plan_evening_brief" in lines[1] and "SENT" in lines[1]
    )
    assert "Pack tonight: Tempo Ruck tomorrow at 06:00.  [template]" in result.stdout
    assert "reason: quiet_hours: held past its last useful moment" in result.stdout
    rows = json.loads(coach("plan", "history", str(plan_id), "--json", env=env).stdout)
    assert [(r["type"], r["status"]) for r in rows] == [
        ("plan_evening_brief", "sent"),
        ("plan_morning_hype", "skipped"),
    ]
    assert rows[0]["body"] == "Tempo Ruck tomorrow at 06:00." and rows[1]["sent_at"] is None
    missing = coach("plan", "history", "999", env=env)
    assert missing.returncode == 2 and "plan_not_found" in missing.stderr


async def test_cadence_heatmap_draws_the_rucks_and_the_learned_window(tmp_path: Path) -> None:
    from sqlalchemy import insert

    from activities.db import RuckSession
    from coaching.timeutil import local_to_utc
    from tests.chromium import dump_dom

    database_url = f"sqlite+aiosqlite:///{tmp_path}/coach.db"
    await upgrade_database(database_url)
    engine = make_engine(database_url)
    tz = "Asia/Kathmandu"
    try:
        store = Store(make_sessionmaker(engine))
        today = datetime.now(UTC).date()
        plan_id = await create_demo_plan(store, timezone=tz, start_date=today, sessions=[{"scheduled_date": today}])
        snapshot = await store.load_plan_snapshot(plan_id)
        assert snapshot is not None
        # Three weeks of 05:10 rucks (local, +05:45), and one at 18:30 on a Saturday.
        starts = [local_to_utc(today - timedelta(days=d), 5 * 60 + 10, tz) for d in range(1, 22)]
        saturday = next(today - timedelta(days=d) for d in range(1, 8) if (today - timedelta(days=d)).weekday() == 5)
        starts.append(local_to_utc(saturday, 18 * 60 + 30, tz))
        rows = [
            {
                "id": 100 + n,
                "user_id": snapshot.user_id,
                "status": "completed",
                "started_at": start,
                "completed_at": start + timedelta(minutes=45),
                "duration_seconds": 2700,
            }
            for n, start in enumerate(starts)
        ]
        async with store.sessionmaker.begin() as session:
            await session.execute(insert(RuckSession), rows)
    finally:
        await engine.dispose()
    out = tmp_path / "cadence.html"
    result = coach("cadence", "analyze", snapshot.user_id, "--html", str(out), env={"COACH_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    # Every ruck in its weekday × hour cell: the 05:00 hour of every weekday, 18:00 on Saturday.
    assert page.count('data-count="3"') == 7 and page.count('data-count="1"') == 1
    assert 'class="window used"' in page and "05:10" in page
    assert snapshot.user_id not in page  # the page may be shared: no full user id in it
    dom, console = dump_dom(out, tmp_path / "profile")
    assert dom.count('class="cell"') == 7 * 24 and not console, console
