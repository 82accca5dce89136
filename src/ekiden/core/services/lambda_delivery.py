"""Deliveries to Lambda subscriptions: SNS invokes the function asynchronously, through
the durable outbox that HTTP/S deliveries use.

A publish writes each Lambda subscription's ``Notification`` envelope into the outbox in
its own transaction (``fanout``, ``TopicService``), exactly as for a non-raw HTTP/S
subscription; ``HttpDeliveryService``'s loop finds the entry due and hands it here
(``LambdaDelivery.attempt``), which invokes the function with Lambda's SNS event
(``ekiden.core.sns_lambda_event``). What can happen, as AWS documents it:

* the function ran and succeeded: the entry leaves the outbox;
* the function ran and failed (raised, timed out, its process died): that is Lambda's
  business, not SNS's. Lambda retries an asynchronous invocation by
  ``ekiden.core.rules.async_invoke.retry_delay_s`` (up to the function's
  ``maximum_retry_attempts``) and then sends the event to the function's
  ``on_failure_queue`` (Lambda's dead-letter queue: the event as body, RequestID,
  ErrorCode and ErrorMessage as attributes) or drops it. Every retry is invoked with
  the same request id, as Lambda's are;
* SNS could not hand the event over (guide, "Amazon SNS dead-letter queues"): a
  *client-side* error, the function does not exist (or the ARN names another account
  or region), is not retried: the notification goes to the subscription's
  RedrivePolicy dead-letter queue at once (or is dropped); a *server-side* error, the
  runtime is not running or the function is at its concurrency limit
  (``TooManyRequests``), is retried by the fixed policy of AWS-managed endpoints
  (``MANAGED_ENDPOINT_POLICY``: 3 immediate retries, 2 a second apart, 10 backing off
  to 20 s, then every 20 s for about 23 days) and then dead-lettered the same way.

One outbox row carries both counts in its ``attempts`` column (the outbox protocol has
one integer): ``sns_failures + function_failures * FUNCTION_FAILURE``. The managed
policy allows 100,015 SNS retries, far below ``FUNCTION_FAILURE`` (2**20), so the two
never overlap.

Deliveries are at least once: an entry leaves the outbox only after its outcome is
recorded, so an invocation interrupted by a stop or a crash runs again after the
restart (with the same request id, for handlers that deduplicate).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Protocol

from ekiden.core.clock import Clock
from ekiden.core.errors import ResourceNotFound, TooManyRequests
from ekiden.core.functions import FunctionInvoker, FunctionSpec, InvokeResult
from ekiden.core.messages import AttributeValue
from ekiden.core.rules import async_invoke
from ekiden.core.rules.delivery import MANAGED_ENDPOINT_POLICY, retry_delay_s
from ekiden.core.services.fanout import queue_message
from ekiden.core.services.queues import Queue, QueueService
from ekiden.core.services.topic_catalog import own_queue
from ekiden.core.services.waiters import QueueWaiters
from ekiden.core.sns_lambda_event import event_from_envelope
from ekiden.core.topic_storage import OutboxStore, PendingDelivery, QueueDelivery, QueueTarget

log = logging.getLogger("ekiden.sns.lambda")

LAMBDA_PROTOCOL = "lambda"
FUNCTION_FAILURE = 1 << 20
"""The weight of one failed invocation in an outbox row's ``attempts``."""

_REQUEST_ID_NAMESPACE = uuid.UUID("6b0d3f0e-5a8e-4c1b-9d7f-1f3c2a9e8b40")


