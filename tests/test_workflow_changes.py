"""An athlete's changes to a running plan: the Temporal updates snooze, cancel_snooze, change_preferences and
reschedule_session, end to end on the time-skipping test server with the real activities and a SQLite database.

Each test checks the update's answer (the new schedule) and then lets time pass: the ledger is the observable
outcome. A refused change raises :class:`ChangeRejected` through ``starter.client.PlanNotifications``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.ledger_store import LedgerRow
from coaching.models import (
    Category,
    ChangePreferencesInput,
    NotificationType,
    PlanSession,
    PlanStatus,
    PlanStatusResult,
    RescheduleSessionInput,
    SessionCompletedInput,
    SnoozeInput,
)
from coaching.preferences import ChangeRejected
from coaching.timeutil import local_minute, local_to_utc, to_local
from starter.client import PlanEndedError, PlanNotFoundError
from starter.sandbox import Stack, local_stack, wait_for
from tests.test_workflow import NY, _has, _kickoff_done, _status_is, _upcoming, by_type, make_plan, next_transition

BRIEF = "plan_evening_brief"
HYPE = "plan_morning_hype"
MISSED = "plan_missed_followup"
DIGEST = "plan_weekly_digest"
CELEBRATION = "plan_completion_celebration"
MILESTONE = "plan_milestone_alert"


@pytest.fixture
async def stack(stack_database_url: str) -> AsyncIterator[Stack]:
    async with local_stack(stack_database_url) as s:
        yield s


# --- helpers ---------------------------------------------------------------------------------------------------


async def _today(stack: Stack, tz: str = NY) -> date:
    return to_local(await stack.now(), tz).date()


async def _sessions(stack: Stack, plan_id: int) -> list[PlanSession]:
    snapshot = await stack.store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    return sorted(snapshot.sessions, key=lambda s: (s.scheduled_date or date.min, s.id))


async def _started(stack: Stack, plan_id: int) -> PlanStatusResult:
    """Start the plan's workflow and wait until it has loaded the plan and planned what comes next."""
    await stack.plans.start_plan(plan_id)
    status: PlanStatusResult = await wait_for(lambda: _upcoming(stack, plan_id))
    return status


def _planned(answer: PlanStatusResult, ntype: str, session_id: int | None = None) -> list[datetime]:
    """The send times the answer (or status) lists for one type (and session)."""
    return [
        n.send_at
        for n in answer.upcoming
        if n.type.value == ntype and (session_id is None or n.plan_session_id == session_id)
    ]


def _row(rows: list[LedgerRow], ntype: str, day: date) -> LedgerRow:
    """The one ledger row of ``ntype`` for the session (or digest) on local date ``day``."""
    (row,) = [r for r in rows if r.notification_type == ntype and r.local_date == day]
    return row


def _sent_at_local(row: LedgerRow, tz: str) -> tuple[date, int]:
    assert row.status == "sent", (row.notification_type, row.status, row.reason)
    assert row.sent_at is not None
    return to_local(row.sent_at, tz).date(), local_minute(row.sent_at, tz)


# --- 1. snooze ---------------------------------------------------------------------------------------------------


async def test_snooze_holds_the_evening_brief_to_its_end_then_the_next_session_goes_normally(stack: Stack) -> None:
    today = await _today(stack)
    first, second = today + timedelta(days=2), today + timedelta(days=4)
    plan_id = await make_plan(stack, NY, [(first, "08:00"), (second, "08:00")])
    await _started(stack, plan_id)
    await stack.advance_to(local_to_utc(first - timedelta(days=1), 19 * 60, NY))
    until = local_to_utc(first - timedelta(days=1), 21 * 60 + 15, NY)

    answer = await stack.plans.snooze(plan_id, SnoozeInput(until=until))

    assert answer.snoozed_until == until
    assert min(_planned(answer, BRIEF)) == until  # the brief (20:00) now waits for the end of the snooze
    await stack.advance_to(local_to_utc(first - timedelta(days=1), 21 * 60, NY))
    assert not [r for r in await stack.ledger(plan_id) if r.notification_type == BRIEF]  # not at 20:00
    assert (await stack.plans.status(plan_id)).snoozed_until == until
    await stack.advance_to(local_to_utc(second, 12 * 60, NY))
    rows = await stack.ledger(plan_id)
    assert _sent_at_local(_row(rows, BRIEF, first), NY) == (first - timedelta(days=1), 21 * 60 + 15)
    assert _sent_at_local(_row(rows, HYPE, first), NY) == (first, 7 * 60)
    assert _sent_at_local(_row(rows, BRIEF, second), NY) == (second - timedelta(days=1), 20 * 60)
    assert _sent_at_local(_row(rows, HYPE, second), NY) == (second, 7 * 60)
    assert (await stack.plans.status(plan_id)).snoozed_until is None


