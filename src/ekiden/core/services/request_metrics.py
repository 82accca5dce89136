"""Operational figures the Prometheus exposition reads: request counts and latencies per
action (:class:`RequestMetrics`, recorded by the server), the store's commit figures
(:class:`StoreFigures`) and the process's (:class:`ProcessFigures`).

Everything here is in memory and lost on restart, as Prometheus counters may be (a
scraper sees the reset and ``rate()`` copes). Values are in base units: seconds, bytes.

:class:`Histogram` is written by one thread and read by another without a lock (the
store's writer thread observes, the event loop takes snapshots): an observation is a
handful of bytecode steps on plain ints and floats, and a snapshot derives its count from
the bucket counts it copied, so a snapshot is always a well-formed histogram (cumulative
buckets never decrease, ``+Inf`` equals the count). Its sum may miss or include the one
observation being recorded at that moment, which no reader can tell from timing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# Request latency: from well under a millisecond (a receive answered before its commit)
# to long polls, which may wait up to 20 s and land in +Inf.
REQUEST_BUCKETS_S: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
# One COMMIT is one fsync: ~0.2 ms on a fast virtual disk, milliseconds on real ones.
COMMIT_BUCKETS_S: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)
# Jobs per group commit: 1 when idle, hundreds under load.
GROUP_JOBS_BUCKETS: Final = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0)

PROTOCOLS: Final = ("sqs", "sns", "lambda")
OUTCOMES: Final = ("ok", "client_error", "server_error")
# Action names come from the client (X-Amz-Target, Action=...). The server should pass
# only names its front end serves, but an unbounded label set would let one client grow
# the exposition (and Prometheus's series) without end: past this many distinct
# (protocol, action) pairs, new ones are counted under OTHER_ACTION.
MAX_ACTIONS: Final = 256
OTHER_ACTION: Final = "other"
UNKNOWN_ACTION: Final = "unknown"


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """A histogram at one moment.

    Attributes:
        bounds: the finite upper bounds, ascending (``le`` values; ``+Inf`` is implied).
        counts: observations per bucket, NOT cumulative: ``counts[i]`` counts values in
            ``(bounds[i-1], bounds[i]]``; it has one more item than ``bounds``, the
            values above the last bound.
        total: the sum of the observed values.
    """

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: float

    @property
    def count(self) -> int:
        """How many values were observed (the ``+Inf`` bucket)."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, values <= bound)`` per bucket, ending with ``(inf, count)``."""
        out: list[tuple[float, int]] = []
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


class Histogram:
    """Counts of observed values by bucket, plus their sum (see the module doc for the
    one-writer, one-reader contract)."""

    __slots__ = ("_bounds", "_counts", "_total")

    def __init__(self, bounds: Sequence[float]) -> None:
        if not bounds or any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
            raise ValueError("histogram bounds must be a non-empty ascending sequence")
        self._bounds = tuple(float(b) for b in bounds)
        self._counts = [0] * (len(bounds) + 1)
        self._total = 0.0

    def observe(self, value: float) -> None:
        """Record ``value`` (it lands in the first bucket whose bound is >= it)."""
        self._counts[bisect_left(self._bounds, value)] += 1
        self._total += value

    def snapshot(self) -> HistogramSnapshot:
        counts = tuple(self._counts)  # one C-level copy: consistent under the GIL
        return HistogramSnapshot(self._bounds, counts, self._total)


@dataclass(frozen=True, slots=True)
class ActionFigures:
    """Requests of one action of one protocol: counts by outcome and latency."""

    protocol: str
    action: str
    ok: int
    client_error: int
    server_error: int
    duration_s: HistogramSnapshot


class _Action:
    __slots__ = ("duration", "outcomes")

    def __init__(self) -> None:
        self.outcomes = [0, 0, 0]  # ok, client_error, server_error
        self.duration = Histogram(REQUEST_BUCKETS_S)


class RequestMetrics:
    """Per (protocol, action): requests by outcome and a latency histogram.

    Used on the event loop only (the server observes, the exporter reads): no locking.
    """

    def __init__(self, max_actions: int = MAX_ACTIONS) -> None:
        self._max_actions = max_actions
        self._actions: dict[tuple[str, str], _Action] = {}
        self.throttled = 0  # requests refused by the per-identity rate limit

    def observe(self, protocol: str, action: str, status: int, seconds: float) -> None:
        """Record one answered request.

        ``protocol`` is ``"sqs"``, ``"sns"`` or ``"lambda"``; ``action`` the operation
        name (``SendMessage``; empty when the request named none, counted as
        ``unknown``); ``status`` the HTTP status answered: below 400 is ``ok``, 4xx
        ``client_error``, 5xx ``server_error``; ``seconds`` the time from the request's
        arrival to its answer.
        """
        key = (protocol, action or UNKNOWN_ACTION)
        entry = self._actions.get(key)
        if entry is None:
            if len(self._actions) >= self._max_actions:
                key = (protocol, OTHER_ACTION)
                entry = self._actions.get(key)
            if entry is None:
                entry = self._actions[key] = _Action()
        entry.outcomes[outcome_index(status)] += 1
        entry.duration.observe(seconds)

    def snapshot(self) -> list[ActionFigures]:
        """Every action seen so far, sorted by protocol then action."""
        out: list[ActionFigures] = []
        for (protocol, action), entry in sorted(self._actions.items()):
            ok, client_error, server_error = entry.outcomes
            duration = entry.duration.snapshot()
            out.append(ActionFigures(protocol, action, ok, client_error, server_error, duration))
        return out


def outcome_index(status: int) -> int:
    """0 (``ok``), 1 (``client_error``) or 2 (``server_error``) for an HTTP status."""
    if status >= 500:
        return 2
    if status >= 400:
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """The store's health and commit figures (the SQLite group-commit writer's).

    Attributes:
        healthy: False while the store refuses writes (a failed commit; it recovers by
            itself once a probe write succeeds).
        commit_duration_s: seconds per COMMIT (one fsync each).
        group_jobs: jobs (store calls) per committed group.
    """

    healthy: bool
    commit_duration_s: HistogramSnapshot
    group_jobs: HistogramSnapshot


@dataclass(frozen=True, slots=True)
class ProcessFigures:
    """Facts about the server process (read at the edge, by the server).

    Attributes:
        version: ekiden's version.
        start_time_s: when the process started, in seconds since the Unix epoch.
        resident_memory_bytes: resident set size, or None where it cannot be read.
        gc_generations: the cyclic garbage collector's figures, one per generation
            (youngest first).
        gc_frozen_objects: objects in the collector's permanent generation (what
            start-up made, see ``ekiden.server.gc_policy``).
    """

    version: str
    start_time_s: float
    resident_memory_bytes: int | None = None
    gc_generations: tuple[GcGeneration, ...] = ()
    gc_frozen_objects: int = 0


@dataclass(frozen=True, slots=True)
class GcGeneration:
    """One generation of the cyclic garbage collector, since the process started.

    Attributes:
        collections: how many times it was collected.
        collected: objects those collections freed.
        uncollectable: objects they found that could not be freed.
    """

    collections: int
    collected: int
    uncollectable: int
