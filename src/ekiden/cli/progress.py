"""A progress bar on standard error for long CLI work (bulk sends, redrives).

It draws only on a terminal: one line rewritten in place, at most every
:data:`MIN_INTERVAL_S`, erased when the work ends. On anything else (a pipe, a file, a
test's captured stream) it writes nothing, so scripts see only the command's output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Final, TextIO

__all__ = ["MIN_INTERVAL_S", "ProgressBar", "render_bar"]

MIN_INTERVAL_S: Final = 0.1
_BAR_WIDTH: Final = 30
_MIN_RATE_S: Final = 0.5


def render_bar(label: str, done: int, total: int | None, elapsed_s: float) -> str:
    """One line: ``label [#######-------]  70/100  70%  35.0/s``.

    Without a total (not known yet) the bar is left out: ``label  70  35.0/s``.
    """
    # A rate over the first moments says little (one batch in 2 ms is not 5,000/s).
    rate = f"{done / elapsed_s:,.1f}/s" if elapsed_s >= _MIN_RATE_S else ""
    if total is None or total <= 0:
        return f"{label}  {done:,}  {rate}".rstrip()
    shown = min(done, total)
    filled = _BAR_WIDTH * shown // total
    bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
    percent = 100 * shown // total
    return f"{label} [{bar}] {done:,}/{total:,} {percent:3d}%  {rate}".rstrip()


class ProgressBar:
    """Progress of ``total`` units of work (``None``: unknown yet) on ``stream``.

    ``stream`` defaults to standard error; the bar draws only when it is a terminal.
    Use as a context manager, or call :meth:`close` at the end: the line is erased.
    ``clock`` is for tests (monotonic seconds).
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._active = self._stream.isatty()
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None

    @property
    def active(self) -> bool:
        """Whether anything is drawn (the stream is a terminal)."""
        return self._active

    def advance(self, units: int = 1) -> None:
        """``units`` more are done."""
        self.update(self.done + units)

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` units are done (out of ``total`` when given: it may be learnt late)."""
        self.done = done
        if total is not None:
            self.total = total
        if not self._active:
            return
        now = self._clock()
        finished = self.total is not None and done >= self.total
        if self._drawn_at is not None and now - self._drawn_at < MIN_INTERVAL_S and not finished:
            return  # redrawing thousands of times a second would cost more than the work
        self._drawn_at = now
        line = render_bar(self.label, done, self.total, now - self._started)
        self._stream.write(f"\r{line}\x1b[K")
        self._stream.flush()

    def close(self) -> None:
        """Erase the line (what the command prints next starts on a clean line)."""
        if self._active and self._drawn_at is not None:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
        self._drawn_at = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
