"""The per-identity token bucket of ekiden.core.rules.rate_limit (pure, no clock)."""

from __future__ import annotations

import pytest

from ekiden.core.rules.rate_limit import RateLimiter


def test_a_new_caller_may_send_a_whole_burst_at_once_and_not_one_more() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=5)
    assert [limiter.acquire("alice", 100.0) for _ in range(5)] == [0.0] * 5
    assert limiter.acquire("alice", 100.0) == pytest.approx(1.0)


def test_tokens_refill_at_the_configured_rate() -> None:
    limiter = RateLimiter(rate_per_s=10.0, burst=1)
    assert limiter.acquire("alice", 0.0) == 0.0
    assert limiter.acquire("alice", 0.05) == pytest.approx(0.05)  # half a token back
    assert limiter.acquire("alice", 0.1) == 0.0


def test_refill_never_exceeds_the_burst() -> None:
    limiter = RateLimiter(rate_per_s=100.0, burst=3)
    limiter.acquire("alice", 0.0)
    allowed = sum(limiter.acquire("alice", 3600.0) == 0.0 for _ in range(10))
    assert allowed == 3


def test_a_refused_request_takes_no_token() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1)
    assert limiter.acquire("alice", 0.0) == 0.0
    for _ in range(50):
        assert limiter.acquire("alice", 0.5) > 0.0
    assert limiter.acquire("alice", 1.0) == 0.0


def test_identities_have_separate_buckets() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1)
    assert limiter.acquire("alice", 0.0) == 0.0
    assert limiter.acquire("alice", 0.0) > 0.0
    assert limiter.acquire("bob", 0.0) == 0.0


def test_a_clock_going_backwards_refills_nothing() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1)
    assert limiter.acquire("alice", 10.0) == 0.0
    assert limiter.acquire("alice", 5.0) > 0.0
    assert limiter.acquire("alice", 10.5) > 0.0
    assert limiter.acquire("alice", 11.0) == 0.0


def test_the_number_of_buckets_stays_bounded_under_rotating_callers() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=2, max_buckets=100)
    for n in range(1000):
        limiter.acquire(f"10.0.{n // 256}.{n % 256}", 0.0)
        assert len(limiter) <= 100


def test_forgetting_refilled_buckets_keeps_the_limit_of_busy_callers() -> None:
    limiter = RateLimiter(rate_per_s=1.0, burst=1, max_buckets=3)
    limiter.acquire("busy", 100.0)
    limiter.acquire("old1", 0.0)
    limiter.acquire("old2", 0.0)
    limiter.acquire("new", 100.0)  # full map: the refilled old1/old2 go, busy stays
    assert limiter.acquire("busy", 100.0) > 0.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (float("inf"), 1), (1.0, 0)])
def test_nonsense_rates_and_bursts_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=rate, burst=burst)
