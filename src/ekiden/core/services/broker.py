"""The service bundle the front ends call, and its background duties (retention sweep,
deliveries to HTTP/S and Lambda subscriptions)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ekiden.core.clock import Clock
from ekiden.core.errors import EkidenError
from ekiden.core.services.counters import QueueCounters
from ekiden.core.services.fanout import EnvelopeSigner
from ekiden.core.services.http_delivery import HttpDeliveryService, HttpPoster
from ekiden.core.services.inspection import QueueInspector
from ekiden.core.services.lambda_delivery import FunctionDirectory
from ekiden.core.services.messages import MessageService
from ekiden.core.services.move_tasks import MoveTaskService
from ekiden.core.services.queues import QueueService
from ekiden.core.services.topics import TopicService
from ekiden.core.services.waiters import QueueWaiters
from ekiden.core.storage import Store
from ekiden.core.topic_storage import OutboxStore, TopicStore

log = logging.getLogger("ekiden.broker")

_SWEEP_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class DeclaredQueue:
    name: str
    attributes: Mapping[str, str]
    tags: Mapping[str, str]


class Broker:
    """Everything a front end needs: queues, messages, move tasks, and (given a topic
    store) SNS topics and subscriptions, whose publishes deliver into the queues and
    (given an outbox store and an HTTP poster too) to HTTP/S endpoints."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        account_id: str,
        region: str,
        topic_store: TopicStore | None = None,
        signer: EnvelopeSigner | None = None,
        outbox: OutboxStore | None = None,
        poster: HttpPoster | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self.waiters = QueueWaiters()
        self.counters = QueueCounters()  # per-queue totals since start (console, metrics)
        self.queues = QueueService(store, clock, account_id, region)
        self.inspection = QueueInspector(store, clock, self.queues)
        self.messages = MessageService(store, clock, self.queues, self.waiters, self.counters)
        self.move_tasks = MoveTaskService(store, clock, self.queues, self.waiters)
        self.topics: TopicService | None = None
        if topic_store is not None:
            self.topics = TopicService(
                topic_store, clock, self.queues, self.waiters, account_id, region, signer
            )
            self.topics.counters = self.counters
        self.http_deliveries: HttpDeliveryService | None = None
        if self.topics is not None and outbox is not None and poster is not None:
            self.http_deliveries = HttpDeliveryService(
                outbox, self.topics, self.queues, self.waiters, clock, poster
            )
            self.topics.outbox_changed = self.http_deliveries.wake
        self._sweeper: asyncio.Task[None] | None = None

    def use_functions(self, functions: FunctionDirectory) -> None:
        """Let deliveries to Lambda subscriptions find their functions and invoker (the
        server calls it once the functions service exists, which needs this broker's
        queues; until then those deliveries wait in the outbox, retried)."""
        if self.http_deliveries is not None:
            self.http_deliveries.lambdas.functions = functions
            self.http_deliveries.wake()

    async def start(self, declared: Sequence[DeclaredQueue] = ()) -> None:
        """Load queues (and topics), create declared queues (idempotently), resume move
        tasks and HTTP/S deliveries."""
        await self.queues.load()
        if self.topics is not None:
            await self.topics.load()
        self.messages.use_receipt_key(await self.store.receipt_key())
        await self._create_declared(declared)
        await self.move_tasks.resume()
        if self.http_deliveries is not None:
            self.http_deliveries.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="retention-sweeper")

    async def stop(self) -> None:
        """Wake long polls, stop background work. The caller closes the store afterwards."""
        self.waiters.close()
        if self.http_deliveries is not None:
            await self.http_deliveries.stop()
        await self.move_tasks.stop()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)

    async def _create_declared(self, declared: Sequence[DeclaredQueue]) -> None:
        """Create declared queues, each after the dead-letter queue it names (chains of
        any depth, in any order in the file)."""
        pending = list(declared)
        while pending:
            waiting: list[DeclaredQueue] = []
            for queue in pending:
                if self._names_missing_dlq(queue, pending):
                    waiting.append(queue)
                else:
                    await self._create_one(queue)
            if len(waiting) == len(pending):  # a cycle: let the first one report it
                await self._create_one(waiting.pop(0))
            pending = waiting

    async def _create_one(self, queue: DeclaredQueue) -> None:
        try:
            await self.queues.create(queue.name, queue.attributes, queue.tags)
        except EkidenError as error:
            raise ValueError(f"declared queue {queue.name!r}: {error.message}") from error

    def _names_missing_dlq(self, queue: DeclaredQueue, pending: Sequence[DeclaredQueue]) -> bool:
        """Whether ``queue``'s RedrivePolicy names a queue still waiting to be created."""
        text = queue.attributes.get("RedrivePolicy", "")
        return any(other is not queue and f':{other.name}"' in text for other in pending)

    async def _sweep(self) -> None:
        while True:
            if not self.store.healthy():
                await asyncio.sleep(_SWEEP_INTERVAL_S)  # nothing can be deleted; the log
                continue  # already says why, once
            try:
                while await self.store.expire(self.clock.now_ms()):
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention sweep failed")
            await asyncio.sleep(_SWEEP_INTERVAL_S)
