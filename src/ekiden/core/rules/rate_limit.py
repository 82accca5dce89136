"""Per-identity request rate limits: one token bucket per caller.

A bucket holds up to ``burst`` tokens and refills at ``rate_per_s`` tokens a second; a
request takes one token and is refused when none is left. So a caller may send
``burst`` requests at once, and ``rate_per_s`` a second for ever after.

Pure: time is passed in (``now_s``, any monotonic seconds); nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

__all__ = ["RateLimiter", "TokenBucket"]

#: Buckets kept at most, so that callers rotating addresses cannot grow memory. Above
#: it, buckets that have refilled are forgotten: one is re-created full, the state it
#: was in, so that changes no answer. Only when none has refilled does the least
#: recently used half go, which can only be generous to those callers.
MAX_BUCKETS: Final = 100_000


@dataclass(slots=True)
class TokenBucket:
    """The state of one caller's bucket: ``tokens`` left at time ``updated_s``."""

    tokens: float
    updated_s: float


class RateLimiter:
    """Token buckets keyed by identity (an access key's identity, or a client address).

    ``rate_per_s`` > 0 refills a bucket; ``burst`` >= 1 is its size. Not thread-safe:
    meant for one event loop.
    """

    __slots__ = ("_buckets", "_burst", "_max_buckets", "_rate")

    def __init__(self, rate_per_s: float, burst: int, max_buckets: int = MAX_BUCKETS) -> None:
        if not rate_per_s > 0 or not math.isfinite(rate_per_s):
            raise ValueError(f"rate_per_s must be a positive number, got {rate_per_s!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self._rate = rate_per_s
        self._burst = burst
        self._max_buckets = max_buckets
        self._buckets: dict[str, TokenBucket] = {}

    def __len__(self) -> int:
        """How many buckets are held (callers seen and not yet forgotten)."""
        return len(self._buckets)

    def acquire(self, identity: str, now_s: float) -> float:
        """Take one token of ``identity``'s bucket at ``now_s``.

        Returns 0.0 when the request may go ahead, else the seconds until a token will
        be there (> 0; what a ``Retry-After`` could say). A refused request takes
        nothing. A clock that goes backwards refills nothing.
        """
        bucket = self._buckets.get(identity)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._forget_full(now_s)
            self._buckets[identity] = TokenBucket(self._burst - 1.0, now_s)
            return 0.0
        elapsed = now_s - bucket.updated_s
        if elapsed > 0:
            bucket.tokens = min(float(self._burst), bucket.tokens + elapsed * self._rate)
            bucket.updated_s = now_s
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate

    def _forget_full(self, now_s: float) -> None:
        """Drop the buckets that have refilled by ``now_s``; if none has, the oldest
        half (by last use), so that the map stays bounded under any load."""
        full_after_s = self._burst / self._rate
        stale = [k for k, b in self._buckets.items() if now_s - b.updated_s >= full_after_s]
        if not stale:
            by_age = sorted(self._buckets.items(), key=lambda item: item[1].updated_s)
            stale = [k for k, _ in by_age[: max(1, len(by_age) // 2)]]
        for key in stale:
            del self._buckets[key]