async def test_a_snooze_outlives_the_workflow_run_it_was_taken_in(tmp_path: Path) -> None:
    """The snooze is stored with the plan: a new run of the plan's workflow (here on a new Temporal server over the
    same database, as after losing a namespace) still holds the brief to the snooze's end; a cancelled snooze stays
    cancelled."""
    database = f"sqlite+aiosqlite:///{tmp_path}/snooze.db"
    async with local_stack(database) as first_run:
        first = await _today(first_run) + timedelta(days=2)
        plan_id = await make_plan(first_run, NY, [(first, "08:00")])
        other = await make_plan(first_run, NY, [(first, "08:00")])
        await _started(first_run, plan_id)
        await _started(first_run, other)
        until = local_to_utc(first - timedelta(days=1), 21 * 60, NY)
        await first_run.plans.snooze(plan_id, SnoozeInput(until=until))
        await first_run.plans.snooze(other, SnoozeInput(duration_minutes=3 * 24 * 60))
        await first_run.plans.cancel_snooze(other)

    async with local_stack(database) as second_run:
        restarted = await _started(second_run, plan_id)
        assert restarted.snoozed_until == until
        assert min(_planned(restarted, BRIEF)) == until
        assert (await _started(second_run, other)).snoozed_until is None
        await second_run.advance_to(local_to_utc(first, 12 * 60, NY))
        rows = await second_run.ledger(plan_id)
        assert _sent_at_local(_row(rows, BRIEF, first), NY) == (first - timedelta(days=1), 21 * 60)
        assert _sent_at_local(_row(await second_run.ledger(other), BRIEF, first), NY) == (
            first - timedelta(days=1),
            20 * 60,
        )


async def test_a_snooze_past_the_briefs_useful_time_skips_it_at_its_due_time(stack: Stack) -> None:
    today = await _today(stack)
    first, second = today + timedelta(days=2), today + timedelta(days=4)
    plan_id = await make_plan(stack, NY, [(first, "08:00"), (second, "08:00")])
    await _started(stack, plan_id)
    # The brief (20:00 the evening before) is useful until the hype (07:00); the snooze lasts until 07:30.
    until = local_to_utc(first, 7 * 60 + 30, NY)

    answer = await stack.plans.snooze(plan_id, SnoozeInput(until=until))

    assert answer.snoozed_until == until
    (brief,) = [n for n in answer.upcoming if n.type is NotificationType.EVENING_BRIEF and n.send_at < until]
    assert brief.send_at == local_to_utc(first - timedelta(days=1), 20 * 60, NY)
    assert "will be dropped" in brief.reason
    await stack.advance_to(local_to_utc(second, 12 * 60, NY))
    rows = await stack.ledger(plan_id)
    skipped = _row(rows, BRIEF, first)
    assert skipped.status == "skipped" and (skipped.reason or "").startswith("snoozed"), skipped.reason
    assert skipped.sent_at is None
    # The hype (07:00, useful until the 08:00 start) goes out when the snooze ends.
    assert _sent_at_local(_row(rows, HYPE, first), NY) == (first, 7 * 60 + 30)
    assert _sent_at_local(_row(rows, BRIEF, second), NY) == (second - timedelta(days=1), 20 * 60)
    assert _sent_at_local(_row(rows, HYPE, second), NY) == (second, 7 * 60)


