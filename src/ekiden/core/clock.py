"""Time as an injected dependency.

``core`` and ``store`` never read the wall clock: they take ``now_ms`` from a ``Clock``
handed to them at the edge, so tests can move time by hand.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of the current time in integer milliseconds since the Unix epoch."""

    def now_ms(self) -> int: ...


class SystemClock:
    """The real wall clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock that only moves when told to (for tests)."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = start_ms

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, *, ms: int = 0, s: float = 0.0) -> None:
        self._now_ms += ms + int(s * 1000)
