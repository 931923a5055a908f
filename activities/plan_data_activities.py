"""The plan workflow's data activities: load the plan, and write back what the workflow learned or the athlete changed.

The plan's snapshot (and the reconciler's record that a workflow runs for it), its cadence re-learned after a ruck,
a completed session and the next notification times on RuckTracker's rows (for a live athlete only: in shadow or off
the legacy pipeline still owns them), the athlete's preferences, snooze and rescheduled sessions, and the plan's end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.attempt import bad_data_is_permanent, server_now
from coaching.models import (
    LoadPlanInput,
    LoadPlanResult,
    RecordCompletionInput,
    RecordPlanEndInput,
    RecordScheduleInput,
    RefreshCadenceInput,
    RefreshCadenceResult,
    SavePreferencesInput,
    SavePreferencesResult,
    SaveRescheduleInput,
    SaveRescheduleResult,
    SaveSnoozeInput,
    WorkflowConfig,
)
from coaching.preferences import CHANGE_REJECTED, GONE_PLAN, GONE_SESSION, ChangeRejected

if TYPE_CHECKING:
    # Only the worker needs these (SQLAlchemy, firebase-admin, the OpenAI SDK): the workflow module imports this one,
    # through PlanActivities, for its activity references, and the CLI and API import the workflow module, so they
    # are imported where used.
    from activities.cadence_store import CadenceStore
    from activities.preferences_store import PreferencesStore
    from activities.reconcile_store import ReconcileStore
    from activities.rollout import RolloutFlags
    from activities.store import Store


class PlanDataActivities:
    """Loading and recording a plan's data; a mixin of :class:`activities.plan_activities.PlanActivities`, which holds
    the clients."""

    store: Store
    cadence: CadenceStore | None
    runs: ReconcileStore
    config: WorkflowConfig | None
    rollout: RolloutFlags | None

    @activity.defn
    @bad_data_is_permanent
    async def load_plan(self, input: LoadPlanInput) -> LoadPlanResult:
        snapshot = await self.store.load_plan_snapshot(input.plan_id)
        if snapshot is not None:
            now = server_now()
            # The zone history lets the cadence analyzer read each ruck in the zone the athlete was in.
            assert self.cadence is not None
            await self.cadence.note_timezone(snapshot.user_id, snapshot.prefs.timezone, now)
            # The reconciler's record: a workflow runs for the plan and has seen the plan's status in the database.
            await self.runs.record_started([(snapshot.plan_id, snapshot.user_id, snapshot.status.value)], now)
        return LoadPlanResult(snapshot=snapshot, config=self.config)

    @activity.defn
    @bad_data_is_permanent
    async def record_plan_end(self, input: RecordPlanEndInput) -> None:
        """The plan's workflow is ending: the reconciler starts it again only if the plan comes back to life."""
        await self.runs.record_ended(input.plan_id, input.status.value, input.reason, server_now())

    @activity.defn
    @bad_data_is_permanent
    async def refresh_cadence(self, input: RefreshCadenceInput) -> RefreshCadenceResult:
        """Re-learn the athlete's cadence now (after a completed ruck) and return it as stored for this plan."""
        assert self.cadence is not None
        analyses = await self.cadence.analyze_athletes([input.user_id], server_now())
        await self.cadence.save(analyses)
        return RefreshCadenceResult(cadence=await self.cadence.stored(input.plan_id))

    @activity.defn
    @bad_data_is_permanent
    async def record_completion(self, input: RecordCompletionInput) -> None:
        c = input.completion
        if c.plan_session_id is not None and await self._writes_rucktracker_sessions(input.plan_id):
            await self.store.record_completion(input.plan_id, c.plan_session_id, c.ruck_id, c.local_date)

    @activity.defn
    @bad_data_is_permanent
    async def record_schedule(self, input: RecordScheduleInput) -> None:
        if await self._writes_rucktracker_sessions(input.plan_id):
            await self.store.set_next_notifications(input.plan_id, input.next_by_session)

    @activity.defn
    @bad_data_is_permanent
    async def save_preferences(self, input: SavePreferencesInput) -> SavePreferencesResult:
        """Store an athlete's accepted preference change; the plan's preferences as a reload would now read them."""
        preferences = _preferences(self.store)
        try:
            await preferences.save_preferences(input.user_id, input.change)
        except ChangeRejected as err:  # the database refused a value, or the athlete is gone: permanent
            raise ApplicationError(err.message, err.field, err.code, type=CHANGE_REJECTED, non_retryable=True) from None
        prefs = await preferences.plan_preferences(input.plan_id)
        if prefs is None:
            raise ApplicationError(f"plan {input.plan_id} does not exist", type=GONE_PLAN, non_retryable=True)
        return SavePreferencesResult(prefs=prefs)

    @activity.defn
    @bad_data_is_permanent
    async def save_snooze(self, input: SaveSnoozeInput) -> None:
        """Keep the athlete's snooze (or its end) with the plan, so it outlives the workflow's run."""
        if not await _preferences(self.store).save_snooze(input.plan_id, input.snoozed_until):
            raise ApplicationError(f"plan {input.plan_id} does not exist", type=GONE_PLAN, non_retryable=True)

    @activity.defn
    @bad_data_is_permanent
    async def save_reschedule(self, input: SaveRescheduleInput) -> SaveRescheduleResult:
        """Move a session as the athlete asked (accepted by the workflow's validator)."""
        session = await _preferences(self.store).reschedule_session(
            input.plan_id, input.plan_session_id, input.scheduled_date, input.start_minute
        )
        if session is None:
            message = f"session {input.plan_session_id} is not in plan {input.plan_id}"
            raise ApplicationError(message, type=GONE_SESSION, non_retryable=True)
        return SaveRescheduleResult(session=session)

    async def _writes_rucktracker_sessions(self, plan_id: int) -> bool:
        """Whether the service writes RuckTracker's ``plan_sessions`` columns for this plan (a completion it matched,
        the next notification time): only for a live athlete. In shadow or off the legacy pipeline still owns them."""
        from activities.analytics_store import AnalyticsStore
        from activities.rollout import FlagsUnavailable
        from coaching.rollout import Mode

        if self.rollout is None:
            return True
        owner = await AnalyticsStore(self.store.sessionmaker).plan_owner(plan_id)
        if owner is None:
            return True  # the plan is gone: the write changes nothing anyway
        try:
            decision = await self.rollout.athlete_mode(owner)
        except FlagsUnavailable as err:
            raise ApplicationError(f"rollout flags unavailable: {err}", type="RolloutUnavailable") from None
        if decision.mode is not Mode.LIVE:
            activity.logger.info(
                "plan %s: athlete in %s mode; RuckTracker's session rows left alone", plan_id, decision.mode
            )
        return decision.mode is Mode.LIVE


def _preferences(store: Store) -> PreferencesStore:
    from activities.preferences_store import PreferencesStore

    return PreferencesStore(store.sessionmaker)
