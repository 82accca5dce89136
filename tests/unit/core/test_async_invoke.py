"""Lambda's asynchronous invocation rules: retry schedule and dead-letter message (pure)."""

from __future__ import annotations

import json

from ekiden.core.functions import FunctionSpec, InvokeResult
from ekiden.core.rules.async_invoke import on_failure_message, retry_delay_s, truncate_utf8


def function(retries: int = 2, delay_s: float = 60.0) -> FunctionSpec:
    return FunctionSpec(
        "worker", "app:handler", maximum_retry_attempts=retries, async_retry_delay_s=delay_s
    )


def test_retries_wait_a_minute_then_two_as_lambda_does() -> None:
    spec = function()
    assert [retry_delay_s(spec, attempt) for attempt in (1, 2, 3)] == [60.0, 120.0, None]


def test_each_retry_waits_twice_as_long_as_the_one_before() -> None:
    spec = function(retries=2, delay_s=0.5)
    assert retry_delay_s(spec, 1) == 0.5 and retry_delay_s(spec, 2) == 1.0


def test_a_function_without_retries_gets_none() -> None:
    assert retry_delay_s(function(retries=0), 1) is None
    assert retry_delay_s(function(), 0) is None


def test_the_dead_letter_message_is_the_event_with_why_it_failed() -> None:
    error = json.dumps({"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []})
    result = InvokeResult("req-1", error.encode(), function_error="Unhandled")
    body, attributes = on_failure_message(b'{"order": 7}', "req-1", result, "Unhandled")
    assert body == '{"order": 7}'
    assert attributes == {
        "RequestID": ("String", "req-1"),
        "ErrorCode": ("Number", "200"),
        "ErrorMessage": ("String", "boom"),
    }


def test_a_failure_without_an_error_document_uses_the_given_error() -> None:
    timed_out = InvokeResult("req-2", b"not json", function_error="Unhandled", timed_out=True)
    _, attributes = on_failure_message(b"{}", "req-2", timed_out, "Task timed out")
    assert attributes["ErrorMessage"] == ("String", "Task timed out")
    _, attributes = on_failure_message(b"{}", "req-3", None, "the runtime is stopping")
    assert attributes["ErrorCode"] == ("Number", "500")
    assert attributes["ErrorMessage"] == ("String", "the runtime is stopping")


def test_the_error_message_is_cut_to_one_kilobyte_without_splitting_a_character() -> None:
    result = InvokeResult(
        "req", json.dumps({"errorMessage": "é" * 1000}).encode(), function_error="Unhandled"
    )
    _, attributes = on_failure_message(b"{}", "req", result, "")
    message = attributes["ErrorMessage"][1]
    assert message == "é" * 512 and len(message.encode()) == 1024
    assert truncate_utf8("abc", 2) == "ab" and truncate_utf8("abc", 5) == "abc"
