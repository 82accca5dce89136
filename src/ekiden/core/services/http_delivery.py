"""Deliveries to HTTP/S subscriptions: the loop that empties the durable outbox.

A publish (or, for its confirmation, a Subscribe) writes what each HTTP/S subscription
is owed into the outbox in its own transaction (``TopicStore``); this loop POSTs it, as
AWS's guide describes ("Fanout to HTTP/S endpoints", "Amazon SNS message delivery
retries", "Amazon SNS dead-letter queues"):

* headers ``x-amz-sns-message-type``, ``-message-id``, ``-topic-arn``, and on
  notifications ``-subscription-arn`` (and ``x-amz-sns-rawdelivery: true`` for raw
  delivery); ``Content-Type`` from the effective DeliveryPolicy (confirmations always
  ``text/plain; charset=UTF-8``); ``User-Agent: Amazon Simple Notification Service Agent``;
* an attempt fails when there is no answer within 15 seconds (or no connection, or a TLS
  failure) or the status is outside 200-4xx: AWS counts a 4xx answer as delivered;
* a failed attempt is retried after ``retry_delay_s`` of the effective policy (no jitter);
  when the policy allows no more retries, a notification goes to the subscription's
  RedrivePolicy dead-letter queue (the body it was POSTing; a raw delivery's attributes
  as SQS message attributes), or is dropped with a log line; a confirmation is dropped;
* ``maxReceivesPerSecond`` spaces the attempts of one subscription: an entry whose turn
  has not come is moved in the outbox to the slot reserved for it.

Deliveries are at least once: an entry leaves the outbox only after its attempt's
outcome is recorded, so one interrupted by a stop or a crash is POSTed again after the
restart (AWS's ``x-amz-sns-message-id`` stays the same, for receivers that deduplicate).
The reserved throttle slots are kept in memory, so right after a restart a throttled
subscription may briefly get up to twice its rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ekiden.core.clock import Clock
from ekiden.core.ids import new_message_id, parse_sqs_arn
from ekiden.core.messages import attributes_size, md5_of_attributes, md5_of_body
from ekiden.core.rules.delivery import (
    DEFAULT_CONTENT_TYPE,
    EffectiveDeliveryPolicy,
    effective_policy,
    retry_delay_s,
)
from ekiden.core.services.confirmation import SUBSCRIPTION_CONFIRMATION
from ekiden.core.services.fanout import SNS_SENDER_ID
from ekiden.core.services.queues import QueueService
from ekiden.core.services.topic_catalog import Subscription, TopicCatalog
from ekiden.core.services.waiters import QueueWaiters
from ekiden.core.sns_envelopes import MAX_RAW_SQS_ATTRIBUTES
from ekiden.core.storage import NewMessage
from ekiden.core.topic_storage import (
    HttpDelivery,
    OutboxStore,
    PendingDelivery,
    QueueDelivery,
    QueueTarget,
)

log = logging.getLogger("ekiden.sns.http")

REQUEST_TIMEOUT_S = 15.0  # AWS: "The connection will time out in 15 seconds"
USER_AGENT = "Amazon Simple Notification Service Agent"
MAX_IN_FLIGHT = 32
_ERROR_PAUSE_S = 1.0
_MAX_SLOTS_KEPT = 1_000


@dataclass(frozen=True, slots=True)
class HttpOutcome:
    """The answer to one POST: its status, or ``None`` with why there was none."""

    status: int | None
    error: str = ""


class HttpPoster(Protocol):
    """Makes one POST (the I/O half of a delivery; ``ekiden.server`` implements it)."""

    async def post(
        self, url: str, body: bytes, headers: Sequence[tuple[str, str]], timeout_s: float
    ) -> HttpOutcome:
        """POST ``body`` to ``url``; never raises for what the network or the endpoint
        does (a refused connection, a timeout, a bad certificate: ``status`` ``None``)."""
        ...


def delivered(outcome: HttpOutcome) -> bool:
    """Whether an attempt counts as delivered: AWS fails an attempt only without an
    answer or with "a status code outside the range of 200-4xx"."""
    return outcome.status is not None and 200 <= outcome.status < 500


def request_headers(delivery: HttpDelivery, content_type: str) -> list[tuple[str, str]]:
    """The headers of a delivery's POST, as AWS sends them."""
    headers = [
        ("x-amz-sns-message-type", delivery.message_type),
        ("x-amz-sns-message-id", delivery.message_id),
        ("x-amz-sns-topic-arn", delivery.topic_arn),
    ]
    if delivery.message_type != SUBSCRIPTION_CONFIRMATION:
        headers.append(("x-amz-sns-subscription-arn", delivery.subscription_arn))
    if delivery.raw:
        headers.append(("x-amz-sns-rawdelivery", "true"))
    headers += [("Content-Type", content_type), ("User-Agent", USER_AGENT)]
    return headers


