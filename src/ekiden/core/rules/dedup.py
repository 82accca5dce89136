"""FIFO deduplication: the key a send is deduplicated by, and how long it is remembered."""

from __future__ import annotations

from ekiden.core import limits


def dedup_key(dedup_id: str, group_id: str, *, scope_is_message_group: bool) -> str:
    """With DeduplicationScope=messageGroup the same id in two groups is two messages."""
    return f"{group_id}\x00{dedup_id}" if scope_is_message_group else dedup_id


def dedup_expires_ms(now_ms: int) -> int:
    """A dedup id is remembered for five minutes from the send that introduced it, whether
    or not that message is still in the queue."""
    return now_ms + limits.DEDUP_WINDOW_MS


def is_duplicate(remembered_until_ms: int | None, now_ms: int) -> bool:
    return remembered_until_ms is not None and now_ms < remembered_until_ms