async def test_a_ruck_completed_during_a_snooze_is_still_celebrated(stack: Stack) -> None:
    today = await _today(stack)
    day = today + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "08:00"), (day + timedelta(days=2), "08:00")])
    await _started(stack, plan_id)
    until = local_to_utc(day + timedelta(days=1), 12 * 60, NY)
    answer = await stack.plans.snooze(plan_id, SnoozeInput(until=until))
    assert answer.snoozed_until == until
    done_at = local_to_utc(day, 9 * 60, NY)
    await stack.advance_to(done_at)
    await stack.plans.session_completed(plan_id, SessionCompletedInput(ruck_id=7001, completed_at=done_at))
    await stack.advance_to(done_at + timedelta(minutes=10))
    rows = await stack.ledger(plan_id)
    sent = by_type(rows, "sent")
    (celebration,) = sent[CELEBRATION]
    (milestone,) = sent[MILESTONE]
    assert celebration.sent_at is not None and done_at <= celebration.sent_at < until
    assert milestone.sent_at is not None and milestone.sent_at < until
    assert milestone.notification_id.endswith(":pct50")  # 1 of 2 sessions: the biggest milestone
    # The session's own reminders were held past their useful time by the snooze.
    for ntype in (BRIEF, HYPE):
        row = _row(rows, ntype, day)
        assert row.status == "skipped" and (row.reason or "").startswith("snoozed"), (ntype, row.reason)


async def test_cancel_snooze_releases_a_later_reminder_at_its_normal_time(stack: Stack) -> None:
    today = await _today(stack)
    day = today + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    await _started(stack, plan_id)
    brief_at = local_to_utc(day - timedelta(days=1), 20 * 60, NY)
    snoozed = await stack.plans.snooze(plan_id, SnoozeInput(duration_minutes=5 * 24 * 60))
    assert snoozed.snoozed_until is not None and snoozed.snoozed_until > local_to_utc(day, 8 * 60, NY)
    (held,) = [n for n in snoozed.upcoming if n.type is NotificationType.EVENING_BRIEF]
    assert "will be dropped: the snooze lasts past its useful time" in held.reason

    answer = await stack.plans.cancel_snooze(plan_id)

    assert answer.snoozed_until is None
    (brief,) = [n for n in answer.upcoming if n.type is NotificationType.EVENING_BRIEF]
    assert brief.send_at == brief_at and "snooze" not in brief.reason
    assert (await stack.plans.status(plan_id)).snoozed_until is None
    await stack.advance_to(local_to_utc(day, 9 * 60, NY))
    rows = await stack.ledger(plan_id)
    assert _sent_at_local(_row(rows, BRIEF, day), NY) == (day - timedelta(days=1), 20 * 60)
    assert _sent_at_local(_row(rows, HYPE, day), NY) == (day, 7 * 60)


# --- 2. preferences ----------------------------------------------------------------------------------------------


async def test_change_preferences_moves_the_brief_switches_the_digest_off_and_refuses_accountability(
    stack: Stack,
) -> None:
    today = await _today(stack)
    day = today + timedelta(days=3)
    digest_day = day + timedelta(days=(6 - day.weekday()) % 7)  # the Sunday (18:00) digest of the session's week
    plan_id = await make_plan(stack, NY, [(day, "09:00")])
    before = await _started(stack, plan_id)
    assert _planned(before, DIGEST) == [local_to_utc(digest_day, 18 * 60, NY)]

    moved = await stack.plans.change_preferences(plan_id, ChangePreferencesInput(evening_brief_minute=21 * 60 + 30))
    assert _planned(moved, BRIEF) == [local_to_utc(day - timedelta(days=1), 21 * 60 + 30, NY)]

    off = await stack.plans.change_preferences(
        plan_id, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: False})
    )
    assert _planned(off, DIGEST) == []
    assert _planned(off, BRIEF) == _planned(moved, BRIEF)

    status_before = await stack.plans.status(plan_id)
    with pytest.raises(ChangeRejected) as refused:
        await stack.plans.change_preferences(
            plan_id,
            ChangePreferencesInput(evening_brief_minute=19 * 60, categories={Category.EVENING_BRIEF: False}),
        )
    assert refused.value.field == "categories.evening_brief"
    assert refused.value.code == "invalid_request"
    assert "can't be switched off" in refused.value.message
    status_after = await stack.plans.status(plan_id)
    assert status_after.upcoming == status_before.upcoming
    snapshot = await stack.store.load_plan_snapshot(plan_id)
    assert snapshot is not None and snapshot.prefs.evening_brief_minute == 21 * 60 + 30  # nothing of it was saved

    await stack.advance_to(local_to_utc(digest_day + timedelta(days=1), 19 * 60, NY))
    rows = await stack.ledger(plan_id)
    assert _sent_at_local(_row(rows, BRIEF, day), NY) == (day - timedelta(days=1), 21 * 60 + 30)
    assert DIGEST not in by_type(rows, "sent")
    # (Its "category_off" skip row: see the next test.)


