"""Counters of one event source mapping, read by the metrics and the console.

Plain mutable numbers, updated only on the runtime's event loop (no locks needed).
"""

from __future__ import annotations

from dataclasses import dataclass


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
