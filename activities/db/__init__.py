"""SQLAlchemy models of the tables this service reads and writes: the package's public face.

Import models from here (``from activities.db import UserCoachingPlan``); they live by family in
:mod:`activities.db.rucktracker` and :mod:`activities.db.service`, on the shared base and column types of
:mod:`activities.db.base`. Importing this package registers every table on ``Base.metadata``, which is what
Alembic (``migrations/env.py``) and the schema check compare against.

Two families, kept apart on purpose (see the README's Data section and ``docs/rucktracker.md``):

- **RuckTracker's tables** (``"user"``, ``user_coaching_plans``, ``plan_sessions``, ``coaching_plan_templates``,
  ``ruck_session``, ``user_device_tokens``, ``location_point``): the contract is RuckTracker's real schema, so only the
  columns the service uses are mapped, each nullable where RuckTracker's is. On RuckTracker's database they already
  exist and the service never creates or alters them; in standalone mode (first runs, tests) the ``standalone``
  migration branch creates stand-ins with the same names, types and CHECK constraints.
- **The service's own tables**, all named ``coach_*`` so that none can collide with a RuckTracker table (its legacy
  ``plan_notification_audit`` and ``user_plan_behavior`` are RuckTracker's and never touched). They carry no foreign
  keys to RuckTracker's tables: a plan or session deleted there must neither block nor cascade into the ledger.

The same models run on SQLite (aiosqlite) for the local tier: JSON columns are JSONB on PostgreSQL only, user ids are
native UUIDs on PostgreSQL and 32-character hex strings on SQLite, and every timestamp goes through
:class:`UTCDateTime` so it always comes back timezone-aware in UTC, whichever database stored it.
"""

from activities.db.base import (
    NAMING_CONVENTION,
    OWNER,
    RUCKTRACKER,
    SERVICE,
    Base,
    BigIntPK,
    JSONType,
    UserId,
    UTCDateTime,
)
from activities.db.rucktracker import (
    DEVICE_TYPES,
    PERSONALITY_DISPLAY_NAMES,
    PLAN_STATUSES,
    RUCKTRACKER_TABLES,
    SESSION_STATUSES,
    AppUser,
    CoachingPlanTemplate,
    LocationPoint,
    PlanSessionRow,
    RuckSession,
    UserCoachingPlan,
    UserDeviceToken,
)
from activities.db.service import (
    LEDGER_STATUSES,
    NOTIFICATION_EVENTS,
    PUSH_OUTCOMES,
    SERVICE_TABLES,
    AlertRow,
    AthletePreferences,
    AthleteTimezone,
    CadenceRow,
    NotificationEvent,
    NotificationLedgerEntry,
    PlanRuck,
    PlanRun,
    PushDelivery,
    RolloutChange,
    RolloutFlag,
    WeatherCache,
)

__all__ = [
    "DEVICE_TYPES",
    "LEDGER_STATUSES",
    "NAMING_CONVENTION",
    "NOTIFICATION_EVENTS",
    "OWNER",
    "PERSONALITY_DISPLAY_NAMES",
    "PLAN_STATUSES",
    "PUSH_OUTCOMES",
    "RUCKTRACKER",
    "RUCKTRACKER_TABLES",
    "SERVICE",
    "SERVICE_TABLES",
    "SESSION_STATUSES",
    "AlertRow",
    "AppUser",
    "AthletePreferences",
    "AthleteTimezone",
    "Base",
    "BigIntPK",
    "CadenceRow",
    "CoachingPlanTemplate",
    "JSONType",
    "LocationPoint",
    "NotificationEvent",
    "NotificationLedgerEntry",
    "PlanRuck",
    "PlanRun",
    "PlanSessionRow",
    "PushDelivery",
    "RolloutChange",
    "RolloutFlag",
    "RuckSession",
    "UTCDateTime",
    "UserCoachingPlan",
    "UserDeviceToken",
    "UserId",
    "WeatherCache",
]
