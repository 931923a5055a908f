"""The plan workflow on the time-skipping test server, with the real activities and a real (SQLite) database.

Each test builds its plan relative to the test server's clock (which starts at the real current time) and then lets
time skip forward; the ledger is the observable outcome.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.demo import create_demo_plan
from activities.ledger_store import LedgerRow
from coaching.models import PlanStatus, SessionCompletedInput, WorkflowConfig
from coaching.timeutil import local_minute, local_to_utc, to_local
from starter.sandbox import Stack, local_stack, wait_for

NY = "America/New_York"


@pytest.fixture
async def stack(stack_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(stack_database_url) as s:
        yield s


async def make_plan(stack: Stack, tz: str, sessions: list[tuple[date, str | None]], **kwargs: Any) -> int:
    now = await stack.now()
    return await create_demo_plan(
        stack.store,
        timezone=tz,
        start_date=sessions[0][0] if sessions else to_local(now, tz).date(),
        sessions=[
            {
                "scheduled_date": d,
                "planned_session_type": "Tempo Ruck",
                "planned_week": 1,
                "scheduled_start_time": t,
            }
            for d, t in sessions
        ],
        created_at=kwargs.pop("created_at", now),
        **kwargs,
    )


def by_type(rows: list[LedgerRow], status: str | None = None) -> dict[str, list[LedgerRow]]:
    out: dict[str, list[LedgerRow]] = {}
    for r in rows:
        if status is None or r.status == status:
            out.setdefault(r.notification_type, []).append(r)
    return out


def next_transition(tz: str, after: datetime, *, spring: bool) -> date:
    """The local date of the next spring-forward (or fall-back) in ``tz`` after ``after``."""
    day = to_local(after, tz).date() + timedelta(days=1)
    for _ in range(400):
        before = local_to_utc(day, 0, tz)
        offset_change = (to_local(before + timedelta(days=1), tz).utcoffset() or timedelta()) - (
            to_local(before, tz).utcoffset() or timedelta()
        )
        if (offset_change > timedelta(0)) if spring else (offset_change < timedelta(0)):
            return day
        day += timedelta(days=1)
    raise AssertionError("no transition within 400 days")


async def test_kickoff_brief_hype_missed_and_digest_at_local_times(stack: Stack) -> None:
    now = await stack.now()
    today = to_local(now, NY).date()
    session_day = today + timedelta(days=3)
    plan_id = await make_plan(stack, NY, [(session_day, "07:30")])
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(session_day + timedelta(days=8), 12 * 60, NY))
    sent = by_type(await stack.ledger(plan_id), "sent")
    assert set(sent) >= {
        "plan_kickoff_primer",
        "plan_evening_brief",
        "plan_morning_hype",
        "plan_missed_followup",
        "plan_weekly_digest",
    }
    (brief,) = sent["plan_evening_brief"]
    (hype,) = sent["plan_morning_hype"]
    (missed,) = sent["plan_missed_followup"]
    assert brief.sent_at and to_local(brief.sent_at, NY).date() == session_day - timedelta(days=1)
    assert local_minute(brief.sent_at, NY) == 20 * 60
    assert hype.sent_at and local_minute(hype.sent_at, NY) == 6 * 60 + 30
    assert missed.sent_at and to_local(missed.sent_at, NY).date() == session_day + timedelta(days=1)
    assert missed.payload["data"]["type"] == "plan_missed_followup"


@pytest.mark.parametrize(
    ("tz", "spring"),
    [
        (NY, True),
        (NY, False),
        ("Europe/London", True),
        ("Europe/London", False),
        ("Australia/Lord_Howe", True),
        ("Australia/Lord_Howe", False),
    ],
)
async def test_briefs_keep_their_wall_time_across_dst(stack: Stack, tz: str, spring: bool) -> None:
    transition = next_transition(tz, await stack.now(), spring=spring)
    days = [transition - timedelta(days=1), transition, transition + timedelta(days=1)]
    plan_id = await make_plan(
        stack,
        tz,
        [(d, "09:00") for d in days],
        created_at=local_to_utc(transition - timedelta(days=3), 12 * 60, tz),
    )
    await stack.advance_to(local_to_utc(transition - timedelta(days=3), 12 * 60, tz))
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(transition + timedelta(days=2), 12 * 60, tz))
    sent = by_type(await stack.ledger(plan_id), "sent")
    briefs = sorted(r.sent_at for r in sent["plan_evening_brief"] if r.sent_at)
    hypes = sorted(r.sent_at for r in sent["plan_morning_hype"] if r.sent_at)
    assert [local_minute(b, tz) for b in briefs] == [20 * 60] * 3
    assert [local_minute(h, tz) for h in hypes] == [8 * 60] * 3
    assert [to_local(h, tz).date() for h in hypes] == days


@pytest.mark.parametrize("tz", ["Asia/Kathmandu", "Asia/Kolkata", "Australia/Lord_Howe"])
async def test_odd_offsets(stack: Stack, tz: str) -> None:
    day = to_local(await stack.now(), tz).date() + timedelta(days=2)
    plan_id = await make_plan(stack, tz, [(day, "06:15")])
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 7 * 60, tz))
    (hype,) = by_type(await stack.ledger(plan_id), "sent")["plan_morning_hype"]
    assert hype.sent_at and to_local(hype.sent_at, tz).date() == day and local_minute(hype.sent_at, tz) == 5 * 60 + 15


async def test_quiet_hours_wrapping_midnight_hold_and_drop(stack: Stack) -> None:
    tz = "Europe/London"
    day = to_local(await stack.now(), tz).date() + timedelta(days=2)
    # Quiet 21:00–06:30. Brief (20:00) is fine; the 06:00 session's hype (05:00) would only go out after its start.
    # The next day's 07:00 session: hype 06:00 is held to 06:30.
    plan_id = await make_plan(
        stack, tz, [(day, "06:00"), (day + timedelta(days=1), "07:00")], quiet_hours=(21 * 60, 6 * 60 + 30)
    )
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day + timedelta(days=1), 8 * 60, tz))
    rows = await stack.ledger(plan_id)
    hypes = {r.local_date: r for r in rows if r.notification_type == "plan_morning_hype"}
    assert hypes[day].status == "skipped" and (hypes[day].reason or "").startswith("quiet_hours")
    nxt = hypes[day + timedelta(days=1)]
    assert nxt.status == "sent" and nxt.sent_at and local_minute(nxt.sent_at, tz) == 6 * 60 + 30
    for r in rows:
        if r.status == "sent" and r.sent_at:
            minute = local_minute(r.sent_at, tz)
            assert not (minute >= 21 * 60 or minute < 6 * 60 + 30), r


async def test_plan_created_at_23_sends_kickoff_and_no_backlog(stack: Stack) -> None:
    tz = "Asia/Kathmandu"
    now = await stack.now()
    day = to_local(now, tz).date() + timedelta(days=1)
    created = local_to_utc(day, 23 * 60, tz)
    await stack.advance_to(created)
    plan_id = await make_plan(stack, tz, [(day, "06:00"), (day + timedelta(days=2), "06:00")], created_at=created)
    await stack.plans.start_plan(plan_id)
    await wait_for(lambda: _sent_types(stack, plan_id))
    rows = await stack.ledger(plan_id)
    today = [r for r in rows if r.local_date == day and r.notification_type != "plan_kickoff_primer"]
    assert {r.status for r in today} == {"skipped"}
    # Due before the plan existed (timing-rules-v2; plans before the patch said "stale").
    assert all((r.reason or "").startswith("before_plan: ") for r in today), [r.reason for r in today]
    assert by_type(rows, "sent")["plan_kickoff_primer"]
    # And the missed follow-up for that morning's session is never sent: it was before the athlete joined.
    await stack.advance_to(local_to_utc(day + timedelta(days=1), 12 * 60, tz))
    rows = await stack.ledger(plan_id)
    assert not [r for r in rows if r.notification_type == "plan_missed_followup" and r.status == "sent"]


async def _sent_types(stack: Stack, plan_id: int) -> set[str]:
    return {r.notification_type for r in await stack.ledger(plan_id) if r.status == "sent"}


async def test_completion_before_the_brief_celebrates_once_and_cancels_reminders(stack: Stack) -> None:
    now = await stack.now()
    day = to_local(now, NY).date() + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "07:00")])
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day - timedelta(days=1), 12 * 60, NY))
    done = SessionCompletedInput(
        ruck_id=501, completed_at=local_to_utc(day, 6 * 60, NY) - timedelta(days=1), source="import"
    )
    # The athlete rucked a day early (within the match window): it counts for the session.
    for _ in range(3):  # the same ruck reported three times (app retry, import, auto-complete)
        await stack.plans.session_completed(plan_id, done)
    await wait_for(lambda: _has(stack, plan_id, "plan_completion_celebration"))
    await stack.advance_to(local_to_utc(day + timedelta(days=2), 12 * 60, NY))
    rows = await stack.ledger(plan_id)
    types = [r.notification_type for r in rows if r.status == "sent"]
    assert types.count("plan_completion_celebration") == 1
    assert "plan_evening_brief" not in types and "plan_morning_hype" not in types
    assert "plan_missed_followup" not in types
    assert "plan_milestone_alert" in types  # first session
    status = await stack.plans.status(plan_id)
    assert status.completions == 1


async def _has(stack: Stack, plan_id: int, ntype: str) -> bool:
    return ntype in await _sent_types(stack, plan_id)


async def test_pause_resume_cancel(stack: Stack) -> None:
    now = await stack.now()
    day = to_local(now, NY).date() + timedelta(days=2)
    plan_id = await make_plan(
        stack, NY, [(day, "08:00"), (day + timedelta(days=2), "08:00"), (day + timedelta(days=4), "08:00")]
    )
    handle = await stack.plans.start_plan(plan_id)
    await stack.plans.pause(plan_id)
    await wait_for(lambda: _status_is(stack, plan_id, PlanStatus.PAUSED))
    await stack.advance_to(local_to_utc(day, 9 * 60, NY))
    paused_rows = [r for r in await stack.ledger(plan_id) if r.local_date == day]
    assert paused_rows and {r.status for r in paused_rows} == {"skipped"}
    assert all((r.reason or "").startswith("plan_paused") for r in paused_rows)
    await stack.plans.resume(plan_id)
    await stack.advance_to(local_to_utc(day + timedelta(days=2), 9 * 60, NY))
    second = {
        r.notification_type: r.status for r in await stack.ledger(plan_id) if r.local_date == day + timedelta(days=2)
    }
    assert second["plan_morning_hype"] == "sent"
    await stack.plans.cancel(plan_id)
    result = await handle.result()
    assert result.final_status is PlanStatus.CANCELLED
    after = len(await stack.ledger(plan_id))
    await stack.advance_to(local_to_utc(day + timedelta(days=5), 9 * 60, NY))
    assert len(await stack.ledger(plan_id)) == after


async def _status_is(stack: Stack, plan_id: int, status: PlanStatus) -> bool:
    return (await stack.plans.status(plan_id)).status is status


async def test_starting_twice_returns_the_running_workflow(stack: Stack) -> None:
    day = to_local(await stack.now(), NY).date() + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    first = await stack.plans.start_plan(plan_id)
    second = await stack.plans.start_plan(plan_id)
    assert first.id == second.id == f"coaching-plan-{plan_id}"
    assert first.result_run_id == second.result_run_id


async def test_status_query_lists_upcoming_with_reasons(stack: Stack) -> None:
    day = to_local(await stack.now(), NY).date() + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "05:00")])
    await stack.plans.start_plan(plan_id)
    status = await wait_for(lambda: _upcoming(stack, plan_id))
    brief = next(n for n in status.upcoming if n.type.value == "plan_evening_brief")
    assert "earlier than your usual 20:00" in brief.reason
    # The session's next notification time is mirrored into plan_sessions for the core API and operators.
    from sqlalchemy import select

    from activities.db import PlanSessionRow

    async def mirrored() -> object:
        async with stack.store._sessionmaker() as session:  # noqa: SLF001 - reading the column under test
            return await session.scalar(
                select(PlanSessionRow.next_notification_at).where(PlanSessionRow.user_coaching_plan_id == plan_id)
            )

    assert await wait_for(mirrored) == brief.send_at
    assert brief.send_at_local.endswith(("EST", "EDT")) and " 19:00 " in brief.send_at_local + " "


async def _upcoming(stack: Stack, plan_id: int) -> Any:
    status = await stack.plans.status(plan_id)
    return status if status.upcoming else None


async def _kickoff_done(stack: Stack, plan_id: int) -> bool:
    """The kickoff's delivery is back in the workflow. Tests that close a plan wait for it: a cancel withdrawing a
    delivery in the very moment it completes trips the time-skipping test server (ACTIVITY_UNKNOWN)."""
    status = await stack.plans.status(plan_id)
    return status.sent + status.skipped >= 1


async def test_continue_as_new_keeps_state_and_sends_nothing_twice(tmp_path: Path) -> None:
    config = WorkflowConfig(search_attributes=False, continue_as_new_after_events=100)
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/can.db", config=config) as stack:
        day = to_local(await stack.now(), NY).date() + timedelta(days=1)
        sessions = [(day + timedelta(days=i), "08:00") for i in range(10)]
        plan_id = await make_plan(stack, NY, sessions)
        handle = await stack.plans.start_plan(plan_id)
        await stack.plans.session_completed(
            plan_id, SessionCompletedInput(ruck_id=1, completed_at=local_to_utc(day, 8 * 60, NY))
        )
        await stack.advance_to(local_to_utc(day + timedelta(days=12), 12 * 60, NY))
        desc = await handle.describe()
        assert desc.run_id != handle.first_execution_run_id  # it did continue as new
        rows = await stack.ledger(plan_id)
        ids = [r.notification_id for r in rows]
        assert len(ids) == len(set(ids))
        sent = by_type(rows, "sent")
        assert len(sent["plan_morning_hype"]) == 9 and len(sent["plan_completion_celebration"]) == 1
        assert (await stack.plans.status(plan_id)).completions == 1


async def test_every_task_replays_with_no_workflow_cache(tmp_path: Path) -> None:
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/nocache.db", max_cached_workflows=0) as stack:
        day = to_local(await stack.now(), NY).date() + timedelta(days=1)
        plan_id = await make_plan(stack, NY, [(day, "08:00"), (day + timedelta(days=1), "08:00")])
        await stack.plans.start_plan(plan_id)
        await stack.plans.session_completed(
            plan_id, SessionCompletedInput(ruck_id=9, completed_at=local_to_utc(day, 8 * 60 + 30, NY))
        )
        await stack.advance_to(local_to_utc(day + timedelta(days=3), 12 * 60, NY))
        sent = by_type(await stack.ledger(plan_id), "sent")
        assert len(sent["plan_completion_celebration"]) == 1
        assert len(sent["plan_missed_followup"]) == 1


async def test_completing_the_plan_with_its_last_ruck_still_celebrates_and_records_it(stack: Stack) -> None:
    day = to_local(await stack.now(), NY).date() + timedelta(days=1)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    handle = await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 9 * 60, NY))
    await stack.plans.session_completed(
        plan_id, SessionCompletedInput(ruck_id=88, completed_at=local_to_utc(day, 9 * 60, NY))
    )
    await stack.plans.complete(plan_id)
    result = await handle.result()
    assert result.final_status is PlanStatus.COMPLETED
    sent = by_type(await stack.ledger(plan_id), "sent")
    assert len(sent["plan_completion_celebration"]) == 1
    snapshot = await stack.store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.sessions[0].completion_status == "completed"


async def test_a_ruck_that_crosses_midnight_counts_for_the_day_it_started(stack: Stack) -> None:
    day = to_local(await stack.now(), NY).date() + timedelta(days=1)
    plan_id = await make_plan(stack, NY, [(day, "23:00"), (day + timedelta(days=1), "18:00")])
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day + timedelta(days=1), 0, NY) + timedelta(minutes=45))
    await stack.plans.session_completed(
        plan_id,
        SessionCompletedInput(
            ruck_id=5,
            started_at=local_to_utc(day, 23 * 60 + 5, NY),
            completed_at=local_to_utc(day + timedelta(days=1), 40, NY),
        ),
    )
    await stack.advance_to(local_to_utc(day + timedelta(days=2), 12 * 60, NY))
    rows = await stack.ledger(plan_id)
    sent = {(r.notification_type, r.local_date) for r in rows if r.status == "sent"}
    assert ("plan_missed_followup", day) not in sent
    assert ("plan_morning_hype", day + timedelta(days=1)) in sent  # the next day's session is still ahead


async def test_a_plan_cancelled_in_the_database_without_a_signal_stops_notifying(stack: Stack) -> None:
    """RuckTracker's replace-on-create flipped current_status and kept sending; the send-time check catches it."""
    day = to_local(await stack.now(), NY).date() + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "08:00"), (day + timedelta(days=2), "08:00")])
    handle = await stack.plans.start_plan(plan_id)
    await wait_for(lambda: _sent_types(stack, plan_id))
    await stack.store.set_plan_status(plan_id, "cancelled")
    await stack.advance_to(local_to_utc(day, 9 * 60, NY))
    result = await handle.result()
    assert result.final_status is PlanStatus.CANCELLED
    rows = await stack.ledger(plan_id)
    brief = next(r for r in rows if r.notification_type == "plan_evening_brief")
    assert brief.status == "skipped" and (brief.reason or "").startswith("plan_cancelled")
    assert [r.notification_type for r in rows if r.status == "sent"] == ["plan_kickoff_primer"]