async def test_a_switched_off_digest_is_skipped_at_its_due_time_and_does_not_return_when_re_enabled(
    stack: Stack,
) -> None:
    """A switched-off notification is not upcoming, but the workflow still wakes at its due time to log it as
    skipped ("category_off"), with nothing else due later; re-enabling the category afterwards does not send it late.
    (Found as a bug: the workflow only woke for upcoming notifications.)"""
    today = await _today(stack)
    day = today + timedelta(days=3)
    digest_day = day + timedelta(days=(6 - day.weekday()) % 7)
    plan_id = await make_plan(stack, NY, [(day, "09:00")])
    await _started(stack, plan_id)
    await stack.plans.change_preferences(plan_id, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: False}))
    await stack.advance_to(local_to_utc(digest_day, 19 * 60, NY))  # an hour after the digest was due
    at_due = [
        (str(r.status), (r.reason or "")[:12]) for r in await stack.ledger(plan_id) if r.notification_type == DIGEST
    ]
    await stack.plans.change_preferences(plan_id, ChangePreferencesInput(categories={Category.WEEKLY_DIGEST: True}))
    await stack.advance_to(local_to_utc(digest_day, 20 * 60, NY))
    after = [
        (str(r.status), (r.reason or "")[:12]) for r in await stack.ledger(plan_id) if r.notification_type == DIGEST
    ]
    assert (at_due, after) == ([("skipped", "category_off")], [("skipped", "category_off")])


@pytest.mark.parametrize(("tz", "offset"), [("Asia/Kolkata", (5, 30)), ("Asia/Kathmandu", (5, 45))])
async def test_a_time_zone_change_replans_the_brief_at_the_same_local_time(
    stack: Stack, tz: str, offset: tuple[int, int]
) -> None:
    day = await _today(stack, tz) + timedelta(days=3)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    before = await _started(stack, plan_id)
    assert _planned(before, BRIEF) == [local_to_utc(day - timedelta(days=1), 20 * 60, NY)]

    answer = await stack.plans.change_preferences(plan_id, ChangePreferencesInput(timezone=tz))

    assert answer.timezone == tz
    (brief_at,) = _planned(answer, BRIEF)
    assert brief_at == local_to_utc(day - timedelta(days=1), 20 * 60, tz)
    assert to_local(brief_at, tz).utcoffset() == timedelta(hours=offset[0], minutes=offset[1])
    await stack.advance_to(local_to_utc(day, 9 * 60, tz))
    rows = await stack.ledger(plan_id)
    assert _sent_at_local(_row(rows, BRIEF, day), tz) == (day - timedelta(days=1), 20 * 60)
    assert _sent_at_local(_row(rows, HYPE, day), tz) == (day, 7 * 60)
    assert len(by_type(rows, "sent")["plan_kickoff_primer"]) == 1


# --- 3. reschedule -----------------------------------------------------------------------------------------------


