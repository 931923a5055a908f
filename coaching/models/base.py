"""The vocabulary of the shared models: the base model, the field types (aware datetimes, zone names, minutes of the
day) and the enums (notification types, plan and ledger statuses, categories) every message is made of.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from coaching.timeutil import validate_timezone


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be timezone-aware (ISO 8601 with an offset, e.g. 2026-03-08T12:00:00Z)")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
TimezoneName = Annotated[str, AfterValidator(validate_timezone)]
MinuteOfDay = Annotated[int, Field(ge=0, le=1439)]


class NotificationType(StrEnum):
    """The seven plan notification types; values match RuckTracker's `plan_*` type strings."""

    KICKOFF_PRIMER = "plan_kickoff_primer"
    EVENING_BRIEF = "plan_evening_brief"
    MORNING_HYPE = "plan_morning_hype"
    COMPLETION_CELEBRATION = "plan_completion_celebration"
    MISSED_FOLLOWUP = "plan_missed_followup"
    WEEKLY_DIGEST = "plan_weekly_digest"
    MILESTONE_ALERT = "plan_milestone_alert"


class PlanStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class LedgerStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    #: Decided and composed for an athlete in shadow mode; nothing was pushed (see activities.rollout).
    SHADOW = "shadow"


#: The reason prefix of a ledger row held by the rollout kill switch (its delivery is tried again): the one skip a
#: later attempt of the same delivery may still send. A final kill-switch skip says ``kill_switch: not sent: …``.
HELD_BY_KILL_SWITCH = "kill_switch: held"


def held_by_kill_switch(reason: str | None) -> bool:
    """Whether a skipped ledger row is held by the kill switch (its delivery may still send it once unflipped)."""
    return bool(reason) and str(reason).startswith(HELD_BY_KILL_SWITCH)


def ledger_final(status: LedgerStatus, reason: str | None) -> bool:
    """Whether a ledger row is final for its delivery: sent, shadow, or skipped for good (not held by the kill
    switch). A delivery attempt that finds a final row pushes nothing."""
    return status in (LedgerStatus.SENT, LedgerStatus.SHADOW) or (
        status is LedgerStatus.SKIPPED and not held_by_kill_switch(reason)
    )


class MissedState(StrEnum):
    FIRST_MISS = "first_miss"
    REPEATED_MISS = "repeated_miss"
    PLAN_AT_RISK = "plan_at_risk"


class CompletionSource(StrEnum):
    APP = "app"
    IMPORT = "import"
    AUTO_COMPLETE = "auto_complete"
    MANUAL = "manual"
    #: Found completed in ``ruck_session`` by the reconciler (whichever path completed it).
    DATABASE = "database"


class Category(StrEnum):
    """A notification category an athlete can see in the app's settings (see coaching.preferences)."""

    EVENING_BRIEF = "evening_brief"
    MORNING_HYPE = "morning_hype"
    MISSED_FOLLOWUP = "missed_followup"
    WEEKLY_DIGEST = "weekly_digest"
    MILESTONE_ALERT = "milestone_alert"


class Model(BaseModel):
    model_config = ConfigDict(frozen=False, extra="ignore")
