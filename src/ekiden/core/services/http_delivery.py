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
  has not come is moved in the outbox to the slot reserved for it;
* at most ``MAX_IN_FLIGHT`` attempts are under way, and at most
  ``MAX_IN_FLIGHT_PER_SUBSCRIPTION`` of them for one subscription, so that a slow (or
  silent) endpoint cannot take every attempt: an entry of a subscription at its cap is
  postponed in the outbox (by the longest an attempt can take) and made due again, in
  its old place, as soon as one of the subscription's attempts ends;
* an UnsubscribeConfirmation outlives its subscription: it names its endpoint and the
  delivery policy to retry by, and is dropped (never dead-lettered) when retries run out,
  like a SubscriptionConfirmation.

Deliveries are at least once: an entry leaves the outbox only after its attempt's
outcome is recorded, so one interrupted by a stop or a crash is POSTed again after the
restart (AWS's ``x-amz-sns-message-id`` stays the same, for receivers that deduplicate).
The reserved throttle slots are kept in memory, so right after a restart a throttled
subscription may briefly get up to twice its rate.

The same loop serves the outbox entries of Lambda subscriptions (the outbox is one table,
ordered by due time): ``route`` marks them ``lambda``, and their attempts are made by
``ekiden.core.services.lambda_delivery`` (an asynchronous invocation, Lambda's own
retries and on-failure queue), with the fixed retry policy of AWS-managed endpoints and no
throttle; what SNS cannot hand over is dead-lettered here, as an HTTP/S notification is.
Their attempts count against the same caps. An invocation may run longer than
``POSTPONE_MS`` (up to the function's timeout): entries of its subscription postponed
meanwhile simply come due again and are postponed again.
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
from ekiden.core.ids import parse_sqs_arn
from ekiden.core.rules.delivery import (
    DEFAULT_CONTENT_TYPE,
    MANAGED_ENDPOINT_POLICY,
    EffectiveDeliveryPolicy,
    effective_policy,
    parse_subscription_delivery_policy,
    retry_delay_s,
)
from ekiden.core.services.confirmation import (
    CONFIRMATION_TYPES,
    SUBSCRIPTION_CONFIRMATION,
)
from ekiden.core.services.fanout import queue_message
from ekiden.core.services.lambda_delivery import (
    LAMBDA_PROTOCOL,
    FunctionDirectory,
    LambdaDelivery,
)
from ekiden.core.services.queues import QueueService
from ekiden.core.services.topic_catalog import TopicCatalog
from ekiden.core.services.waiters import QueueWaiters
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
MAX_IN_FLIGHT_PER_SUBSCRIPTION = 4
POSTPONE_MS = int(REQUEST_TIMEOUT_S * 1000)  # an attempt under way has ended by then
_ERROR_PAUSE_S = 1.0
_MAX_SLOTS_KEPT = 1_000
# Lambda subscriptions: AWS's fixed policy, no throttle (the function's concurrency is).
_LAMBDA_POLICY = EffectiveDeliveryPolicy(MANAGED_ENDPOINT_POLICY, None, DEFAULT_CONTENT_TYPE)


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
    return queue_message(
        delivery.body,
        delivery.attributes,
        is_fifo=False,
        delay_s=delay_s,
        max_message_bytes=max_message_bytes,
    )


@dataclass(frozen=True, slots=True)
class Route:
    """Where and how an outbox entry goes: its URL (a Lambda subscription's function
    ARN), the policy it is retried by, the dead-letter queue of its subscription, and
    its subscription's protocol."""

    subscription_arn: str
    url: str
    policy: EffectiveDeliveryPolicy
    dead_letter_target_arn: str | None = None
    protocol: str = "http"


class HttpDeliveryService:
    """Runs the delivery loop over an ``OutboxStore`` while started: POSTs to HTTP/S
    subscriptions, invocations for Lambda subscriptions (``functions``: where the
    functions and their invoker are found; without one, Lambda deliveries wait)."""

    def __init__(
        self,
        outbox: OutboxStore,
        topics: TopicCatalog,
        queues: QueueService,
        waiters: QueueWaiters,
        clock: Clock,
        poster: HttpPoster,
        functions: FunctionDirectory | None = None,
    ) -> None:
        self.outbox = outbox
        self.topics = topics
        self.queues = queues
        self.waiters = waiters
        self.clock = clock
        self.poster = poster
        self.lambdas = LambdaDelivery(outbox, queues, waiters, clock, topics.region, functions)
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._next_slot_ms: dict[str, float] = {}  # subscription ARN -> its next send slot
        self._busy: dict[str, int] = {}  # subscription ARN -> its attempts under way
        # subscription ARN -> entries postponed at its cap: row id -> the due time to restore
        self._postponed: dict[str, dict[int, int]] = {}
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

    def route(self, delivery: HttpDelivery) -> Route | None:
        """Where ``delivery`` goes: its subscription's endpoint and effective policy, or
        the endpoint and policy it names itself; ``None`` if its subscription is gone."""
        arn = delivery.subscription_arn
        if delivery.endpoint is not None:
            own = (
                parse_subscription_delivery_policy(delivery.delivery_policy, error_prefix="")
                if delivery.delivery_policy
                else None
            )
            return Route(arn, delivery.endpoint, effective_policy(None, own))
        target = self.topics.delivery_target(arn)
        if target is None:
            return None
        subscription, topic_policy = target
        if subscription.record.protocol == LAMBDA_PROTOCOL:
            return Route(
                arn,
                subscription.record.endpoint,
                _LAMBDA_POLICY,
                subscription.settings.dead_letter_target_arn,
                LAMBDA_PROTOCOL,
            )
        return Route(
            arn,
            subscription.record.endpoint,
            effective_policy(topic_policy, subscription.settings.delivery_policy),
            subscription.settings.dead_letter_target_arn,
        )

    async def _dispatch(self, due: Sequence[PendingDelivery], now_ms: int) -> bool:
        """Start an attempt for each due entry its subscription's cap and throttle let
        go now; move the others (to their throttle slots, or postponed while the
        subscription is at its cap). True if some were moved."""
        deferred: list[tuple[int, int]] = []
        postponed: list[tuple[int, int]] = []
        if len(self._next_slot_ms) > _MAX_SLOTS_KEPT:  # forget slots long past
            self._next_slot_ms = {a: t for a, t in self._next_slot_ms.items() if t > now_ms}
        for pending in due:
            route = self.route(pending.delivery)
            if route is None:  # unsubscribed meanwhile (its entries are going too)
                await self.outbox.delivered(pending.row_id)
                continue
            arn = route.subscription_arn
            if self._busy.get(arn, 0) >= MAX_IN_FLIGHT_PER_SUBSCRIPTION:
                postponed.append((pending.row_id, now_ms + POSTPONE_MS))
                self._postponed.setdefault(arn, {})[pending.row_id] = pending.due_ms
                continue
            rate = route.policy.max_receives_per_s
            if rate is not None and not pending.slot_reserved:
                slot_ms = max(float(now_ms), self._next_slot_ms.get(arn, 0.0))
                self._next_slot_ms[arn] = slot_ms + 1000.0 / rate
                if slot_ms > now_ms:
                    deferred.append((pending.row_id, math.ceil(slot_ms)))
                    continue
            waiting = self._postponed.get(arn)
            if waiting is not None:
                waiting.pop(pending.row_id, None)  # its postponement ran out by itself
            self._busy[arn] = self._busy.get(arn, 0) + 1
            self._in_flight[pending.row_id] = asyncio.create_task(self._attempt(pending, route))
        if deferred:
            await self.outbox.defer(deferred)
        if postponed:
            await self.outbox.postpone(postponed)
        return bool(deferred or postponed)

    def _attempt_ended(self, arn: str) -> tuple[int, int] | None:
        """One attempt of subscription ``arn`` ended: its oldest postponed entry, with
        the due time to give back to it (its old place), if there is one."""
        busy = self._busy.get(arn, 0) - 1
        if busy > 0:
            self._busy[arn] = busy
        else:
            self._busy.pop(arn, None)
        waiting = self._postponed.get(arn)
        if not waiting:
            self._postponed.pop(arn, None)
            return None
        row_id = next(iter(waiting))
        return row_id, waiting.pop(row_id)

    async def _attempt(self, pending: PendingDelivery, route: Route) -> None:
        delivery = pending.delivery
        policy = route.policy
        cancelled = False
        try:
            if route.protocol == LAMBDA_PROTOCOL:
                failed = await self.lambdas.attempt(pending, route.url)
                if failed is not None:
                    await self._give_up(pending, route, failed.attempts, failed.reason)
                return
            confirmation = delivery.message_type in CONFIRMATION_TYPES
            content_type = DEFAULT_CONTENT_TYPE if confirmation else policy.content_type
            outcome = await self.poster.post(
                route.url,
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
                    route.subscription_arn,
                    reason,
                    attempts,
                    delay_s,
                )
                due_ms = self.clock.now_ms() + round(delay_s * 1000)
                await self.outbox.retry_later(pending.row_id, attempts, due_ms)
            else:
                await self._give_up(pending, route, attempts, reason)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception:
            log.exception("delivering %s to %s failed", delivery.message_id, route.subscription_arn)
        finally:
            self._in_flight.pop(pending.row_id, None)
            released = self._attempt_ended(route.subscription_arn)
            if released is not None and not cancelled:
                try:
                    await self.outbox.postpone([released])
                except Exception:  # it comes due by itself when its postponement ends
                    log.exception("making a postponed delivery due again failed")
            self._wake.set()

    async def _give_up(
        self, pending: PendingDelivery, route: Route, attempts: int, reason: str
    ) -> None:
        """Retries are exhausted: dead-letter a notification, or drop it."""
        delivery = pending.delivery
        what = f"{delivery.message_type} {delivery.message_id} to {route.subscription_arn}"
        dlq_arn = route.dead_letter_target_arn
        if delivery.message_type in CONFIRMATION_TYPES or dlq_arn is None:
            log.warning("dropped %s after %d attempts (%s)", what, attempts, reason)
            await self.outbox.delivered(pending.row_id)
            return
        parsed = parse_sqs_arn(dlq_arn)
        queue = (
            self.queues.cached(parsed.resource)
            if parsed is not None
            and parsed.account_id == self.queues.account_id
            and parsed.region == self.topics.region
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
