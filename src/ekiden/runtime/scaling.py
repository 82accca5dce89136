"""How many batches of one SQS event source mapping run at once: Lambda's scaling rule.

AWS documents the behaviour ("Configuring scaling behavior for SQS event source
mappings", "Backoff strategy for failed invocations"):

* when messages are available, Lambda processes five batches at a time;
* while messages are still available it adds up to 300 concurrent batches a minute;
* at most 1,000 batches at once per mapping, and never more than the mapping's
  ``ScalingConfig.MaximumConcurrency`` (2-1,000);
* when the function's code fails, Lambda gradually backs off, reducing the concurrency of
  the mapping; failures reported through ``ReportBatchItemFailures`` do not scale it down;
* when traffic is low, Lambda scales back to five concurrent batches.

This module is that rule as a pure function of (state, observations, now): the caller
(the poller) counts what happened since its previous call, passes it with the current
time, and runs as many slots as the returned state says. It never reads a clock, so a
test drives it with a fake timeline. Call it every 200 ms to 1 s; the rule only depends
on elapsed time, not on how often it is called.

The rule, in order:

1. The ceiling is ``min(1000, maximum, runtime_cap)``; a state above it (the maximum was
   lowered at runtime) is lowered at once.
2. Function errors in the window: no growth, and a multiplicative cut (at most once per
   :data:`ERROR_CUT_INTERVAL_MS`): concurrency times the window's success ratio, but
   never less than half of it, always at least one less, never below 1. All errors halve
   it; 1 error in 100 batches takes 1%. The caller counts a whole-batch failure
   (exception, timeout, crash, malformed batch response) as an error and a batch whose
   response listed failed items as a *success*: those failures are handled.
3. Throttles (a batch found the function at its concurrency limit): no growth, hold.
   More slots would only hold more received messages that wait for the function while
   their visibility timeout runs out (AWS warns that mappings ignore reserved
   concurrency; here waiting for capacity is a signal to stop growing).
4. Backlog (a receive came back with as many messages as asked): grow by
   ``floor(elapsed_s * 5)`` (300 a minute) since the last growth, counting at most
   :data:`SCALE_UP_CREDIT_CAP_MS` per call; the fractional rest is kept, so the rate is
   exact however often the rule is called.
5. Idle (a receive came back empty, none full, and a slot is free): step back towards the
   floor ``min(5, ceiling)``, halving the distance at most once per
   :data:`IDLE_STEP_INTERVAL_MS`; below the floor (after error cuts) return to it.
6. Otherwise (no receive finished, or only partial ones): hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

INITIAL_CONCURRENCY: Final = 5
"""Concurrent batches a mapping starts with, and falls back to when idle (AWS: five)."""

MAX_MAPPING_CONCURRENCY: Final = 1000
"""At most this many batches of one mapping at once (AWS's per-mapping maximum)."""

SCALE_UP_PER_MINUTE: Final = 300
"""Growth while a backlog remains (AWS: up to 300 more a minute)."""

_MS_PER_STEP: Final = 60_000 // SCALE_UP_PER_MINUTE  # 200 ms of backlog buys one batch

SCALE_UP_CREDIT_CAP_MS: Final = 5_000
"""Growth accrues only over this much time per call. Between two calls that saw a
backlog there may be calls that saw nothing (every slot busy in a slow function): those
keep accruing, since the backlog likely remained; but time no receive vouched for must
not buy a burst of hundreds of slots at once."""

ERROR_CUT_INTERVAL_MS: Final = 3_000
"""At most one error cut per this interval: the batches already running when the first
error came back report their errors over the next seconds; counting each as a new
signal would collapse concurrency to 1 for one bad moment."""

IDLE_STEP_INTERVAL_MS: Final = 2_000
"""At most one idle step per this interval, so a queue that empties for a moment does not
throw away the concurrency it grew (from 1,000 the floor is reached in about 16 s)."""


@dataclass(frozen=True, slots=True)
class ScalingState:
    """Where a mapping's scaling stands.

    Attributes:
        concurrency: how many batches may run at once (>= 1).
        last_scale_up_ms: the time growth accrues from: the last growth, or the last
            window that showed no backlog (growth is earned only while one remains).
        last_scale_down_ms: the last error cut or idle step (both rate-limited).
    """

    concurrency: int
    last_scale_up_ms: int
    last_scale_down_ms: int


@dataclass(frozen=True, slots=True)
class Observation:
    """What the poller saw since its previous call.

    Attributes:
        full_batches: receives that returned as many messages as asked (a backlog).
        empty_receives: receives that returned no message.
        function_errors: batches that failed as a whole (the handler raised, timed out or
            crashed, or returned a malformed batch response).
        successes: batches that completed, including those whose
            ``ReportBatchItemFailures`` response listed failed items.
        busy: batches in flight at the time of the call.
        throttles: batches that found the function at its concurrency limit.
    """

    full_batches: int = 0
    empty_receives: int = 0
    function_errors: int = 0
    successes: int = 0
    busy: int = 0
    throttles: int = 0

    def __post_init__(self) -> None:
        for name in (
            "full_batches",
            "empty_receives",
            "function_errors",
            "successes",
            "busy",
            "throttles",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"Observation.{name} must not be negative")


def ceiling(*, maximum: int | None, runtime_cap: int) -> int:
    """The most batches the mapping may run: ``min(1000, maximum, runtime_cap)``.

    Raises:
        ValueError: ``maximum`` or ``runtime_cap`` below 1.
    """
    if runtime_cap < 1:
        raise ValueError("runtime_cap must be at least 1")
    if maximum is not None and maximum < 1:
        raise ValueError("maximum must be at least 1")
    limit = min(MAX_MAPPING_CONCURRENCY, runtime_cap)
    return limit if maximum is None else min(limit, maximum)


def floor_concurrency(*, maximum: int | None, runtime_cap: int) -> int:
    """What an idle mapping falls back to: ``min(5, ceiling)``."""
    return min(INITIAL_CONCURRENCY, ceiling(maximum=maximum, runtime_cap=runtime_cap))


def initial_state(now_ms: int, *, maximum: int | None, runtime_cap: int) -> ScalingState:
    """A mapping that starts (or is enabled) at ``now_ms``: five batches, or fewer when
    the maximum or the runtime's cap is lower.

    Raises:
        ValueError: ``maximum`` or ``runtime_cap`` below 1.
    """
    return ScalingState(
        concurrency=floor_concurrency(maximum=maximum, runtime_cap=runtime_cap),
        last_scale_up_ms=now_ms,
        # As if the last cut were long past: a function failing from its first batch is
        # backed off at once, not after the cut interval.
        last_scale_down_ms=now_ms - max(ERROR_CUT_INTERVAL_MS, IDLE_STEP_INTERVAL_MS),
    )


def next_state(
    state: ScalingState,
    obs: Observation,
    now_ms: int,
    *,
    maximum: int | None,
    runtime_cap: int,
) -> ScalingState:
    """The state after observing ``obs`` up to ``now_ms`` (the rule in the module
    docstring). ``maximum`` and ``runtime_cap`` are read at every call, so a changed
    MaximumConcurrency takes effect at the next call. Returns a new state; ``now_ms``
    earlier than the state's times counts as no time passed.

    Raises:
        ValueError: ``maximum`` or ``runtime_cap`` below 1.
    """
    limit = ceiling(maximum=maximum, runtime_cap=runtime_cap)
    floor = min(INITIAL_CONCURRENCY, limit)
    state = replace(state, concurrency=max(1, min(state.concurrency, limit)))
    if obs.function_errors > 0:
        return _after_errors(state, obs, now_ms)
    if obs.throttles > 0:
        # Growth accrues afresh once the function has room again.
        return replace(state, last_scale_up_ms=now_ms)
    if obs.full_batches > 0:
        return _grow(state, now_ms, limit)
    if obs.empty_receives > 0 and obs.busy < state.concurrency:
        return _idle_step(state, now_ms, floor)
    return state


def _after_errors(state: ScalingState, obs: Observation, now_ms: int) -> ScalingState:
    # No growth while the function fails: growth accrues afresh once it recovers.
    state = replace(state, last_scale_up_ms=now_ms)
    if now_ms - state.last_scale_down_ms < ERROR_CUT_INTERVAL_MS:
        return state
    current = state.concurrency
    total = obs.function_errors + obs.successes
    # concurrency * success ratio, halved at most, at least one less, never below 1
    # (integer arithmetic: no float rounding decides a slot).
    by_ratio = current * obs.successes // total
    cut = max(current // 2, by_ratio)
    return replace(state, concurrency=max(1, min(current - 1, cut)), last_scale_down_ms=now_ms)


def _grow(state: ScalingState, now_ms: int, limit: int) -> ScalingState:
    if state.concurrency >= limit:
        # At the ceiling nothing is banked: raising the maximum later grows at the rate.
        return replace(state, last_scale_up_ms=now_ms)
    elapsed_ms = min(max(0, now_ms - state.last_scale_up_ms), SCALE_UP_CREDIT_CAP_MS)
    steps = elapsed_ms // _MS_PER_STEP
    if steps == 0:
        return state
    grown = state.concurrency + steps
    if grown >= limit:
        return replace(state, concurrency=limit, last_scale_up_ms=now_ms)
    # Keep the fraction of a step already earned: from the anchor, not from now.
    anchor = max(state.last_scale_up_ms, now_ms - SCALE_UP_CREDIT_CAP_MS)
    return replace(state, concurrency=grown, last_scale_up_ms=anchor + steps * _MS_PER_STEP)


def _idle_step(state: ScalingState, now_ms: int, floor: int) -> ScalingState:
    state = replace(state, last_scale_up_ms=now_ms)
    current = state.concurrency
    if current < floor:
        return replace(state, concurrency=floor)
    if current == floor or now_ms - state.last_scale_down_ms < IDLE_STEP_INTERVAL_MS:
        return state
    return replace(state, concurrency=floor + (current - floor) // 2, last_scale_down_ms=now_ms)
