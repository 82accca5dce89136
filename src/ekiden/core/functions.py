"""Functions and event source mappings: the shared vocabulary of the Lambda-style runtime.

A *function* is declared by the operator (``ekiden.toml``, ``[functions.NAME]``): a Python
handler (``module:function``) imported from a code directory, run in warm worker
processes. An *event source mapping* ties a function to an SQS queue: the runtime polls
the queue, hands batches to the function, deletes what succeeded and leaves the rest to
reappear. Mappings come from the config file or from the Lambda API
(CreateEventSourceMapping ...) and persist in the store.

This module holds data and protocols only: the service (``ekiden.core.services.functions``)
validates and stores mappings, the runtime (``ekiden.runtime``) runs them, the server wires
an invoker (the runtime's worker pool) into the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, Protocol

REPORT_BATCH_ITEM_FAILURES: Final = "ReportBatchItemFailures"
"""The one FunctionResponseTypes value SQS mappings accept."""

DEFAULT_FUNCTION_TIMEOUT_S: Final = 3
"""Lambda's default function timeout."""

DEFAULT_MEMORY_MB: Final = 128
"""Lambda's default memory size; a label here (reported, not enforced)."""

InvocationType = Literal["RequestResponse", "Event", "DryRun"]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A declared function.

    Attributes:
        name: the function name (``[A-Za-z0-9_-]{1,64}``).
        handler: ``module:function`` (Lambda's ``module.function`` is accepted too);
            the module is imported from ``code``.
        code: directory prepended to the handler process's import path (a string: core
            does no file I/O; the runtime resolves it).
        timeout_s: seconds an invocation may run before its process is killed (1-900).
        memory_mb: memory size reported to the handler's context (128-10240); a label.
        environment: extra environment variables of the handler processes.
        reserved_concurrency: at most this many invocations at once; ``None``: only the
            runtime's cap applies.
        description: free text shown by GetFunction/ListFunctions.
        maximum_retry_attempts: retries of a failed asynchronous invocation (0-2), as
            Lambda's MaximumRetryAttempts.
        async_retry_delay_s: wait before the first retry of an asynchronous invocation;
            each further retry waits twice as long (Lambda: 60 s, then 120 s).
        on_failure_queue: queue name or ARN that receives asynchronous invocations which
            failed every attempt (Lambda's DeadLetterConfig); ``None``: dropped and logged.
    """

    name: str
    handler: str
    code: str = "."
    timeout_s: int = DEFAULT_FUNCTION_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    environment: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    description: str = ""
    maximum_retry_attempts: int = 2
    async_retry_delay_s: float = 60.0
    on_failure_queue: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "environment", MappingProxyType(dict(self.environment)))

    @property
    def module_and_function(self) -> tuple[str, str]:
        """The handler split into (module, function): ``a.b:f`` and ``a.b.f`` both give
        ``("a.b", "f")``."""
        if ":" in self.handler:
            module, _, function = self.handler.rpartition(":")
        else:
            module, _, function = self.handler.rpartition(".")
        return module, function


@dataclass(frozen=True, slots=True)
class EventSourceMapping:
    """An SQS queue feeding a function, as the Lambda API shows it.

    Attributes:
        uuid: the mapping's id (a UUID; config-declared mappings get a stable one derived
            from function and queue so a restart finds the same mapping).
        function_name: name of a declared function.
        event_source_arn: the queue's ARN.
        batch_size: most records per invocation (1-10,000; FIFO 1-10). Default 10.
        maximum_batching_window_s: how long to gather records before invoking (0-300;
            none on FIFO). Default 0.
        function_response_types: ``()`` or ``("ReportBatchItemFailures",)``.
        filter_patterns: the ``Pattern`` strings of FilterCriteria.Filters (at most 5);
            records matching none of them are deleted without an invocation.
        maximum_concurrency: ScalingConfig.MaximumConcurrency (2-1,000) or ``None``.
        enabled: whether the runtime polls it.
        last_modified_ms: when it was created or last updated.
        declared: it comes from the config file (re-applied at every start).
    """

    uuid: str
    function_name: str
    event_source_arn: str
    batch_size: int = 10
    maximum_batching_window_s: int = 0
    function_response_types: tuple[str, ...] = ()
    filter_patterns: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    enabled: bool = True
    last_modified_ms: int = 0
    declared: bool = False

    @property
    def reports_batch_item_failures(self) -> bool:
        return REPORT_BATCH_ITEM_FAILURES in self.function_response_types

    @property
    def state(self) -> str:
        """The ``State`` the Lambda API shows."""
        return "Enabled" if self.enabled else "Disabled"


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """What one invocation produced.

    Attributes:
        request_id: the invocation's request id (the context's ``aws_request_id``).
        payload: the handler's return value as JSON (``null`` for ``None``), or, when
            ``function_error`` is set, Lambda's error document
            ``{"errorMessage": ..., "errorType": ..., "requestId": ..., "stackTrace": [...]}``.
        function_error: ``None`` on success, else ``"Unhandled"`` (the handler raised,
            timed out, or its process died).
        log_tail: the invocation's log output (START ... REPORT), at most the last 4 KiB,
            as ``Invoke`` with ``LogType=Tail`` returns it.
        duration_ms: how long the handler ran.
        timed_out: the handler exceeded the function's timeout and was killed.
    """

    request_id: str
    payload: bytes
    function_error: str | None = None
    log_tail: str = ""
    duration_ms: float = 0.0
    timed_out: bool = False


class FunctionInvoker(Protocol):
    """Runs handlers: implemented by the runtime's worker pool."""

    async def invoke(
        self,
        function: FunctionSpec,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        wait_for_capacity: bool = True,
    ) -> InvokeResult:
        """Invoke ``function`` with the JSON ``payload`` and return its result.

        Waits for a free worker while the function is at its concurrency limit, unless
        ``wait_for_capacity`` is false: then raises ``ekiden.core.errors.TooManyRequests``.
        Never raises for what the handler does (errors, timeouts, crashes are results).
        """
        ...


class MappingStore(Protocol):
    """Durable event source mappings (few: all of them fit in memory). Each method is one
    atomic, durable transition."""

    async def put_mapping(self, mapping: EventSourceMapping) -> None:
        """Insert or replace the mapping with ``mapping.uuid``."""
        ...

    async def delete_mapping(self, uuid: str) -> bool:
        """Delete it; whether it existed."""
        ...

    async def list_mappings(self) -> list[EventSourceMapping]:
        """Every stored mapping, oldest first."""
        ...
