"""The live progress line: one line on a stream, rewritten about twice a second."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Final, TextIO

__all__ = ["Progress"]

_INTERVAL_S: Final = 0.5
_SLOTS: Final = 3  # messages, requests, errors per worker (see ekiden.bench.worker)


class Progress:
    """Writes ``label elapsed messages (rate now) requests errors`` to ``stream``.

    With ``stream`` None nothing is written (the caller decides: a TTY, or --progress). On
    a terminal the line is rewritten in place; elsewhere each update is a line of its own.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._tty = stream is not None and stream.isatty()
        self._shown = False
        self._last_at = 0.0
        self._last_messages = 0
        self._last_label = ""

    def update(self, label: str, elapsed_s: float, counters: Sequence[int]) -> None:
        """Show the sums of the per-worker ``counters`` (at most every half second)."""
        if self._stream is None:
            return
        now = time.monotonic()
        if label != self._last_label:
            self._last_label, self._last_at, self._last_messages = label, now, 0
            return
        if now - self._last_at < _INTERVAL_S:
            return
        messages = sum(counters[i] for i in range(0, len(counters), _SLOTS))
        requests = sum(counters[i] for i in range(1, len(counters), _SLOTS))
        errors = sum(counters[i] for i in range(2, len(counters), _SLOTS))
        rate = (messages - self._last_messages) / (now - self._last_at)
        self._last_at, self._last_messages = now, messages
        line = (
            f"[{label}] {elapsed_s:6.1f}s  {messages:>12,} msgs  {rate:>10,.0f} msgs/s now  "
            f"{requests:>12,} reqs  {errors:,} errors"
        )
        if self._tty:
            self._stream.write(f"\r{line}\x1b[K")
            self._shown = True
        else:  # --progress into a file or pipe: one line per update, no escapes
            self._stream.write(f"{line}\n")
        self._stream.flush()

    def done(self) -> None:
        """Clear the line (the final report follows on its own lines)."""
        self._last_label = ""
        if self._stream is not None and self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
