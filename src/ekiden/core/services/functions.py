"""The functions service: declared functions, event source mappings (CRUD with Lambda's
validation), and Invoke.

Functions are declared in the config file and never change while the server runs.
Mappings come from the config file (re-applied at every start, ``declared=True``) or from
the Lambda API; they persist in a ``MappingStore`` and all of them are kept in memory
(they are few). Every successful change is passed to the listeners (the runtime's
pollers) as the full list of mappings, so a listener never has to merge changes.

Invoke hands the payload to the ``invoker`` the server sets once the runtime runs;
asynchronous invocations run in the background (``function_invoke.AsyncInvocations``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid as uuid_module
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from ekiden.core import limits
from ekiden.core.clock import Clock
from ekiden.core.errors import (
    EkidenError,
    FunctionDoesNotExist,
    InvalidParameterValue,
    MappingDoesNotExist,
    QueueDoesNotExist,
    ResourceConflict,
    ServiceUnavailable,
)
from ekiden.core.functions import (
    EventSourceMapping,
    FunctionInvoker,
    FunctionSpec,
    InvocationType,
    InvokeResult,
    MappingStore,
)
from ekiden.core.ids import new_request_id, parse_sqs_arn
from ekiden.core.rules.mappings import (
    MappingChanges,
    apply_changes,
    check_supported,
    check_visibility,
)
from ekiden.core.services.function_invoke import AsyncInvocations, check_payload
from ekiden.core.services.messages import MessageService
from ekiden.core.services.queues import Queue, QueueService

log = logging.getLogger("ekiden.functions")

MappingListener = Callable[[Sequence[EventSourceMapping]], None]

DECLARED_MAPPING_NAMESPACE: Final = uuid_module.UUID("2f6b1c52-8f0e-4c1a-a7a4-3d1f0b6e9c21")
"""The uuid5 namespace of declared mappings' ids. Never change it (a restart would see
every declared mapping as new); ``ekiden worker`` (``ekiden.cli.functions``) must derive
the same ids."""

_NO_SUCH_QUEUE: Final = (
    "Error occurred while ReceiveMessage. SQS Error Code: "
    "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does "
    "not exist."
)
_RECOMMENDED_VISIBILITY_FACTOR: Final = 6  # AWS: queue visibility >= 6 x function timeout


def declared_mapping_uuid(function_name: str, queue_arn: str) -> str:
    """The stable id of the config-declared mapping of ``function_name`` and ``queue_arn``."""
    return str(uuid_module.uuid5(DECLARED_MAPPING_NAMESPACE, f"{function_name}\n{queue_arn}"))


class FunctionsService:
    """Functions and event source mappings, as the Lambda API front end and the runtime
    see them.

    ``invoker`` is ``None`` until the server has started the runtime; Invoke then
    answers ``ServiceUnavailable``. ``sleep`` replaces ``asyncio.sleep`` for the waits
    between asynchronous retries (tests).
    """

    def __init__(
        self,
        functions: Sequence[FunctionSpec],
        store: MappingStore,
        broker_queues: QueueService,
        messages: MessageService,
        clock: Clock,
        account_id: str,
        region: str,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._functions = {function.name: function for function in functions}
        self._store = store
        self._queues = broker_queues
        self._clock = clock
        self.account_id = account_id
        self.region = region
        self.invoker: FunctionInvoker | None = None
        self._mappings: dict[str, EventSourceMapping] = {}  # insertion order = oldest first
        self._listeners: list[MappingListener] = []
        # A change checks for a duplicate, then writes: one change at a time, or two
        # concurrent creates of one function and queue would both pass the check.
        self._lock = asyncio.Lock()
        self._async = AsyncInvocations(messages, account_id, sleep)
        self._stopped = False

    # --- lifecycle -------------------------------------------------------------------

    async def start(self, declared: Sequence[EventSourceMapping] = ()) -> None:
        """Load the stored mappings and apply the declared ones.

        A declared mapping may name its queue by name or ARN; a missing queue is created
        (FIFO when its name ends in ``.fifo``; with a visibility timeout of six times the
        function's timeout when the default 30 s is shorter than the function's
        timeout). Its uuid is ``declared_mapping_uuid``; it is validated as an API
        request would be and stored with ``declared=True`` (an API-created mapping of
        the same function and queue is replaced). Stored declared mappings no longer in
        the config are deleted. Raises ``ValueError`` naming the bad declaration.
        Listeners hear the resulting mappings once.
        """
        async with self._lock:
            self._mappings = {m.uuid: m for m in await self._store.list_mappings()}
            wanted: set[str] = set()
            for item in declared:
                wanted.add(await self._declare(item))
            for mapping in list(self._mappings.values()):
                if mapping.declared and mapping.uuid not in wanted:
                    await self._store.delete_mapping(mapping.uuid)
                    del self._mappings[mapping.uuid]
            self._notify()

    async def stop(self) -> None:
        """Cancel pending asynchronous invocations: they live in memory only, so an
        event accepted by Invoke but not yet run (or waiting for a retry) is lost."""
        self._stopped = True
        await self._async.stop()

    def add_listener(self, listener: MappingListener) -> None:
        """Call ``listener`` with every mapping (oldest first) after each change."""
        self._listeners.append(listener)

    @property
    def pending_async_invocations(self) -> int:
        return self._async.pending

    # --- functions -------------------------------------------------------------------

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"

    def get_function(self, name_or_arn: str) -> FunctionSpec:
        """The function a name, ARN or partial ARN (``ACCOUNT:function:NAME``) names; a
        ``$LATEST`` qualifier is accepted. Raises ``FunctionDoesNotExist`` worded as
        Lambda: ``Function not found: <function ARN>``."""
        name = self._function_name(name_or_arn)
        function = None if name is None else self._functions.get(name)
        if function is None:
            arn = name_or_arn if name_or_arn.startswith("arn:") else None
            raise FunctionDoesNotExist(
                f"Function not found: {arn or self.function_arn(name_or_arn)}"
            )
        return function

    def list_functions(self) -> list[FunctionSpec]:
        """Every declared function, by name."""
        return [self._functions[name] for name in sorted(self._functions)]

    def _function_name(self, name_or_arn: str) -> str | None:
        """The bare function name of a name, ARN or partial ARN, or ``None`` when it is of
        another account or region or has a qualifier other than ``$LATEST``."""
        parts = name_or_arn.split(":")
        if parts[0] == "arn":
            if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function":
                return None
            if parts[3] != self.region or parts[4] != self.account_id:
                return None
            name, qualifier = parts[6], parts[7] if len(parts) == 8 else None
        elif len(parts) in (3, 4) and parts[1] == "function":
            if parts[0] != self.account_id:
                return None
            name, qualifier = parts[2], parts[3] if len(parts) == 4 else None
        elif len(parts) in (1, 2):
            name, qualifier = parts[0], parts[1] if len(parts) == 2 else None
        else:
            return None
        if qualifier is not None and qualifier != "$LATEST":
            return None
        return name

    def _mapping_function(self, name_or_arn: str | None) -> FunctionSpec:
        """The function of a mapping request; Lambda refuses an unknown one as an
        invalid parameter (not as a missing resource)."""
        name = None if name_or_arn is None else self._function_name(name_or_arn)
        function = None if name is None else self._functions.get(name)
        if function is None:
            raise InvalidParameterValue("Function does not exist")
        return function

    # --- mappings --------------------------------------------------------------------

    async def create_mapping(self, changes: MappingChanges) -> EventSourceMapping:
        """Create a mapping (CreateEventSourceMapping).

        ``changes.function_name`` may be a name or an ARN; ``event_source_arn`` must
        name an existing queue of this account and region. Raises
        ``InvalidParameterValue`` (unknown function or queue, values out of range, queue
        visibility timeout shorter than the function timeout, ...) and
        ``ResourceConflict`` when the function already has a mapping of that queue.
        """
        async with self._lock:
            check_supported(changes.unsupported)
            function = self._mapping_function(changes.function_name)
            queue = await self._source_queue(changes.event_source_arn)
            mapping = apply_changes(
                None,
                dataclasses.replace(
                    changes, function_name=function.name, event_source_arn=queue.arn
                ),
                queue_is_fifo=queue.record.is_fifo,
                uuid=str(uuid_module.uuid4()),
                now_ms=self._clock.now_ms(),
                declared=False,
            )
            check_visibility(queue.settings.visibility_timeout_s, function.timeout_s)
            self._check_unique(mapping)
            await self._store.put_mapping(mapping)
            self._mappings[mapping.uuid] = mapping
            self._notify()
            return mapping

    async def update_mapping(self, uuid: str, changes: MappingChanges) -> EventSourceMapping:
        """Change a mapping (UpdateEventSourceMapping): absent fields keep their values;
        the combined rules are checked on the result. A new function must exist, must not
        already have a mapping of the queue, and may not run longer than the queue hides
        a message. Raises ``MappingDoesNotExist``, ``InvalidParameterValue``,
        ``ResourceConflict``. (A declared mapping may be changed too; the next start
        re-applies the config.)"""
        async with self._lock:
            check_supported(changes.unsupported)
            base = self._mapping(uuid)
            function_name = base.function_name
            new_function: FunctionSpec | None = None
            if changes.function_name is not None:
                new_function = self._mapping_function(changes.function_name)
                function_name = new_function.name
            queue = await self._queues.get_by_arn(base.event_source_arn)
            # A mapping outlives its queue (Lambda keeps it, failing to poll); the queue
            # type then follows from the name.
            fifo = queue.record.is_fifo if queue else base.event_source_arn.endswith(".fifo")
            mapping = apply_changes(
                base,
                dataclasses.replace(changes, function_name=function_name),
                queue_is_fifo=fifo,
                now_ms=self._clock.now_ms(),
            )
            if new_function is not None and function_name != base.function_name:
                if queue is not None:
                    check_visibility(queue.settings.visibility_timeout_s, new_function.timeout_s)
                self._check_unique(mapping)
            await self._store.put_mapping(mapping)
            self._mappings[uuid] = mapping
            self._notify()
            return mapping

    async def delete_mapping(self, uuid: str) -> EventSourceMapping:
        """Delete a mapping and return it as it was. Raises ``MappingDoesNotExist``."""
        async with self._lock:
            mapping = self._mapping(uuid)
            await self._store.delete_mapping(uuid)
            del self._mappings[uuid]
            self._notify()
            return mapping

    def get_mapping(self, uuid: str) -> EventSourceMapping:
        """The mapping with ``uuid``. Raises ``MappingDoesNotExist``."""
        return self._mapping(uuid)

    def list_mappings(
        self, *, function_name: str | None = None, event_source_arn: str | None = None
    ) -> list[EventSourceMapping]:
        """Mappings, oldest first, of one function (name or ARN) and/or one queue ARN."""
        name = None if function_name is None else self._function_name(function_name)
        if function_name is not None and name is None:
            return []
        return [
            m
            for m in self._mappings.values()
            if (name is None or m.function_name == name)
            and (event_source_arn is None or m.event_source_arn == event_source_arn)
        ]

    def _mapping(self, uuid: str) -> EventSourceMapping:
        mapping = self._mappings.get(uuid)
        if mapping is None:
            raise MappingDoesNotExist("The resource you requested does not exist.")
        return mapping

    def _check_unique(self, mapping: EventSourceMapping) -> None:
        for other in self._mappings.values():
            if (
                other.uuid != mapping.uuid
                and other.function_name == mapping.function_name
                and other.event_source_arn == mapping.event_source_arn
            ):
                raise ResourceConflict(
                    f'An event source mapping with SQS arn (" {other.event_source_arn} ") '
                    f'and function (" {other.function_name} ") already exists. Please update '
                    f"or delete the existing mapping with UUID {other.uuid}"
                )

    async def _source_queue(self, arn: str | None) -> Queue:
        if not arn:
            raise InvalidParameterValue("Unrecognized event source.")
        parsed = parse_sqs_arn(arn)
        if parsed is None:
            raise InvalidParameterValue(
                "Unrecognized event source, must be kinesis, dynamodb stream or sqs. "
                f"Unsupported source arn : {arn}"
            )
        queue = None
        if parsed.region == self.region:
            queue = await self._queues.get_by_arn(arn)
        if queue is None:
            raise InvalidParameterValue(_NO_SUCH_QUEUE)
        return queue

    def _notify(self) -> None:
        mappings = list(self._mappings.values())
        for listener in self._listeners:
            try:
                listener(mappings)
            except Exception:  # the change is committed; a listener cannot undo it
                log.exception("event source mapping listener failed")

    # --- declared mappings -----------------------------------------------------------

    async def _declare(self, item: EventSourceMapping) -> str:
        """Validate and store one declared mapping; its uuid."""
        what = (
            f"declared event source mapping of {item.function_name!r} and {item.event_source_arn!r}"
        )
        function = self._functions.get(item.function_name)
        if function is None:
            raise ValueError(f"{what}: no function {item.function_name!r} is declared")
        try:
            queue = await self._declared_queue(item.event_source_arn, function)
            uuid = declared_mapping_uuid(function.name, queue.arn)
            changes = MappingChanges(
                function_name=function.name,
                event_source_arn=queue.arn,
                enabled=item.enabled,
                batch_size=item.batch_size,
                maximum_batching_window_s=item.maximum_batching_window_s,
                function_response_types=item.function_response_types,
                filter_patterns=item.filter_patterns,
                maximum_concurrency=item.maximum_concurrency,
            )
            mapping = apply_changes(
                None,
                changes,
                queue_is_fifo=queue.record.is_fifo,
                uuid=uuid,
                now_ms=self._clock.now_ms(),
                declared=True,
            )
            check_visibility(queue.settings.visibility_timeout_s, function.timeout_s)
        except EkidenError as error:
            raise ValueError(f"{what}: {error.message}") from error
        existing = self._mappings.get(uuid)
        if existing is not None and dataclasses.replace(
            existing, last_modified_ms=0
        ) == dataclasses.replace(mapping, last_modified_ms=0):
            return uuid  # unchanged since the last start: keep its LastModified
        for other in list(self._mappings.values()):
            if (
                other.uuid != uuid
                and other.function_name == mapping.function_name
                and other.event_source_arn == mapping.event_source_arn
            ):
                log.warning(
                    "the config declares the event source mapping %s of %s and %s: it "
                    "replaces mapping %s, created through the API",
                    uuid,
                    function.name,
                    queue.arn,
                    other.uuid,
                )
                await self._store.delete_mapping(other.uuid)
                del self._mappings[other.uuid]
        await self._store.put_mapping(mapping)
        self._mappings[uuid] = mapping
        return uuid

    async def _declared_queue(self, name_or_arn: str, function: FunctionSpec) -> Queue:
        name = name_or_arn
        if name_or_arn.startswith("arn:"):
            parsed = parse_sqs_arn(name_or_arn)
            if (
                parsed is None
                or parsed.region != self.region
                or parsed.account_id != self.account_id
            ):
                raise InvalidParameterValue(
                    f"{name_or_arn} is not the ARN of a queue of this broker "
                    f"(account {self.account_id}, region {self.region})"
                )
            name = parsed.resource
        try:
            return await self._queues.get(name)
        except QueueDoesNotExist:
            pass
        attributes: dict[str, str] = {}
        if name.endswith(".fifo"):
            attributes["FifoQueue"] = "true"
        if function.timeout_s > limits.DEFAULT_VISIBILITY_TIMEOUT_S:
            visibility = min(
                function.timeout_s * _RECOMMENDED_VISIBILITY_FACTOR,
                limits.MAX_VISIBILITY_TIMEOUT_S,
            )
            attributes["VisibilityTimeout"] = str(visibility)
        return await self._queues.create(name, attributes, {})

    # --- invoke ----------------------------------------------------------------------

    async def invoke(
        self,
        name_or_arn: str,
        payload: bytes,
        *,
        invocation_type: InvocationType,
        client_context: str | None = None,
        request_id: str | None = None,
    ) -> InvokeResult | None:
        """Invoke a function (Lambda's Invoke).

        ``RequestResponse`` runs it and returns its result; a function at its
        concurrency limit raises ``TooManyRequests`` (Lambda's 429) rather than wait.
        ``Event`` checks the request, schedules the run in the background and returns
        ``None`` at once: a failed run is retried (``retry_delay_s``) and, failing every
        attempt, sent to the function's ``on_failure_queue``; ``client_context`` is not
        passed on (Lambda passes it to synchronous invocations only). ``DryRun`` checks
        only and returns ``None``. ``request_id`` names the invocation (generated when
        absent).

        Raises ``FunctionDoesNotExist``, ``MessageTooLong`` (payload over 6 MB, or 1 MB
        for Event: Lambda's RequestTooLargeException / RequestEntityTooLargeException),
        ``MalformedRequest`` (payload not JSON: Lambda's InvalidRequestContentException),
        ``InvalidParameterValue`` (unknown invocation type) and ``ServiceUnavailable``
        (no runtime, or stopping).
        """
        function = self.get_function(name_or_arn)
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[Event, RequestResponse, DryRun]"
            )
        payload = check_payload(payload, asynchronous=invocation_type == "Event")
        if invocation_type == "DryRun":
            return None
        invoker = self.invoker
        if invoker is None or self._stopped:
            raise ServiceUnavailable("The function runtime is not running.")
        if invocation_type == "Event":
            self._async.schedule(invoker, function, payload, request_id or new_request_id())
            return None
        return await invoker.invoke(
            function,
            payload,
            request_id=request_id,
            client_context=client_context,
            wait_for_capacity=False,
        )