def dead_letter_message(
    delivery: HttpDelivery, *, delay_s: int, max_message_bytes: int
) -> NewMessage | None:
    """The SQS message a notification that ran out of retries becomes in a (standard)
    dead-letter queue: the body it was POSTing and, for raw delivery, the published
    attributes; ``None`` when the queue cannot take it (more than 10 attributes, too
    large), which AWS counts as a failed redrive."""
    attributes = dict(delivery.attributes)
    body = delivery.body.encode("utf-8")
    if len(attributes) > MAX_RAW_SQS_ATTRIBUTES:
        return None
    if len(body) + attributes_size(attributes) > max_message_bytes:
        return None
    return NewMessage(
        message_id=new_message_id(),
        body=delivery.body,
        attributes=attributes,
        system_attributes={},
        md5_of_body=md5_of_body(body),
        md5_of_attributes=md5_of_attributes(attributes),
        md5_of_system_attributes=None,
        sender_id=SNS_SENDER_ID,
        delay_s=delay_s,
        group_id=None,
        dedup_id=None,
        dedup_key=None,
    )


class HttpDeliveryService:
    """Runs the delivery loop over an ``OutboxStore`` while started."""

    def __init__(
        self,
        outbox: OutboxStore,
        topics: TopicCatalog,
        queues: QueueService,
        waiters: QueueWaiters,
        clock: Clock,
        poster: HttpPoster,
    ) -> None:
        self.outbox = outbox
        self.topics = topics
        self.queues = queues
        self.waiters = waiters
        self.clock = clock
        self.poster = poster
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._next_slot_ms: dict[str, float] = {}  # subscription ARN -> its next send slot
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop; it resumes whatever the outbox holds (also from before a
        restart)."""
        if self._loop is None:
            self._loop = asyncio.create_task(self._run(), name="sns-http-delivery")

    def wake(self) -> None:
        """Tell the loop that new entries are due (after a publish or a subscribe)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop the loop and abandon the attempts under way: their entries stay in the
        outbox and are POSTed again after a restart."""
        tasks = list(self._in_flight.values())
        if self._loop is not None:
            tasks.append(self._loop)
            self._loop = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._in_flight.clear()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            free = MAX_IN_FLIGHT - len(self._in_flight)
            timeout_s: float | None = None
            if free > 0:
                now_ms = self.clock.now_ms()
                try:
                    found = await self.outbox.due(now_ms, free, self._in_flight.keys())
                    deferred = await self._dispatch(found.due, now_ms)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("the HTTP/S delivery loop failed a round; trying again")
                    await asyncio.sleep(_ERROR_PAUSE_S)
                    continue
                if deferred or len(found.due) == free:
                    continue  # more may be due already
                if found.next_due_ms is not None:
                    timeout_s = max(0.0, (found.next_due_ms - self.clock.now_ms()) / 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout_s)

    async def _dispatch(self, due: Sequence[PendingDelivery], now_ms: int) -> bool:
        """Start an attempt for each due entry its subscription's throttle lets go now;
        move the others to their slots. True if some were moved."""
        deferred: list[tuple[int, int]] = []
        if len(self._next_slot_ms) > _MAX_SLOTS_KEPT:  # forget slots long past
            self._next_slot_ms = {a: t for a, t in self._next_slot_ms.items() if t > now_ms}
        for pending in due:
            target = self.topics.delivery_target(pending.delivery.subscription_arn)
            if target is None:  # unsubscribed meanwhile (its entries are going too)
                await self.outbox.delivered(pending.row_id)
                continue
            subscription, topic_policy = target
            policy = effective_policy(topic_policy, subscription.settings.delivery_policy)
            rate = policy.max_receives_per_s
            if rate is not None and not pending.slot_reserved:
                arn = subscription.arn
                slot_ms = max(float(now_ms), self._next_slot_ms.get(arn, 0.0))
                self._next_slot_ms[arn] = slot_ms + 1000.0 / rate
                if slot_ms > now_ms:
                    deferred.append((pending.row_id, math.ceil(slot_ms)))
                    continue
            self._in_flight[pending.row_id] = asyncio.create_task(
                self._attempt(pending, subscription, policy)
            )
        if deferred:
            await self.outbox.defer(deferred)
        return bool(deferred)

    async def _attempt(
        self, pending: PendingDelivery, subscription: Subscription, policy: EffectiveDeliveryPolicy
    ) -> None:
        delivery = pending.delivery
        try:
            confirmation = delivery.message_type == SUBSCRIPTION_CONFIRMATION
            content_type = DEFAULT_CONTENT_TYPE if confirmation else policy.content_type
            outcome = await self.poster.post(
                subscription.record.endpoint,
                delivery.body.encode("utf-8"),
                request_headers(delivery, content_type),
                REQUEST_TIMEOUT_S,
            )
            if delivered(outcome):
                await self.outbox.delivered(pending.row_id)
                return
            reason = outcome.error or f"HTTP status {outcome.status}"
            attempts = pending.attempts + 1
            delay_s = retry_delay_s(policy.retry, attempts)
            if delay_s is not None:
                log.info(
                    "%s %s to %s failed (%s); retry %d in %.3g s",
                    delivery.message_type,
                    delivery.message_id,
                    subscription.arn,
                    reason,
                    attempts,
                    delay_s,
                )
                due_ms = self.clock.now_ms() + round(delay_s * 1000)
                await self.outbox.retry_later(pending.row_id, attempts, due_ms)
            else:
                await self._give_up(pending, subscription, attempts, reason)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivering %s to %s failed", delivery.message_id, subscription.arn)
        finally:
            self._in_flight.pop(pending.row_id, None)
            self._wake.set()

    async def _give_up(
        self, pending: PendingDelivery, subscription: Subscription, attempts: int, reason: str
    ) -> None:
        """Retries are exhausted: dead-letter a notification, or drop it."""
        delivery = pending.delivery
        what = f"{delivery.message_type} {delivery.message_id} to {subscription.arn}"
        dlq_arn = subscription.settings.dead_letter_target_arn
        if delivery.message_type == SUBSCRIPTION_CONFIRMATION or dlq_arn is None:
            log.warning("dropped %s after %d attempts (%s)", what, attempts, reason)
            await self.outbox.delivered(pending.row_id)
            return
        parsed = parse_sqs_arn(dlq_arn)
        queue = (
            self.queues.cached(parsed.resource)
            if parsed is not None and parsed.account_id == self.queues.account_id
            else None
        )
        message = (
            dead_letter_message(
                delivery,
                delay_s=queue.settings.delay_s,
                max_message_bytes=queue.settings.max_message_bytes,
            )
            if queue is not None
            else None
        )
        moved = False
        if queue is not None and message is not None:
            settings = queue.settings
            target = QueueTarget(queue.queue_id, settings.is_fifo, settings.retention_s * 1000)
            moved = await self.outbox.dead_letter(
                pending.row_id, QueueDelivery(target, message), self.clock.now_ms()
            )
        else:
            await self.outbox.delivered(pending.row_id)
        if moved and queue is not None:
            self.waiters.notify(queue.queue_id)
            log.warning(
                "moved %s to its dead-letter queue %s after %d attempts (%s)",
                what,
                dlq_arn,
                attempts,
                reason,
            )
        else:
            log.warning(
                "dropped %s after %d attempts (%s): its dead-letter queue %s does not exist "
                "or cannot take the message",
                what,
                attempts,
                reason,
                dlq_arn,
            )
