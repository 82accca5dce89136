"""Message move tasks: redrive a dead-letter queue back to its sources (or elsewhere).

A task moves the messages that were in the DLQ when it started, at most
``MaxNumberOfMessagesPerSecond`` a second, in small durable steps, so it survives a restart
(running tasks resume) and can be cancelled between steps.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import uuid

from ekiden.core import limits
from ekiden.core.clock import Clock
from ekiden.core.errors import (
    InvalidParameterValue,
    ResourceNotFound,
    UnsupportedOperation,
)
from ekiden.core.services.queues import QueueService
from ekiden.core.services.waiters import QueueWaiters
from ekiden.core.storage import MoveTaskRecord, Store

log = logging.getLogger("ekiden.move_tasks")

_TICK_S = 0.1


def encode_task_handle(task: MoveTaskRecord) -> str:
    raw = json.dumps({"taskId": task.task_id, "sourceArn": task.source_arn})
    return base64.b64encode(raw.encode()).decode()


def decode_task_handle(handle: str) -> tuple[str, str] | None:
    """The (task id, source ARN) a handle names, or ``None`` if it does not decode."""
    try:
        raw = json.loads(base64.b64decode(handle.encode(), validate=True))
    except (binascii.Error, ValueError, UnicodeError, RecursionError):
        return None
    if not isinstance(raw, dict):
        return None
    task_id, source_arn = raw.get("taskId"), raw.get("sourceArn")
    if not isinstance(task_id, str) or not isinstance(source_arn, str):
        return None
    return task_id, source_arn


def _check_arn_format(arn: str, parameter: str) -> None:
    if len(arn.split(":")) != 6 or not arn.startswith("arn:"):
        raise InvalidParameterValue(
            f"You must use this format to specify the {parameter}: "
            "arn:<partition>:<service>:<region>:<account-id>:<resource-id>"
        )


class MoveTaskService:
    def __init__(
        self, store: Store, clock: Clock, queues: QueueService, waiters: QueueWaiters
    ) -> None:
        self.store = store
        self.clock = clock
        self.queues = queues
        self.waiters = waiters
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._start_lock = asyncio.Lock()

    async def start(
        self, source_arn: str, destination_arn: str | None, rate_per_s: int | None
    ) -> MoveTaskRecord:
        """Start moving a DLQ's messages; one running task per source at a time."""
        async with self._start_lock:  # the "already running" check and the insert together
            return await self._start(source_arn, destination_arn, rate_per_s)

    async def _start(
        self, source_arn: str, destination_arn: str | None, rate_per_s: int | None
    ) -> MoveTaskRecord:
        _check_arn_format(source_arn, "SourceArn")
        if destination_arn is not None:
            _check_arn_format(destination_arn, "DestinationArn")
        source = await self.queues.get_by_arn(source_arn)
        if source is None:
            raise ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        is_dlq = any(
            q.settings.redrive is not None
            and q.settings.redrive.dead_letter_target_arn == source.arn
            for q in self.queues.all_cached()
        )
        if not is_dlq:
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        destination_id = None
        if destination_arn is not None:
            destination = await self.queues.get_by_arn(destination_arn)
            if destination is None:
                raise ResourceNotFound(
                    "The resource that you specified for the "
                    "DestinationArn parameter doesn't exist."
                )
            if destination.record.is_fifo != source.record.is_fifo:
                raise InvalidParameterValue(
                    "The source queue and destination queue must be of the same queue type."
                )
            destination_id = destination.queue_id
        if rate_per_s is not None and not (
            limits.MIN_MOVE_RATE_PER_S <= rate_per_s <= limits.MAX_MOVE_RATE_PER_S
        ):
            raise InvalidParameterValue(
                f"Value {rate_per_s} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                "Reason: Must be between 1 and 500."
            )
        for task in await self.store.list_move_tasks(source.queue_id):
            if task.status in ("RUNNING", "CANCELLING"):
                raise InvalidParameterValue(
                    "There is already a task running. Only one active task is allowed for a "
                    "source queue arn at a given time."
                )
        counts = await self.store.counts(source.queue_id, self.clock.now_ms())
        task = MoveTaskRecord(
            task_id=str(uuid.uuid4()),
            source_queue_id=source.queue_id,
            source_arn=source.arn,
            destination_arn=destination_arn,
            rate_per_s=rate_per_s,
            status="RUNNING",
            started_ms=self.clock.now_ms(),
            to_move=counts.visible + counts.in_flight + counts.delayed,
            moved=0,
            max_seq=await self.store.max_seq(source.queue_id),
        )
        await self.store.create_move_task(task)
        self._launch(task, destination_id)
        return task

    async def cancel(self, handle: str) -> MoveTaskRecord:
        decoded = decode_task_handle(handle)
        if decoded is None:
            raise InvalidParameterValue("Value for parameter TaskHandle is invalid.")
        task_id, source_arn = decoded
        if await self.queues.get_by_arn(source_arn) is None:
            raise ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        task = next((t for t in await self.store.list_move_tasks() if t.task_id == task_id), None)
        if task is None:
            raise ResourceNotFound("Task does not exist.")
        if task.status != "RUNNING":
            raise UnsupportedOperation("Only active tasks can be cancelled.")
        await self.store.update_move_task_status(task.task_id, "CANCELLED")
        runner = self._runners.pop(task.task_id, None)
        if runner is not None:
            runner.cancel()
        refreshed = [t for t in await self.store.list_move_tasks() if t.task_id == task_id]
        return refreshed[0] if refreshed else task

    async def list(self, source_arn: str, max_results: int | None) -> list[MoveTaskRecord]:
        source = await self.queues.get_by_arn(source_arn)
        if source is None:
            raise ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist."
            )
        limit = 1 if max_results is None else max_results
        if not 1 <= limit <= 10:
            raise InvalidParameterValue(
                f"Value {limit} for parameter MaxResults is invalid. Reason: You must enter a "
                "number that's between 1 and 10."
            )
        return (await self.store.list_move_tasks(source.queue_id))[:limit]

    async def resume(self) -> None:
        """Restart the runners of tasks that were running when the broker stopped."""
        for task in await self.store.list_move_tasks():
            if task.status != "RUNNING":
                continue
            destination_id = None
            if task.destination_arn is not None:
                destination = await self.queues.get_by_arn(task.destination_arn)
                if destination is None:
                    await self.store.update_move_task_status(
                        task.task_id, "FAILED", "The destination queue no longer exists."
                    )
                    continue
                destination_id = destination.queue_id
            self._launch(task, destination_id)

    async def stop(self) -> None:
        runners = list(self._runners.values())
        self._runners.clear()
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)

    def _launch(self, task: MoveTaskRecord, destination_id: int | None) -> None:
        self._runners[task.task_id] = asyncio.create_task(
            self._run(task, destination_id), name=f"move-task-{task.task_id}"
        )

    async def _run(self, task: MoveTaskRecord, destination_id: int | None) -> None:
        rate = task.rate_per_s or limits.DEFAULT_MOVE_RATE_PER_S
        per_tick = max(1, int(rate * _TICK_S))
        # A step moves per_tick messages; below 10/s that is one message every 1/rate s.
        step_s = per_tick / rate
        loop = asyncio.get_running_loop()
        try:
            while True:
                started = loop.time()
                moved = await self.store.move_messages(
                    task.task_id, destination_id, per_tick, self.clock.now_ms()
                )
                if moved:
                    self._wake_destinations(destination_id)
                current = [
                    t
                    for t in await self.store.list_move_tasks(task.source_queue_id)
                    if t.task_id == task.task_id
                ]
                if not current or current[0].status != "RUNNING":
                    return
                # Pace to the rate: per_tick messages each step.
                await asyncio.sleep(max(0.0, step_s - (loop.time() - started)))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("message move task %s failed", task.task_id)
            await self.store.update_move_task_status(
                task.task_id, "FAILED", "An internal error stopped the task."
            )
        finally:
            self._runners.pop(task.task_id, None)

    def _wake_destinations(self, destination_id: int | None) -> None:
        if destination_id is not None:
            self.waiters.notify(destination_id)
            return
        # Messages went back to their own sources: wake every queue that has a waiter.
        for queue in self.queues.all_cached():
            self.waiters.notify(queue.queue_id)
