"""The scaling rule of an SQS event source mapping, driven by a fake timeline.

A :class:`Timeline` plays the poller: it calls ``next_state`` every ``tick_ms`` with what
it "saw" in that window, and keeps the current time (no clock is read anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ekiden.runtime.scaling import (
    ERROR_CUT_INTERVAL_MS,
    IDLE_STEP_INTERVAL_MS,
    INITIAL_CONCURRENCY,
    MAX_MAPPING_CONCURRENCY,
    Observation,
    ScalingState,
    ceiling,
    initial_state,
    next_state,
)

BACKLOG = Observation(full_batches=3, successes=3, busy=2)
IDLE = Observation(empty_receives=4, busy=0)
NOTHING = Observation()
START_MS = 1_000_000  # an arbitrary monotonic origin: the rule only uses differences


def failing(errors: int = 2, successes: int = 0) -> Observation:
    return Observation(function_errors=errors, successes=successes, full_batches=1)


@dataclass
class Timeline:
    maximum: int | None = None
    runtime_cap: int = 1000
    tick_ms: int = 200
    now_ms: int = START_MS
    state: ScalingState = field(init=False)
    history: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = initial_state(self.now_ms, maximum=self.maximum, runtime_cap=self.runtime_cap)

    @property
    def concurrency(self) -> int:
        return self.state.concurrency

    def run(self, seconds: float, obs: Observation) -> int:
        """Observe ``obs`` at every tick for ``seconds``; the concurrency at the end."""
        for _ in range(round(seconds * 1000 / self.tick_ms)):
            self.step(obs)
        return self.concurrency

    def step(self, obs: Observation, after_ms: int | None = None) -> int:
        self.now_ms += self.tick_ms if after_ms is None else after_ms
        self.state = next_state(
            self.state,
            obs,
            self.now_ms,
            maximum=self.maximum,
            runtime_cap=self.runtime_cap,
        )
        self.history.append(self.state.concurrency)
        return self.concurrency


# --- start and growth ------------------------------------------------------------------


def test_a_mapping_starts_with_five_concurrent_batches() -> None:
    state = initial_state(START_MS, maximum=None, runtime_cap=1000)

    assert state.concurrency == INITIAL_CONCURRENCY == 5


@pytest.mark.parametrize(
    ("maximum", "cap", "start"), [(2, 1000, 2), (None, 3, 3), (4, 2, 2), (10, 100, 5)]
)
def test_the_initial_five_is_bounded_by_the_maximum_and_the_runtime_cap(
    maximum: int | None, cap: int, start: int
) -> None:
    assert initial_state(START_MS, maximum=maximum, runtime_cap=cap).concurrency == start


def test_one_second_of_backlog_adds_five_batches() -> None:
    timeline = Timeline()

    assert timeline.run(1.0, BACKLOG) == 10


def test_a_minute_of_backlog_adds_three_hundred_batches() -> None:
    timeline = Timeline()

    assert timeline.run(60.0, BACKLOG) == 305
    # Growth is steady, one batch per 200 ms, not bursts.
    assert all(b - a <= 1 for a, b in zip(timeline.history, timeline.history[1:], strict=False))


@pytest.mark.parametrize("tick_ms", [100, 250, 333, 1000])
def test_the_growth_rate_does_not_depend_on_how_often_the_rule_is_called(tick_ms: int) -> None:
    timeline = Timeline(tick_ms=tick_ms)

    timeline.run(30.0 if tick_ms != 333 else 29.97, BACKLOG)

    # 30 s (29.97 s at 333 ms ticks) of backlog: 150 batches (149 at 29.97 s) more.
    assert timeline.concurrency == (155 if tick_ms != 333 else 154)


def test_without_backlog_concurrency_does_not_grow() -> None:
    timeline = Timeline()

    partial_receives = Observation(successes=5, busy=1)  # messages came, but no full receive
    timeline.run(10.0, partial_receives)
    timeline.run(10.0, NOTHING)

    assert timeline.concurrency == 5


def test_time_without_backlog_earns_no_burst_when_a_backlog_appears() -> None:
    timeline = Timeline()
    timeline.run(120.0, IDLE)  # two quiet minutes

    timeline.step(BACKLOG)

    assert timeline.concurrency == 6  # one tick of backlog: 200 ms, one batch


def test_a_long_silence_between_full_receives_buys_at_most_a_bounded_step() -> None:
    # Every slot busy in a slow function: no receive finishes for a long time.
    timeline = Timeline()

    timeline.step(BACKLOG, after_ms=60_000)

    assert timeline.concurrency == 5 + 25  # at most 5 s of growth in one call


@pytest.mark.parametrize("maximum", [2, 17, 300])
def test_concurrency_never_exceeds_maximum_concurrency(maximum: int) -> None:
    timeline = Timeline(maximum=maximum)

    timeline.run(120.0, BACKLOG)

    assert max(timeline.history) == timeline.concurrency == maximum


def test_concurrency_never_exceeds_the_runtime_cap_nor_a_thousand() -> None:
    capped = Timeline(runtime_cap=64)
    capped.run(60.0, BACKLOG)
    unlimited = Timeline(runtime_cap=5000)
    unlimited.run(300.0, BACKLOG)

    assert max(capped.history) == 64
    assert max(unlimited.history) == MAX_MAPPING_CONCURRENCY == 1000


def test_lowering_the_maximum_at_runtime_lowers_concurrency_at_once() -> None:
    timeline = Timeline()
    timeline.run(20.0, BACKLOG)
    assert timeline.concurrency == 105

    timeline.maximum = 10
    timeline.step(BACKLOG)

    assert timeline.concurrency == 10


def test_raising_the_maximum_grows_at_the_normal_rate_not_at_once() -> None:
    timeline = Timeline(maximum=10)
    timeline.run(60.0, BACKLOG)  # at the ceiling the whole minute: nothing is banked

    timeline.maximum = 500
    timeline.run(1.0, BACKLOG)

    assert timeline.concurrency == 15


# --- function errors -------------------------------------------------------------------


def test_function_errors_shrink_concurrency() -> None:
    timeline = Timeline()
    timeline.run(20.0, BACKLOG)
    before = timeline.concurrency

    timeline.step(failing())

    assert timeline.concurrency == before // 2


def test_errors_cut_at_most_once_per_interval() -> None:
    timeline = Timeline()
    timeline.run(20.0, BACKLOG)  # 105
    timeline.step(failing())  # first cut at once: 52

    timeline.run((ERROR_CUT_INTERVAL_MS - 400) / 1000, failing())
    assert timeline.concurrency == 52

    timeline.run(0.4, failing())
    assert timeline.concurrency == 26


def test_persistent_errors_bring_concurrency_down_to_one_and_not_below() -> None:
    timeline = Timeline()
    timeline.run(30.0, BACKLOG)

    timeline.run(60.0, failing())

    assert timeline.concurrency == 1
    assert min(timeline.history) == 1


def test_no_growth_while_the_function_fails_even_with_a_backlog() -> None:
    timeline = Timeline()

    timeline.run(10.0, failing())

    assert max(timeline.history) <= 5


def test_rare_errors_cut_in_proportion_to_the_error_ratio() -> None:
    timeline = Timeline()
    timeline.run(40.0, BACKLOG)
    assert timeline.concurrency == 205

    timeline.step(failing(errors=1, successes=99))

    assert timeline.concurrency == 205 * 99 // 100  # 202: one percent, not half


def test_a_single_error_still_costs_at_least_one_batch() -> None:
    timeline = Timeline()

    timeline.step(failing(errors=1, successes=1_000))

    assert timeline.concurrency == 4


def test_growth_resumes_at_the_normal_rate_once_errors_stop() -> None:
    timeline = Timeline()
    timeline.run(30.0, failing())
    assert timeline.concurrency == 1

    assert timeline.run(2.0, BACKLOG) == 11


def test_batch_item_failures_reported_by_the_function_do_not_shrink_concurrency() -> None:
    # The caller's contract: a batch whose ReportBatchItemFailures response listed failed
    # items is a success (Observation.successes), never a function error.
    timeline = Timeline()
    timeline.run(10.0, BACKLOG)
    before = timeline.concurrency

    handled = Observation(full_batches=3, successes=8, function_errors=0, busy=5)
    timeline.run(10.0, handled)

    assert timeline.concurrency == before + 50
    assert timeline.history == sorted(timeline.history)


# --- idle ------------------------------------------------------------------------------


def test_an_idle_mapping_falls_back_to_five() -> None:
    timeline = Timeline()
    timeline.run(60.0, BACKLOG)
    assert timeline.concurrency == 305

    timeline.run(30.0, IDLE)

    assert timeline.concurrency == 5
    assert timeline.history[-1] == 5
    assert min(timeline.history) == 5  # never below the initial level


def test_idle_steps_down_gradually_not_at_once() -> None:
    timeline = Timeline()
    timeline.run(60.0, BACKLOG)

    timeline.step(IDLE)
    assert timeline.concurrency == 5 + 300 // 2

    timeline.run((IDLE_STEP_INTERVAL_MS - 400) / 1000, IDLE)
    assert timeline.concurrency == 155

    timeline.run(0.4, IDLE)
    assert timeline.concurrency == 5 + 150 // 2


def test_idle_after_error_cuts_returns_to_five() -> None:
    timeline = Timeline()
    timeline.run(30.0, failing())
    assert timeline.concurrency == 1

    timeline.step(IDLE)

    assert timeline.concurrency == 5


def test_idle_floor_is_the_maximum_when_it_is_below_five() -> None:
    timeline = Timeline(maximum=3)
    timeline.run(10.0, BACKLOG)

    timeline.run(10.0, IDLE)

    assert timeline.concurrency == 3


def test_an_empty_receive_while_every_slot_is_busy_is_not_idleness() -> None:
    timeline = Timeline()
    timeline.run(20.0, BACKLOG)  # 105
    before = timeline.concurrency

    timeline.run(10.0, Observation(empty_receives=1, busy=before))

    assert timeline.concurrency == before


def test_a_backlog_in_the_same_window_as_empty_receives_wins() -> None:
    timeline = Timeline()

    timeline.run(1.0, Observation(full_batches=1, empty_receives=3, busy=1))

    assert timeline.concurrency == 10


# --- contract --------------------------------------------------------------------------


def test_the_state_is_immutable_and_each_call_returns_a_new_one() -> None:
    state = initial_state(START_MS, maximum=None, runtime_cap=100)

    grown = next_state(state, BACKLOG, START_MS + 1_000, maximum=None, runtime_cap=100)

    assert state.concurrency == 5 and grown.concurrency == 10
    with pytest.raises(AttributeError):
        state.concurrency = 7  # type: ignore[misc]


def test_a_clock_that_goes_backwards_counts_as_no_time() -> None:
    state = initial_state(START_MS, maximum=None, runtime_cap=100)

    after = next_state(state, BACKLOG, START_MS - 60_000, maximum=None, runtime_cap=100)

    assert after.concurrency == 5


def test_ceiling_is_the_least_of_a_thousand_the_maximum_and_the_cap() -> None:
    assert ceiling(maximum=None, runtime_cap=10_000) == 1000
    assert ceiling(maximum=200, runtime_cap=10_000) == 200
    assert ceiling(maximum=200, runtime_cap=50) == 50


@pytest.mark.parametrize(("maximum", "cap"), [(0, 10), (None, 0), (-1, 10)])
def test_a_limit_below_one_is_refused(maximum: int | None, cap: int) -> None:
    with pytest.raises(ValueError):
        initial_state(START_MS, maximum=maximum, runtime_cap=cap)


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="function_errors"):
        Observation(function_errors=-1)


# --- throttles (review) -----------------------------------------------------------------


def test_a_backlog_does_not_grow_concurrency_while_the_function_throttles() -> None:
    timeline = Timeline()
    throttled_backlog = Observation(full_batches=3, successes=3, busy=5, throttles=2)

    assert timeline.run(10.0, throttled_backlog) == INITIAL_CONCURRENCY
    # Once the function has room, growth resumes at the rate, with nothing banked.
    assert timeline.run(1.0, BACKLOG) == INITIAL_CONCURRENCY + 5


def test_a_negative_throttle_count_is_refused() -> None:
    with pytest.raises(ValueError, match="throttles"):
        Observation(throttles=-1)
