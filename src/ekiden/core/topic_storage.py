"""The storage port of SNS: topics, subscriptions, the atomic fan-out of a publish, and
the outbox of HTTP/S deliveries.

Implementations live in ``ekiden.store`` (``SqliteTopicStore`` and ``SqliteOutboxStore``
today); ``TopicService`` and ``HttpDeliveryService`` only see these protocols. As in
``ekiden.core.storage``, every method is one atomic transition, takes ``now_ms`` rather
than reading a clock, and returns only after its effect is durable.

Listings are paged by an opaque, increasing ``row_id`` (creation order): a page is the
records after a given id, so deleting or adding records between pages skips or repeats
none of the others.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ekiden.core.messages import MessageAttributes
from ekiden.core.storage import NewMessage


@dataclass(slots=True)
class TopicRecord:
    """A stored topic. ``attributes`` are the settable ones as GetTopicAttributes shows
    them (``ekiden.core.topics``); ``tags`` keep the order they were first given in."""

    row_id: int
    name: str
    is_fifo: bool
    attributes: dict[str, str]
    tags: dict[str, str]
    created_ms: int
    last_sequence: int = 0  # FIFO topics: the last SequenceNumber handed out


@dataclass(slots=True)
class SubscriptionRecord:
    """A stored subscription. ``row_id`` is assigned by the store (0 before ``subscribe``);
    ``token`` is the confirmation token of a subscription that awaits confirmation."""

    row_id: int
    arn: str
    topic_id: int
    protocol: str
    endpoint: str
    attributes: dict[str, str]
    pending_confirmation: bool
    authenticated: bool
    token: str | None
    owner: str
    created_ms: int

    @property
    def topic_arn(self) -> str:
        """The ARN of the subscription's topic (its own ARN without the final id)."""
        return self.arn.rpartition(":")[0]


@dataclass(frozen=True, slots=True)
class QueueTarget:
    """An SQS queue a published message goes to, as the insert needs to know it."""

    queue_id: int
    is_fifo: bool
    retention_ms: int


@dataclass(frozen=True, slots=True)
class QueueDelivery:
    """One SQS message (body, attributes, MD5s, ordering fields) for one queue.
    ``fallback`` is what goes to the subscription's dead-letter queue instead if the
    queue is found deleted when the delivery is committed."""

    target: QueueTarget
    message: NewMessage
    fallback: QueueDelivery | None = None


@dataclass(frozen=True, slots=True)
class HttpDelivery:
    """One POST an HTTP/S subscription is owed: a notification or a subscription
    confirmation, its body exactly as it goes out (the signed envelope, or the message
    itself for raw delivery). ``attributes`` are kept for raw deliveries only: they are
    what a dead-letter queue receives as SQS message attributes when retries run out.

    ``endpoint`` is set on a delivery that outlives its subscription (the
    UnsubscribeConfirmation): the URL to POST to, with ``delivery_policy``, the
    subscription's effective DeliveryPolicy (JSON) at the time, to retry by."""

    subscription_arn: str
    message_type: str  # "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"
    message_id: str
    topic_arn: str
    body: str
    raw: bool = False
    attributes: MessageAttributes = field(default_factory=dict)
    endpoint: str | None = None
    delivery_policy: str | None = None


@dataclass(frozen=True, slots=True)
class TopicMessage:
    """One published message and every queue delivery it makes.

    ``dedup_key`` (FIFO topics) is the key the topic deduplicates by: a message whose key
    was published in the last five minutes is answered with the original's id and
    sequence number and delivered nowhere. ``sequence_number`` is the topic's own
    SequenceNumber for this message (FIFO topics), already written into the deliveries.
    """

    message_id: str
    deliveries: Sequence[QueueDelivery]
    dedup_key: str | None = None
    sequence_number: str | None = None
    http_deliveries: Sequence[HttpDelivery] = ()


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    """What one published message became: its id and sequence number (the original's on
    a deduplication hit) and the queues that received it (to wake their receivers)."""

    message_id: str
    sequence_number: str | None
    duplicate: bool
    queue_ids: tuple[int, ...]


