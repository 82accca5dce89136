"""Decoding of Lambda REST-JSON requests: routes, mapping bodies, Invoke headers."""

from __future__ import annotations

import base64

import pytest

from ekiden.core.errors import (
    InvalidParameterValue,
    MalformedRequest,
    UnknownOperation,
)
from ekiden.core.rules.mappings import CLEAR, MappingChanges
from ekiden.protocols.awslambda.requests import (
    Route,
    decode_invoke,
    decode_mapping_body,
    max_items,
    parse_query,
    qualified_name,
    route,
    split_qualifier,
)

ARN = "arn:aws:lambda:us-east-1:000000000000:function:work"
UUID = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/2015-03-31/functions/", Route("ListFunctions")),
        ("GET", "/2015-03-31/functions", Route("ListFunctions")),
        ("GET", "/2015-03-31/functions/work", Route("GetFunction", function_name="work")),
        ("GET", "/2015-03-31/functions/work/", Route("GetFunction", function_name="work")),
        (
            "GET",
            "/2015-03-31/functions/work/configuration",
            Route("GetFunctionConfiguration", function_name="work"),
        ),
        (
            "POST",
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction"
            "%3Awork/invocations",
            Route("Invoke", function_name=ARN),
        ),
        ("POST", "/2015-03-31/event-source-mappings/", Route("CreateEventSourceMapping")),
        ("POST", "/2015-03-31/event-source-mappings", Route("CreateEventSourceMapping")),
        ("GET", "/2015-03-31/event-source-mappings/", Route("ListEventSourceMappings")),
        (
            "GET",
            f"/2015-03-31/event-source-mappings/{UUID}",
            Route("GetEventSourceMapping", uuid=UUID),
        ),
        (
            "PUT",
            f"/2015-03-31/event-source-mappings/{UUID}/",
            Route("UpdateEventSourceMapping", uuid=UUID),
        ),
        (
            "DELETE",
            f"/2015-03-31/event-source-mappings/{UUID}",
            Route("DeleteEventSourceMapping", uuid=UUID),
        ),
    ],
)
def test_each_operation_is_found_by_method_and_path(
    method: str, path: str, expected: Route
) -> None:
    assert route(method, path) == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/2015-03-31/layers"),
        ("DELETE", "/2015-03-31/functions/work"),
        ("PUT", "/2015-03-31/functions/"),
        ("GET", "/2015-03-31/functions/work/invocations"),
        ("POST", "/2015-03-31/functions/work/policy"),
        ("GET", "/2015-03-31/functions//configuration"),
        ("PATCH", f"/2015-03-31/event-source-mappings/{UUID}"),
        ("GET", f"/2015-03-31/event-source-mappings/{UUID}/extra"),
        ("GET", "/2016-08-19/account-settings"),
    ],
)
def test_other_paths_and_methods_are_unknown_operations(method: str, path: str) -> None:
    with pytest.raises(UnknownOperation):
        route(method, path)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("work", ("work", None)),
        ("work:$LATEST", ("work", "$LATEST")),
        (ARN, (ARN, None)),
        (f"{ARN}:7", (ARN, "7")),
        ("000000000000:function:work", ("000000000000:function:work", None)),
        ("000000000000:function:work:prod", ("000000000000:function:work", "prod")),
    ],
)
def test_a_qualifier_is_split_from_names_and_arns(
    given: str, expected: tuple[str, str | None]
) -> None:
    assert split_qualifier(given) == expected


def test_max_items_defaults_when_absent_and_is_held_to_its_range() -> None:
    assert max_items({}, 50) == 50
    assert max_items({"MaxItems": "10000"}, 50) == 10000
    for bad in ("0", "10001", "-3", "ten", ""):
        with pytest.raises(InvalidParameterValue):
            max_items({"MaxItems": bad}, 50)


def test_query_parameters_are_percent_decoded() -> None:
    assert parse_query("FunctionName=arn%3Aaws%3Alambda&MaxItems=2&Marker=") == {
        "FunctionName": "arn:aws:lambda",
        "MaxItems": "2",
        "Marker": "",
    }


def test_a_create_body_decodes_into_mapping_changes() -> None:
    body = b"""{
        "FunctionName": "work", "EventSourceArn": "arn:aws:sqs:us-east-1:000000000000:q",
        "Enabled": false, "BatchSize": 50, "MaximumBatchingWindowInSeconds": 5,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "FilterCriteria": {"Filters": [{"Pattern": "{\\"body\\": {\\"a\\": [1]}}"}, {}]},
        "ScalingConfig": {"MaximumConcurrency": 4}
    }"""
    assert decode_mapping_body(body, create=True) == MappingChanges(
        function_name="work",
        event_source_arn="arn:aws:sqs:us-east-1:000000000000:q",
        enabled=False,
        batch_size=50,
        maximum_batching_window_s=5,
        function_response_types=("ReportBatchItemFailures",),
        filter_patterns=('{"body": {"a": [1]}}', ""),
        maximum_concurrency=4,
    )


