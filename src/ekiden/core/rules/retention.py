"""Retention: how long a message may stay in its queue."""

from __future__ import annotations


def expires_at_ms(sent_ms: int, retention_s: int) -> int:
    return sent_ms + retention_s * 1000


def is_expired(expires_ms: int, now_ms: int) -> bool:
    return expires_ms <= now_ms
