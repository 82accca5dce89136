"""The runtime's figures, as the metrics and the console read them: counters of each
function (the worker pool) and of each event source mapping (its pollers).

Plain data, filled in by ``ekiden.runtime`` on its event loop; a :class:`FiguresSource`
(implemented by the server's wiring) hands out the current values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FunctionStats:
    """Counters of one function since the pool started.

    Attributes:
        invocations: finished invocations (successful or not; refused ones excluded).
        errors: invocations with a function error (raised, timed out, crashed, import).
        timeouts: invocations killed for exceeding the function's timeout.
        throttles: invocations that had to wait for capacity or were refused for it.
        total_duration_ms: sum of the invocations' durations.
        concurrency: invocations running now.
        peak_concurrency: the most invocations that ran at once.
        warm_processes: live processes of the function (idle or busy).
    """

    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    throttles: int = 0
    total_duration_ms: float = 0.0
    concurrency: int = 0
    peak_concurrency: int = 0
    warm_processes: int = 0


@dataclass(slots=True)
class MappingStats:
    """What one mapping's pollers did since the runtime started.

    ``throttles`` counts batches that found the function at its concurrency limit (they
    wait for it, or reappear after their visibility timeout as on Lambda).
    ``concurrency`` is the number of batches in flight right now (received, being
    filtered, invoked or settled); ``target_concurrency`` what the scaling rule allows.
    """

    uuid: str
    function_name: str
    queue_arn: str
    invocations: int = 0
    function_errors: int = 0
    timeouts: int = 0
    throttles: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    messages_failed: int = 0
    messages_filtered: int = 0
    receive_errors: int = 0
    delete_errors: int = 0
    duration_ms_total: float = 0.0
    concurrency: int = 0
    peak_concurrency: int = 0
    target_concurrency: int = 0
    state: str = "Creating"
    last_error: str | None = None


class FiguresSource(Protocol):
    """Where the current runtime figures come from."""

    def function_figures(self) -> Mapping[str, FunctionStats]:
        """Per function name, its counters (functions never invoked may be absent)."""
        ...

    def mapping_figures(self) -> list[MappingStats]:
        """Every mapping the runtime knows, enabled or not."""
        ...