async def test_a_session_moved_onto_the_day_of_an_unmatched_ruck_is_not_missed(stack: Stack) -> None:
    from sqlalchemy import update

    from activities.db import PlanSessionRow

    day = to_local(await stack.now(), NY).date() + timedelta(days=1)
    plan_id = await make_plan(stack, NY, [(day + timedelta(days=3), "08:00")])
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 10 * 60, NY))
    await stack.plans.session_completed(
        plan_id, SessionCompletedInput(ruck_id=31, completed_at=local_to_utc(day, 10 * 60, NY))
    )
    await wait_for(lambda: _has(stack, plan_id, "plan_completion_celebration"))
    # The core API's plan review moves the session onto the day the athlete already rucked.
    async with stack.store._sessionmaker.begin() as session:  # noqa: SLF001 - the core API's write, simulated
        await session.execute(
            update(PlanSessionRow).where(PlanSessionRow.user_coaching_plan_id == plan_id).values(scheduled_date=day)
        )
    await stack.plans.sessions_changed(plan_id, "plan review moved a session")
    await stack.advance_to(local_to_utc(day + timedelta(days=2), 12 * 60, NY))
    rows = await stack.ledger(plan_id)
    sent = [r.notification_type for r in rows if r.status == "sent"]
    assert "plan_missed_followup" not in sent
    assert sent.count("plan_completion_celebration") == 1


