"""Dead-letter redrive: when a message has been received too often."""

from __future__ import annotations


def must_dead_letter(receive_count: int, max_receive_count: int) -> bool:
    """True when a message already received ``max_receive_count`` times is about to be
    received again: SQS moves it to the dead-letter queue instead of delivering it."""
    return receive_count >= max_receive_count


def dead_letter_expiry_ms(
    *, sent_ms: int, now_ms: int, dlq_retention_ms: int, dlq_is_fifo: bool
) -> int:
    """When a dead-lettered message expires under the DLQ's retention period. A standard
    DLQ counts from the original enqueue time (a message that spent a day in its source
    leaves a 4-day DLQ after 3 more days); a FIFO DLQ restarts the clock on arrival."""
    return now_ms + dlq_retention_ms if dlq_is_fifo else sent_ms + dlq_retention_ms
