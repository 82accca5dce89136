"""Retention rules: when a message expires from its queue."""

from __future__ import annotations

from ekiden.core import limits
from ekiden.core.clock import FakeClock
from ekiden.core.rules import retention


def test_expiry_is_the_send_time_plus_the_retention_in_seconds() -> None:
    clock = FakeClock()
    sent = clock.now_ms()
    assert retention.expires_at_ms(sent, 60) == sent + 60_000
    assert retention.expires_at_ms(sent, limits.MAX_RETENTION_S) == sent + 1_209_600_000
    assert retention.expires_at_ms(sent, limits.DEFAULT_RETENTION_S) == sent + 345_600_000


def test_a_message_is_not_expired_one_millisecond_before_its_expiry() -> None:
    clock = FakeClock()
    expires = retention.expires_at_ms(clock.now_ms(), 60)
    clock.advance(ms=59_999)
    assert not retention.is_expired(expires, clock.now_ms())


def test_a_message_is_expired_exactly_at_its_expiry() -> None:
    clock = FakeClock()
    expires = retention.expires_at_ms(clock.now_ms(), 60)
    clock.advance(s=60)
    assert retention.is_expired(expires, clock.now_ms())


def test_a_message_stays_expired_after_its_expiry() -> None:
    clock = FakeClock()
    expires = retention.expires_at_ms(clock.now_ms(), 60)
    clock.advance(s=61)
    assert retention.is_expired(expires, clock.now_ms())


def test_a_freshly_sent_message_is_not_expired() -> None:
    clock = FakeClock()
    assert not retention.is_expired(
        retention.expires_at_ms(clock.now_ms(), limits.MIN_RETENTION_S), clock.now_ms()
    )
