"""FIFO deduplication rules: the key a send is deduplicated by and its five-minute window."""

from __future__ import annotations

from ekiden.core import limits
from ekiden.core.clock import FakeClock
from ekiden.core.rules import dedup

FIVE_MINUTES_MS = 5 * 60 * 1000


def test_the_dedup_window_is_five_minutes() -> None:
    assert limits.DEDUP_WINDOW_MS == FIVE_MINUTES_MS


def test_with_queue_scope_the_key_is_the_dedup_id_alone() -> None:
    assert dedup.dedup_key("d1", "g1", scope_is_message_group=False) == "d1"
    assert dedup.dedup_key("d1", "g1", scope_is_message_group=False) == dedup.dedup_key(
        "d1", "g2", scope_is_message_group=False
    )


def test_with_message_group_scope_the_same_id_in_two_groups_gives_two_keys() -> None:
    a = dedup.dedup_key("d1", "g1", scope_is_message_group=True)
    b = dedup.dedup_key("d1", "g2", scope_is_message_group=True)
    assert a != b
    assert a == dedup.dedup_key("d1", "g1", scope_is_message_group=True)


def test_with_message_group_scope_group_and_id_cannot_run_together() -> None:
    # "ab" + "c" and "a" + "bc" must not collide.
    assert dedup.dedup_key("c", "ab", scope_is_message_group=True) != dedup.dedup_key(
        "bc", "a", scope_is_message_group=True
    )


def test_a_dedup_id_is_remembered_for_five_minutes_from_the_send() -> None:
    clock = FakeClock()
    assert dedup.dedup_expires_ms(clock.now_ms()) == clock.now_ms() + FIVE_MINUTES_MS


def test_nothing_remembered_is_never_a_duplicate() -> None:
    clock = FakeClock()
    assert not dedup.is_duplicate(None, clock.now_ms())


def test_a_resend_within_the_window_is_a_duplicate() -> None:
    clock = FakeClock()
    remembered_until = dedup.dedup_expires_ms(clock.now_ms())
    assert dedup.is_duplicate(remembered_until, clock.now_ms())
    clock.advance(s=60)
    assert dedup.is_duplicate(remembered_until, clock.now_ms())


def test_a_resend_one_millisecond_before_five_minutes_is_a_duplicate() -> None:
    clock = FakeClock()
    remembered_until = dedup.dedup_expires_ms(clock.now_ms())
    clock.advance(ms=FIVE_MINUTES_MS - 1)
    assert dedup.is_duplicate(remembered_until, clock.now_ms())


def test_a_resend_exactly_five_minutes_later_is_not_a_duplicate() -> None:
    clock = FakeClock()
    remembered_until = dedup.dedup_expires_ms(clock.now_ms())
    clock.advance(s=300)
    assert not dedup.is_duplicate(remembered_until, clock.now_ms())


def test_a_resend_long_after_the_window_is_not_a_duplicate() -> None:
    clock = FakeClock()
    remembered_until = dedup.dedup_expires_ms(clock.now_ms())
    clock.advance(s=3600)
    assert not dedup.is_duplicate(remembered_until, clock.now_ms())
