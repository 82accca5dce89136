"""The Lambda API (REST-JSON) of a live ``ekiden serve --config FILE``, through boto3's
lambda client and hand-made HTTP: functions, event source mappings, Invoke, and what
bad input gets.

These tests need the server to run the functions service of ``[functions.*]`` (the
wiring in ``ekiden.server.app.start_server``); until it does, the module is skipped
with the reason shown.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from tests.support.functions import (
    ACCOUNT_ID,
    REGION,
    FunctionsApp,
    function_arn,
    lambda_client,
    queue_arn,
    sqs,
    wait_for,
)
from tests.support.server import EkidenProcess

ECHO_HANDLER = """
import os


def handle(event, context):
    print("hello from echo", context.function_name)
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("asked to fail: " + str(event["fail"]))
    return {"echo": event, "env": os.environ.get("GREETING")}
"""

RECORD_HANDLER = """
from recorder import record


def handle(event, context):
    record("events", event=event)
"""

SLOW_HANDLER = """
import time

from recorder import record


def handle(event, context):
    record("slow", started=True)
    time.sleep(event.get("sleep_s", 0))
    return "done"
"""

SLOW_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path_factory.mktemp("lambda-api"))
    app.write_handler("echo", ECHO_HANDLER)
    app.write_handler("record", RECORD_HANDLER)
    app.write_handler("slow", SLOW_HANDLER)
    app.write_config(
        functions={
            "echo": app.function(
                "echo:handle",
                timeout_s=5,
                memory_mb=256,
                description="echoes its event",
                environment={"GREETING": "hi"},
            ),
            "record": app.function("record:handle", maximum_retry_attempts=0),
            "slow": app.function("slow:handle", timeout_s=SLOW_TIMEOUT_S, concurrency=1),
        },
    )
    yield app
    app.close()


@pytest.fixture(scope="module")
def awslambda(server: EkidenProcess) -> Any:
    return lambda_client(server.endpoint)


@pytest.fixture(scope="module")
def unchecked(server: EkidenProcess) -> Any:
    """A lambda client that leaves every check to the server (botocore checks minimums)."""
    return boto3.client(
        "lambda",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=False),
    )


@pytest.fixture(scope="module")
def sqs_api(server: EkidenProcess) -> Any:
    return sqs(server.endpoint)


def make_queue(client: Any, name: str, **attributes: str) -> str:
    """Create a queue; its ARN."""
    if name.endswith(".fifo"):
        attributes["FifoQueue"] = "true"
    client.create_queue(QueueName=name, Attributes=attributes)
    return queue_arn(name)


def error_of(raised: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, int]:
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# --- functions ----------------------------------------------------------------------------


def test_list_functions_shows_every_declared_function(awslambda: Any) -> None:
    functions = awslambda.list_functions()["Functions"]
    assert [f["FunctionName"] for f in functions] == ["echo", "record", "slow"]
    echo = functions[0]
    assert echo["FunctionArn"] == function_arn("echo")
    assert echo["Handler"] == "echo:handle"
    assert (echo["Timeout"], echo["MemorySize"]) == (5, 256)
    assert echo["Description"] == "echoes its event"
    assert echo["Environment"]["Variables"]["GREETING"] == "hi"
    assert echo["Runtime"].startswith("python3.")
    assert (echo["Version"], echo["State"], echo["PackageType"]) == ("$LATEST", "Active", "Zip")
    assert echo["LastModified"].endswith("+0000")


def test_list_functions_pages_with_max_items_and_markers(awslambda: Any) -> None:
    first = awslambda.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["echo", "record"]
    second = awslambda.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["slow"]
    assert "NextMarker" not in second
    paginator = awslambda.get_paginator("list_functions")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 1}))
    assert [p["Functions"][0]["FunctionName"] for p in pages] == ["echo", "record", "slow"]


def test_get_function_by_name_or_arn_shows_code_and_reserved_concurrency(
    awslambda: Any, app: FunctionsApp
) -> None:
    by_name = awslambda.get_function(FunctionName="slow")
    by_arn = awslambda.get_function(FunctionName=function_arn("slow"))
    assert by_name["Configuration"] == by_arn["Configuration"]
    assert by_name["Code"] == {"RepositoryType": "ekiden", "Location": str(app.code_dir)}
    assert by_name["Concurrency"] == {"ReservedConcurrentExecutions": 1}
    assert "Concurrency" not in awslambda.get_function(FunctionName="echo")


def test_get_function_configuration_is_the_configuration_of_get_function(
    awslambda: Any,
) -> None:
    configuration = awslambda.get_function_configuration(FunctionName="echo")
    configuration.pop("ResponseMetadata")
    assert configuration == awslambda.get_function(FunctionName="echo")["Configuration"]
    qualified = awslambda.get_function_configuration(FunctionName="echo", Qualifier="$LATEST")
    assert qualified["FunctionArn"] == function_arn("echo")


@pytest.mark.parametrize(
    ("name", "qualifier"), [("nope", None), ("echo", "1"), (function_arn("nope"), None)]
)
def test_an_unknown_function_or_version_is_not_found(
    awslambda: Any, name: str, qualifier: str | None
) -> None:
    extra = {"Qualifier": qualifier} if qualifier else {}
    with pytest.raises(awslambda.exceptions.ResourceNotFoundException) as raised:
        awslambda.get_function(FunctionName=name, **extra)
    assert error_of(raised) == ("ResourceNotFoundException", 404)
    assert "Function not found" in raised.value.response["Error"]["Message"]


# --- event source mappings --------------------------------------------------------------


def test_a_mapping_is_created_read_listed_updated_and_deleted(awslambda: Any, sqs_api: Any) -> None:
    source = make_queue(sqs_api, "lifecycle", VisibilityTimeout="60")
    created = awslambda.create_event_source_mapping(
        FunctionName="echo", EventSourceArn=source, BatchSize=5
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    uuid = created["UUID"]
    assert created["EventSourceMappingArn"] == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:event-source-mapping:{uuid}"
    )
    assert (created["FunctionArn"], created["EventSourceArn"]) == (function_arn("echo"), source)
    assert created["StateTransitionReason"] == "USER_INITIATED"

    got = awslambda.get_event_source_mapping(UUID=uuid)
    assert (got["State"], got["BatchSize"], got["MaximumBatchingWindowInSeconds"]) == (
        "Enabled",
        5,
        0,
    )
    assert got["LastModified"].year >= 2025  # epoch seconds, parsed by botocore
    assert "FilterCriteria" not in got

    listed = awslambda.list_event_source_mappings(FunctionName="echo")["EventSourceMappings"]
    assert uuid in [m["UUID"] for m in listed]
    by_queue = awslambda.list_event_source_mappings(EventSourceArn=source)["EventSourceMappings"]
    assert [m["UUID"] for m in by_queue] == [uuid]

    pattern = json.dumps({"body": {"kind": ["order"]}})
    updated = awslambda.update_event_source_mapping(
        UUID=uuid,
        Enabled=False,
        BatchSize=50,
        MaximumBatchingWindowInSeconds=3,
        FilterCriteria={"Filters": [{"Pattern": pattern}]},
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 4},
    )
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Updating"
    got = awslambda.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Disabled"
    assert (got["BatchSize"], got["MaximumBatchingWindowInSeconds"]) == (50, 3)
    assert got["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert got["ScalingConfig"] == {"MaximumConcurrency": 4}

    cleared = awslambda.update_event_source_mapping(UUID=uuid, FilterCriteria={}, ScalingConfig={})
    assert "FilterCriteria" not in cleared
    assert "ScalingConfig" not in cleared

    deleted = awslambda.delete_event_source_mapping(UUID=uuid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (deleted["State"], deleted["UUID"]) == ("Deleting", uuid)
    with pytest.raises(awslambda.exceptions.ResourceNotFoundException) as raised:
        awslambda.get_event_source_mapping(UUID=uuid)
    assert error_of(raised) == ("ResourceNotFoundException", 404)
    with pytest.raises(awslambda.exceptions.ResourceNotFoundException):
        awslambda.delete_event_source_mapping(UUID=uuid)


def test_list_event_source_mappings_pages_with_max_items(awslambda: Any, sqs_api: Any) -> None:
    uuids = {
        awslambda.create_event_source_mapping(
            FunctionName="record", EventSourceArn=make_queue(sqs_api, f"paged-{i}")
        )["UUID"]
        for i in range(3)
    }
    paginator = awslambda.get_paginator("list_event_source_mappings")
    pages = list(paginator.paginate(FunctionName="record", PaginationConfig={"PageSize": 2}))
    seen = [m["UUID"] for p in pages for m in p["EventSourceMappings"]]
    assert len(pages) >= 2
    assert uuids <= set(seen)
    assert len(seen) == len(set(seen))
    for uuid in uuids:
        awslambda.delete_event_source_mapping(UUID=uuid)


def test_a_mapping_of_an_unknown_function_is_refused(awslambda: Any, sqs_api: Any) -> None:
    source = make_queue(sqs_api, "no-function")
    with pytest.raises(awslambda.exceptions.InvalidParameterValueException) as raised:
        awslambda.create_event_source_mapping(FunctionName="nope", EventSourceArn=source)
    assert error_of(raised) == ("InvalidParameterValueException", 400)


def test_a_mapping_of_an_unknown_queue_is_refused(awslambda: Any) -> None:
    with pytest.raises(awslambda.exceptions.InvalidParameterValueException) as raised:
        awslambda.create_event_source_mapping(
            FunctionName="echo", EventSourceArn=queue_arn("never-created")
        )
    assert "NonExistentQueue" in raised.value.response["Error"]["Message"]


def test_a_second_mapping_of_the_same_function_and_queue_conflicts(
    awslambda: Any, sqs_api: Any
) -> None:
    source = make_queue(sqs_api, "duplicate", VisibilityTimeout="60")
    first = awslambda.create_event_source_mapping(FunctionName="echo", EventSourceArn=source)
    try:
        with pytest.raises(awslambda.exceptions.ResourceConflictException) as raised:
            awslambda.create_event_source_mapping(FunctionName="echo", EventSourceArn=source)
        assert error_of(raised) == ("ResourceConflictException", 409)
        assert first["UUID"] in raised.value.response["Error"]["Message"]
    finally:
        awslambda.delete_event_source_mapping(UUID=first["UUID"])


@pytest.mark.parametrize(
    ("queue", "attributes", "parameters", "words"),
    [
        ("fifo-batch.fifo", {}, {"BatchSize": 11}, "batch"),
        ("fifo-window.fifo", {}, {"MaximumBatchingWindowInSeconds": 1}, "FIFO"),
        ("big-batch", {}, {"BatchSize": 100}, "Maximum batch window"),
        ("too-big", {}, {"BatchSize": 10_001}, "less than or equal to 10000"),
        ("long-window", {}, {"MaximumBatchingWindowInSeconds": 301}, "300"),
        ("scaling", {}, {"ScalingConfig": {"MaximumConcurrency": 1}}, "greater than or equal"),
        ("short-visibility", {"VisibilityTimeout": "2"}, {}, "visibility timeout"),
        ("positioned", {}, {"StartingPosition": "LATEST"}, "StartingPosition"),
        ("bad-filter", {}, {"FilterCriteria": {"Filters": [{"Pattern": "{"}]}}, ""),
        ("response-type", {}, {"FunctionResponseTypes": ["Other"]}, "enum value set"),
    ],
)
def test_mapping_parameters_lambda_refuses_are_refused_and_change_nothing(
    unchecked: Any,
    sqs_api: Any,
    queue: str,
    attributes: dict[str, str],
    parameters: dict[str, Any],
    words: str,
) -> None:
    source = make_queue(sqs_api, queue, **attributes)
    before = unchecked.list_event_source_mappings()["EventSourceMappings"]
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        unchecked.create_event_source_mapping(
            FunctionName="echo", EventSourceArn=source, **parameters
        )
    assert error_of(raised) == ("InvalidParameterValueException", 400)
    assert words.lower() in raised.value.response["Error"]["Message"].lower()
    assert unchecked.list_event_source_mappings()["EventSourceMappings"] == before


def test_an_update_that_breaks_a_rule_changes_nothing(awslambda: Any, sqs_api: Any) -> None:
    source = make_queue(sqs_api, "update-rules.fifo", VisibilityTimeout="60")
    uuid = awslambda.create_event_source_mapping(FunctionName="echo", EventSourceArn=source)["UUID"]
    try:
        before = awslambda.get_event_source_mapping(UUID=uuid)
        with pytest.raises(awslambda.exceptions.InvalidParameterValueException):
            awslambda.update_event_source_mapping(UUID=uuid, MaximumBatchingWindowInSeconds=5)
        with pytest.raises(awslambda.exceptions.InvalidParameterValueException):
            awslambda.update_event_source_mapping(UUID=uuid, BatchSize=11)
        after = awslambda.get_event_source_mapping(UUID=uuid)
        before.pop("ResponseMetadata")
        after.pop("ResponseMetadata")
        assert after == before
    finally:
        awslambda.delete_event_source_mapping(UUID=uuid)


def test_updating_an_unknown_mapping_is_not_found(awslambda: Any) -> None:
    with pytest.raises(awslambda.exceptions.ResourceNotFoundException):
        awslambda.update_event_source_mapping(
            UUID="00000000-0000-4000-8000-000000000000", BatchSize=2
        )


# --- Invoke -------------------------------------------------------------------------------


def test_a_synchronous_invoke_returns_the_handlers_value(awslambda: Any) -> None:
    answer = awslambda.invoke(FunctionName="echo", Payload=json.dumps({"n": 1}))
    assert answer["StatusCode"] == 200
    assert answer["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"echo": {"n": 1}, "env": "hi"}


def test_an_invoke_by_url_encoded_arn_reaches_the_function(server: EkidenProcess) -> None:
    path = quote(function_arn("echo"), safe="")
    answer = requests.post(
        f"{server.endpoint}/2015-03-31/functions/{path}/invocations", data=b'"x"', timeout=30
    )
    assert answer.status_code == 200
    assert answer.json() == {"echo": "x", "env": "hi"}
    assert answer.headers["X-Amz-Executed-Version"] == "$LATEST"


def test_a_handler_error_is_an_unhandled_function_error_with_status_200(
    awslambda: Any,
) -> None:
    answer = awslambda.invoke(FunctionName="echo", Payload=json.dumps({"fail": "now"}))
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    document = json.loads(answer["Payload"].read())
    assert document["errorType"] == "ValueError"
    assert document["errorMessage"] == "asked to fail: now"


def test_tail_logs_return_the_invocations_log(awslambda: Any) -> None:
    answer = awslambda.invoke(FunctionName="echo", Payload=b"{}", LogType="Tail")
    log = base64.b64decode(answer["LogResult"]).decode()
    assert "hello from echo echo" in log
    assert len(base64.b64decode(answer["LogResult"])) <= 4096
    assert "LogResult" not in awslambda.invoke(FunctionName="echo", Payload=b"{}")


def test_an_event_invoke_answers_202_at_once_and_runs_later(
    awslambda: Any, app: FunctionsApp
) -> None:
    answer = awslambda.invoke(
        FunctionName="record", InvocationType="Event", Payload=json.dumps({"id": "e1"})
    )
    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    wait_for(
        lambda: any(r["event"] == {"id": "e1"} for r in app.records("events")),
        30,
        "the event invocation to run",
        last=lambda: app.records("events"),
    )


def test_a_dry_run_answers_204_and_runs_nothing(awslambda: Any, app: FunctionsApp) -> None:
    answer = awslambda.invoke(
        FunctionName="record", InvocationType="DryRun", Payload=json.dumps({"id": "dry"})
    )
    assert answer["StatusCode"] == 204
    assert all(r["event"] != {"id": "dry"} for r in app.records("events"))


def test_invoking_an_unknown_function_is_not_found(awslambda: Any) -> None:
    with pytest.raises(awslambda.exceptions.ResourceNotFoundException):
        awslambda.invoke(FunctionName="nope", Payload=b"{}")
    with pytest.raises(awslambda.exceptions.ResourceNotFoundException):
        awslambda.invoke(FunctionName="echo", Qualifier="7", Payload=b"{}")


def test_a_payload_that_is_not_json_is_invalid_request_content(awslambda: Any) -> None:
    with pytest.raises(awslambda.exceptions.InvalidRequestContentException) as raised:
        awslambda.invoke(FunctionName="echo", Payload=b"{not json")
    assert error_of(raised) == ("InvalidRequestContentException", 400)


def test_a_function_at_its_reserved_concurrency_throttles_with_429(
    awslambda: Any, app: FunctionsApp
) -> None:
    started = len(app.records("slow"))
    outcome: dict[str, Any] = {}

    def long_call() -> None:
        outcome["first"] = lambda_client_call(awslambda, {"sleep_s": 4})

    thread = threading.Thread(target=long_call)
    thread.start()
    try:
        wait_for(lambda: len(app.records("slow")) > started, 30, "the slow handler to start")
        with pytest.raises(awslambda.exceptions.TooManyRequestsException) as raised:
            awslambda.invoke(FunctionName="slow", Payload=b"{}")
        assert error_of(raised) == ("TooManyRequestsException", 429)
        assert raised.value.response["Reason"] == (
            "ReservedFunctionConcurrentInvocationLimitExceeded"
        )
    finally:
        thread.join(SLOW_TIMEOUT_S + 10)
    assert outcome["first"] == "done"


def lambda_client_call(client: Any, event: dict[str, Any]) -> Any:
    answer = client.invoke(FunctionName="slow", Payload=json.dumps(event))
    return json.loads(answer["Payload"].read())


# --- bad HTTP -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/2015-03-31/event-source-mappings/", b"{oops", 400,
         "InvalidRequestContentException"),
        ("POST", "/2015-03-31/event-source-mappings/", b"[]", 400,
         "InvalidRequestContentException"),
        ("POST", "/2015-03-31/event-source-mappings/", b'{"BatchSize": "ten"}', 400,
         "InvalidRequestContentException"),
        ("PUT", "/2015-03-31/event-source-mappings/00000000-0000-4000-8000-000000000000",
         b'{"Enabled": 1}', 400, "InvalidRequestContentException"),
        ("GET", "/2015-03-31/functions/?MaxItems=0", b"", 400, "InvalidParameterValueException"),
        ("GET", "/2015-03-31/functions/?MaxItems=99999", b"", 400,
         "InvalidParameterValueException"),
        ("GET", "/2015-03-31/event-source-mappings/?MaxItems=x", b"", 400,
         "InvalidParameterValueException"),
        ("GET", "/2015-03-31/layers", b"", 404, "UnknownOperationException"),
        ("DELETE", "/2015-03-31/functions/echo", b"", 404, "UnknownOperationException"),
        ("POST", "/2015-03-31/functions/echo/invocations", b"{}", 400,
         "InvalidParameterValueException"),  # with X-Amz-Invocation-Type: Bogus below
    ],
)  # fmt: skip
def test_bad_requests_get_lambdas_error_and_never_a_500(
    server: EkidenProcess, method: str, path: str, body: bytes, status: int, code: str
) -> None:
    headers = {"X-Amz-Invocation-Type": "Bogus"} if path.endswith("invocations") else {}
    answer = requests.request(
        method, server.endpoint + path, data=body, headers=headers, timeout=30
    )
    assert (answer.status_code, answer.headers.get("x-amzn-ErrorType")) == (status, code)
    document = answer.json()
    assert document["Type"] == "User"
    assert document.get("message") or document.get("Message")
    assert answer.headers.get("x-amzn-RequestId")


def test_bad_requests_leave_the_mappings_as_they_were(
    server: EkidenProcess, awslambda: Any
) -> None:
    before = awslambda.list_event_source_mappings()["EventSourceMappings"]
    for body in (b"{oops", b'{"FunctionName": "echo", "EventSourceArn": 5}', b"null"):
        answer = requests.post(
            f"{server.endpoint}/2015-03-31/event-source-mappings/", data=body, timeout=30
        )
        assert 400 <= answer.status_code < 500
    assert awslambda.list_event_source_mappings()["EventSourceMappings"] == before


def test_sqs_requests_still_work_beside_the_lambda_api(sqs_api: Any) -> None:
    url = sqs_api.create_queue(QueueName="beside")["QueueUrl"]
    sqs_api.send_message(QueueUrl=url, MessageBody="still here")
    messages = sqs_api.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert messages[0]["Body"] == "still here"
