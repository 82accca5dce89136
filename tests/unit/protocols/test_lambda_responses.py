"""Encoding of Lambda REST-JSON responses: mappings, function configurations, pages,
log results, and the error documents botocore reads."""

from __future__ import annotations

import base64
import sys

import orjson
import pytest

from ekiden.core import errors
from ekiden.core.errors import InvalidParameterValue
from ekiden.core.functions import EventSourceMapping, FunctionSpec
from ekiden.protocols.awslambda.errors import error_body, error_headers, wire_error
from ekiden.protocols.awslambda.responses import (
    code_identity,
    encode_configuration,
    encode_get_function,
    encode_mapping,
    lambda_timestamp,
    log_result,
    page,
)

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:work"
UUID = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def test_a_mapping_is_shown_with_the_members_lambda_returns() -> None:
    mapping = EventSourceMapping(
        uuid=UUID,
        function_name="work",
        event_source_arn="arn:aws:sqs:eu-west-1:123456789012:q",
        batch_size=20,
        maximum_batching_window_s=2,
        function_response_types=("ReportBatchItemFailures",),
        filter_patterns=('{"body": {"a": [1]}}',),
        maximum_concurrency=5,
        enabled=False,
        last_modified_ms=1_764_064_800_250,
    )
    assert encode_mapping(mapping, FUNCTION_ARN) == {
        "UUID": UUID,
        "BatchSize": 20,
        "MaximumBatchingWindowInSeconds": 2,
        "EventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:q",
        "FilterCriteria": {"Filters": [{"Pattern": '{"body": {"a": [1]}}'}]},
        "FunctionArn": FUNCTION_ARN,
        "LastModified": 1_764_064_800.25,
        "State": "Disabled",
        "StateTransitionReason": "USER_INITIATED",
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 5},
        "EventSourceMappingArn": (
            f"arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:{UUID}"
        ),
    }


def test_a_plain_mapping_omits_filters_and_scaling_and_may_show_a_transition_state() -> None:
    mapping = EventSourceMapping(uuid=UUID, function_name="work", event_source_arn="arn:q")
    document = encode_mapping(mapping, FUNCTION_ARN, "Creating")
    assert "FilterCriteria" not in document
    assert "ScalingConfig" not in document
    assert document["State"] == "Creating"
    assert document["FunctionResponseTypes"] == []


def test_the_mapping_arn_fits_the_models_pattern_and_length() -> None:
    mapping = EventSourceMapping(uuid=UUID, function_name="work", event_source_arn="arn:q")
    arn = encode_mapping(mapping, FUNCTION_ARN)["EventSourceMappingArn"]
    assert 85 <= len(arn) <= 120


def test_lambda_timestamps_have_milliseconds_and_a_numeric_zone() -> None:
    assert lambda_timestamp(1_764_064_800_007) == "2025-11-25T10:00:00.007+0000"


def test_a_function_configuration_describes_the_declared_function() -> None:
    spec = FunctionSpec(
        name="work",
        handler="app:handle",
        code="/srv/code",
        timeout_s=30,
        memory_mb=256,
        environment={"A": "1"},
        description="does work",
        on_failure_queue="arn:aws:sqs:eu-west-1:123456789012:dlq",
    )
    document = encode_configuration(spec, FUNCTION_ARN, 1_764_064_800_000)
    sha256, size = code_identity(spec)
    assert document == {
        "FunctionName": "work",
        "FunctionArn": FUNCTION_ARN,
        "Runtime": f"python{sys.version_info.major}.{sys.version_info.minor}",
        "Handler": "app:handle",
        "CodeSize": size,
        "Description": "does work",
        "Timeout": 30,
        "MemorySize": 256,
        "LastModified": "2025-11-25T10:00:00.000+0000",
        "CodeSha256": sha256,
        "Version": "$LATEST",
        "Environment": {"Variables": {"A": "1"}},
        "DeadLetterConfig": {"TargetArn": "arn:aws:sqs:eu-west-1:123456789012:dlq"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [document["Architectures"][0]],
    }
    assert document["Architectures"][0] in ("x86_64", "arm64")
    assert len(base64.b64decode(sha256)) == 32


def test_the_code_identity_is_stable_and_follows_the_declaration() -> None:
    spec = FunctionSpec(name="work", handler="app:handle", code="/srv/code")
    assert code_identity(spec) == code_identity(FunctionSpec(name="other", handler="app:handle",
                                                             code="/srv/code"))  # fmt: skip
    assert code_identity(spec) != code_identity(
        FunctionSpec(name="work", handler="app:other", code="/srv/code")
    )


def test_get_function_adds_the_code_location_and_reserved_concurrency() -> None:
    plain = FunctionSpec(name="work", handler="app:handle", code="/srv/code")
    document = encode_get_function(plain, FUNCTION_ARN, 0)
    assert document["Code"] == {"RepositoryType": "ekiden", "Location": "/srv/code"}
    assert "Concurrency" not in document
    assert "Environment" not in document["Configuration"]
    reserved = FunctionSpec(name="work", handler="app:handle", reserved_concurrency=3)
    assert encode_get_function(reserved, FUNCTION_ARN, 0)["Concurrency"] == {
        "ReservedConcurrentExecutions": 3
    }


def test_pages_follow_the_marker_and_end_without_one() -> None:
    names = ["c", "a", "e", "b", "d"]
    first, marker = page(names, str, None, 2)
    assert (first, marker) == (["a", "b"], "b")
    second, marker = page(names, str, marker, 2)
    assert (second, marker) == (["c", "d"], "d")
    third, marker = page(names, str, marker, 2)
    assert (third, marker) == (["e"], None)
    assert page(names, str, "", 5) == (sorted(names), None)


def test_a_page_after_its_marker_was_deleted_still_continues() -> None:
    chosen, _ = page(["a", "c", "d"], str, "b", 10)
    assert chosen == ["c", "d"]


def test_a_marker_that_no_key_could_be_is_refused() -> None:
    with pytest.raises(InvalidParameterValue):
        page(["a"], str, "../../etc", 10)


def test_the_log_result_is_base64_of_the_last_4_kb() -> None:
    log = "START\n" + "x" * 5000 + "\nEND"
    decoded = base64.b64decode(log_result(log))
    assert len(decoded) == 4096
    assert decoded.endswith(b"x\nEND")
    assert base64.b64decode(log_result("short")) == b"short"


def test_error_documents_carry_type_message_and_reason_as_lambda_sends_them() -> None:
    not_found = wire_error(errors.FunctionDoesNotExist("Function not found: x"))
    assert orjson.loads(error_body(not_found, "Function not found: x")) == {
        "Type": "User",
        "Message": "Function not found: x",
    }
    assert ("x-amzn-ErrorType", "ResourceNotFoundException") in error_headers(not_found, "r")
    throttled = wire_error(errors.TooManyRequests("Rate Exceeded."))
    assert throttled.status == 429
    assert orjson.loads(error_body(throttled, "Rate Exceeded.")) == {
        "Type": "User",
        "message": "Rate Exceeded.",
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
    }
    assert ("Retry-After", "1") in error_headers(throttled, "r")
    internal = wire_error(errors.InternalFailure("boom"))
    assert (internal.code, internal.status) == ("ServiceException", 500)
    assert orjson.loads(error_body(internal, "boom"))["Type"] == "Service"