class FunctionDirectory(Protocol):
    """Where deliveries find functions and the invoker that runs them (the server hands
    in ``ekiden.core.services.functions.FunctionsService``, which has both)."""

    @property
    def invoker(self) -> FunctionInvoker | None:
        """The runtime's invoker; ``None`` while no runtime runs."""
        ...

    def get_function(self, name_or_arn: str) -> FunctionSpec:
        """The declared function of that name; raises ``FunctionDoesNotExist`` (a
        ``ResourceNotFound``) when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class Undeliverable:
    """SNS gives up handing the notification to Lambda: it goes to the subscription's
    dead-letter queue (or is dropped). ``attempts``: the SNS-side attempts made."""

    attempts: int
    reason: str


def sns_failures(attempts: int) -> int:
    """The failed hand-overs counted in an outbox row's ``attempts``."""
    return attempts % FUNCTION_FAILURE


def function_failures(attempts: int) -> int:
    """The failed invocations counted in an outbox row's ``attempts``."""
    return attempts // FUNCTION_FAILURE


def attempts_of(sns: int, function: int) -> int:
    """The ``attempts`` value of a row with these counts."""
    return sns + function * FUNCTION_FAILURE


def function_name_of(function_arn: str, region: str, account_id: str) -> str | None:
    """The function name a subscription endpoint names, when it is a function of this
    region and account, unqualified or ``$LATEST`` (ekiden has no versions or aliases);
    else ``None``: no such function can exist here."""
    parts = function_arn.split(":")
    if len(parts) not in (7, 8) or parts[:3] != ["arn", "aws", "lambda"] or parts[5] != "function":
        return None
    if parts[3] != region or parts[4] != account_id:
        return None
    if len(parts) == 8 and parts[7] != "$LATEST":
        return None
    return parts[6] or None


def invocation_request_id(subscription_arn: str, message_id: str) -> str:
    """The request id of every invocation of one notification for one subscription: the
    same across Lambda's retries and across restarts."""
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{subscription_arn}\n{message_id}"))


def error_message(result: InvokeResult) -> str:
    """The ``errorMessage`` of a failed invocation's error document (its function error
    when the document has none)."""
    try:
        document = json.loads(result.payload)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("errorMessage"), str):
        return str(document["errorMessage"])
    return result.function_error or "Unhandled"