async def test_reschedule_moves_brief_and_hype_and_leaves_nothing_for_the_old_date(stack: Stack) -> None:
    today = await _today(stack)
    old_day, new_day, other_day = today + timedelta(days=2), today + timedelta(days=4), today + timedelta(days=6)
    plan_id = await make_plan(stack, NY, [(old_day, "08:00"), (other_day, "08:00")])
    await _started(stack, plan_id)
    moving, other = await _sessions(stack, plan_id)

    answer = await stack.plans.reschedule_session(
        plan_id, RescheduleSessionInput(plan_session_id=moving.id, scheduled_date=new_day, start_minute=10 * 60 + 30)
    )

    assert _planned(answer, BRIEF, moving.id) == [local_to_utc(new_day - timedelta(days=1), 20 * 60, NY)]
    assert _planned(answer, HYPE, moving.id) == [local_to_utc(new_day, 9 * 60 + 30, NY)]
    stored = next(s for s in await _sessions(stack, plan_id) if s.id == moving.id)
    assert stored.scheduled_date == new_day
    assert stored.scheduled_start_minute == 10 * 60 + 30 and stored.start_fixed

    await stack.advance_to(local_to_utc(new_day + timedelta(days=1), 12 * 60, NY))
    rows = await stack.ledger(plan_id)
    assert not [r for r in rows if r.plan_session_id == moving.id and r.local_date == old_day]
    assert _sent_at_local(_row(rows, BRIEF, new_day), NY) == (new_day - timedelta(days=1), 20 * 60)
    assert _sent_at_local(_row(rows, HYPE, new_day), NY) == (new_day, 9 * 60 + 30)
    # Not done: its missed follow-up is for the new date, the morning after.
    assert _sent_at_local(_row(rows, MISSED, new_day), NY) == (new_day + timedelta(days=1), 9 * 60)
    assert [r.local_date for r in rows if r.notification_type == MISSED] == [new_day]

    # Into the past: a date before today, or today at a time already gone.
    now_day = new_day + timedelta(days=1)
    with pytest.raises(ChangeRejected) as past_day:
        await stack.plans.reschedule_session(
            plan_id, RescheduleSessionInput(plan_session_id=other.id, scheduled_date=now_day - timedelta(days=1))
        )
    assert past_day.value.field == "scheduled_date" and "in the past" in past_day.value.message
    with pytest.raises(ChangeRejected) as past_time:
        await stack.plans.reschedule_session(
            plan_id, RescheduleSessionInput(plan_session_id=other.id, scheduled_date=now_day, start_minute=11 * 60)
        )
    assert past_time.value.field == "start_time" and "in the past" in past_time.value.message

    # A completed session stays where it was done.
    await stack.plans.session_completed(
        plan_id,
        SessionCompletedInput(ruck_id=6001, completed_at=local_to_utc(now_day, 12 * 60, NY), plan_session_id=other.id),
    )
    await wait_for(lambda: _has(stack, plan_id, CELEBRATION))
    with pytest.raises(ChangeRejected) as completed:
        await stack.plans.reschedule_session(
            plan_id, RescheduleSessionInput(plan_session_id=other.id, scheduled_date=other_day + timedelta(days=2))
        )
    assert completed.value.field == "plan_session_id" and "already completed" in completed.value.message
    assert next(s for s in await _sessions(stack, plan_id) if s.id == other.id).scheduled_date == other_day


@pytest.mark.parametrize("spring", [True, False], ids=["spring_forward", "fall_back"])
async def test_reschedule_onto_a_dst_transition_keeps_local_wall_times(stack: Stack, spring: bool) -> None:
    transition = next_transition(NY, await stack.now(), spring=spring)
    created = local_to_utc(transition - timedelta(days=3), 12 * 60, NY)
    await stack.advance_to(created)
    later: list[tuple[date, str | None]] = [
        (transition + timedelta(days=5), "09:00"),
        (transition + timedelta(days=6), "09:00"),
    ]
    plan_id = await make_plan(stack, NY, later, created_at=created)
    await _started(stack, plan_id)
    first, second = await _sessions(stack, plan_id)

    onto = await stack.plans.reschedule_session(
        plan_id, RescheduleSessionInput(plan_session_id=first.id, scheduled_date=transition, start_minute=9 * 60)
    )
    assert _planned(onto, HYPE, first.id) == [local_to_utc(transition, 8 * 60, NY)]
    after = await stack.plans.reschedule_session(
        plan_id, RescheduleSessionInput(plan_session_id=second.id, scheduled_date=transition + timedelta(days=1))
    )
    assert _planned(after, BRIEF, second.id) == [local_to_utc(transition, 20 * 60, NY)]

    await stack.advance_to(local_to_utc(transition + timedelta(days=1), 12 * 60, NY))
    rows = await stack.ledger(plan_id)
    brief = _row(rows, BRIEF, transition)
    hype = _row(rows, HYPE, transition)
    assert _sent_at_local(brief, NY) == (transition - timedelta(days=1), 20 * 60)
    assert _sent_at_local(hype, NY) == (transition, 8 * 60)
    assert _sent_at_local(_row(rows, BRIEF, transition + timedelta(days=1)), NY) == (transition, 20 * 60)
    assert _sent_at_local(_row(rows, HYPE, transition + timedelta(days=1)), NY) == (
        transition + timedelta(days=1),
        8 * 60,
    )
    # The transition lies between the brief and the hype: 12 hours of wall time, 11 or 13 of real time.
    assert brief.sent_at is not None and hype.sent_at is not None
    assert round((hype.sent_at - brief.sent_at).total_seconds() / 3600) == (11 if spring else 13)


# --- 4. closed plans ---------------------------------------------------------------------------------------------


