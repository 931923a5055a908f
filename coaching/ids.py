"""Names that must agree everywhere: the task queue, workflow ids, notification ids, search attributes."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

TASK_QUEUE = "coaching-plan-notifications"
WORKFLOW_ID_PREFIX = "coaching-plan-"


#: The plan workflow's type and the signals other workflows' activities send it by name (activities never import the
#: workflow class; ``tests/test_reconcile.py`` checks these against the class).
PLAN_WORKFLOW_TYPE = "CoachingPlanWorkflow"
SIGNAL_SESSION_COMPLETED = "session_completed"
SIGNAL_PLAN_PAUSED = "plan_paused"
SIGNAL_PLAN_RESUMED = "plan_resumed"
SIGNAL_PLAN_CANCELLED = "plan_cancelled"
SIGNAL_PLAN_COMPLETED = "plan_completed"
SIGNAL_CADENCE_UPDATED = "cadence_updated"

#: The reconciler (the database is the source of truth): its Temporal Schedule and the id of each run's workflow.
RECONCILE_SCHEDULE_ID = "coaching-reconcile"
RECONCILE_WORKFLOW_ID = "coaching-reconcile-pass"

#: The send-volume anomaly watch: its Temporal Schedule (every 15 minutes) and the id of each pass's workflow.
ANOMALY_SCHEDULE_ID = "coaching-anomaly"
ANOMALY_WORKFLOW_ID = "coaching-anomaly-pass"

#: The nightly cadence recompute: its Temporal Schedule, and the id of the workflow each run starts.
CADENCE_SCHEDULE_ID = "coaching-cadence-nightly"
CADENCE_WORKFLOW_ID = "coaching-cadence-recompute"


def user_id_partitions(count: int) -> list[tuple[str | None, str | None]]:
    """``count`` contiguous ranges (after, before] of the UUID user-id space, as (exclusive lower, exclusive upper)
    bounds (None: open), so the nightly recompute can page through them concurrently."""
    if count < 1:
        raise ValueError("count: at least one partition")
    bounds: list[str | None] = [None]
    bounds += [f"{i * 16**8 // count:08x}-0000-0000-0000-000000000000" for i in range(1, count)]
    bounds.append(None)
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def plan_workflow_id(plan_id: int) -> str:
    return f"{WORKFLOW_ID_PREFIX}{plan_id}"


def notification_id(
    plan_id: int, ntype: StrEnum | str, session_id: int | None, local_day: date, subkey: str = ""
) -> str:
    """The business key of a notification, as one string: plan, session, type, local date (and a sub-key).

    It is the ledger's unique key and the push's collapse id, so the same notification can be recorded, sent and
    shown only once, whatever retries, restarts or repeated signals happen.
    """
    kind = ntype.value if isinstance(ntype, StrEnum) else ntype
    parts = [f"p{plan_id}", kind.removeprefix("plan_"), f"s{session_id}" if session_id is not None else "s-"]
    parts.append(local_day.isoformat())
    if subkey:
        parts.append(subkey)
    return ":".join(parts)


#: Custom search attributes: only plan status and schedule facts, never personal data.
SEARCH_ATTRIBUTE_STATUS = "CoachingPlanStatus"
SEARCH_ATTRIBUTE_NEXT_AT = "CoachingNextNotificationAt"
SEARCH_ATTRIBUTE_NEXT_TYPE = "CoachingNextNotificationType"
SEARCH_ATTRIBUTES: dict[str, str] = {
    SEARCH_ATTRIBUTE_STATUS: "Keyword",
    SEARCH_ATTRIBUTE_NEXT_AT: "Datetime",
    SEARCH_ATTRIBUTE_NEXT_TYPE: "Keyword",
}
