"""`coach simulate`: run a scenario through the real workflow and activities on the time-skipping server.

A scenario (see :mod:`starter.scenario`, ``schemas/scenario.schema.json`` and ``examples/``) describes an athlete, a
plan with its sessions, the rucks before it and events at given times (completions, pause, resume, cancel, a new
time zone, snoozes, moved sessions, changed preferences and sessions). The simulator builds a throwaway SQLite
database, runs the plan's workflow on a local time-skipping Temporal server with push going to the outbox, fires each
event at its time, and collects every notification of the ledger into a :class:`~starter.timeline.Timeline`: when
it was due and when it went out, what it said, the rule that set its time (read from the workflow's own history) and
what happened to it (printed by :func:`starter.timeline.render_timeline`, drawn by :mod:`starter.simulate_html`).

The time-skipping server starts at the real current time and can only move forward; a scenario set in the past is
shifted forward by whole weeks (keeping weekdays and local wall times), by about a year when that keeps every time on
the same side of the daylight-saving transitions, and the output says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from activities.demo import add_demo_sessions, create_demo_plan
from coaching.models import (
    ChangePreferencesInput,
    DeliverInput,
    PlannedNotification,
    RecordSkipInput,
    RescheduleSessionInput,
    SessionCompletedInput,
    SnoozeInput,
)
from coaching.timeutil import clock_minute, format_local, local_date, local_to_utc, minute_label
from starter.scenario import WEEKDAYS, Event, Preferences, Scenario, Session, load_scenario, shifted
from starter.timeline import Period, Snooze, Timeline, TimelineEntry, TimelineEvent, TimelineSession

if TYPE_CHECKING:
    from temporalio.client import Client

    from activities.store import Store
    from starter.sandbox import Stack
    from starter.settings import Settings

__all__ = ["planned_notifications", "run_many", "run_scenario"]


#: The settings a simulation takes from the caller's: the copy (AI, weather); everything else is the sandbox's own.
_COPY_SETTINGS = (
    "openai_api_key",
    "openai_base_url",
    "ai_model",
    "ai_types",
    "ai_budget_seconds",
    "ai_daily_budget",
    "openweather_api_key",
    "openweather_base_url",
    "weather_cache_ttl_minutes",
    "content_lead_minutes",
)

#: Ruck ids of the scenario's history start here (above any a scenario names for its own events).
_HISTORY_RUCK_IDS = 1_900_000_000


def _session_spec(s: Session) -> dict[str, Any]:
    return {
        "scheduled_date": s.date,
        "scheduled_start_time": s.start_time,
        "planned_session_type": s.type,
        "planned_week": s.week,
        "target_distance_km": s.distance_km,
        "completion_status": s.status,
    }


class _Run:
    """One scenario on a running stack: its plan, its sessions by number, and what the timeline collects."""

    def __init__(self, stack: Stack, scenario: Scenario) -> None:
        self.stack = stack
        self.scenario = scenario
        self.plan_id = 0
        self.session_ids: list[int] = []
        self.run_ids: list[str] = []
        self.events: list[TimelineEvent] = []
        athlete = scenario.athlete
        quiet = (athlete.quiet_hours.start, athlete.quiet_hours.end) if athlete.quiet_hours else None
        self.periods = [Period(start=scenario.plan.created_at, timezone=athlete.timezone, quiet_hours=quiet)]
        self.snoozes: list[Snooze] = []

    @property
    def tz(self) -> str:
        return self.periods[-1].timezone

    async def create(self) -> None:
        scenario, athlete = self.scenario, self.scenario.athlete
        plan = scenario.plan
        quiet = (
            (clock_minute(athlete.quiet_hours.start), clock_minute(athlete.quiet_hours.end))
            if athlete.quiet_hours
            else None
        )
        store = self.stack.store
        self.plan_id = await create_demo_plan(
            store,
            timezone=athlete.timezone,
            start_date=plan.start_date or min(s.date for s in plan.sessions),
            sessions=[_session_spec(s) for s in plan.sessions],
            tone=athlete.coaching_tone,
            quiet_hours=quiet,
            fcm_token="simulated-device" if athlete.has_device else None,
            created_at=plan.created_at,
            evening_brief_minute=clock_minute(athlete.evening_brief_time),
            morning_hype_lead_minutes=athlete.morning_hype_lead_minutes,
            weekly_digest_weekday=WEEKDAYS.index(athlete.weekly_digest_day),
            weekly_digest_minute=clock_minute(athlete.weekly_digest_time),
            daily_cap=athlete.daily_cap,
            prefer_metric=athlete.prefer_metric,
        )
        await _name_plan(store, self.plan_id, plan.name)
        snapshot = await store.load_plan_snapshot(self.plan_id)
        assert snapshot is not None
        self.user_id = snapshot.user_id
        self.session_ids = sorted(s.id for s in snapshot.sessions)
        if scenario.ruck_history:
            await self._seed_history()
        handle = await self.stack.plans.start_plan(self.plan_id)
        self.run_ids.append(handle.result_run_id or handle.run_id or "")

    async def _seed_history(self) -> None:
        """The rucks before the plan, then the cadence learned from them, as the nightly job would have left it."""
        from activities.cadence_store import CadenceStore
        from activities.db import RuckSession

        created = self.scenario.plan.created_at
        tz = self.scenario.athlete.timezone
        rows: list[dict[str, Any]] = []
        for rucks in self.scenario.ruck_history:
            starts: list[datetime] = []
            if rucks.started_at is not None:
                starts.append(rucks.started_at)
            else:
                assert rucks.start_time is not None and rucks.days is not None  # (the model's rule)
                first = local_date(created, tz)
                for back in range(1, rucks.days + 1):
                    day = first - timedelta(days=back)
                    if rucks.weekdays is None or WEEKDAYS[day.weekday()] in rucks.weekdays:
                        starts.append(local_to_utc(day, clock_minute(rucks.start_time), tz))
            for start in starts:
                rows.append(
                    {
                        "id": _HISTORY_RUCK_IDS + len(rows),
                        "user_id": self.user_id,
                        "status": "completed",
                        "started_at": start,
                        "completed_at": start + timedelta(minutes=rucks.duration_minutes),
                        "duration_seconds": rucks.duration_minutes * 60,
                        "distance_km": rucks.distance_km,
                    }
                )
        from sqlalchemy import insert

        async with self.stack.store.sessionmaker.begin() as session:
            await session.execute(insert(RuckSession), rows)
        cadence = CadenceStore(self.stack.store.sessionmaker)
        await cadence.save(await cadence.analyze_athletes([self.user_id], await self.stack.now()))

    async def fire(self, event: Event) -> None:
        """Send ``event`` the way the app and the core API would; a change the workflow refuses is noted."""
        from coaching.preferences import ChangeRejected
        from starter.client import PlanEndedError, PlanNotFoundError

        plans, plan_id = self.stack.plans, self.plan_id
        refused: str | None = None
        detail = ""
        try:
            if event.type == "session_completed":
                detail = await self._completed(event)
            elif event.type in ("pause", "resume", "cancel", "complete"):
                action = {"pause": plans.pause, "resume": plans.resume, "cancel": plans.cancel}
                await action.get(event.type, plans.complete)(plan_id, "scenario")
            elif event.type == "sessions_changed":
                detail = await self._sessions_changed(event)
            elif event.type == "change_timezone":
                assert event.timezone is not None
                await plans.change_preferences(plan_id, ChangePreferencesInput(timezone=event.timezone))
                self._new_period(event.at, timezone=event.timezone)
                detail = f"now in {event.timezone}"
            elif event.type == "change_preferences":
                assert event.preferences is not None
                await plans.change_preferences(plan_id, _preferences_input(event.preferences))
                detail = self._preferences_changed(event.at, event.preferences)
            elif event.type == "snooze":
                result = await plans.snooze(
                    plan_id, SnoozeInput(until=event.until, duration_minutes=event.duration_minutes)
                )
                if result.snoozed_until is not None:
                    self.snoozes.append(Snooze(start=event.at, end=result.snoozed_until))
                    detail = f"until {format_local(result.snoozed_until, self.tz)}"
            elif event.type == "cancel_snooze":
                await plans.cancel_snooze(plan_id)
                for s in self.snoozes:
                    if s.start <= event.at < s.end:
                        s.end = event.at
            else:
                detail = await self._move(event)
        except ChangeRejected as exc:
            refused = f"{exc.field}: {exc.message}"
        except (PlanEndedError, PlanNotFoundError) as exc:
            refused = str(exc)
        self.events.append(
            TimelineEvent(
                at=event.at, local_time=format_local(event.at, self.tz), type=event.type, detail=detail, refused=refused
            )
        )

    async def _completed(self, event: Event) -> str:
        assert event.ruck_id is not None  # required for this type by the model
        completed = event.completed_at or event.at
        started = event.started_at or (
            completed - timedelta(seconds=event.duration_seconds) if event.duration_seconds else None
        )
        await self._record_ruck(event.ruck_id, started, completed, event)
        session_id = self.session_ids[event.session - 1] if event.session else None
        await self.stack.plans.session_completed(
            self.plan_id,
            SessionCompletedInput(
                ruck_id=event.ruck_id,
                completed_at=completed,
                started_at=event.started_at,
                source=event.source,
                plan_session_id=session_id,
                distance_km=event.distance_km,
                duration_seconds=event.duration_seconds,
            ),
        )
        parts = [f"ruck {event.ruck_id}"]
        if started is not None:
            parts.append(f"started {format_local(started, self.tz)}")
        if event.session:
            parts.append(f"for session {event.session}")
        return ", ".join(parts)

    async def _record_ruck(self, ruck_id: int, started: datetime | None, completed: datetime, event: Event) -> None:
        """RuckTracker's row of the ruck (once), so the learned window sees it as the real service would."""
        from activities.db import RuckSession

        async with self.stack.store.sessionmaker.begin() as session:
            if await session.get(RuckSession, ruck_id) is None:
                session.add(
                    RuckSession(
                        id=ruck_id,
                        user_id=self.user_id,
                        status="completed",
                        started_at=started,
                        completed_at=completed,
                        duration_seconds=event.duration_seconds,
                        distance_km=event.distance_km,
                    )
                )

    async def _sessions_changed(self, event: Event) -> str:
        """The core API's change to the plan's sessions (new rows, sessions skipped), then its signal."""
        from sqlalchemy import update

        from activities.db import PlanSessionRow

        if event.skip_sessions:
            ids = [self.session_ids[n - 1] for n in event.skip_sessions]
            async with self.stack.store.sessionmaker.begin() as session:
                await session.execute(
                    update(PlanSessionRow).where(PlanSessionRow.id.in_(ids)).values(completion_status="skipped")
                )
        if event.add_sessions:
            added = await add_demo_sessions(
                self.stack.store,
                self.plan_id,
                [_session_spec(s) for s in event.add_sessions],
                timezone=self.scenario.athlete.timezone,
            )
            self.session_ids.extend(added)
        if await self.stack.plans.sessions_changed(self.plan_id, "scenario", start_if_ended=True):
            description = await self.stack.plans.handle(self.plan_id).describe()
            self.run_ids.append(description.run_id)
        parts = []
        if event.add_sessions:
            first = len(self.session_ids) - len(event.add_sessions) + 1
            parts.append(f"added session(s) {first}–{len(self.session_ids)}")
        if event.skip_sessions:
            parts.append("skipped session(s) " + ", ".join(str(n) for n in event.skip_sessions))
        return "; ".join(parts)

    async def _move(self, event: Event) -> str:
        assert event.session is not None
        await self.stack.plans.reschedule_session(
            self.plan_id,
            RescheduleSessionInput(
                plan_session_id=self.session_ids[event.session - 1],
                scheduled_date=event.date,
                start_minute=clock_minute(event.start_time) if event.start_time else None,
            ),
        )
        return f"session {event.session} to {event.date or 'its day'}" + (
            f" at {event.start_time}" if event.start_time else ""
        )

    def _new_period(self, at: datetime, **changes: Any) -> None:
        last = self.periods[-1]
        self.periods.append(last.model_copy(update={"start": at, **changes}))

    def _preferences_changed(self, at: datetime, prefs: Preferences) -> str:
        changes: dict[str, Any] = {}
        if prefs.timezone:
            changes["timezone"] = prefs.timezone
        if prefs.quiet_hours is not None:
            changes["quiet_hours"] = (prefs.quiet_hours.start, prefs.quiet_hours.end)
        elif prefs.no_quiet_hours:
            changes["quiet_hours"] = None
        if changes:
            self._new_period(at, **changes)
        shown = prefs.model_dump(exclude_defaults=True, mode="json")
        return ", ".join(f"{k} {json.dumps(v, ensure_ascii=False)}" for k, v in shown.items())

    async def timeline(self, weeks: int, dst_aligned: bool, start: datetime, end: datetime) -> Timeline:
        stack = self.stack
        rows = await stack.ledger(self.plan_id)
        planned = await planned_notifications(stack.client, self.plan_id, self.run_ids)
        snapshot = await stack.store.load_plan_snapshot(self.plan_id)
        assert snapshot is not None
        number = {sid: n for n, sid in enumerate(self.session_ids, start=1)}
        types = {s.id: s.planned_session_type for s in snapshot.sessions}
        entries = []
        for r in rows:
            when = r.sent_at or r.scheduled_for
            tz = self.zone_at(when)
            n = planned.get(r.notification_id)
            facts = n.facts if n else {}
            entries.append(
                TimelineEntry(
                    local_time=format_local(when, tz),
                    utc_time=when,
                    type=r.notification_type,
                    status=r.status,
                    title=r.payload.get("title") if r.payload else None,
                    body=r.payload.get("body") if r.payload else None,
                    reason=r.reason,
                    copy_source=r.copy_source,
                    notification_id=r.notification_id,
                    weather=_weather_of(r.payload),
                    due_at=n.due_at if n else None,
                    scheduled_for=r.scheduled_for,
                    sent_at=r.sent_at,
                    session=number.get(r.plan_session_id) if r.plan_session_id else None,
                    session_type=types.get(r.plan_session_id) if r.plan_session_id else None,
                    missed_state=facts.get("missed_state"),
                    rule=n.reason if n else None,
                    timezone=tz,
                )
            )
        entries.sort(key=lambda e: (e.utc_time, e.notification_id))
        sessions = [
            TimelineSession(
                number=number[s.id],
                type=s.planned_session_type,
                date=s.scheduled_date,
                start_time=minute_label(s.scheduled_start_minute) if s.scheduled_start_minute is not None else None,
                status=s.completion_status,
                fixed=s.start_fixed,
            )
            for s in sorted(snapshot.sessions, key=lambda s: number.get(s.id, 0))
            if s.id in number
        ]
        window = snapshot.cadence.overall
        learned = (
            f"{minute_label(window.start_minute)}–{minute_label(window.end_minute)}, usually "
            f"{minute_label(window.centre_minute)} (confidence {window.confidence:.2f})"
            if window
            else None
        )
        return Timeline(
            description=self.scenario.description,
            timezone=self.scenario.athlete.timezone,
            plan_id=self.plan_id,
            shifted_by_weeks=weeks,
            dst_aligned=dst_aligned,
            entries=entries,
            start=start,
            end=end,
            sessions=sessions,
            events=self.events,
            periods=self.periods,
            snoozes=self.snoozes,
            learned_window=learned,
        )

    def zone_at(self, instant: datetime) -> str:
        tz = self.periods[0].timezone
        for p in self.periods:
            if p.start <= instant:
                tz = p.timezone
        return tz


