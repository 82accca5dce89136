"""FunctionSummary of the console API: each declared function with the runtime's figures
of it and of its event source mappings."""

from __future__ import annotations

from typing import Any

from ekiden.core.figures import FiguresSource, FunctionStats, MappingStats
from ekiden.core.functions import EventSourceMapping
from ekiden.core.services.functions import FunctionsService


def function_summaries(functions: FunctionsService, figures: FiguresSource) -> list[dict[str, Any]]:
    """Every declared function, sorted by name, with its counters (zeros for a function
    never invoked) and its mappings (oldest first) with theirs."""
    by_function = figures.function_figures()
    by_mapping = {stats.uuid: stats for stats in figures.mapping_figures()}
    summaries = []
    for spec in sorted(functions.list_functions(), key=lambda f: f.name):
        stats = by_function.get(spec.name) or FunctionStats()
        finished = stats.invocations
        summaries.append(
            {
                "name": spec.name,
                "arn": functions.function_arn(spec.name),
                "handler": spec.handler,
                "timeout_s": spec.timeout_s,
                "memory_mb": spec.memory_mb,
                "description": spec.description,
                "invocations": stats.invocations,
                "errors": stats.errors,
                "throttles": stats.throttles,
                "timeouts": stats.timeouts,
                "concurrency": stats.concurrency,
                "peak_concurrency": stats.peak_concurrency,
                "average_duration_ms": stats.total_duration_ms / finished if finished else None,
                "mappings": [
                    _mapping_json(mapping, by_mapping.get(mapping.uuid))
                    for mapping in functions.list_mappings(function_name=spec.name)
                ],
            }
        )
    return summaries


def _mapping_json(mapping: EventSourceMapping, stats: MappingStats | None) -> dict[str, Any]:
    return {
        "uuid": mapping.uuid,
        "queue_arn": mapping.event_source_arn,
        # The runtime's state when it runs the mapping (Creating, Enabled, ...), else the
        # configured one.
        "state": stats.state if stats is not None else mapping.state,
        "batch_size": mapping.batch_size,
        "maximum_concurrency": mapping.maximum_concurrency,
        "concurrency": stats.concurrency if stats else 0,
        "target_concurrency": stats.target_concurrency if stats else 0,
        "invocations": stats.invocations if stats else 0,
        "function_errors": stats.function_errors if stats else 0,
        "messages_deleted": stats.messages_deleted if stats else 0,
        "messages_failed": stats.messages_failed if stats else 0,
        "messages_filtered": stats.messages_filtered if stats else 0,
        "last_error": stats.last_error if stats else None,
    }