class LambdaDelivery:
    """Invokes functions for the outbox entries of Lambda subscriptions and records each
    outcome in the outbox. ``functions`` may be set (or replaced) at any time: entries
    that found none wait for it by the managed retry policy."""

    def __init__(
        self,
        outbox: OutboxStore,
        queues: QueueService,
        waiters: QueueWaiters,
        clock: Clock,
        region: str,
        functions: FunctionDirectory | None = None,
    ) -> None:
        self.outbox = outbox
        self.queues = queues
        self.waiters = waiters
        self.clock = clock
        self.region = region
        self.functions = functions

    async def attempt(self, pending: PendingDelivery, function_arn: str) -> Undeliverable | None:
        """Make one attempt at ``pending`` for the subscription endpoint
        ``function_arn``. Returns ``None`` when the outcome is recorded (delivered, a
        retry scheduled, sent to the function's on-failure queue, dropped), or what
        makes it undeliverable, for the caller to dead-letter by the subscription."""
        delivery = pending.delivery
        sns = sns_failures(pending.attempts)
        name = function_name_of(function_arn, self.region, self.queues.account_id)
        if name is None:
            return Undeliverable(sns + 1, f"no function {function_arn} in this region and account")
        directory = self.functions
        if directory is None:
            return await self._hand_over_failed(pending, "no function runtime is running")
        try:
            function = directory.get_function(name)
        except ResourceNotFound:
            return Undeliverable(sns + 1, f"function {function_arn} does not exist")
        invoker = directory.invoker
        if invoker is None:
            return await self._hand_over_failed(pending, "no function runtime is running")
        try:
            payload = event_from_envelope(delivery.body, delivery.subscription_arn)
        except ValueError as error:  # not written by ekiden's fan-out: nothing to retry
            return Undeliverable(sns + 1, f"cannot build the event: {error}")
        request_id = invocation_request_id(delivery.subscription_arn, delivery.message_id)
        try:
            result = await invoker.invoke(
                function, payload, request_id=request_id, wait_for_capacity=False
            )
        except TooManyRequests:
            return await self._hand_over_failed(pending, f"function {name} is throttled")
        if result.function_error is None:
            await self.outbox.delivered(pending.row_id)
            return None
        await self._function_failed(pending, function, payload, request_id, result)
        return None

    async def _hand_over_failed(
        self, pending: PendingDelivery, reason: str
    ) -> Undeliverable | None:
        """A server-side failure: retry by the managed policy, or give up when it allows
        no more retries."""
        sns = sns_failures(pending.attempts) + 1
        delay_s = retry_delay_s(MANAGED_ENDPOINT_POLICY, sns)
        if delay_s is None:
            return Undeliverable(sns, reason)
        log.info(
            "invoking for %s (%s) failed: %s; retry %d in %.3g s",
            pending.delivery.message_id,
            pending.delivery.subscription_arn,
            reason,
            sns,
            delay_s,
        )
        due_ms = self.clock.now_ms() + round(delay_s * 1000)
        attempts = attempts_of(sns, function_failures(pending.attempts))
        await self.outbox.retry_later(pending.row_id, attempts, due_ms)
        return None

    async def _function_failed(
        self,
        pending: PendingDelivery,
        function: FunctionSpec,
        payload: bytes,
        request_id: str,
        result: InvokeResult,
    ) -> None:
        """Lambda's asynchronous retry rules: retry later, or (every attempt failed)
        send the event to the function's on-failure queue."""
        failures = function_failures(pending.attempts) + 1
        reason = error_message(result)
        delay_s = async_invoke.retry_delay_s(function, failures)
        if delay_s is not None:
            log.info(
                "function %s failed request %s (%s); retry %d in %.3g s",
                function.name,
                request_id,
                reason,
                failures,
                delay_s,
            )
            due_ms = self.clock.now_ms() + round(delay_s * 1000)
            attempts = attempts_of(sns_failures(pending.attempts), failures)
            await self.outbox.retry_later(pending.row_id, attempts, due_ms)
            return
        what = f"request {request_id} of function {function.name} after {failures} attempts"
        queue = self._on_failure_queue(function)
        if queue is None:
            log.warning(
                "dropped %s (%s): %s",
                what,
                reason,
                "the function has no on-failure queue"
                if function.on_failure_queue is None
                else f"its on-failure queue {function.on_failure_queue} does not exist",
            )
            await self.outbox.delivered(pending.row_id)
            return
        body, attributes = async_invoke.on_failure_message(payload, request_id, result, reason)
        settings = queue.settings
        message = queue_message(
            body,
            {n: AttributeValue(t, string_value=v) for n, (t, v) in attributes.items()},
            is_fifo=settings.is_fifo,  # a FIFO queue cannot take it: no group id
            delay_s=settings.delay_s,
            max_message_bytes=settings.max_message_bytes,
        )
        moved = False
        if message is not None:
            target = QueueTarget(queue.queue_id, settings.is_fifo, settings.retention_s * 1000)
            moved = await self.outbox.dead_letter(
                pending.row_id, QueueDelivery(target, message), self.clock.now_ms()
            )
        else:
            await self.outbox.delivered(pending.row_id)
        if moved:
            self.waiters.notify(queue.queue_id)
            log.warning("moved %s to its on-failure queue (%s)", what, reason)
        else:
            log.warning(
                "dropped %s (%s): its on-failure queue %s cannot take the event",
                what,
                reason,
                function.on_failure_queue,
            )

    def _on_failure_queue(self, function: FunctionSpec) -> Queue | None:
        """The queue a function's ``on_failure_queue`` (a name or an ARN) names."""
        named = function.on_failure_queue
        if named is None:
            return None
        if named.startswith("arn:"):
            return own_queue(named, self.queues, self.queues.account_id, self.region)
        return self.queues.cached(named)