def _preferences_input(prefs: Preferences) -> ChangePreferencesInput:
    quiet = prefs.quiet_hours
    return ChangePreferencesInput(
        timezone=prefs.timezone,
        set_quiet_hours=quiet is not None or prefs.no_quiet_hours,
        quiet_hours_start_minute=clock_minute(quiet.start) if quiet else None,
        quiet_hours_end_minute=clock_minute(quiet.end) if quiet else None,
        evening_brief_minute=clock_minute(prefs.evening_brief_time) if prefs.evening_brief_time else None,
        morning_hype_lead_minutes=prefs.morning_hype_lead_minutes,
        weekly_digest_weekday=WEEKDAYS.index(prefs.weekly_digest_day) if prefs.weekly_digest_day else None,
        weekly_digest_minute=clock_minute(prefs.weekly_digest_time) if prefs.weekly_digest_time else None,
        daily_cap=prefs.daily_cap,
        coaching_tone=prefs.coaching_tone,
        categories=prefs.categories,
    )


async def planned_notifications(client: Client, plan_id: int, run_ids: list[str]) -> dict[str, PlannedNotification]:
    """Each notification as the workflow last handed it to delivery (or to the skip record), read from its history:
    the due time and the rule that set it are the workflow's own, not recomputed. Follows continue-as-new."""
    from coaching.ids import plan_workflow_id

    kinds: dict[str, type[DeliverInput] | type[RecordSkipInput]] = {
        "deliver_notification": DeliverInput,
        "record_skip": RecordSkipInput,
    }
    found: dict[str, PlannedNotification] = {}
    pending = list(run_ids)
    seen: set[str] = set()
    while pending:
        run_id = pending.pop(0)
        if not run_id or run_id in seen:
            continue
        seen.add(run_id)
        handle = client.get_workflow_handle(plan_workflow_id(plan_id), run_id=run_id)
        async for event in handle.fetch_history_events():
            if event.HasField("activity_task_scheduled_event_attributes"):
                attrs = event.activity_task_scheduled_event_attributes
                kind = kinds.get(attrs.activity_type.name)
                if kind is not None:
                    [arg] = await client.data_converter.decode(list(attrs.input.payloads), [kind])
                    found[arg.notification.notification_id] = arg.notification
            elif event.HasField("workflow_execution_continued_as_new_event_attributes"):
                pending.append(event.workflow_execution_continued_as_new_event_attributes.new_execution_run_id)
    return found


