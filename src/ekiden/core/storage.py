"""The storage port: what the services need from a durable store.

Implementations live in ``ekiden.store`` (SQLite today, PostgreSQL later); the services
only see this protocol. Every method is one atomic transition, takes ``now_ms`` rather than
reading a clock, and returns only after its effect is durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ekiden.core.ids import ReceiptRef
from ekiden.core.messages import AttributeValue


@dataclass(slots=True)
class QueueRecord:
    queue_id: int
    name: str
    is_fifo: bool
    attributes: dict[str, str]
    tags: dict[str, str]
    created_ms: int
    modified_ms: int
    purged_at_ms: int | None = None


@dataclass(slots=True)
class NewMessage:
    """A validated message about to be stored."""

    message_id: str
    body: str
    attributes: dict[str, AttributeValue]
    system_attributes: dict[str, AttributeValue]
    md5_of_body: str
    md5_of_attributes: str | None
    md5_of_system_attributes: str | None
    sender_id: str
    delay_s: int
    group_id: str | None = None
    dedup_id: str | None = None
    dedup_key: str | None = None  # the id within its scope (queue or message group)


@dataclass(slots=True)
class EnqueueOutcome:
    """The message id a send is answered with: its own, or the original's on a dedup hit."""

    message_id: str
    sequence_number: str | None
    duplicate: bool


@dataclass(slots=True)
class DeliveredMessage:
    """A message as handed to a receiver, with the receipt of this delivery."""

    receipt: ReceiptRef
    message_id: str
    body: str
    attributes: dict[str, AttributeValue]
    system_attributes: dict[str, AttributeValue]
    md5_of_body: str
    md5_of_attributes: str | None
    md5_of_system_attributes: str | None
    sender_id: str
    sent_ms: int
    receive_count: int
    first_receive_ms: int
    group_id: str | None
    dedup_id: str | None
    sequence_number: str | None
    dead_letter_source_queue_id: int | None


@dataclass(frozen=True, slots=True)
class DeadLetterTarget:
    """Where messages received too often go, as the claim needs to know it."""

    queue_id: int
    max_receive_count: int
    is_fifo: bool
    retention_ms: int


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    queue_id: int
    is_fifo: bool
    max_messages: int
    visibility_ms: int
    now_ms: int
    dead_letter: DeadLetterTarget | None = None
    attempt_id: str | None = None


@dataclass(slots=True)
class ClaimResult:
    messages: list[DeliveredMessage]
    next_visible_at_ms: int | None  # when the next invisible message becomes visible
    dead_lettered_to: list[int] = field(default_factory=list)  # queue ids that gained messages
    # How many messages this claim moved to the dead-letter queue (of coalesced claims,
    # only the first result carries the count, so that a sum over results is exact).
    dead_lettered_count: int = 0


@dataclass(frozen=True, slots=True)
class VisibilityChange:
    receipt: ReceiptRef
    visibility_s: int


class DeleteOutcome:
    """What a delete by receipt did (outcomes, not errors)."""

    DELETED = "deleted"
    GONE = "gone"  # already deleted, or (standard queues) a handle of an earlier delivery
    EXPIRED = "expired"  # FIFO: the delivery's visibility ran out, so its handle did too


class VisibilityOutcome:
    """Why a visibility change did or did not apply (outcomes, not errors)."""

    CHANGED = "changed"
    NOT_FOUND = "not_found"  # message deleted, or receipt of an earlier delivery
    NOT_IN_FLIGHT = "not_in_flight"
    TOO_LONG = "too_long"  # total visibility would exceed 12 hours since the receive


@dataclass(frozen=True, slots=True)
class QueueCounts:
    visible: int
    in_flight: int
    delayed: int


class MessageState:
    """Where a message stands, as a peek reports it."""

    VISIBLE = "visible"
    IN_FLIGHT = "in_flight"  # received, its visibility timeout still running
    DELAYED = "delayed"  # never received, its delay still running


