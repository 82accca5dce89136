"""Visibility: when a delivered message may be seen again, and how far it may be hidden."""

from __future__ import annotations

from ekiden.core import limits

MAX_VISIBILITY_MS = limits.MAX_VISIBILITY_TIMEOUT_S * 1000


def is_visible(visible_at_ms: int, now_ms: int) -> bool:
    """A message is receivable once its visibility (or delay) time has come."""
    return visible_at_ms <= now_ms


def hidden_until(now_ms: int, visibility_timeout_s: int) -> int:
    """When a message received (or re-hidden) now becomes visible again."""
    return now_ms + visibility_timeout_s * 1000


def extension_allowed(received_ms: int | None, now_ms: int, visibility_timeout_s: int) -> bool:
    """SQS caps a delivery's total invisibility at 12 hours from the receive that began it;
    a ChangeMessageVisibility that would reach past that is refused."""
    start = received_ms if received_ms is not None else now_ms
    return hidden_until(now_ms, visibility_timeout_s) - start <= MAX_VISIBILITY_MS
