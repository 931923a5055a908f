"""The effectiveness report (service token): which notifications get opened and followed by a ruck."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from starter.api.deps import Service, analytics
from starter.api.errors import ErrorResponse, database_input
from starter.api.models import BoundedTime, EffectivenessGroup, EffectivenessReport

router = APIRouter()


@router.get(
    "/v1/reports/effectiveness",
    response_model=EffectivenessReport,
    responses={
        401: {"model": ErrorResponse, "description": "Missing or wrong service token"},
        422: {"model": ErrorResponse, "description": "Invalid request (`invalid_request`, with the fields)"},
    },
    tags=["reports"],
)
async def effectiveness(
    context: Service,
    since: Annotated[
        Annotated[AwareDatetime, BoundedTime] | None,
        Query(description="Sent at or after (inclusive); ISO 8601 with an offset, e.g. 2026-11-01T00:00:00Z"),
    ] = None,
    until: Annotated[
        Annotated[AwareDatetime, BoundedTime] | None,
        Query(description="Sent before (exclusive); ISO 8601 with an offset"),
    ] = None,
) -> EffectivenessReport:
    """Sent notifications by type, tone, hour and copy source: opens, CTA taps, and the share followed by a ruck.

    The hour is the local hour of day it was sent at, in the athlete's time zone (their current one: the ledger
    does not keep the zone of each send). A notification counts as followed by a session when the athlete
    completed a ruck (``status = 'completed'``) within 24 h after it.
    """
    with database_input("query"):
        rows = await analytics(context).effectiveness(since, until)
    return EffectivenessReport(
        since=since,
        until=until,
        groups=[
            EffectivenessGroup(
                notification_type=r.notification_type,
                tone=r.tone,
                hour_local=r.hour_local,
                copy_source=r.copy_source,
                sent=r.sent,
                opened=r.opened,
                cta_tapped=r.cta_tapped,
                followed_by_session=r.followed_by_session,
                followed_by_session_share=r.followed_by_session_share,
            )
            for r in rows
        ],
    )
