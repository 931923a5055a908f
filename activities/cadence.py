"""Activities of the nightly cadence recompute: analyse a batch of athletes, store the results, tell their plans.

A batch is a fixed number of set-based queries whatever its size (see :mod:`activities.cadence_store`); only plans
whose cadence changed as the schedule sees it are signalled, and a plan whose workflow is not running is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.cadence_store import CadenceChange, CadenceStore
from coaching.ids import plan_workflow_id
from coaching.models import CadenceBatchInput, CadenceBatchResult, CadenceUpdatedInput
from workflows.plan import CoachingPlanWorkflow

#: Signals in flight at once while telling a batch's plans.
SIGNAL_CONCURRENCY = 32


@dataclass
class CadenceActivities:
    cadence: CadenceStore
    client: Client

    @activity.defn
    async def recompute_cadence_batch(self, input: CadenceBatchInput) -> CadenceBatchResult:
        users, changes = await self.cadence.recompute_page(
            input.as_of, after=input.after, before=input.before, limit=input.batch_size
        )
        activity.heartbeat(len(users))
        signalled = await tell_plans(self.client, changes)
        return CadenceBatchResult(
            athletes=len(users),
            changed_plans=len(changes),
            signalled_plans=signalled,
            next_after=users[-1] if len(users) >= input.batch_size else None,
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.recompute_cadence_batch]


async def tell_plans(client: Client, changes: list[CadenceChange]) -> int:
    """Signal each changed plan's workflow with its new cadence; the number that were running."""
    gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def tell(change: CadenceChange) -> bool:
        handle = client.get_workflow_handle_for(CoachingPlanWorkflow.run, plan_workflow_id(change.plan_id))
        async with gate:
            try:
                await handle.signal(CoachingPlanWorkflow.cadence_updated, CadenceUpdatedInput(cadence=change.cadence))
            except RPCError as err:
                if err.status is RPCStatusCode.NOT_FOUND:
                    return False  # the plan has no running workflow (finished, or not started yet): it reads the row
                raise
        return True

    return sum(await asyncio.gather(*(tell(c) for c in changes)))
