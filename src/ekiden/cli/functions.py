"""Declarations of ``ekiden.toml`` turned into the functions vocabulary of ``ekiden.core``.

:mod:`ekiden.config` may import only itself, so it keeps plain values; this module is
where they become :class:`~ekiden.core.functions.FunctionSpec` and
:class:`~ekiden.core.functions.EventSourceMapping` for the service (``ekiden serve``) and
for the runtime (``ekiden worker``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ekiden.config import FunctionDeclaration, MappingDeclaration, Settings
from ekiden.core.functions import REPORT_BATCH_ITEM_FAILURES, EventSourceMapping, FunctionSpec

__all__ = [
    "declared_functions",
    "declared_mappings",
    "function_spec",
    "mapping_from_declaration",
]


def function_spec(declaration: FunctionDeclaration) -> FunctionSpec:
    """The :class:`FunctionSpec` of a ``[functions.NAME]`` table (``code`` as a string)."""
    return FunctionSpec(
        name=declaration.name,
        handler=declaration.handler,
        code=str(declaration.code),
        timeout_s=declaration.timeout_s,
        memory_mb=declaration.memory_mb,
        environment=declaration.environment,
        reserved_concurrency=declaration.reserved_concurrency,
        description=declaration.description,
        maximum_retry_attempts=declaration.maximum_retry_attempts,
        async_retry_delay_s=declaration.async_retry_delay_s,
        on_failure_queue=declaration.on_failure_queue,
    )


def mapping_from_declaration(
    declaration: MappingDeclaration, *, uuid: str = "", event_source_arn: str | None = None
) -> EventSourceMapping:
    """The :class:`EventSourceMapping` of an ``[[event_source_mappings]]`` entry.

    ``declared`` is true. By default ``uuid`` is empty and ``event_source_arn`` holds the
    queue name or ARN as written: the functions service assigns the uuid and resolves the
    queue. ``ekiden worker``, which has no service, passes both.
    """
    return EventSourceMapping(
        uuid=uuid,
        function_name=declaration.function,
        event_source_arn=declaration.queue if event_source_arn is None else event_source_arn,
        batch_size=declaration.batch_size,
        maximum_batching_window_s=declaration.maximum_batching_window_s,
        function_response_types=(
            (REPORT_BATCH_ITEM_FAILURES,) if declaration.report_batch_item_failures else ()
        ),
        filter_patterns=declaration.filters,
        maximum_concurrency=declaration.maximum_concurrency,
        enabled=declaration.enabled,
        declared=True,
    )


def declared_functions(settings: Settings) -> dict[str, FunctionSpec]:
    """Every declared function by name, in file order."""
    return {declaration.name: function_spec(declaration) for declaration in settings.functions}


def declared_mappings(settings: Settings) -> Sequence[EventSourceMapping]:
    """Every declared mapping as the service takes it (no uuid, queue as written)."""
    return tuple(mapping_from_declaration(d) for d in settings.event_source_mappings)
