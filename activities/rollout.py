"""Rollout controls: who gets what (off, shadow, live), read through OpenFeature from a table the service owns.

Each athlete is in one of three modes: **off** (nothing is sent for them), **shadow** (everything is decided and
composed and the ledger row written with status ``shadow``, nothing is pushed) or **live**. The mode comes from, in
order: the global kill switch; the deny list (off); the allow list (the cohort mode); a percentage of athletes chosen
by a stable hash of the user id (the cohort mode; raising 5 % to 20 % keeps the first 5 % in: an athlete is in when
their bucket is below the percentage); the default mode. A per-type cap applies on top (``type_modes``: e.g. missed
follow-ups ``shadow`` keeps them shadow for live athletes; a cap never raises a mode). ``ai_copy`` switches AI copy.

The flags live in ``coach_rollout_flags`` (one row per flag, JSON value; a flag without a row has its default) and
every change is recorded in ``coach_rollout_changes``. The activities read them through the OpenFeature SDK
(:class:`TableFlagProvider`), at send time, never in workflow code, so a team can swap in a hosted flag service by
registering another provider for the ``coach`` domain. The provider caches the table for ``ttl_seconds`` (at most 5),
so a change reaches every worker within that; the kill switch itself is read uncached on every delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.db import RolloutChange, RolloutFlag
from activities.store_base import dialect_insert
from coaching.models import NotificationType
from coaching.rollout import MAX_ACTOR, MAX_LIST, MAX_REASON, Mode

_RANK = {Mode.OFF: 0, Mode.SHADOW: 1, Mode.LIVE: 2}

#: The OpenFeature domain the service's flags are read under (register a hosted provider for it to replace the table).
DOMAIN = "coach"
#: OpenFeature flag keys.
FLAG_KILL_SWITCH = "coach.kill_switch"
FLAG_MODE = "coach.mode"
FLAG_AI_COPY = "coach.ai_copy"
#: ``coach.mode`` with the context attribute ``scope`` = this: the athlete's mode whatever the type and the kill switch
#: (whether the service writes RuckTracker's session columns for them).
ATHLETE_SCOPE = "athlete"

#: Hash buckets of the percentage: 10,000, so a percentage has two decimals (0.01 % steps).
BUCKETS = 10_000
#: The longest the provider may cache the flags table (a change must reach every worker within 10 s).
MAX_TTL_SECONDS = 5.0
#: The skip reasons deliveries record (their prefix); free text in the ledger.
KILL_SWITCH_REASON = "kill_switch"
ROLLOUT_OFF_REASON = "rollout_off"


def _user_ids(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        try:
            out.append(str(uuid.UUID(str(value))))
        except ValueError:
            raise ValueError(f"{str(value)[:40]!r} is not a user id (a UUID)") from None
    return sorted(set(out))


def _percent(value: float) -> float:
    if round(value * 100) != value * 100 and abs(round(value * 100) - value * 100) > 1e-6:
        raise ValueError("at most two decimals (0.01 % steps)")
    return round(value, 2)


UserIdList = Annotated[list[str], Field(max_length=MAX_LIST), AfterValidator(_user_ids)]


class RolloutConfig(BaseModel):
    """Every rollout flag with its value (the defaults are what a flag without a row means)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Stops every push at once (deliveries are held, then skipped with reason ``kill_switch``).
    kill_switch: bool = False
    #: The mode of athletes in no list and outside the percentage. ``live``: what the service did before rollout
    #: controls existed; the cut-over guide sets ``shadow`` first.
    default_mode: Mode = Mode.LIVE
    #: The mode of the allow list and the percentage cohort.
    cohort_mode: Mode = Mode.LIVE
    #: Athletes in the cohort by stable hash: bucket (0..9,999) < percent × 100.
    percent: Annotated[float, Field(ge=0, le=100), AfterValidator(_percent)] = 0.0
    allow: UserIdList = []
    deny: UserIdList = []
    #: Per-type caps: a type's mode is at most this (``plan_missed_followup: shadow``).
    type_modes: dict[NotificationType, Mode] = {}
    #: AI-written copy on or off (off: templates only).
    ai_copy: bool = True


FLAG_KEYS: tuple[str, ...] = tuple(RolloutConfig.model_fields)


