"""Activities of the nightly cadence recompute: analyse a batch of athletes, store the results, tell their plans.

A batch is a fixed number of set-based queries whatever its size (see :mod:`activities.cadence_store`); only plans
whose cadence changed as the schedule sees it are signalled, and a plan whose workflow is not running is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.cadence_store import CadenceChange, CadenceStore
from coaching.ids import SIGNAL_CADENCE_UPDATED, plan_workflow_id
from coaching.models import CadenceBatchInput, CadenceBatchResult, CadenceUpdatedInput

#: Signals in flight at once while telling a batch's plans.
SIGNAL_CONCURRENCY = 32


@dataclass
class CadenceActivities:
    cadence: CadenceStore
    client: Client

    @activity.defn
    async def recompute_cadence_batch(self, input: CadenceBatchInput) -> CadenceBatchResult:
        done = _page_done_before()
        if done is None:
            users, changes = await self.cadence.recompute_page(
                input.as_of, after=input.after, before=input.before, limit=input.batch_size
            )
            # The page is committed (its athletes are no longer due): a retry must not lose its signals, so it finds
            # the page here and tells the plans again (a repeated signal only re-plans with the same window).
            done = CadencePageDone(
                athletes=len(users),
                next_after=users[-1] if len(users) >= input.batch_size else None,
                plan_ids=[c.plan_id for c in changes],
            )
            activity.heartbeat(done.model_dump(mode="json"))
        else:
            changes = await self.cadence.stored_changes(done.plan_ids)
        signalled = await tell_plans(self.client, changes)
        return CadenceBatchResult(
            athletes=done.athletes,
            changed_plans=len(done.plan_ids),
            signalled_plans=signalled,
            next_after=done.next_after,
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.recompute_cadence_batch]


class CadencePageDone(BaseModel):
    """What a page committed, kept in the activity's heartbeat for its retries."""

    athletes: int
    next_after: str | None
    plan_ids: list[int]


def _page_done_before() -> CadencePageDone | None:
    details = activity.info().heartbeat_details
    if not details:
        return None
    try:
        return CadencePageDone.model_validate(details[0])
    except ValidationError:
        return None


async def tell_plans(client: Client, changes: list[CadenceChange]) -> int:
    """Signal each changed plan's workflow with its new cadence; the number that were running."""
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def tell(change: CadenceChange) -> bool:
        # By the signal's name (coaching.ids), not the workflow class: the I/O layer does not import the workflows.
        handle = client.get_workflow_handle(plan_workflow_id(change.plan_id))
        async with gate:
            try:
                await handle.signal(SIGNAL_CADENCE_UPDATED, CadenceUpdatedInput(cadence=change.cadence))
            except RPCError as err:
                if err.status is RPCStatusCode.NOT_FOUND:
                    return False  # the plan has no running workflow (finished, or not started yet): it reads the row
                raise
        return True

    return sum(await asyncio.gather(*(tell(c) for c in changes)))
