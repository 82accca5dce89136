"""Asynchronous invocation (``InvocationType=Event``) semantics of Lambda (pure).

Lambda runs an asynchronous invocation, and when the function fails (an error, a
timeout, a crash) retries it up to ``MaximumRetryAttempts`` times (0-2, default 2): the
first retry a minute after the failure, the second two minutes after the next one. An
event that failed every attempt goes to the function's dead-letter queue: the message
body is the event payload, unchanged, and three message attributes tell why (AWS Lambda
Developer Guide, "Dead-letter queues"): ``RequestID`` (String), ``ErrorCode`` (Number, a
3-digit HTTP status code) and ``ErrorMessage`` (String, truncated to 1 KB).
"""

from __future__ import annotations

import json
from typing import Final

from ekiden.core.functions import FunctionSpec, InvokeResult

MAX_ERROR_MESSAGE_BYTES: Final = 1024
"""``ErrorMessage`` is truncated to 1 KB."""

FUNCTION_ERROR_STATUS: Final = "200"
"""The status of an Invoke whose function failed: Lambda answers 200 with a
``X-Amz-Function-Error`` header, and its dead-letter messages carry that code."""

SERVICE_ERROR_STATUS: Final = "500"
"""The status recorded when the function could not be run at all."""

DeadLetterAttributes = dict[str, tuple[str, str]]
"""Message attribute name -> (DataType, StringValue)."""


def retry_delay_s(function: FunctionSpec, attempt: int) -> float | None:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry), or ``None``
    when ``function.maximum_retry_attempts`` allows no such retry.

    The first retry waits ``function.async_retry_delay_s``; each later one twice as long
    as the one before (Lambda: 60 s, then 120 s).
    """
    if attempt < 1 or attempt > function.maximum_retry_attempts:
        return None
    return float(function.async_retry_delay_s * 2 ** (attempt - 1))


def on_failure_message(
    payload: bytes, request_id: str, result: InvokeResult | None, error: str
) -> tuple[str, DeadLetterAttributes]:
    """The body and message attributes of the dead-letter message of an asynchronous
    invocation that failed every attempt.

    ``result`` is the last attempt's result (``None`` when the function could not be run
    at all, for example because the runtime was stopping); ``error`` describes the
    failure when the result does not (no result, or no ``errorMessage`` in its error
    document). The body is the payload as text (invocation payloads are JSON, so UTF-8).
    """
    if result is None:
        status = SERVICE_ERROR_STATUS
        message = error
    else:
        status = FUNCTION_ERROR_STATUS
        message = _error_message(result.payload) or error
    attributes: DeadLetterAttributes = {
        "RequestID": ("String", request_id),
        "ErrorCode": ("Number", status),
        "ErrorMessage": ("String", truncate_utf8(message, MAX_ERROR_MESSAGE_BYTES)),
    }
    return payload.decode("utf-8", errors="replace"), attributes


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", errors="ignore")


def _error_message(document: bytes) -> str:
    """The ``errorMessage`` of Lambda's error document, or ``""``."""
    try:
        parsed = json.loads(document)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage")
        if isinstance(message, str):
            return message
    return ""