async def test_moving_a_session_deleted_from_the_database_is_session_not_found_and_the_plan_reloads(
    stack: Stack,
) -> None:
    """The core API deleted a session without telling the workflow: the move is refused (not retried as if the
    database were down) and the workflow reloads, so the session leaves its schedule."""
    from sqlalchemy import delete

    from activities.db import PlanSessionRow

    today = await _today(stack)
    plan_id = await make_plan(stack, NY, [(today + timedelta(days=3), "08:00"), (today + timedelta(days=5), "08:00")])
    await _started(stack, plan_id)
    gone, kept = await _sessions(stack, plan_id)
    async with stack.store.sessionmaker.begin() as session:
        await session.execute(delete(PlanSessionRow).where(PlanSessionRow.id == gone.id))

    with pytest.raises(ChangeRejected) as refused:
        await stack.plans.reschedule_session(
            plan_id, RescheduleSessionInput(plan_session_id=gone.id, start_minute=9 * 60)
        )
    assert (refused.value.field, refused.value.code) == ("plan_session_id", "session_not_found")

    async def reloaded() -> PlanStatusResult | None:
        status = await stack.plans.status(plan_id)
        ids = {n.plan_session_id for n in status.upcoming if n.plan_session_id is not None}
        return status if ids == {kept.id} else None

    await wait_for(reloaded)


async def test_racing_preference_changes_leave_the_workflow_with_what_the_database_holds(stack: Stack) -> None:
    """Two changes at once (two devices, or a retry while the first still runs): saves are serialised, so the
    workflow ends with the value the database has, not with whichever read-back was applied last."""
    import asyncio

    day = await _today(stack) + timedelta(days=3)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    await _started(stack, plan_id)
    answers = await asyncio.gather(
        *(
            stack.plans.change_preferences(plan_id, ChangePreferencesInput(evening_brief_minute=minute))
            for minute in (19 * 60, 21 * 60, 20 * 60 + 30)
        )
    )
    snapshot = await stack.store.load_plan_snapshot(plan_id)
    assert snapshot is not None
    stored = snapshot.prefs.evening_brief_minute
    assert stored in (19 * 60, 21 * 60, 20 * 60 + 30)
    # The answer of the save that ran last carries the stored value, and the running workflow plans with it.
    assert local_to_utc(day - timedelta(days=1), stored, NY) in [_planned(a, BRIEF)[0] for a in answers]
    status = await stack.plans.status(plan_id)
    assert _planned(status, BRIEF) == [local_to_utc(day - timedelta(days=1), stored, NY)]
    # Serialised: each save is scheduled only after the previous one completed (never two in flight).
    in_flight: set[int] = set()
    most = 0
    async for event in stack.plans.handle(plan_id).fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            if event.activity_task_scheduled_event_attributes.activity_type.name == "save_preferences":
                in_flight.add(event.event_id)
                most = max(most, len(in_flight))
        elif event.HasField("activity_task_completed_event_attributes"):
            in_flight.discard(event.activity_task_completed_event_attributes.scheduled_event_id)
    assert most == 1


async def test_updates_on_a_completed_plan_still_finishing_raise_plan_ended(stack: Stack) -> None:
    day = await _today(stack) + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    handle = await stack.plans.start_plan(plan_id)
    await wait_for(lambda: _upcoming(stack, plan_id))
    # As in the cancelled-plan test below: the kickoff's delivery is back before the plan closes (ACTIVITY_UNKNOWN).
    await wait_for(lambda: _kickoff_done(stack, plan_id))
    (session,) = await _sessions(stack, plan_id)
    await stack.plans.complete(plan_id)
    # The workflow waits a grace period for the last ruck: it is running, but the plan is closed.
    await wait_for(lambda: _status_is(stack, plan_id, PlanStatus.COMPLETED))
    with pytest.raises(PlanEndedError, match="completed"):
        await stack.plans.snooze(plan_id, SnoozeInput(duration_minutes=60))
    with pytest.raises(PlanEndedError):
        await stack.plans.cancel_snooze(plan_id)
    with pytest.raises(PlanEndedError):
        await stack.plans.change_preferences(plan_id, ChangePreferencesInput(evening_brief_minute=21 * 60))
    with pytest.raises(PlanEndedError):
        await stack.plans.reschedule_session(
            plan_id, RescheduleSessionInput(plan_session_id=session.id, scheduled_date=day + timedelta(days=1))
        )
    assert (await handle.result()).final_status is PlanStatus.COMPLETED


