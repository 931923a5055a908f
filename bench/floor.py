"""The bare floor the bench scripts compare against: a workflow with one timer and one no-op activity, on the same
server, run by a worker process with the service worker's tuning (:data:`FLOOR_WORKER` is its command line: the
module is imported as ``floor``, never run as ``__main__``, so the workflow sandbox can import it again)."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import timedelta

from temporalio import activity, workflow

#: The floor worker's command (TEMPORAL_ADDRESS in its environment; the task queue appended), run from the project root.
FLOOR_WORKER = [
    sys.executable,
    "-c",
    "import asyncio, sys; sys.path[:0] = ['.', 'bench']; import floor; asyncio.run(floor.run_worker(sys.argv[1]))",
]


@activity.defn
async def noop() -> float:
    """When the activity started (epoch seconds): the floor's delivery moment."""
    return time.time()


@workflow.defn
class BareWorkflow:
    """Sleep until ``due`` (epoch seconds), then run one no-op activity; return when it started."""

    @workflow.run
    async def run(self, due: float) -> float:
        await workflow.sleep(max(due - workflow.now().timestamp(), 1.0))
        started: float = await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=60))
        return started


@workflow.defn
class IdleWorkflow:
    """Waits for a signal that never comes (the memory bench's floor: an idle plan with no state)."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def run_worker(task_queue: str) -> None:
    from temporalio.worker import Worker

    from starter.settings import Settings
    from starter.temporal import connect

    client = await connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    options = Settings().worker_tuning()
    worker = Worker(client, task_queue=task_queue, workflows=[BareWorkflow, IdleWorkflow], activities=[noop], **options)
    async with worker:
        await stop.wait()
