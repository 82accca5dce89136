"""The handler's context object: Lambda's fields, client context decoding, remaining time."""

from __future__ import annotations

import base64
import time

import pytest

from ekiden.runtime.context import LambdaContext, parse_client_context


def make_context(**changes: object) -> LambdaContext:
    fields: dict[str, object] = {
        "aws_request_id": "req",
        "function_name": "fn",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
        "memory_limit_in_mb": 128,
        "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2026/01/02/[$LATEST]" + "0" * 32,
        "deadline_monotonic_s": time.monotonic() + 3,
        **changes,
    }
    return LambdaContext(**fields)  # type: ignore[arg-type]


def test_remaining_time_counts_down_from_the_deadline_and_stops_at_zero() -> None:
    context = make_context()
    first = context.get_remaining_time_in_millis()
    assert 2900 <= first <= 3000
    time.sleep(0.05)
    assert 40 <= first - context.get_remaining_time_in_millis() <= 500
    assert (
        make_context(deadline_monotonic_s=time.monotonic() - 1).get_remaining_time_in_millis() == 0
    )


def test_a_fresh_context_has_lambdas_defaults() -> None:
    context = make_context()
    assert context.function_version == "$LATEST"
    assert context.identity is None and context.client_context is None
    assert "aws_request_id=req" in repr(context)


def test_a_client_context_is_decoded_from_base64_json() -> None:
    raw = (
        b'{"client": {"installation_id": "i-1", "app_title": "shop"},'
        b' "custom": {"a": 1}, "env": {"locale": "fr"}}'
    )
    parsed = parse_client_context(base64.b64encode(raw).decode())
    assert parsed is not None
    assert parsed.custom == {"a": 1} and parsed.env == {"locale": "fr"}
    assert parsed.client is not None
    assert (parsed.client.installation_id, parsed.client.app_title) == ("i-1", "shop")
    assert parsed.client.app_version_code is None


def test_no_client_context_gives_none() -> None:
    assert parse_client_context(None) is None
    assert parse_client_context("") is None


@pytest.mark.parametrize("encoded", ["not base64!", base64.b64encode(b"[1]").decode()])
def test_a_client_context_that_is_not_base64_of_an_object_is_rejected(encoded: str) -> None:
    with pytest.raises(ValueError, match="base64 of a JSON object"):
        parse_client_context(encoded)
