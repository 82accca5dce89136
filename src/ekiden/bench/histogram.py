"""A log-bucketed latency histogram in the manner of HdrHistogram.

Values are non-negative integers (the bench records microseconds). Values below
``2**SUB_BUCKET_BITS`` get a bucket each; above that, every power of two is split into
``2**(SUB_BUCKET_BITS - 1)`` equal buckets, so a value is known to within
``1 / 2**(SUB_BUCKET_BITS - 1)`` of itself (0.8 % with 8 bits) whatever its size, in a
few thousand counters at most. Recording is a handful of integer operations; merging two
histograms adds their counters, so the histograms of several processes (or rounds) merge
into exactly the histogram of all their values taken together.

Percentiles follow HdrHistogram: the value at percentile ``q`` is the highest value of
the bucket that holds the ``ceil(q/100 * count)``-th smallest recorded value (capped at
the largest recorded value, so the 100th percentile is the exact maximum).
"""

from __future__ import annotations

import math
from typing import Any, Final

__all__ = ["SUB_BUCKET_BITS", "Histogram"]

SUB_BUCKET_BITS: Final = 8
_EXACT: Final = 1 << SUB_BUCKET_BITS  # values below this have a bucket each
_HALF_BITS: Final = SUB_BUCKET_BITS - 1


def bucket_index(value: int) -> int:
    """The bucket of ``value`` (negative values count as 0)."""
    if value < _EXACT:
        return value if value > 0 else 0
    shift = value.bit_length() - SUB_BUCKET_BITS
    return (shift << _HALF_BITS) + (value >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The lowest and highest value that fall into bucket ``index``."""
    if index < _EXACT:
        return index, index
    shift = (index >> _HALF_BITS) - 1
    mantissa = index - (shift << _HALF_BITS)
    return mantissa << shift, ((mantissa + 1) << shift) - 1


class Histogram:
    """Counts of values in log-sized buckets, plus exact count, sum, min and max.

    Not thread-safe; each process (or task group on one loop) records into its own and the
    results are combined with :meth:`merge`. ``to_dict``/``from_dict`` give a compact JSON
    form (only non-empty buckets) that round-trips exactly.
    """

    __slots__ = ("_counts", "count", "max", "min", "total")

    def __init__(self) -> None:
        self._counts: list[int] = []
        self.count = 0
        self.total = 0
        self.min = 0
        self.max = 0

    def record(self, value: int) -> None:
        """Add one value (negative values are recorded as 0)."""
        if value < _EXACT:
            if value < 0:
                value = 0
            index = value
        else:
            shift = value.bit_length() - SUB_BUCKET_BITS
            index = (shift << _HALF_BITS) + (value >> shift)
        counts = self._counts
        if index >= len(counts):
            counts.extend([0] * (index + 1 - len(counts)))
        counts[index] += 1
        if self.count == 0:
            self.min = self.max = value
        elif value > self.max:
            self.max = value
        elif value < self.min:
            self.min = value
        self.count += 1
        self.total += value

    def merge(self, other: Histogram) -> None:
        """Add every value of ``other`` to this histogram (``other`` is unchanged)."""
        if other.count == 0:
            return
        counts = self._counts
        if len(other._counts) > len(counts):
            counts.extend([0] * (len(other._counts) - len(counts)))
        for index, n in enumerate(other._counts):
            if n:
                counts[index] += n
        if self.count == 0:
            self.min, self.max = other.min, other.max
        else:
            self.min = min(self.min, other.min)
            self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total

    @property
    def mean(self) -> float:
        """The exact mean of the recorded values (0.0 when empty)."""
        return self.total / self.count if self.count else 0.0

    def percentile(self, q: float) -> int:
        """The value at percentile ``q`` (0-100); 0 when the histogram is empty.

        Raises:
            ValueError: ``q`` is outside 0-100.
        """
        if not 0.0 <= q <= 100.0:
            raise ValueError(f"percentile must be within 0-100, not {q}")
        if self.count == 0:
            return 0
        rank = max(1, math.ceil(q / 100.0 * self.count))
        seen = 0
        for index, n in enumerate(self._counts):
            seen += n
            if seen >= rank:
                high = bucket_bounds(index)[1]
                return max(self.min, min(high, self.max))
        return self.max  # pragma: no cover - the counts always add up to count

    def buckets(self) -> list[tuple[int, int]]:
        """``(bucket index, count)`` of every non-empty bucket, in value order."""
        return [(index, n) for index, n in enumerate(self._counts) if n]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: unit-free counts, the bucket layout and exact extremes."""
        return {
            "sub_bucket_bits": SUB_BUCKET_BITS,
            "count": self.count,
            "sum": self.total,
            "min": self.min,
            "max": self.max,
            "buckets": [[index, n] for index, n in self.buckets()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        """The histogram that ``to_dict`` described.

        Raises:
            ValueError: the data was written with another bucket layout, or its bucket
                counts do not add up to its count.
        """
        if data.get("sub_bucket_bits") != SUB_BUCKET_BITS:
            raise ValueError(f"unsupported histogram layout: {data.get('sub_bucket_bits')!r}")
        histogram = cls()
        pairs = [(int(index), int(n)) for index, n in data["buckets"]]
        if pairs:
            histogram._counts = [0] * (max(index for index, _ in pairs) + 1)
            for index, n in pairs:
                histogram._counts[index] += n
        histogram.count = int(data["count"])
        histogram.total = int(data["sum"])
        histogram.min = int(data["min"])
        histogram.max = int(data["max"])
        if sum(n for _, n in pairs) != histogram.count:
            raise ValueError("histogram bucket counts do not add up to its count")
        return histogram
