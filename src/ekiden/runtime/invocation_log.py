"""The log lines of an invocation as Lambda writes them, and the 4 KiB tail Invoke returns.

Lambda frames each invocation's output with platform lines (fields of REPORT are
separated by tabs)::

    START RequestId: <id> Version: $LATEST
    ... what the handler printed or logged ...
    END RequestId: <id>
    REPORT RequestId: <id>  Duration: 12.34 ms  Billed Duration: 13 ms
        Memory Size: 128 MB  Max Memory Used: 40 MB

and ``Invoke`` with ``LogType=Tail`` returns the last 4 KiB of them. This module only
formats and collects text; the worker decides when lines happen.
"""

from __future__ import annotations

import math
import signal
from collections import deque
from datetime import UTC, datetime
from typing import Final

TAIL_BYTES: Final = 4096
"""Lambda's ``LogResult`` holds the last 4 KB of the invocation's log."""


def start_line(request_id: str) -> str:
    return f"START RequestId: {request_id} Version: $LATEST"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_mb: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """Lambda's REPORT line. Billed duration is the duration rounded up to the next
    millisecond; ``init_duration_ms`` is shown on a cold start; ``status``/``error_type``
    as Lambda adds them for a timeout (``timeout``) or a crashed runtime (``error``)."""
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
        f"\tBilled Duration: {max(1, math.ceil(duration_ms))} ms"
        f"\tMemory Size: {memory_mb} MB\tMax Memory Used: {max_memory_used_mb} MB"
    )
    if init_duration_ms is not None:
        line += f"\tInit Duration: {init_duration_ms:.2f} ms"
    if status is not None:
        line += f"\tStatus: {status}"
    if error_type is not None:
        line += f"\tError Type: {error_type}"
    return line


def iso_now() -> str:
    """UTC now as Lambda prints it: ``2026-01-02T03:04:05.678Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def timeout_message(request_id: str, timeout_s: float) -> str:
    """The ``errorMessage`` (and log line) of an invocation killed for its timeout."""
    return f"{iso_now()} {request_id} Task timed out after {timeout_s:.2f} seconds"


def exit_reason(returncode: int | None) -> str:
    """How Lambda words a runtime's exit (Go's ``ExitError`` text): ``exit status 1``,
    ``signal: segmentation fault``, ``signal: killed``."""
    if returncode is None:
        return "exit status unknown"
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.strsignal(-returncode) or f"signal {-returncode}"
    except ValueError:
        name = f"signal {-returncode}"
    return f"signal: {name[:1].lower()}{name[1:]}"


def exit_error_message(request_id: str, returncode: int | None) -> str:
    """The ``errorMessage`` of an invocation whose process died (``Runtime.ExitError``)."""
    if returncode == 0:
        return f"RequestId: {request_id} Error: Runtime exited without providing a reason"
    return f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(returncode)}"


class TailCollector:
    """Keeps the last :data:`TAIL_BYTES` bytes of an invocation's log lines.

    Lines are stored whole until they fall out of the window; :meth:`text` cuts the
    oldest one at a character boundary so the result is at most ``TAIL_BYTES`` of UTF-8.
    """

    def __init__(self, limit_bytes: int = TAIL_BYTES) -> None:
        self._limit = limit_bytes
        self._lines: deque[bytes] = deque()
        self._size = 0

    def add(self, line: str) -> None:
        data = (line + "\n").encode("utf-8", "replace")
        if len(data) > self._limit:
            data = data[-self._limit :]
        self._lines.append(data)
        self._size += len(data)
        while self._size - len(self._lines[0]) >= self._limit:
            self._size -= len(self._lines.popleft())

    def text(self) -> str:
        data = b"".join(self._lines)[-self._limit :]
        # A cut in the middle of a multi-byte character: drop its leftover bytes.
        return data.decode("utf-8", "ignore")
