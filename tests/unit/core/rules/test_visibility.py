"""Visibility rules: when a message is receivable and how far a delivery may be hidden."""

from __future__ import annotations

from ekiden.core import limits
from ekiden.core.clock import FakeClock
from ekiden.core.rules import visibility

TWELVE_HOURS_S = 12 * 60 * 60


def test_the_visibility_cap_is_twelve_hours_in_milliseconds() -> None:
    assert visibility.MAX_VISIBILITY_MS == TWELVE_HOURS_S * 1000
    assert limits.MAX_VISIBILITY_TIMEOUT_S == TWELVE_HOURS_S


def test_a_message_is_visible_exactly_at_its_visible_at_time() -> None:
    clock = FakeClock()
    visible_at = clock.now_ms() + 5_000
    assert not visibility.is_visible(visible_at, clock.now_ms())
    clock.advance(ms=4_999)
    assert not visibility.is_visible(visible_at, clock.now_ms())
    clock.advance(ms=1)
    assert visibility.is_visible(visible_at, clock.now_ms())
    clock.advance(s=3600)
    assert visibility.is_visible(visible_at, clock.now_ms())


def test_a_message_whose_visible_at_is_in_the_past_is_visible() -> None:
    clock = FakeClock()
    assert visibility.is_visible(clock.now_ms() - 1, clock.now_ms())


def test_hidden_until_adds_the_timeout_in_seconds_to_now() -> None:
    clock = FakeClock()
    now = clock.now_ms()
    assert visibility.hidden_until(now, 0) == now
    assert visibility.hidden_until(now, 30) == now + 30_000
    assert visibility.hidden_until(now, TWELVE_HOURS_S) == now + 43_200_000


def test_a_message_hidden_now_reappears_after_its_visibility_timeout() -> None:
    clock = FakeClock()
    visible_at = visibility.hidden_until(clock.now_ms(), 30)
    clock.advance(s=29.999)
    assert not visibility.is_visible(visible_at, clock.now_ms())
    clock.advance(ms=1)
    assert visibility.is_visible(visible_at, clock.now_ms())


def test_a_timeout_of_zero_makes_a_message_visible_at_once() -> None:
    clock = FakeClock()
    assert visibility.is_visible(visibility.hidden_until(clock.now_ms(), 0), clock.now_ms())


def test_an_extension_reaching_exactly_twelve_hours_after_the_receive_is_allowed() -> None:
    clock = FakeClock()
    received = clock.now_ms()
    clock.advance(s=3600)
    assert visibility.extension_allowed(received, clock.now_ms(), TWELVE_HOURS_S - 3600)


def test_an_extension_one_second_past_twelve_hours_after_the_receive_is_refused() -> None:
    clock = FakeClock()
    received = clock.now_ms()
    clock.advance(s=3600)
    assert not visibility.extension_allowed(received, clock.now_ms(), TWELVE_HOURS_S - 3600 + 1)


def test_an_extension_one_millisecond_past_twelve_hours_after_the_receive_is_refused() -> None:
    clock = FakeClock()
    received = clock.now_ms()
    clock.advance(s=3600, ms=1)
    assert not visibility.extension_allowed(received, clock.now_ms(), TWELVE_HOURS_S - 3600)


def test_the_twelve_hour_cap_counts_from_the_receive_not_from_the_last_change() -> None:
    clock = FakeClock()
    received = clock.now_ms()
    for _ in range(11):
        clock.advance(s=3600)
        assert visibility.extension_allowed(received, clock.now_ms(), 3600)
    clock.advance(s=3600)
    assert visibility.extension_allowed(received, clock.now_ms(), 0)
    assert not visibility.extension_allowed(received, clock.now_ms(), 1)


def test_without_a_receive_time_the_cap_counts_from_now() -> None:
    clock = FakeClock()
    assert visibility.extension_allowed(None, clock.now_ms(), TWELVE_HOURS_S)
    assert not visibility.extension_allowed(None, clock.now_ms(), TWELVE_HOURS_S + 1)
    assert visibility.extension_allowed(None, clock.now_ms(), 0)


def test_a_full_twelve_hour_timeout_right_at_the_receive_is_allowed() -> None:
    clock = FakeClock()
    received = clock.now_ms()
    assert visibility.extension_allowed(received, clock.now_ms(), TWELVE_HOURS_S)
    assert not visibility.extension_allowed(received, clock.now_ms(), TWELVE_HOURS_S + 1)
