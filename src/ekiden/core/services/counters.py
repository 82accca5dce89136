"""Per-queue totals since the broker started: messages sent, received, deleted and
dead-lettered. In memory only (a restart starts them at zero, as a counter metric may);
the console's charts derive throughput from differences between samples.

Keyed by queue id, which is never reused: a queue deleted and created again under the
same name starts from zero.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class QueueTotals:
    """What happened to one queue's messages since start.

    Attributes:
        sent: messages accepted into the queue (SendMessage, batches, SNS fan-out).
        received: deliveries handed to receivers (a message received twice counts twice).
        deleted: messages deleted by receipt handle.
        dead_lettered: messages this queue moved to its dead-letter queue (maxReceiveCount
            exceeded).
    """

    sent: int = 0
    received: int = 0
    deleted: int = 0
    dead_lettered: int = 0


class QueueCounters:
    """The totals of every queue; the services that move messages add to them."""

    def __init__(self) -> None:
        self._totals: dict[int, QueueTotals] = {}

    def _of(self, queue_id: int) -> QueueTotals:
        totals = self._totals.get(queue_id)
        if totals is None:
            totals = self._totals[queue_id] = QueueTotals()
        return totals

    def add_sent(self, queue_id: int, count: int = 1) -> None:
        self._of(queue_id).sent += count

    def add_received(self, queue_id: int, count: int = 1) -> None:
        self._of(queue_id).received += count

    def add_deleted(self, queue_id: int, count: int = 1) -> None:
        self._of(queue_id).deleted += count

    def add_dead_lettered(self, queue_id: int, count: int = 1) -> None:
        self._of(queue_id).dead_lettered += count

    def totals(self, queue_id: int) -> QueueTotals:
        """A copy of the queue's totals (zeros for a queue nothing happened to)."""
        found = self._totals.get(queue_id)
        if found is None:
            return QueueTotals()
        return QueueTotals(found.sent, found.received, found.deleted, found.dead_lettered)

    def forget(self, queue_id: int) -> None:
        """Drop a deleted queue's totals."""
        self._totals.pop(queue_id, None)