class TopicStore(Protocol):
    """Durable SNS state behind one narrow interface of atomic transitions."""

    async def create_topic(
        self,
        name: str,
        is_fifo: bool,
        attributes: dict[str, str],
        tags: dict[str, str],
        now_ms: int,
    ) -> TopicRecord: ...

    async def get_topic(self, name: str) -> TopicRecord | None: ...

    async def list_topics(self, after_row_id: int, limit: int) -> list[TopicRecord]:
        """Up to ``limit`` topics whose ``row_id`` is above ``after_row_id``, in order."""
        ...

    async def update_topic_attributes(self, topic_id: int, attributes: dict[str, str]) -> None:
        """Replace the topic's stored attributes with ``attributes`` (the whole map)."""
        ...

    async def update_topic_tags(self, topic_id: int, tags: dict[str, str]) -> None:
        """Replace the topic's tags with ``tags`` (the whole map)."""
        ...

    async def delete_topic(self, topic_id: int) -> None:
        """Delete the topic with its subscriptions, their outbox deliveries and the
        deduplication records (a topic that is already gone is not an error: DeleteTopic
        is idempotent)."""
        ...

    async def subscribe(
        self,
        subscription: SubscriptionRecord,
        confirmation: HttpDelivery | None = None,
        now_ms: int = 0,
    ) -> SubscriptionRecord:
        """Store a new subscription; returns it with its ``row_id``. Raises
        ``TopicDoesNotExist`` if the topic was deleted meanwhile. ``confirmation`` (an
        HTTP/S subscription's SubscriptionConfirmation) enters the outbox, due at
        ``now_ms``, in the same transaction."""
        ...

    async def get_subscription(self, arn: str) -> SubscriptionRecord | None: ...

    async def list_subscriptions(
        self, after_row_id: int, limit: int, topic_id: int | None = None
    ) -> list[SubscriptionRecord]:
        """Up to ``limit`` subscriptions (of ``topic_id``, or of every topic) whose
        ``row_id`` is above ``after_row_id``, in order."""
        ...

    async def set_subscription_attributes(self, arn: str, attributes: dict[str, str]) -> None:
        """Replace the subscription's stored attributes with ``attributes``."""
        ...

    async def confirm_subscription(self, arn: str, authenticated: bool) -> None:
        """Mark a subscription confirmed. Its token stays: confirming again with it
        answers the same subscription (ConfirmSubscription is idempotent). Confirmation
        messages still waiting in the outbox for it are dropped: they are answered."""
        ...

    async def unsubscribe(
        self, arn: str, farewell: HttpDelivery | None = None, now_ms: int = 0
    ) -> bool:
        """Delete a subscription with every delivery the outbox holds for it; False if
        there was none. ``farewell`` (an HTTP/S subscription's UnsubscribeConfirmation)
        enters the outbox, due at ``now_ms``, in the same transaction."""
        ...

    async def add_deliveries(self, deliveries: Sequence[HttpDelivery], now_ms: int) -> None:
        """Put ``deliveries`` into the outbox, due at ``now_ms`` (a confirmation sent
        again when its endpoint is subscribed again)."""
        ...

    async def publish_to_queues(
        self,
        topic_id: int,
        messages: Sequence[TopicMessage],
        last_sequence: int | None,
        now_ms: int,
    ) -> list[PublishOutcome]:
        """Deliver ``messages`` to their queues, and their HTTP/S deliveries to the
        outbox (due at ``now_ms``), in ONE transaction: when this returns, every message
        is durable in every queue that still exists and in the outbox, or (on an error)
        nothing of the call was kept.

        A queue deleted since the caller resolved it is skipped, or its delivery's
        ``fallback`` (the dead-letter queue's message) is made instead. Queue-level FIFO
        deduplication applies as for a send. ``last_sequence`` (FIFO topics) is recorded
        as the topic's last SequenceNumber. Raises ``TopicDoesNotExist`` if the topic
        was deleted meanwhile. One outcome per message, in order.
        """
        ...


# --- the outbox of HTTP/S deliveries ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """An outbox entry: ``attempts`` failed so far; due at ``due_ms``. ``slot_reserved``
    says the throttle already gave it ``due_ms`` as its send slot (it goes out then
    without being throttled again)."""

    row_id: int
    delivery: HttpDelivery
    attempts: int
    due_ms: int
    slot_reserved: bool = False


@dataclass(frozen=True, slots=True)
class DueDeliveries:
    """What ``OutboxStore.due`` found: the due entries (oldest first) and when the next
    one not in ``skip`` and not due yet falls due (``None``: the outbox holds no other)."""

    due: list[PendingDelivery]
    next_due_ms: int | None


class OutboxStore(Protocol):
    """The durable outbox of HTTP/S deliveries. Entries enter it with a publish or a
    subscribe (``TopicStore``) and leave it when delivered, dead-lettered or dropped;
    every method is one atomic, durable transition."""

    async def due(self, now_ms: int, limit: int, skip: Collection[int]) -> DueDeliveries:
        """Up to ``limit`` entries due at ``now_ms`` whose ``row_id`` is not in ``skip``
        (the ones being attempted), in due order; with the next due time after them."""
        ...

    async def delivered(self, row_id: int) -> None:
        """Remove an entry (delivered, or given up); no error if it is gone already."""
        ...

    async def retry_later(self, row_id: int, attempts: int, due_ms: int) -> None:
        """Record a failed attempt: ``attempts`` so far, next attempt at ``due_ms``."""
        ...

    async def defer(self, slots: Sequence[tuple[int, int]]) -> None:
        """Move throttled entries, ``(row_id, slot_ms)``, to the send slots reserved for
        them."""
        ...

    async def postpone(self, due: Sequence[tuple[int, int]]) -> None:
        """Make entries, ``(row_id, due_ms)``, due at another time; their attempts and
        throttle slots are kept (no error for an entry that is gone)."""
        ...

    async def dead_letter(self, row_id: int, delivery: QueueDelivery, now_ms: int) -> bool:
        """Remove an entry and put ``delivery`` into its dead-letter queue, in one
        transaction; True if the message is in the queue. False when the entry is gone
        already (its subscription was deleted meanwhile: nothing is moved) or the queue
        no longer exists (the entry is removed all the same)."""
        ...
