"""The plan workflow's activities: :class:`PlanActivities`, one object holding the clients the worker built once.

Its activities live by job in mixins: loading and recording the plan's data (:mod:`activities.plan_data_activities`),
preparing a notification's copy (:mod:`activities.content_activities`) and delivering it
(:mod:`activities.delivery_activities`). The workflow refers to them as ``PlanActivities.<method>``, and each
activity's name is its method's name, as recorded in workflow histories.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from activities.content_activities import ContentActivities
from activities.delivery_activities import DeliveryActivities
from activities.plan_data_activities import PlanDataActivities
from coaching.models import WorkflowConfig

if TYPE_CHECKING:
    # Only the worker needs these (SQLAlchemy, firebase-admin, the OpenAI SDK): the workflow module imports this one
    # for its activity references, and the CLI and API import the workflow module, so they are imported where used.
    from activities.ai_copy import AiCopywriter
    from activities.cadence_store import CadenceStore
    from activities.push import Pusher
    from activities.rollout import RolloutFlags
    from activities.store import Store
    from activities.weather import WeatherService


@dataclass
class PlanActivities(PlanDataActivities, ContentActivities, DeliveryActivities):
    """Activities share clients built once by the worker: the sessionmaker (inside ``store``), the pusher and,
    when configured, the AI copywriter and the weather service (None: templates only, no weather line)."""

    store: Store
    pusher: Pusher
    cadence: CadenceStore | None = None
    copywriter: AiCopywriter | None = None
    weather: WeatherService | None = None
    #: AI-written notifications per athlete and local day; the rest get the template.
    ai_daily_budget: int = 3
    #: The worker's operational settings for the plan workflows, handed to each at its loads (None: the workflow
    #: keeps the configuration it was started with).
    config: WorkflowConfig | None = None
    #: The rollout flags (off / shadow / live per athlete, kill switch, AI copy), read at send time; None: every
    #: athlete is live and AI copy on (no rollout controls).
    rollout: RolloutFlags | None = None
    #: While the kill switch is on, a due delivery is tried again after this long (until its staleness limit).
    kill_switch_retry_seconds: float = 30.0

    def __post_init__(self) -> None:
        from activities.cadence_store import CadenceStore
        from activities.reconcile_store import ReconcileStore

        if self.cadence is None:
            self.cadence = CadenceStore(self.store.sessionmaker)
        self.runs = ReconcileStore(self.store.sessionmaker)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load_plan,
            self.record_plan_end,
            self.refresh_cadence,
            self.prepare_content,
            self.deliver_notification,
            self.record_skip,
            self.record_completion,
            self.record_schedule,
            self.save_preferences,
            self.save_snooze,
            self.save_reschedule,
        ]
