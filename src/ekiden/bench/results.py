"""The figures of one phase of a benchmark, per process and merged.

Counting rules (the same for every endpoint):

* ``messages``: messages acknowledged with HTTP 200 - a send (or batch entry) in the
  send phases, a delete entry in drain, a message received (and timed) in latency and
  long-poll.
* ``requests``: requests answered (any status).
* ``errors``: requests answered with another status or lost with their connection, plus
  failed entries of 200 batch answers; ``error_kinds`` counts them by label.
* ``elapsed_s``: from the common start to the last acknowledgement (so a phase's tail
  of empty receives or of waiting for stragglers does not dilute its rate).

Merging sums counts, adds histograms and takes the longest elapsed time: the processes
start together, so the longest one spans the phase.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ekiden.bench.histogram import Histogram

__all__ = ["PhaseResult", "latency_summary"]


def latency_summary(histogram: Histogram) -> dict[str, float | int]:
    """Percentiles in milliseconds (the histogram holds microseconds)."""
    return {
        "count": histogram.count,
        "p50_ms": histogram.percentile(50) / 1000,
        "p90_ms": histogram.percentile(90) / 1000,
        "p99_ms": histogram.percentile(99) / 1000,
        "max_ms": histogram.max / 1000,
        "mean_ms": round(histogram.mean / 1000, 3),
    }


@dataclass
class PhaseResult:
    """What one phase measured. ``headline`` names the histogram reported as "latency"."""

    name: str
    kind: str
    headline: str
    messages: int = 0
    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    error_kinds: Counter[str] = field(default_factory=Counter)
    histograms: dict[str, Histogram] = field(default_factory=dict)
    extra: Counter[str] = field(default_factory=Counter)

    def histogram(self, name: str) -> Histogram:
        """The histogram called ``name``, created empty on first use."""
        found = self.histograms.get(name)
        if found is None:
            found = self.histograms[name] = Histogram()
        return found

    @property
    def latency(self) -> Histogram:
        return self.histograms.get(self.headline) or Histogram()

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def merge(self, other: PhaseResult) -> None:
        """Add ``other`` (another process's share of the same phase) into this one."""
        self.messages += other.messages
        self.requests += other.requests
        self.errors += other.errors
        self.elapsed_s = max(self.elapsed_s, other.elapsed_s)
        self.error_kinds.update(other.error_kinds)
        self.extra.update(other.extra)
        for name, histogram in other.histograms.items():
            self.histogram(name).merge(histogram)

    def figures(self) -> dict[str, Any]:
        """The headline numbers: rates, counts and the latency summary."""
        return {
            "messages": self.messages,
            "requests": self.requests,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed_s, 4),
            "msgs_per_s": round(self.msgs_per_s, 1),
            "requests_per_s": round(self.requests_per_s, 1),
            "latency": latency_summary(self.latency),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, lossless (``from_dict`` gives back an equal result)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "headline": self.headline,
            **self.figures(),
            "elapsed_s": self.elapsed_s,
            "error_kinds": dict(self.error_kinds),
            "extra": dict(self.extra),
            "latencies": {n: latency_summary(h) for n, h in sorted(self.histograms.items())},
            "histograms_us": {n: h.to_dict() for n, h in sorted(self.histograms.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhaseResult:
        return cls(
            name=data["name"],
            kind=data["kind"],
            headline=data["headline"],
            messages=int(data["messages"]),
            requests=int(data["requests"]),
            errors=int(data["errors"]),
            elapsed_s=float(data["elapsed_s"]),
            error_kinds=Counter({str(k): int(v) for k, v in data["error_kinds"].items()}),
            histograms={str(n): Histogram.from_dict(h) for n, h in data["histograms_us"].items()},
            extra=Counter({str(k): int(v) for k, v in data["extra"].items()}),
        )