def bucket(user_id: str) -> int:
    """The athlete's stable hash bucket, 0..9,999 (the same on every worker, run and version)."""
    canonical = str(uuid.UUID(str(user_id)))
    digest = hashlib.sha256(f"coach-rollout:{canonical}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True)
class Decision:
    """An athlete's mode for one notification type, and the rule that gave it (``kill_switch``, ``deny``,
    ``allow``, ``percent``, ``default``, or ``type:<type>`` for a per-type cap)."""

    mode: Mode
    rule: str


def resolve(config: RolloutConfig, user_id: str, type: NotificationType | str | None = None) -> Decision:
    """The mode of ``user_id`` (for ``type``): kill switch, deny, allow, percentage, default, then the type cap."""
    if config.kill_switch:
        return Decision(Mode.OFF, KILL_SWITCH_REASON)
    canonical = str(uuid.UUID(str(user_id)))
    if canonical in config.deny:
        return Decision(Mode.OFF, "deny")
    if canonical in config.allow:
        decision = Decision(config.cohort_mode, "allow")
    elif bucket(canonical) < round(config.percent * 100):
        decision = Decision(config.cohort_mode, "percent")
    else:
        decision = Decision(config.default_mode, "default")
    kind = NotificationType(type) if type else None
    cap = config.type_modes.get(kind) if kind is not None else None
    if kind is not None and cap is not None and _RANK[cap] < _RANK[decision.mode]:
        return Decision(cap, f"type:{kind.value}")
    return decision


# ---- the table ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRecord:
    """One recorded change of a flag."""

    key: str
    old_value: Any
    new_value: Any
    actor: str
    reason: str
    changed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "old": self.old_value,
            "new": self.new_value,
            "actor": self.actor,
            "reason": self.reason,
            "changed_at": self.changed_at.isoformat(),
        }


class RolloutInputError(ValueError):
    """A change refused before anything was written; ``field`` names the flag (or ``actor``/``reason``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate_change(changes: Mapping[str, Any], actor: str, reason: str) -> None:
    """Refuse unknown flags, bad values, and a missing or oversized actor or reason (naming the field)."""
    if not changes:
        raise RolloutInputError("flags", "nothing to change")
    for key in changes:
        if key not in FLAG_KEYS:
            raise RolloutInputError(key, f"unknown flag (known: {', '.join(FLAG_KEYS)})")
    actor = actor.strip()
    if not actor or len(actor) > MAX_ACTOR or not actor.isprintable():
        raise RolloutInputError("actor", f"1 to {MAX_ACTOR} printable characters")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON or not reason.isprintable():
        raise RolloutInputError("reason", f"1 to {MAX_REASON} printable characters: say why")
    try:
        RolloutConfig.model_validate(dict(changes))
    except ValidationError as err:
        first = err.errors()[0]
        raise RolloutInputError(".".join(str(p) for p in first["loc"]) or "flags", first["msg"]) from None


class RolloutStore:
    """Reads and changes the flags (``coach_rollout_flags``), recording each change (``coach_rollout_changes``)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def raw(self) -> dict[str, Any]:
        """The stored flag values (flags without a row are absent)."""
        async with self._sessionmaker() as session:
            rows = (await session.execute(select(RolloutFlag.key, RolloutFlag.value))).all()
        return {key: value for key, value in rows if key in FLAG_KEYS}

    async def load(self) -> RolloutConfig:
        """The configuration in force (stored values over the defaults)."""
        return RolloutConfig.model_validate(await self.raw())

    async def kill_switch(self) -> bool:
        """The kill switch, read now (uncached)."""
        async with self._sessionmaker() as session:
            value = await session.scalar(select(RolloutFlag.value).where(RolloutFlag.key == "kill_switch"))
        return bool(value)

    async def change(
        self, changes: Mapping[str, Any], *, actor: str, reason: str, at: datetime | None = None
    ) -> list[ChangeRecord]:
        """Set the flags in ``changes`` (validated first, :class:`RolloutInputError` naming the field), in one
        transaction with one audit row per flag whose value changed; returns those changes."""
        validate_change(changes, actor, reason)
        at = at or datetime.now(UTC)
        actor, reason = actor.strip(), reason.strip()
        # The JSON form of each value as the model normalises it (sorted lists, rounded percentage).
        normal = RolloutConfig.model_validate(dict(changes)).model_dump(mode="json")
        records: list[ChangeRecord] = []
        async with self._sessionmaker.begin() as session:
            stmt = select(RolloutFlag).where(RolloutFlag.key.in_(list(changes)))
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            current = {row.key: row.value for row in (await session.scalars(stmt)).all()}
            for key in changes:
                new = normal[key]
                old = current.get(key)
                if key in current and old == new:
                    continue
                insert = dialect_insert(session, RolloutFlag).values(
                    key=key, value=new, updated_by=actor, updated_at=at
                )
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["key"], set_={"value": new, "updated_by": actor, "updated_at": at}
                    )
                )
                session.add(
                    RolloutChange(key=key, old_value=old, new_value=new, actor=actor, reason=reason, changed_at=at)
                )
                records.append(ChangeRecord(key, old, new, actor, reason, at))
        return records

    async def kill(self, *, actor: str, reason: str) -> bool:
        """Turn the kill switch on (recorded with ``actor`` and ``reason``); False if it already was."""
        return bool(await self.change({"kill_switch": True}, actor=actor, reason=reason))

    async def unkill(self, *, actor: str, reason: str) -> bool:
        """Turn the kill switch off; False if it already was."""
        return bool(await self.change({"kill_switch": False}, actor=actor, reason=reason))

    async def history(self, limit: int = 20, key: str | None = None) -> list[ChangeRecord]:
        """The latest ``limit`` changes, newest first."""
        async with self._sessionmaker() as session:
            stmt = select(RolloutChange).order_by(RolloutChange.changed_at.desc(), RolloutChange.id.desc())
            if key is not None:
                stmt = stmt.where(RolloutChange.key == key)
            rows = (await session.scalars(stmt.limit(limit))).all()
        return [ChangeRecord(r.key, r.old_value, r.new_value, r.actor, r.reason, r.changed_at) for r in rows]


