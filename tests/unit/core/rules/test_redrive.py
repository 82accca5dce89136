"""Redrive rules: when a message goes to its dead-letter queue, and its expiry there."""

from __future__ import annotations

import pytest

from ekiden.core.clock import FakeClock
from ekiden.core.rules import redrive
from ekiden.core.rules.retention import expires_at_ms

DAY_S = 24 * 60 * 60


def test_a_message_received_fewer_times_than_the_maximum_is_delivered() -> None:
    assert not redrive.must_dead_letter(0, 1)
    assert not redrive.must_dead_letter(4, 5)


def test_a_message_received_exactly_the_maximum_number_of_times_is_dead_lettered() -> None:
    assert redrive.must_dead_letter(1, 1)
    assert redrive.must_dead_letter(5, 5)
    assert redrive.must_dead_letter(1000, 1000)


def test_a_message_received_more_than_the_maximum_is_dead_lettered() -> None:
    assert redrive.must_dead_letter(6, 5)


@pytest.mark.parametrize("max_receive_count", [1, 3, 1000])
def test_a_message_is_delivered_max_receive_count_times_and_moved_on_the_next_receive(
    max_receive_count: int,
) -> None:
    receive_count = 0
    deliveries = 0
    while not redrive.must_dead_letter(receive_count, max_receive_count):
        receive_count += 1
        deliveries += 1
    assert deliveries == max_receive_count


def test_a_fifo_dead_letter_queue_restarts_the_retention_clock_on_arrival() -> None:
    clock = FakeClock()
    sent = clock.now_ms()
    clock.advance(s=DAY_S)
    expiry = redrive.dead_letter_expiry_ms(
        sent_ms=sent,
        now_ms=clock.now_ms(),
        dlq_retention_ms=4 * DAY_S * 1000,
        dlq_is_fifo=True,
    )
    assert expiry == clock.now_ms() + 4 * DAY_S * 1000


def test_a_standard_dead_letter_queue_keeps_the_original_expiry_when_retentions_match() -> None:
    # The AWS guide's example: one day in the source queue, four-day retention in the
    # DLQ, so the message is deleted from the DLQ three days after it arrives.
    clock = FakeClock()
    sent = clock.now_ms()
    original_expires = expires_at_ms(sent, 4 * DAY_S)
    clock.advance(s=DAY_S)
    expiry = redrive.dead_letter_expiry_ms(
        sent_ms=sent,
        now_ms=clock.now_ms(),
        dlq_retention_ms=4 * DAY_S * 1000,
        dlq_is_fifo=False,
    )
    assert expiry == original_expires
    assert expiry - clock.now_ms() == 3 * DAY_S * 1000


def test_a_standard_dead_letter_queue_applies_its_own_retention_to_the_original_send_time() -> None:
    clock = FakeClock()
    sent = clock.now_ms()
    clock.advance(s=3600)
    expiry = redrive.dead_letter_expiry_ms(
        sent_ms=sent,
        now_ms=clock.now_ms(),
        dlq_retention_ms=14 * DAY_S * 1000,  # DLQ keeps them 14 days
        dlq_is_fifo=False,
    )
    assert expiry == sent + 14 * DAY_S * 1000