async def test_a_session_moved_into_the_past_gets_no_missed_followup(stack: Stack) -> None:
    from sqlalchemy import update

    from activities.db import PlanSessionRow

    day = to_local(await stack.now(), NY).date() + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day + timedelta(days=5), "08:00")])
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 15 * 60, NY))
    async with stack.store._sessionmaker.begin() as session:  # noqa: SLF001 - the core API's write, simulated
        await session.execute(
            update(PlanSessionRow).where(PlanSessionRow.user_coaching_plan_id == plan_id).values(scheduled_date=day)
        )
    await stack.plans.sessions_changed(plan_id, "plan review moved the session to this morning")
    await stack.advance_to(local_to_utc(day + timedelta(days=1), 12 * 60, NY))
    sent = [r.notification_type for r in await stack.ledger(plan_id) if r.status == "sent"]
    assert "plan_missed_followup" not in sent


async def test_a_resume_signal_wins_over_a_paused_row(stack: Stack) -> None:
    day = to_local(await stack.now(), NY).date() + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    await stack.store.set_plan_status(plan_id, "paused")  # the core API paused it (and will update the row later)
    await stack.plans.start_plan(plan_id)
    await wait_for(lambda: _status_is(stack, plan_id, PlanStatus.PAUSED))
    await stack.plans.resume(plan_id)
    await stack.advance_to(local_to_utc(day, 7 * 60 + 30, NY))
    hype = next(r for r in await stack.ledger(plan_id) if r.notification_type == "plan_morning_hype")
    assert hype.status == "sent", hype.reason