def test_empty_filter_criteria_and_scaling_config_clear_those_settings() -> None:
    changes = decode_mapping_body(
        b'{"FilterCriteria": {}, "ScalingConfig": {}, "FunctionResponseTypes": []}',
        create=False,
    )
    assert changes.filter_patterns == ()
    assert changes.maximum_concurrency is CLEAR
    assert changes.function_response_types == ()


def test_members_sqs_mappings_do_not_take_are_listed_in_request_order() -> None:
    changes = decode_mapping_body(
        b'{"ParallelizationFactor": 2, "FunctionName": "f", "StartingPosition": "LATEST",'
        b' "Tags": {"a": "b"}, "TumblingWindowInSeconds": null}',
        create=True,
    )
    assert changes.unsupported == ("ParallelizationFactor", "StartingPosition", "Tags")


def test_members_the_model_does_not_know_and_nulls_are_ignored() -> None:
    changes = decode_mapping_body(
        b'{"FunctionName": "f", "SomethingNew": 1, "BatchSize": null}', create=True
    )
    assert changes == MappingChanges(function_name="f")


def test_an_update_body_cannot_name_an_event_source() -> None:
    changes = decode_mapping_body(b'{"EventSourceArn": "arn:aws:sqs:x:1:q"}', create=False)
    assert changes.event_source_arn is None


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b'{"BatchSize": "10"}',
        b'{"BatchSize": true}',
        b'{"BatchSize": 1.5}',
        b'{"Enabled": "yes"}',
        b'{"FunctionName": 7}',
        b'{"FilterCriteria": []}',
        b'{"FilterCriteria": {"Filters": {}}}',
        b'{"FilterCriteria": {"Filters": ["pattern"]}}',
        b'{"FilterCriteria": {"Filters": [{"Pattern": {}}]}}',
        b'{"ScalingConfig": {"MaximumConcurrency": "5"}}',
        b'{"FunctionResponseTypes": "ReportBatchItemFailures"}',
        b'{"FunctionResponseTypes": [1]}',
    ],
)
def test_malformed_bodies_and_members_of_the_wrong_type_are_rejected(body: bytes) -> None:
    with pytest.raises(MalformedRequest, match="Could not parse request body into json"):
        decode_mapping_body(body, create=True)


def test_an_empty_body_asks_for_nothing() -> None:
    assert decode_mapping_body(b"", create=False) == MappingChanges()


def test_invoke_defaults_to_a_synchronous_call_without_logs() -> None:
    call = decode_invoke("work", {}, {}, b"")
    assert (call.function_name, call.invocation_type, call.log_tail, call.payload) == (
        "work",
        "RequestResponse",
        False,
        b"",
    )


def test_invoke_reads_its_headers() -> None:
    context = base64.b64encode(b'{"custom": {"a": 1}}').decode()
    call = decode_invoke(
        "work:$LATEST",
        {},
        {"x-amz-invocation-type": "Event", "x-amz-log-type": "Tail",
         "x-amz-client-context": context},
        b'{"k": 1}',
    )  # fmt: skip
    assert call.function_name == "work:$LATEST"
    assert call.invocation_type == "Event"
    assert call.log_tail is False  # only synchronous calls return their log
    assert call.client_context == context
    assert call.payload == b'{"k": 1}'


def test_invoke_with_tail_logs_on_a_synchronous_call_returns_them() -> None:
    assert decode_invoke("work", {}, {"x-amz-log-type": "Tail"}, b"1").log_tail is True


@pytest.mark.parametrize(
    ("name", "qualifier", "expected"),
    [
        ("work", None, "work"),
        ("work", "$LATEST", "work:$LATEST"),
        ("work:3", None, "work:3"),
        ("work:3", "3", "work:3"),
        (ARN, "prod", f"{ARN}:prod"),
    ],
)
def test_a_qualifier_parameter_qualifies_the_function_name(
    name: str, qualifier: str | None, expected: str
) -> None:
    assert qualified_name(name, qualifier) == expected


def test_a_qualifier_parameter_that_contradicts_the_name_is_refused() -> None:
    with pytest.raises(InvalidParameterValue, match="derived qualifier"):
        qualified_name("work:3", "$LATEST")
    with pytest.raises(InvalidParameterValue, match="derived qualifier"):
        decode_invoke("work:3", {"Qualifier": "4"}, {}, b"{}")


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-invocation-type": "Sync"},
        {"x-amz-log-type": "Full"},
    ],
)
def test_invoke_refuses_header_values_outside_their_enums(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidParameterValue, match="enum value set"):
        decode_invoke("work", {}, headers, b"{}")


@pytest.mark.parametrize("context", ["not base64!", base64.b64encode(b"[1]").decode()])
def test_invoke_refuses_a_client_context_that_is_not_a_base64_json_object(context: str) -> None:
    with pytest.raises(MalformedRequest, match="Client context"):
        decode_invoke("work", {}, {"x-amz-client-context": context}, b"{}")


def test_invoke_refuses_a_client_context_over_lambdas_limit() -> None:
    context = base64.b64encode(b'{"a": "' + b"x" * 3000 + b'"}').decode()
    with pytest.raises(InvalidParameterValue, match="3583"):
        decode_invoke("work", {}, {"x-amz-client-context": context}, b"{}")
