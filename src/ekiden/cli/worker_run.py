"""The body of ``ekiden worker`` (see :mod:`ekiden.cli.worker`): resolve the declared
mappings' queues, check the mappings, run the runtime until a signal, close gracefully.

Kept apart from the argument parsing so that loading the ``ekiden`` command does not load
the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit

from ekiden.bench.sigv4 import Credentials
from ekiden.cli.functions import declared_functions
from ekiden.config import ConfigError, MappingDeclaration, Settings
from ekiden.core.errors import InvalidParameterValue
from ekiden.core.functions import REPORT_BATCH_ITEM_FAILURES, EventSourceMapping, FunctionSpec
from ekiden.core.rules.mappings import MappingChanges, apply_changes, check_visibility
from ekiden.core.services.functions import declared_mapping_uuid
from ekiden.runtime.log_sinks import file_sink
from ekiden.runtime.pool import WorkerPool
from ekiden.runtime.sqs_client import SqsClient, SqsError
from ekiden.runtime.supervisor import Runtime

__all__ = ["EXIT_FAILED", "WorkerFailed", "run_worker"]

log = logging.getLogger("ekiden.worker")

EXIT_FAILED: Final = 1
_MISSING_QUEUE_CODES: Final = frozenset(
    {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"}
)
_RETRY_FIRST_S: Final = 0.5
_RETRY_MAX_S: Final = 30.0
# SQS's default visibility timeout; a queue the worker creates gets at least the
# function's timeout, as Lambda refuses a queue that hides a message for less.
_DEFAULT_VISIBILITY_TIMEOUT_S: Final = 30
_CLOSE_GRACE_S: Final = 2.0

T = TypeVar("T")
_Call = Callable[[], Awaitable[T]]


class _Stopped(Exception):
    """A signal arrived while the worker was still starting."""


class WorkerFailed(Exception):
    """The endpoint refused what the worker needs to start (exit status 1)."""


def run_worker(
    settings: Settings,
    endpoint_url: str,
    *,
    credentials: Credentials | None = None,
    ca_file: Path | None = None,
) -> int:
    """Run the declared mappings of ``settings`` against ``endpoint_url`` until SIGTERM or
    SIGINT; return the exit status (0 stopped by a signal, 1 :class:`WorkerFailed`,
    128 + the signal's number when a second signal cut the graceful stop short and
    killed the batches in flight).

    Raises:
        ConfigError: ``endpoint_url`` is not an http(s) URL, or a declared mapping breaks
            Lambda's rules for its queue.
    """
    try:
        sqs = SqsClient(
            endpoint_url, region=settings.region, credentials=credentials, ca_file=ca_file
        )
    except ValueError as exc:
        raise ConfigError(f"--endpoint: {exc}") from None
    try:
        return asyncio.run(_work(settings, sqs))
    except WorkerFailed as exc:
        log.error("%s", exc)
        return EXIT_FAILED


@dataclass(frozen=True, slots=True)
class _Queue:
    arn: str
    fifo: bool
    visibility_timeout_s: int | None  # None: not known (an ARN whose queue is missing)


@dataclass(slots=True)
class _Signals:
    """The first SIGTERM/SIGINT sets ``stopping`` (graceful stop); a second one sets
    ``aborting`` and is remembered in ``second`` (the exit status is 128 + it)."""

    stopping: asyncio.Event
    aborting: asyncio.Event
    second: int = 0

    def received(self, signum: int) -> None:
        if not self.stopping.is_set():
            self.stopping.set()
            return
        if not self.aborting.is_set():
            self.second = signum
            self.aborting.set()


async def _work(settings: Settings, sqs: SqsClient) -> int:
    loop = asyncio.get_running_loop()
    signals = _Signals(asyncio.Event(), asyncio.Event())
    stopping = signals.stopping
    # The handlers stay installed: a second signal must also kill the handler processes
    # (they run in sessions of their own, so the default action would orphan them, still
    # running their batches).
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signals.received, int(sig))
    try:
        functions = declared_functions(settings)
        try:
            mappings = [
                await _until_stopped(_mapping(sqs, settings, declaration, functions), stopping)
                for declaration in settings.event_source_mappings
            ]
        except _Stopped:
            log.info("stopped before polling began")
            return 0
        await _poll(settings, sqs, functions, mappings, signals)
        return 128 + signals.second if signals.second else 0
    finally:
        await sqs.close()


async def _poll(
    settings: Settings,
    sqs: SqsClient,
    functions: Mapping[str, FunctionSpec],
    mappings: list[EventSourceMapping],
    signals: _Signals,
) -> None:
    account_id = mappings[0].event_source_arn.split(":")[4] if mappings else settings.account_id
    with contextlib.ExitStack() as files:
        sink: Callable[[str], None] | None = None
        if settings.runtime.log_file is not None:
            sink = _file_sink(files, settings.runtime.log_file)
        pool = WorkerPool(
            region=settings.region,
            account_id=account_id,
            max_processes=settings.runtime.max_processes,
            log_sink=sink,
            # Handlers reach ekiden's SQS/SNS/Lambda through it; real AWS needs nothing.
            endpoint_url=None if _is_aws(sqs.endpoint_url) else sqs.endpoint_url,
        )
        runtime = Runtime(
            sqs=sqs,
            invoker=pool,
            functions=functions,
            region=settings.region,
            max_concurrency=settings.runtime.max_concurrency,
        )
        try:
            runtime.apply(mappings)
            enabled = sum(1 for m in mappings if m.enabled)
            log.info(
                "ekiden worker %s polling %d mappings on %s (%d disabled, %d functions)",
                _version(),
                enabled,
                sqs.endpoint_url,
                len(mappings) - enabled,
                len(functions),
            )
            await signals.stopping.wait()
            log.info("stopping: no new batches; batches in flight may run to their timeout")
            closing = asyncio.ensure_future(runtime.close())
            aborting = asyncio.ensure_future(signals.aborting.wait())
            await asyncio.wait({closing, aborting}, return_when=asyncio.FIRST_COMPLETED)
            aborting.cancel()
            if not closing.done():
                log.warning("second signal: killing the batches in flight (they will reappear)")
                await pool.close(0)  # their invocations now end at once, as failures
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(closing), _CLOSE_GRACE_S)
                closing.cancel()
                await asyncio.gather(closing, return_exceptions=True)
            else:
                closing.result()
        finally:
            # The runtime has waited for its batches; this only ends idle processes (and
            # kills stragglers should the runtime have been interrupted).
            longest = max((f.timeout_s for f in functions.values()), default=0)
            await pool.close(0 if signals.aborting.is_set() else longest + _CLOSE_GRACE_S)
    log.info("stopped")


def _is_aws(endpoint_url: str) -> bool:
    host = urlsplit(endpoint_url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def _file_sink(files: contextlib.ExitStack, path: Path) -> Callable[[str], None]:
    try:
        return file_sink(files, path)
    except OSError as exc:
        raise ConfigError(f"[runtime] log_file {path}: cannot be opened: {exc.strerror}") from None


async def _until_stopped(work: Awaitable[T], stopping: asyncio.Event) -> T:
    """``work``'s result, unless a signal comes first (then :class:`_Stopped`)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise _Stopped
    return task.result()