async def test_the_last_ruck_reported_just_after_the_plan_was_completed_still_counts(stack: Stack) -> None:
    day = to_local(await stack.now(), NY).date() + timedelta(days=1)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    handle = await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day, 9 * 60, NY))
    await stack.plans.complete(plan_id)  # the core API's two calls arrive in the "wrong" order
    await stack.plans.session_completed(
        plan_id, SessionCompletedInput(ruck_id=99, completed_at=local_to_utc(day, 9 * 60, NY))
    )
    assert (await handle.result()).final_status is PlanStatus.COMPLETED
    sent = by_type(await stack.ledger(plan_id), "sent")
    assert len(sent["plan_completion_celebration"]) == 1
    assert [r.notification_id.rsplit(":", 1)[-1] for r in sent["plan_milestone_alert"]] == ["pct100"]
    snapshot = await stack.store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.sessions[0].completion_status == "completed"


async def test_a_late_first_load_does_not_drop_follow_ups_the_athlete_could_have_known(stack: Stack) -> None:
    """After an outage (or a backfill) the workflow starts days after the plan; yesterday's session was known."""
    day = to_local(await stack.now(), NY).date() + timedelta(days=3)
    created = local_to_utc(day - timedelta(days=2), 12 * 60, NY)
    await stack.advance_to(local_to_utc(day + timedelta(days=1), 6 * 60, NY))
    plan_id = await make_plan(stack, NY, [(day, "08:00")], created_at=created)
    await stack.plans.start_plan(plan_id)
    await stack.advance_to(local_to_utc(day + timedelta(days=1), 10 * 60, NY))
    missed = next(r for r in await stack.ledger(plan_id) if r.notification_type == "plan_missed_followup")
    assert missed.status == "sent", missed.reason


async def test_a_cancel_right_after_the_start_is_not_undone_by_the_first_load(stack: Stack) -> None:
    now = await stack.now()
    day = to_local(now, NY).date() + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "07:00")])
    handle = await stack.plans.start_plan(plan_id)
    # Before the workflow has loaded its plan, whose row still says 'active'.
    await stack.plans.cancel(plan_id, reason="replaced by another plan")
    result = await handle.result()
    assert result.final_status is PlanStatus.CANCELLED
    assert not [
        r for r in await stack.ledger(plan_id) if r.status == "sent" and r.notification_type != "plan_kickoff_primer"
    ]