async def engage_kill_switch(sessionmaker: async_sessionmaker[AsyncSession], *, actor: str, reason: str) -> bool:
    """Turn the kill switch on (e.g. the send-volume watch's brake); False if it was on already. Every worker stops
    pushing at its next delivery (the switch is read uncached)."""
    return await RolloutStore(sessionmaker).kill(actor=actor, reason=reason)


# ---- OpenFeature ---------------------------------------------------------------------------------------------


class TableFlagProvider(AbstractProvider):
    """An OpenFeature provider over ``coach_rollout_flags``: the targeting rules of :func:`resolve` evaluated on the
    table, cached for ``ttl_seconds`` (``clock`` is monotonic seconds); ``coach.kill_switch`` is read uncached.

    The evaluation context's targeting key is the user id; the attribute ``notification_type`` selects the type cap.
    Only the async resolvers read the database; the sync ones answer from the cache (or the default, not ready).
    """

    def __init__(
        self, store: RolloutStore, *, ttl_seconds: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not 0 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl_seconds: 0 to {MAX_TTL_SECONDS:g}")
        super().__init__()
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._cached: tuple[float, RolloutConfig] | None = None
        self._lock = asyncio.Lock()
        #: How many times the table was read for the cache (the tests count them).
        self.loads = 0

    def get_metadata(self) -> Metadata:
        return Metadata(name="coach-rollout-table")

    async def config(self) -> RolloutConfig:
        """The flags, from the cache while it is younger than the TTL."""
        cached = self._cached
        if cached is not None and self._clock() - cached[0] < self.ttl_seconds:
            return cached[1]
        async with self._lock:
            cached = self._cached
            if cached is not None and self._clock() - cached[0] < self.ttl_seconds:
                return cached[1]
            config = await self.store.load()
            self.loads += 1
            self._cached = (self._clock(), config)
            return config

    def _resolve(self, flag_key: str, config: RolloutConfig, context: EvaluationContext | None) -> Any:
        if flag_key == FLAG_KILL_SWITCH:
            return config.kill_switch, None
        if flag_key == FLAG_AI_COPY:
            return config.ai_copy, None
        if flag_key == FLAG_MODE:
            if context is None or not context.targeting_key:
                raise _Missing("the mode needs the user id as targeting key")
            type = context.attributes.get("notification_type")
            if context.attributes.get("scope") == ATHLETE_SCOPE:  # the athlete's standing: no kill switch, no type
                config, type = config.model_copy(update={"kill_switch": False}), None
            decision = resolve(config, context.targeting_key, str(type) if type else None)
            return decision.mode.value, decision.rule
        raise _Unknown(flag_key)

    async def _details(self, flag_key: str, default: Any, context: EvaluationContext | None) -> Any:
        try:
            config = await self.config()
            if flag_key == FLAG_KILL_SWITCH:  # the one flag that must act at once: never from the cache
                config = config.model_copy(update={"kill_switch": await self.store.kill_switch()})
            value, variant = self._resolve(flag_key, config, context)
        except _Unknown:
            return FlagResolutionDetails(default, error_code=ErrorCode.FLAG_NOT_FOUND, reason=Reason.ERROR)
        except _Missing as err:
            return FlagResolutionDetails(
                default, error_code=ErrorCode.TARGETING_KEY_MISSING, error_message=str(err), reason=Reason.ERROR
            )
        reason = Reason.TARGETING_MATCH if variant else Reason.STATIC
        return FlagResolutionDetails(value, variant=variant, reason=reason)

    def _sync(self, flag_key: str, default: Any, context: EvaluationContext | None) -> Any:
        if self._cached is None:
            return FlagResolutionDetails(default, error_code=ErrorCode.PROVIDER_NOT_READY, reason=Reason.ERROR)
        try:
            value, variant = self._resolve(flag_key, self._cached[1], context)
        except (_Unknown, _Missing):
            return FlagResolutionDetails(default, error_code=ErrorCode.FLAG_NOT_FOUND, reason=Reason.ERROR)
        return FlagResolutionDetails(value, variant=variant, reason=Reason.CACHED)

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._sync(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]

    async def resolve_boolean_details_async(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return await self._details(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._sync(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]

    async def resolve_string_details_async(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return await self._details(flag_key, default_value, evaluation_context)  # type: ignore[no-any-return]

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return FlagResolutionDetails(default_value, error_code=ErrorCode.TYPE_MISMATCH, reason=Reason.ERROR)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return FlagResolutionDetails(default_value, error_code=ErrorCode.TYPE_MISMATCH, reason=Reason.ERROR)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return FlagResolutionDetails(default_value, error_code=ErrorCode.TYPE_MISMATCH, reason=Reason.ERROR)


class _Unknown(Exception):
    pass


class _Missing(Exception):
    pass


class FlagsUnavailable(RuntimeError):
    """The flags could not be read (database or flag service down): the delivery is retried, never guessed."""


class RolloutFlags:
    """What the activities ask, through an OpenFeature client (any provider registered for its domain)."""

    def __init__(self, client: OpenFeatureClient) -> None:
        self.client = client

    @classmethod
    def on_table(
        cls, sessionmaker: async_sessionmaker[AsyncSession], *, ttl_seconds: float = 2.0, domain: str = DOMAIN
    ) -> RolloutFlags:
        """Register a :class:`TableFlagProvider` for ``domain`` and return flags read through it."""
        # Waits for the (trivial) initialisation: a provider still NOT_READY would answer every flag with an error.
        api.set_provider_and_wait(TableFlagProvider(RolloutStore(sessionmaker), ttl_seconds=ttl_seconds), domain)
        return cls(api.get_client(domain))

    async def decide(self, user_id: str, type: NotificationType) -> Decision:
        """The athlete's mode for a notification of ``type`` now: the kill switch (uncached) first, then the rules."""
        kill = await self.client.get_boolean_details_async(FLAG_KILL_SWITCH, False)
        if kill.error_code is not None:
            raise FlagsUnavailable(f"{FLAG_KILL_SWITCH}: {kill.error_code}")
        if kill.value:
            return Decision(Mode.OFF, KILL_SWITCH_REASON)
        context = EvaluationContext(targeting_key=user_id, attributes={"notification_type": type.value})
        mode = await self.client.get_string_details_async(FLAG_MODE, Mode.LIVE.value, context)
        if mode.error_code is not None:
            raise FlagsUnavailable(f"{FLAG_MODE}: {mode.error_code}")
        try:
            return Decision(Mode(mode.value), mode.variant or "default")
        except ValueError:
            raise FlagsUnavailable(f"{FLAG_MODE}: unknown mode {str(mode.value)[:20]!r}") from None

    async def athlete_mode(self, user_id: str) -> Decision:
        """The athlete's own mode (lists, percentage, default; not the kill switch nor a type cap): only a live athlete
        has RuckTracker's session columns written by the service."""
        context = EvaluationContext(targeting_key=user_id, attributes={"scope": ATHLETE_SCOPE})
        mode = await self.client.get_string_details_async(FLAG_MODE, Mode.LIVE.value, context)
        if mode.error_code is not None:
            raise FlagsUnavailable(f"{FLAG_MODE}: {mode.error_code}")
        try:
            return Decision(Mode(mode.value), mode.variant or "default")
        except ValueError:
            raise FlagsUnavailable(f"{FLAG_MODE}: unknown mode {str(mode.value)[:20]!r}") from None

    async def ai_copy(self, user_id: str, type: NotificationType) -> bool:
        """Whether AI copy is on (False when the flags cannot be read: the template is always safe)."""
        context = EvaluationContext(targeting_key=user_id, attributes={"notification_type": type.value})
        details = await self.client.get_boolean_details_async(FLAG_AI_COPY, True, context)
        return bool(details.value) and details.error_code is None


__all__ = [
    "BUCKETS",
    "ChangeRecord",
    "Decision",
    "FlagsUnavailable",
    "Mode",
    "RolloutConfig",
    "RolloutFlags",
    "RolloutInputError",
    "RolloutStore",
    "TableFlagProvider",
    "bucket",
    "engage_kill_switch",
    "resolve",
]
