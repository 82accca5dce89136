"""Looking into queues without touching their messages: depth by state with the age of
the oldest message (CloudWatch's ApproximateNumberOfMessages* and
ApproximateAgeOfOldestMessage), and a peek at the oldest messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from ekiden.core.clock import Clock
from ekiden.core.errors import InvalidParameterValue
from ekiden.core.services.queues import QueueService
from ekiden.core.storage import PeekedMessage, Store

MAX_PEEK = 100


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """How many messages a queue holds, by state, and how old its oldest one is
    (seconds since its SentTimestamp; ``None`` for an empty queue)."""

    visible: int
    in_flight: int
    delayed: int
    oldest_age_s: float | None


class QueueInspector:
    """Read-only views of queues for the console and metrics."""

    def __init__(self, store: Store, clock: Clock, queues: QueueService) -> None:
        self.store = store
        self.clock = clock
        self.queues = queues

    async def depth(self, queue_name: str) -> QueueDepth:
        """The queue's depth now. Raises ``QueueDoesNotExist``."""
        queue = await self.queues.get(queue_name)
        now_ms = self.clock.now_ms()
        counts = await self.store.counts(queue.queue_id, now_ms)
        oldest = await self.store.oldest_sent_ms(queue.queue_id)
        age = None if oldest is None else max(now_ms - oldest, 0) / 1000
        return QueueDepth(counts.visible, counts.in_flight, counts.delayed, age)

    async def peek(self, queue_name: str, max_messages: int) -> list[PeekedMessage]:
        """Up to ``max_messages`` (1-100) of the queue's messages in any state, oldest
        first. Changes nothing: no receive count, no visibility change. Raises
        ``QueueDoesNotExist`` and ``InvalidParameterValue``."""
        if not 1 <= max_messages <= MAX_PEEK:
            raise InvalidParameterValue(
                f"Value {max_messages} for parameter max is invalid. Reason: Must be between "
                f"1 and {MAX_PEEK}."
            )
        queue = await self.queues.get(queue_name)
        return await self.store.peek(queue.queue_id, max_messages, self.clock.now_ms())
