"""Wiring of functions inside ``ekiden serve``: the functions service (Lambda API, SNS
``lambda`` subscriptions), the worker pool that runs handlers, and the runtime that
polls the mapped queues.

The runtime talks to this very server over HTTP (loopback), exactly as ``ekiden worker``
talks to a remote one: one code path for both, and the runtime never reaches into the
store. The pool exists whenever functions are declared (Invoke and SNS need it); the
pollers run only when ``[runtime] enabled`` (``--no-runtime`` turns them off, e.g. when
``ekiden worker`` processes elsewhere do the polling).

With TLS (``tls_cert``) the runtime connects over https and verifies the server's
certificate like any client: :func:`ekiden.server.tls.loopback_route` finds, by real
handshakes at startup, the host name (bound address, ``127.0.0.1`` or ``localhost``) and
trust store (the certificate file, or the system's) under which it verifies; when none
does, the server refuses to start with a message saying what the certificate lacks.

Shutdown order matters: the pollers stop first (their batches in flight finish and
delete their messages through the still-running HTTP server), then the pool, then the
service's pending asynchronous invocations.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ekiden.cli.functions import declared_functions, declared_mappings
from ekiden.config import Settings
from ekiden.core.clock import Clock
from ekiden.core.figures import FunctionStats, MappingStats
from ekiden.core.services.broker import Broker
from ekiden.core.services.functions import FunctionsService
from ekiden.runtime.log_sinks import file_sink
from ekiden.runtime.pool import WorkerPool
from ekiden.runtime.sqs_client import Credentials, SqsClient
from ekiden.runtime.supervisor import Runtime
from ekiden.server.tls import loopback_route
from ekiden.store.sqlite.mappings import SqliteMappingStore
from ekiden.store.sqlite.writer import GroupCommitWriter

log = logging.getLogger("ekiden.server")

_POOL_CLOSE_GRACE_S: Final = 5.0
_WILDCARD_HOSTS: Final = ("", "0.0.0.0", "::")


@dataclass(slots=True)
class FunctionsWiring:
    """The functions service and, once :meth:`start_runtime` ran, the pool and pollers."""

    settings: Settings
    service: FunctionsService
    pool: WorkerPool | None = None
    runtime: Runtime | None = None
    sqs: SqsClient | None = None
    _files: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    async def start_runtime(self, port: int) -> None:
        """Start the pool (when functions are declared) and, when enabled, the pollers
        of every enabled mapping, against this server on ``port``."""
        functions = {f.name: f for f in self.service.list_functions()}
        if not functions:
            return
        settings = self.settings
        host = "127.0.0.1" if settings.host in _WILDCARD_HOSTS else settings.host
        if ":" in host:
            host = f"[{host}]"
        endpoint = f"http://{host}:{port}"
        ca_file = None
        if settings.tls_cert is not None:
            endpoint = f"https://{host}:{port}"
            if settings.runtime.enabled:
                # 127.0.0.1 reaches a wildcard or loopback bind; the certificate may name
                # only "localhost" instead.
                bare = host.strip("[]")
                hosts = [bare, "localhost"] if bare == "127.0.0.1" else [bare]
                route = await loopback_route(hosts, port, settings.tls_cert)
                endpoint, ca_file = route.endpoint(port), route.ca_file
                log.info(
                    "functions: the runtime connects to %s, trusting %s",
                    endpoint,
                    ca_file or "the system's CA certificates",
                )
        sink = None
        if settings.runtime.log_file is not None:
            try:
                sink = file_sink(self._files, settings.runtime.log_file)
            except OSError as error:
                raise ValueError(
                    f"[runtime] log_file {settings.runtime.log_file}: {error.strerror}"
                ) from None
        self.pool = WorkerPool(
            region=settings.region,
            account_id=settings.account_id,
            max_processes=settings.runtime.max_processes,
            log_sink=sink,
            endpoint_url=settings.public_url or endpoint,
        )
        self.service.invoker = self.pool
        if not settings.runtime.enabled:
            log.info("functions: the runtime is off (--no-runtime); Invoke and SNS still run")
            return
        # With auth on, the runtime signs like any client (see runtime_credentials).
        credentials = runtime_credentials(settings)
        self.sqs = SqsClient(
            endpoint, region=settings.region, ca_file=ca_file, credentials=credentials
        )
        self.runtime = Runtime(
            sqs=self.sqs,
            invoker=self.pool,
            functions=functions,
            region=settings.region,
            max_concurrency=settings.runtime.max_concurrency,
        )
        self.service.add_listener(self.runtime.apply)
        self.runtime.apply(self.service.list_mappings())

    def function_figures(self) -> Mapping[str, FunctionStats]:
        """Implements ``ekiden.core.figures.FiguresSource``."""
        return self.pool.stats() if self.pool is not None else {}

    def mapping_figures(self) -> list[MappingStats]:
        """Implements ``ekiden.core.figures.FiguresSource``: the runtime's mappings, or
        (runtime off) the stored ones with empty counters."""
        if self.runtime is not None:
            return self.runtime.stats()
        return [
            MappingStats(m.uuid, m.function_name, m.event_source_arn, state="Disabled")
            for m in self.service.list_mappings()
        ]

    async def stop(self) -> None:
        """Stop polling (batches in flight finish), then the pool and pending async
        invocations. Call it while the HTTP server still answers."""
        if self.runtime is not None:
            await self.runtime.close()
        if self.pool is not None:
            longest = max((f.timeout_s for f in self.service.list_functions()), default=0)
            await self.pool.close(longest + _POOL_CLOSE_GRACE_S)
        await self.service.stop()
        if self.sqs is not None:
            await self.sqs.close()
        self._files.close()


async def start_functions(
    settings: Settings, broker: Broker, writer: GroupCommitWriter, clock: Clock
) -> FunctionsWiring:
    """Build the functions service, load stored mappings and apply the declared ones
    (creating their queues); SNS ``lambda`` subscriptions deliver through it."""
    service = FunctionsService(
        list(declared_functions(settings).values()),
        SqliteMappingStore(writer),
        broker.queues,
        broker.messages,
        clock,
        settings.account_id,
        settings.region,
    )
    await service.start(declared_mappings(settings))
    broker.use_functions(service)
    return FunctionsWiring(settings, service)


def runtime_credentials(settings: Settings) -> Credentials | None:
    """The key the in-process runtime signs its loopback requests with: the first key
    with no ``allow`` rules of the server's own account (it may do everything the
    runtime needs), else the first key, with a warning that a restricted key may get
    the runtime's receives and deletes refused. ``None`` when auth is off."""
    if not settings.auth.enabled or not settings.auth.keys:
        return None
    keys = settings.auth.keys
    own = (settings.account_id, "")
    chosen = next((k for k in keys if k.allow is None and k.account_id in own), None)
    if chosen is None:
        chosen = keys[0]
        log.warning(
            "functions: no unrestricted key of account %s is configured; the runtime signs "
            "with %s, whose rules may refuse its ReceiveMessage/DeleteMessageBatch calls",
            settings.account_id,
            chosen.access_key_id,
        )
    return Credentials(chosen.access_key_id, chosen.secret_access_key)
