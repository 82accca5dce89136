"""Invoke: payload checks, and the background runs of asynchronous invocations.

Lambda queues an asynchronous invocation (``InvocationType=Event``) and answers 202 at
once; it runs the function later, retries a failed run (``retry_delay_s``) and sends an
event that failed every attempt to the function's dead-letter queue. ekiden keeps that
queue in memory: pending asynchronous invocations (running or waiting to retry) are lost
when the server stops (``AsyncInvocations.stop`` cancels them). A durable outbox, as SNS
HTTP deliveries have, would be the step beyond.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from ekiden.core.errors import EkidenError, MalformedRequest, MessageTooLong
from ekiden.core.functions import FunctionInvoker, FunctionSpec, InvokeResult
from ekiden.core.ids import parse_sqs_arn
from ekiden.core.messages import AttributeValue
from ekiden.core.rules.async_invoke import on_failure_message, retry_delay_s
from ekiden.core.services.messages import MessageService, SendEntry

log = logging.getLogger("ekiden.functions")

MAX_SYNC_PAYLOAD_BYTES: Final = 6_291_456
"""6 MB: the largest RequestResponse payload."""
MAX_ASYNC_PAYLOAD_BYTES: Final = 1_048_576
"""1 MB: the largest Event payload (256 KB before Lambda raised it in 2025)."""


def check_payload(payload: bytes, *, asynchronous: bool) -> bytes:
    """The payload to hand to the function: at most the size Lambda allows for the
    invocation type, and JSON. An empty payload is ``{}`` (what Lambda gives a function
    invoked without one).

    Raises ``MessageTooLong`` (Lambda: ``RequestTooLargeException`` for RequestResponse,
    ``RequestEntityTooLargeException`` for Event, both HTTP 413) and ``MalformedRequest``
    (Lambda: ``InvalidRequestContentException``, HTTP 400) for what is not JSON: bad
    syntax, ``NaN``/``Infinity`` (which Python's parser would read), and nesting deeper
    than the parser's stack.
    """
    if asynchronous and len(payload) > MAX_ASYNC_PAYLOAD_BYTES:
        raise MessageTooLong(
            f"{len(payload)} byte payload is too large for the Event invocation type "
            f"(limit {MAX_ASYNC_PAYLOAD_BYTES} bytes)"
        )
    if not asynchronous and len(payload) > MAX_SYNC_PAYLOAD_BYTES:
        raise MessageTooLong(
            f"Request must be smaller than {MAX_SYNC_PAYLOAD_BYTES} bytes for the "
            "InvokeFunction operation"
        )
    if not payload.strip():
        return b"{}"
    try:
        json.loads(payload, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedRequest(
            f"Could not parse request body into json: Could not parse payload into json: {error}"
        ) from None
    except RecursionError:
        # nesting deeper than the parser's stack is bad input, not a failure of ours
        raise MalformedRequest(
            "Could not parse request body into json: Could not parse payload into json: "
            "the document is nested too deeply"
        ) from None
    return payload


def _refuse_constant(name: str) -> object:
    # Python's json reads NaN and Infinity, which JSON (and so Lambda) does not have
    raise ValueError(f"{name} is not a JSON value")


class AsyncInvocations:
    """Runs asynchronous invocations in background tasks, with Lambda's retries and
    dead-letter queue."""

    def __init__(
        self,
        messages: MessageService,
        account_id: str,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._messages = messages
        self._account_id = account_id
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    @property
    def pending(self) -> int:
        """How many asynchronous invocations are running or waiting to retry."""
        return len(self._tasks)

    def schedule(
        self, invoker: FunctionInvoker, function: FunctionSpec, payload: bytes, request_id: str
    ) -> None:
        """Start running the invocation in the background (refused after ``stop``)."""
        if self._stopped:
            raise RuntimeError("asynchronous invocations are stopped")
        task = asyncio.create_task(
            self._run(invoker, function, payload, request_id), name=f"invoke-{request_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel every pending invocation (they are not kept across restarts)."""
        self._stopped = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if tasks:
            log.warning("dropped %d pending asynchronous invocation(s) at shutdown", len(tasks))

    async def _run(
        self, invoker: FunctionInvoker, function: FunctionSpec, payload: bytes, request_id: str
    ) -> None:
        attempt = 0
        while True:
            result: InvokeResult | None = None
            error = ""
            try:
                result = await invoker.invoke(function, payload, request_id=request_id)
            except asyncio.CancelledError:
                raise
            except EkidenError as exc:
                error = exc.message
            except Exception as exc:  # the runtime failed, not the function
                log.exception("asynchronous invocation %s of %s failed", request_id, function.name)
                error = f"{type(exc).__name__}: {exc}"
            if result is not None and result.function_error is None:
                return
            if result is not None:
                error = f"{result.function_error} function error"
            attempt += 1
            delay = retry_delay_s(function, attempt)
            if delay is None:
                break
            await self._wait(delay)
        await self._dead_letter(function, payload, request_id, result, error)

    async def _wait(self, delay_s: float) -> None:
        if self._sleep is not None:
            await self._sleep(delay_s)
        else:
            await asyncio.sleep(delay_s)

    async def _dead_letter(
        self,
        function: FunctionSpec,
        payload: bytes,
        request_id: str,
        result: InvokeResult | None,
        error: str,
    ) -> None:
        target = function.on_failure_queue
        if target is None:
            log.warning(
                "asynchronous invocation %s of %s failed every attempt and is dropped "
                "(the function has no on_failure_queue): %s",
                request_id,
                function.name,
                error,
            )
            return
        queue_name = self._queue_name(target)
        body, attributes = on_failure_message(payload, request_id, result, error)
        entry = SendEntry(
            body=body,
            attributes={
                name: AttributeValue(data_type, value)
                for name, (data_type, value) in attributes.items()
            },
        )
        try:
            (outcome,) = await self._messages.send(queue_name, [entry], self._account_id)
        except EkidenError as exc:
            outcome = exc
        if isinstance(outcome, EkidenError):
            log.error(
                "asynchronous invocation %s of %s could not go to its dead-letter queue %s: %s",
                request_id,
                function.name,
                target,
                outcome.message,
            )

    def _queue_name(self, target: str) -> str:
        if not target.startswith("arn:"):
            return target
        parsed = parse_sqs_arn(target)
        if parsed is None or parsed.account_id != self._account_id:
            return target  # no such queue here: the send reports it
        return parsed.resource