@dataclass(slots=True)
class PeekedMessage:
    """A message as it is in the queue, looked at without receiving it."""

    message_id: str
    body: str
    attributes: dict[str, AttributeValue]
    system_attributes: dict[str, AttributeValue]
    md5_of_body: str
    md5_of_attributes: str | None
    sender_id: str
    sent_ms: int
    receive_count: int
    first_receive_ms: int | None
    visible_at_ms: int
    group_id: str | None
    dedup_id: str | None
    sequence_number: str | None
    dead_letter_source_queue_id: int | None
    state: str  # a MessageState value


@dataclass(slots=True)
class MoveTaskRecord:
    task_id: str
    source_queue_id: int
    source_arn: str
    destination_arn: str | None
    rate_per_s: int | None
    status: str  # RUNNING | COMPLETED | CANCELLING | CANCELLED | FAILED
    started_ms: int
    to_move: int
    moved: int
    max_seq: int  # only messages up to this row were in the queue when the task started
    failure_reason: str | None = None


class Store(Protocol):
    """Durable state behind one narrow interface of atomic transitions."""

    async def create_queue(
        self,
        name: str,
        is_fifo: bool,
        attributes: dict[str, str],
        tags: dict[str, str],
        now_ms: int,
    ) -> QueueRecord: ...

    async def get_queue(self, name: str) -> QueueRecord | None: ...

    async def get_queue_by_id(self, queue_id: int) -> QueueRecord | None: ...

    async def list_queues(self) -> list[QueueRecord]: ...

    async def update_queue(
        self, queue_id: int, attributes: dict[str, str], tags: dict[str, str], now_ms: int
    ) -> None: ...

    async def delete_queue(self, queue_id: int) -> None: ...

    async def enqueue(
        self,
        queue: QueueRecord,
        messages: Sequence[NewMessage],
        retention_ms: int,
        now_ms: int,
    ) -> list[EnqueueOutcome]: ...

    async def claim(self, request: ClaimRequest) -> ClaimResult: ...

    async def delete_messages(
        self, queue_id: int, receipts: Sequence[ReceiptRef], now_ms: int
    ) -> list[str]:
        """Delete deliveries; one ``DeleteOutcome`` per receipt, in order."""
        ...

    async def change_visibility(
        self, queue_id: int, changes: Sequence[VisibilityChange], now_ms: int
    ) -> list[str]: ...

    async def reset_retention(self, queue_id: int, retention_ms: int) -> None:
        """Apply a new retention period to the messages already in a queue."""
        ...

    async def purge(self, queue_id: int, now_ms: int) -> int: ...

    async def counts(self, queue_id: int, now_ms: int) -> QueueCounts: ...

    async def expire(self, now_ms: int) -> int: ...

    async def peek(self, queue_id: int, limit: int, now_ms: int) -> list[PeekedMessage]:
        """Up to ``limit`` messages of a queue in any state, oldest first, each with its
        state at ``now_ms``. Changes nothing (no receive count, no visibility)."""
        ...

    async def oldest_sent_ms(self, queue_id: int) -> int | None:
        """The SentTimestamp of the oldest message still in the queue (any state), or
        ``None`` for an empty queue."""
        ...

    async def create_move_task(self, task: MoveTaskRecord) -> None: ...

    async def list_move_tasks(self, source_queue_id: int | None = None) -> list[MoveTaskRecord]: ...

    async def update_move_task_status(
        self, task_id: str, status: str, failure_reason: str | None = None
    ) -> None:
        """End a RUNNING task with ``status``; a task that already ended is left as it is."""
        ...

    async def move_messages(
        self, task_id: str, destination_queue_id: int | None, limit: int, now_ms: int
    ) -> int: ...

    async def max_seq(self, queue_id: int) -> int: ...

    def healthy(self) -> bool:
        """False while the store cannot make changes durable (a full disk, a failed
        fsync): writes are refused until it recovers by itself; reads still work."""
        ...

    async def receipt_key(self) -> bytes:
        """The secret receipt handles are sealed with: made once, kept with the data."""
        ...

    async def close(self) -> None: ...
