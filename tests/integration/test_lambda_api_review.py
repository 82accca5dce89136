"""Fixes of the Lambda API review, against a live ``ekiden serve --config FILE``: what
boto3 and raw HTTP get for an oversized event, for payloads that are not JSON although
Python's parser reads them, and for nesting that used to crash the request (a 500).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import requests

from tests.support.functions import FunctionsApp, lambda_client, wait_for
from tests.support.server import EkidenProcess

RECORD_HANDLER = """
from recorder import record


def handle(event, context):
    record("events", event=event)
    return {"seen": event}
"""

ASYNC_LIMIT_BYTES = 1_048_576  # Invoke with InvocationType=Event takes at most 1 MB (2025)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path_factory.mktemp("lambda-api-review"))
    app.write_handler("record", RECORD_HANDLER)
    app.write_config(functions={"record": app.function("record:handle")})
    yield app
    app.close()


@pytest.fixture(scope="module")
def awslambda(server: EkidenProcess) -> Any:
    return lambda_client(server.endpoint)


def invoke_raw(server: EkidenProcess, body: bytes, invocation_type: str) -> requests.Response:
    return requests.post(
        f"{server.endpoint}/2015-03-31/functions/record/invocations",
        data=body,
        headers={"X-Amz-Invocation-Type": invocation_type},
        timeout=30,
    )


def test_an_oversized_event_is_refused_as_request_entity_too_large(
    awslambda: Any, app: FunctionsApp
) -> None:
    payload = json.dumps({"marker": "too-big", "x": "a" * ASYNC_LIMIT_BYTES}).encode()
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        awslambda.invoke(FunctionName="record", InvocationType="Event", Payload=payload)
    response = raised.value.response
    assert response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert response["Error"]["Message"] == (
        f"{len(payload)} byte payload is too large for the Event invocation type "
        f"(limit {ASYNC_LIMIT_BYTES} bytes)"
    )
    # an event just within the limit is taken, and runs
    fits = json.dumps({"marker": "fits", "x": "a" * (ASYNC_LIMIT_BYTES - 100)}).encode()
    assert len(fits) <= ASYNC_LIMIT_BYTES
    answer = awslambda.invoke(FunctionName="record", InvocationType="Event", Payload=fits)
    assert answer["StatusCode"] == 202
    wait_for(
        lambda: any(r["event"]["marker"] == "fits" for r in app.records("events")),
        30,
        "the event within the limit to run",
    )
    assert all(r["event"]["marker"] != "too-big" for r in app.records("events"))


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
@pytest.mark.parametrize(
    "body",
    [b"NaN", b'{"marker": Infinity}', b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
    ids=["nan", "infinity", "deep-list", "deep-object"],
)
def test_payloads_that_are_not_json_or_nest_too_deeply_get_invalid_request_content(
    server: EkidenProcess, app: FunctionsApp, invocation_type: str, body: bytes
) -> None:
    answer = invoke_raw(server, body, invocation_type)
    assert (answer.status_code, answer.headers.get("x-amzn-ErrorType")) == (
        400,
        "InvalidRequestContentException",
    )
    assert answer.json()["Type"] == "User"
    # nothing ran, nothing failed inside the server, and it goes on serving
    assert invoke_raw(server, b'{"marker": "after"}', "RequestResponse").json() == {
        "seen": {"marker": "after"}
    }
    assert all(
        isinstance(r["event"], dict) and r["event"].get("marker") in ("fits", "after")
        for r in app.records("events")
    )
    assert "Traceback" not in server.log_text
    assert "rejected Invoke: InvalidRequestContentException" in server.log_text
