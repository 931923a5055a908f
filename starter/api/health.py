"""The probes: ``/healthz`` (the process is up) and ``/readyz`` (its database and Temporal answer)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from activities.store import Store
from starter.api.deps import context_of
from starter.api.models import HealthResponse
from starter.client import PlanNotFoundError, PlanNotifications

# The API's log lines keep the package's name, whichever of its modules writes them.
logger = logging.getLogger("starter.api")

#: How long one readiness check may take before that part counts as down.
READY_TIMEOUT_SECONDS = 3.0

router = APIRouter()


@router.get("/healthz", response_model=HealthResponse, tags=["operations"])
async def healthz() -> HealthResponse:
    """The process is up (liveness); says nothing about its dependencies."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    tags=["operations"],
    responses={503: {"model": HealthResponse, "description": "A dependency is unreachable"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers ``SELECT 1`` and Temporal answers a describe."""
    context = context_of(request)
    checks: dict[str, str] = {}
    if context.store is not None:
        checks["database"] = await _check(_database_ping(context.store))
    checks["temporal"] = await _check(_temporal_ping(context.plans))
    ready = all(v == "ok" for v in checks.values())
    body = HealthResponse(status="ok" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _check(probe: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT_SECONDS)
    except Exception as err:  # any failure means "not ready"; the answer says which part
        logger.warning("readiness check failed: %r", err)
        return f"unavailable: {type(err).__name__}"
    return "ok"


async def _database_ping(store: Store) -> None:
    async with store.sessionmaker() as session:
        await session.execute(text("SELECT 1"))


async def _temporal_ping(plans: PlanNotifications) -> None:
    # Describing a workflow that cannot exist (plan ids are positive) exercises the connection, the namespace and
    # the credentials; NOT_FOUND is the healthy answer.
    try:
        await plans.execution_status(0)
    except PlanNotFoundError:
        return