async def _mapping(
    sqs: SqsClient,
    settings: Settings,
    declaration: MappingDeclaration,
    functions: Mapping[str, FunctionSpec],
) -> EventSourceMapping:
    """The mapping of ``declaration``, its queue resolved (or created) and checked."""
    function = functions[declaration.function]  # config checked that it is declared
    queue = await _queue(sqs, settings, declaration.queue, function)
    changes = MappingChanges(
        function_name=declaration.function,
        event_source_arn=queue.arn,
        enabled=declaration.enabled,
        batch_size=declaration.batch_size,
        maximum_batching_window_s=declaration.maximum_batching_window_s,
        function_response_types=(
            (REPORT_BATCH_ITEM_FAILURES,) if declaration.report_batch_item_failures else ()
        ),
        filter_patterns=declaration.filters,
        maximum_concurrency=declaration.maximum_concurrency,
    )
    uuid = declared_mapping_uuid(declaration.function, queue.arn)
    try:
        mapping = apply_changes(None, changes, queue_is_fifo=queue.fifo, uuid=uuid, declared=True)
        if queue.visibility_timeout_s is not None:
            check_visibility(queue.visibility_timeout_s, function.timeout_s)
    except InvalidParameterValue as exc:
        raise ConfigError(
            f"event source mapping of function {declaration.function!r} to queue "
            f"{declaration.queue!r}: {exc.message}"
        ) from None
    return mapping


