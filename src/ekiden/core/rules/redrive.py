"""Dead-letter redrive: when a message has been received too often."""

from __future__ import annotations


def must_dead_letter(receive_count: int, max_receive_count: int) -> bool:
    """True when a message already received ``max_receive_count`` times is about to be
    received again: SQS moves it to the dead-letter queue instead of delivering it."""
    return receive_count >= max_receive_count


def dead_letter_expiry_ms(
    *, original_expires_ms: int, now_ms: int, dlq_retention_ms: int, dlq_is_fifo: bool
) -> int:
    """Retention in the DLQ: a standard DLQ keeps the original enqueue time, a FIFO DLQ
    restarts the clock when the message arrives (as SQS documents)."""
    return now_ms + dlq_retention_ms if dlq_is_fifo else original_expires_ms
