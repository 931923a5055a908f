"""The rollout controls over HTTP (service token): ``GET/PUT /v1/rollout``, ``POST /v1/rollout/kill`` and ``/unkill``.

The same store as ``coach rollout`` (:class:`activities.rollout.RolloutStore`): every change names who made it and
why, and is recorded with the old and new value. A value out of bounds is 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from activities.rollout import RolloutInputError, RolloutStore
from starter.api.deps import ApiContext, Service, database
from starter.api.errors import ERROR_RESPONSES, ApiError, FieldError
from starter.api.models import (
    KillRequest,
    RolloutChanged,
    RolloutChangeOut,
    RolloutChangeRequest,
    RolloutFlags,
    RolloutState,
)

router = APIRouter(tags=["rollout"])


async def rollout_state(store: RolloutStore, history: int = 20) -> RolloutState:
    config = await store.load()
    stored = sorted(await store.raw())
    changes = [RolloutChangeOut(**c.as_dict()) for c in await store.history(history)]
    return RolloutState(flags=RolloutFlags(**config.model_dump(mode="json")), stored=stored, changes=changes)


def _store(context: ApiContext) -> RolloutStore:
    return RolloutStore(database(context).sessionmaker)


async def _change(context: ApiContext, changes: dict[str, Any], actor: str, reason: str) -> RolloutChanged:
    store = _store(context)
    try:
        records = await store.change(changes, actor=actor, reason=reason)
    except RolloutInputError as err:
        field = err.field if err.field in ("actor", "reason") else f"body.{err.field}"
        fields = [FieldError(field=field, message=err.message)]
        raise ApiError(422, "invalid_request", str(err), fields=fields) from None
    return RolloutChanged(changed=[RolloutChangeOut(**r.as_dict()) for r in records], state=await rollout_state(store))


@router.get("/v1/rollout", response_model=RolloutState, responses=ERROR_RESPONSES)
async def show(context: Service, history: Annotated[int, Query(ge=0, le=500)] = 20) -> RolloutState:
    """The rollout flags in force and the latest changes (who, when, old and new value, why)."""
    return await rollout_state(_store(context), history)


@router.put("/v1/rollout", response_model=RolloutChanged, responses=ERROR_RESPONSES)
async def change(body: RolloutChangeRequest, context: Service) -> RolloutChanged:
    """Set some flags (the others keep their value); each change is recorded. Workers see it within their cache's
    TTL (``COACH_ROLLOUT_CACHE_TTL_SECONDS``)."""
    changes = body.model_dump(exclude_none=True, exclude={"actor", "reason"}, mode="json")
    if not changes:
        raise ApiError(
            422, "invalid_request", "nothing to change", fields=[FieldError(field="body", message="no flag given")]
        )
    return await _change(context, changes, body.actor, body.reason)


@router.post("/v1/rollout/kill", response_model=RolloutChanged, responses=ERROR_RESPONSES)
async def kill(body: KillRequest, context: Service) -> RolloutChanged:
    """Turn the kill switch on: no worker pushes anything from its next delivery on (deliveries due meanwhile are
    held, then skipped with reason ``kill_switch`` once stale)."""
    return await _change(context, {"kill_switch": True}, body.actor, body.reason)


@router.post("/v1/rollout/unkill", response_model=RolloutChanged, responses=ERROR_RESPONSES)
async def unkill(body: KillRequest, context: Service) -> RolloutChanged:
    """Turn the kill switch off: held deliveries still within their staleness limit go out at their next try."""
    return await _change(context, {"kill_switch": False}, body.actor, body.reason)