async def _queue(sqs: SqsClient, settings: Settings, queue: str, function: FunctionSpec) -> _Queue:
    is_arn = queue.startswith("arn:")
    name = queue.rsplit(":", 1)[-1] if is_arn else queue
    if is_arn and queue.split(":")[3:4] != [settings.region]:
        raise ConfigError(
            f"event source mapping of function {function.name!r} to queue {queue!r}: the "
            f"queue is not in the worker's region {settings.region} (set --region)"
        )
    try:
        url = await _retrying(lambda: sqs.get_queue_url(name), f"GetQueueUrl {name}")
    except SqsError as error:
        if not _is_missing(error):
            raise WorkerFailed(f"queue {queue}: {error}") from None
        if is_arn:
            # Not ours to create (it may live in another account); the runtime waits for it.
            log.warning("queue %s does not exist (yet); its mapping waits for it", queue)
            return _Queue(queue, name.endswith(".fifo"), None)
        attributes = _creation_attributes(settings, name, function)
        try:
            url = await _retrying(lambda: sqs.create_queue(name, attributes), f"CreateQueue {name}")
        except SqsError as create_error:
            raise WorkerFailed(f"queue {name} cannot be created: {create_error}") from None
        log.info("created queue %s", url)
    try:
        found = await _retrying(
            lambda: sqs.get_queue_attributes(url, ("QueueArn", "FifoQueue", "VisibilityTimeout")),
            f"GetQueueAttributes {name}",
        )
    except SqsError as error:
        raise WorkerFailed(f"queue {queue}: {error}") from None
    visibility = found.get("VisibilityTimeout", "")
    found_arn = found.get("QueueArn") or queue
    if is_arn and found_arn != queue:
        # GetQueueUrl looks a name up in the caller's own account and region: polling the
        # queue it found would silently feed the function from another queue.
        raise ConfigError(
            f"event source mapping of function {function.name!r} to queue {queue!r}: the "
            f"endpoint's queue of that name is {found_arn} (another account or region); "
            "the worker polls only queues of its credentials' account and region"
        )
    return _Queue(
        arn=found_arn,
        fifo=found.get("FifoQueue", "false").lower() == "true" or name.endswith(".fifo"),
        visibility_timeout_s=int(visibility) if visibility.isdigit() else None,
    )


def _creation_attributes(settings: Settings, name: str, function: FunctionSpec) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for declared in settings.queues:
        if declared.name == name:
            attributes.update(declared.attributes)
    if name.endswith(".fifo"):
        attributes.setdefault("FifoQueue", "true")
    if function.timeout_s > _DEFAULT_VISIBILITY_TIMEOUT_S:
        attributes.setdefault("VisibilityTimeout", str(function.timeout_s))
    return attributes


def _is_missing(error: SqsError) -> bool:
    return error.code in _MISSING_QUEUE_CODES or error.query_code in _MISSING_QUEUE_CODES


async def _retrying(call: _Call[T], what: str) -> T:
    """``call()``, tried again with a growing pause while the endpoint is unreachable or
    busy (a worker may start before its broker); other errors are raised."""
    pause_s = _RETRY_FIRST_S
    warned = False
    while True:
        try:
            return await call()
        except SqsError as error:
            if not error.retryable:
                raise
            if not warned:
                log.warning("%s: %s; retrying", what, error)
                warned = True
        await asyncio.sleep(pause_s)
        pause_s = min(_RETRY_MAX_S, pause_s * 2)


def _version() -> str:
    try:
        return metadata.version("ekiden")
    except metadata.PackageNotFoundError:  # running from a source tree, not installed
        return "unknown"