async def test_updates_on_a_cancelled_plan(stack: Stack) -> None:
    day = await _today(stack) + timedelta(days=2)
    plan_id = await make_plan(stack, NY, [(day, "08:00")])
    handle = await stack.plans.start_plan(plan_id)
    await wait_for(lambda: _upcoming(stack, plan_id))

    # The kickoff's delivery is back in the workflow before the cancel: a cancel that withdraws a delivery in the very
    # moment it completes trips the time-skipping test server (ACTIVITY_UNKNOWN, the workflow task never completes).
    await wait_for(lambda: _kickoff_done(stack, plan_id))
    (session,) = await _sessions(stack, plan_id)
    await stack.plans.cancel(plan_id)
    # Right after the signal the workflow is usually still running (the validator refuses: the plan is closed);
    # should it already have ended, there is no workflow left to run the update.
    with pytest.raises((PlanEndedError, PlanNotFoundError)) as early:
        await stack.plans.snooze(plan_id, SnoozeInput(duration_minutes=60))
    if isinstance(early.value, PlanEndedError):
        assert str(early.value) == f"plan {plan_id} is cancelled: nothing left to change"
    assert (await handle.result()).final_status is PlanStatus.CANCELLED
    # Once the workflow has ended: no running workflow for the plan.
    with pytest.raises(PlanNotFoundError):
        await stack.plans.snooze(plan_id, SnoozeInput(duration_minutes=60))
    with pytest.raises(PlanNotFoundError):
        await stack.plans.change_preferences(plan_id, ChangePreferencesInput(evening_brief_minute=21 * 60))
    with pytest.raises(PlanNotFoundError):
        await stack.plans.reschedule_session(
            plan_id, RescheduleSessionInput(plan_session_id=session.id, scheduled_date=day + timedelta(days=1))
        )
    assert [s.scheduled_date for s in await _sessions(stack, plan_id)] == [day]


# --- 5. replay safety --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("worker_options", [{}, {"max_cached_workflows": 0}], ids=["cached", "no_cache"])
async def test_snooze_preferences_and_reschedule_replay_safely(tmp_path: Path, worker_options: dict[str, Any]) -> None:
    async with local_stack(f"sqlite+aiosqlite:///{tmp_path}/replay.db", **worker_options) as stack:
        today = await _today(stack)
        first, second = today + timedelta(days=2), today + timedelta(days=4)
        plan_id = await make_plan(stack, NY, [(first, "08:00"), (second, "08:00")])
        await _started(stack, plan_id)
        _, moving = await _sessions(stack, plan_id)
        moved_day = second + timedelta(days=1)

        prefs = await stack.plans.change_preferences(plan_id, ChangePreferencesInput(evening_brief_minute=21 * 60))
        assert _planned(prefs, BRIEF)[0] == local_to_utc(first - timedelta(days=1), 21 * 60, NY)
        moved = await stack.plans.reschedule_session(
            plan_id, RescheduleSessionInput(plan_session_id=moving.id, scheduled_date=moved_day, start_minute=9 * 60)
        )
        assert _planned(moved, HYPE, moving.id) == [local_to_utc(moved_day, 8 * 60, NY)]
        until = local_to_utc(first - timedelta(days=1), 22 * 60, NY)
        snoozed = await stack.plans.snooze(plan_id, SnoozeInput(until=until))
        assert snoozed.snoozed_until == until and _planned(snoozed, BRIEF)[0] == until

        await stack.advance_to(local_to_utc(moved_day + timedelta(days=1), 12 * 60, NY))
        rows = await stack.ledger(plan_id)
        assert _sent_at_local(_row(rows, BRIEF, first), NY) == (first - timedelta(days=1), 22 * 60)
        assert _sent_at_local(_row(rows, HYPE, first), NY) == (first, 7 * 60)
        assert _sent_at_local(_row(rows, BRIEF, moved_day), NY) == (moved_day - timedelta(days=1), 21 * 60)
        assert _sent_at_local(_row(rows, HYPE, moved_day), NY) == (moved_day, 8 * 60)
        assert not [r for r in rows if r.plan_session_id == moving.id and r.local_date == second]
        ids = [r.notification_id for r in rows]
        assert len(ids) == len(set(ids))
        status = await stack.plans.check_not_closed_abnormally(plan_id)
        assert status is not None and status.name == "RUNNING"