async def run_scenario(
    scenario: Scenario, settings: Settings | None = None, starting: asyncio.Lock | None = None
) -> Timeline:
    """Run ``scenario``; with ``settings``, its notification copy settings (AI, weather) apply too. Runs side by
    side share ``starting``: Alembic's migration context is process-global, so their stacks start one at a time."""
    from starter.sandbox import local_stack
    from starter.settings import Settings

    with tempfile.TemporaryDirectory(prefix="coach-sim-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/simulation.db"
        copy = {name: getattr(settings, name) for name in _COPY_SETTINGS} if settings else {}
        sim_settings = Settings(database_url=url, environment="test", **copy)
        async with contextlib.AsyncExitStack() as exits:
            async with starting or contextlib.nullcontext():
                stack = await exits.enter_async_context(local_stack(url, settings=sim_settings))
            scenario, weeks, dst_aligned = shifted(scenario, await stack.now() + timedelta(minutes=1))
            await stack.advance_to(scenario.plan.created_at)
            run = _Run(stack, scenario)
            await run.create()
            for event in sorted(scenario.events, key=lambda e: e.at):
                await stack.advance_to(event.at)
                await run.fire(event)
            await stack.advance_to(scenario.end())
            return await run.timeline(weeks, dst_aligned, scenario.plan.created_at, scenario.end())


async def run_many(
    paths: list[Path], settings: Settings | None = None, jobs: int = 2
) -> list[tuple[Path, Timeline | BaseException]]:
    """Run several scenarios side by side (at most ``jobs`` at once, each on its own server): each path's timeline,
    or the error that stopped it (a bad file is a :class:`ScenarioError`)."""
    limit = asyncio.Semaphore(max(1, jobs))
    starting = asyncio.Lock()

    async def one(path: Path) -> Timeline | BaseException:
        try:
            scenario = load_scenario(path)
            async with limit:
                return await run_scenario(scenario, settings, starting)
        except Exception as exc:  # one scenario's failure is reported with its name; the others still run
            return exc

    results = await asyncio.gather(*(one(p) for p in paths))
    return list(zip(paths, results, strict=True))


async def _name_plan(store: Store, plan_id: int, name: str) -> None:
    """Give the plan the scenario's name: ``create_demo_plan`` links it to the demo template, whose name the
    notifications use. The simulation database is throwaway, so renaming the template is harmless."""
    from sqlalchemy import select, update

    from activities.db import CoachingPlanTemplate, UserCoachingPlan

    template_id = select(UserCoachingPlan.coaching_plan_id).where(UserCoachingPlan.id == plan_id).scalar_subquery()
    async with store.sessionmaker.begin() as session:
        await session.execute(
            update(CoachingPlanTemplate).where(CoachingPlanTemplate.id == template_id).values(name=name)
        )


def _weather_of(payload: dict[str, Any] | None) -> str | None:
    """The weather phrase delivery put into the push's context (see PlanActivities.deliver_notification)."""
    try:
        context = json.loads(((payload or {}).get("data") or {}).get("context") or "{}")
    except (TypeError, ValueError):
        return None
    weather = context.get("weather") if isinstance(context, dict) else None
    return str(weather) if weather else None
