"""The Query/XML codec, checked against botocore's own Query serializer and parser.

botocore 1.29.165 was the last release to speak the Query protocol to SQS; its model is
the oracle. Requests serialized by botocore must decode into exactly the params given
to it (the JSON-protocol dict, blobs as base64), and XML we encode must parse back,
through botocore's ``QueryParser``, into exactly the result we encoded.

The old model is the copy vendored in ``tests/support/query_model`` (or one named by
``EKIDEN_BOTOCORE_QUERY_SQS_MODEL``: a botocore 1.29.165 wheel or its
``sqs/2012-11-05/service-2.json``); without it those cases are skipped. Every oracle
test also runs against ekiden's merged model.json with its protocol switched to
``query``, which needs nothing but the botocore of the dev venv.
"""

from __future__ import annotations

import base64
import json
import os
import random
import urllib.parse
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.model import ServiceModel as BotocoreServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from ekiden.core.errors import (
    InternalFailure,
    InvalidParameterValue,
    MalformedRequest,
    MissingParameter,
    UnknownOperation,
)
from ekiden.protocols.wire.model import ServiceModel, sqs_model
from ekiden.protocols.wire.query import decode_query, parse_form
from ekiden.protocols.wire.xml import encode_query_error, encode_query_response, escape_text

NS = "http://queue.amazonaws.com/doc/2012-11-05/"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"
OLD_MODEL_MEMBER = "botocore/data/sqs/2012-11-05/service-2.json"

# Text that must survive both directions: XML specials, CR/LF, tab, every boundary of the
# character ranges SQS allows in a body, two-byte/three-byte/astral UTF-8, and the
# characters that mean something in a form body.
TRICKY_TEXT = (
    "a&b<c>d\"e'f\r\n\rg\th "
    "\x20\ud7ff\ue000\ufffd\U00010000\U0010ffff"
    "héllo 日本語 😀👍🏽 %20+%2B=&amp;<![CDATA[x]]> "
)


# --- oracles -------------------------------------------------------------------------


def _old_model_json() -> dict[str, Any] | None:
    candidates: list[Path] = []
    if env := os.environ.get("EKIDEN_BOTOCORE_QUERY_SQS_MODEL"):
        candidates.append(Path(env))
    vendored = Path(__file__).resolve().parents[2] / "support/query_model"
    candidates.append(vendored / "sqs/2012-11-05/service-2.json")
    candidates.append(Path("/tmp/dl/old") / OLD_MODEL_MEMBER)
    candidates.extend(sorted(Path("/tmp/dl").glob("botocore-1.29.165-*.whl")))
    for path in candidates:
        if not path.is_file():
            continue
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf:
                loaded: dict[str, Any] = json.loads(zf.read(OLD_MODEL_MEMBER))
                return loaded
        loaded = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    return None


def _merged_model_as_query() -> dict[str, Any]:
    import importlib.resources

    text = importlib.resources.files("ekiden.protocols.sqs").joinpath("model.json").read_text()
    raw: dict[str, Any] = json.loads(text)
    raw["metadata"]["protocol"] = "query"
    raw["metadata"]["protocols"] = ["query"]
    return raw


@pytest.fixture(scope="module", params=["botocore-1.29.165", "ekiden-merged"])
def oracle(request: pytest.FixtureRequest) -> BotocoreServiceModel:
    """botocore's view of a Query-protocol SQS model (the old one, or ours as Query)."""
    if request.param == "botocore-1.29.165":
        raw = _old_model_json()
        if raw is None:
            pytest.skip(
                "botocore 1.29.165 sqs model not found; set EKIDEN_BOTOCORE_QUERY_SQS_MODEL"
            )
        assert raw["metadata"]["protocol"] == "query"
    else:
        raw = _merged_model_as_query()
    return BotocoreServiceModel(raw, service_name="sqs")


@pytest.fixture(scope="module")
def merged_oracle() -> BotocoreServiceModel:
    return BotocoreServiceModel(_merged_model_as_query(), service_name="sqs")


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return sqs_model()


def botocore_query_body(oracle: BotocoreServiceModel, operation: str, params: Any) -> bytes:
    """The exact form body botocore sends for ``operation`` with ``params``."""
    op_model = oracle.operation_model(operation)
    request = create_serializer("query").serialize_to_request(params, op_model)
    prepare_request_dict(request, endpoint_url="https://sqs.us-east-1.amazonaws.com")
    body = create_request_object(request).prepare().body
    assert isinstance(body, str)
    return body.encode("ascii")


def botocore_parse(
    oracle: BotocoreServiceModel, operation: str, xml: bytes, status: int = 200
) -> dict[str, Any]:
    """What botocore's Query parser makes of an XML response to ``operation``."""
    op_model = oracle.operation_model(operation)
    response = {"body": xml, "headers": {}, "status_code": status}
    parsed: dict[str, Any] = create_parser("query").parse(response, op_model.output_shape)
    return parsed


def json_shaped(value: Any) -> Any:
    """``value`` as the JSON protocol carries it: bytes become base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {k: json_shaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_shaped(v) for v in value]
    return value


def round_trip_request(
    oracle: BotocoreServiceModel, model: ServiceModel, operation: str, params: Any
) -> dict[str, Any]:
    body = botocore_query_body(oracle, operation, params)
    form = parse_form(body)
    assert form["Action"] == operation
    return decode_query(model, operation, form)


def round_trip_result(
    oracle: BotocoreServiceModel, model: ServiceModel, operation: str, result: Any
) -> dict[str, Any]:
    xml = encode_query_response(model, operation, result, "req-1")
    parsed = botocore_parse(oracle, operation, xml)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    shaped: dict[str, Any] = json_shaped(parsed)
    return shaped


# --- requests: botocore Query serializer -> parse_form -> decode_query ----------------

REQUEST_CASES: list[tuple[str, dict[str, Any]]] = [
    ("GetQueueUrl", {"QueueName": "orders", "QueueOwnerAWSAccountId": "123456789012"}),
    ("ListQueues", {"QueueNamePrefix": "ord", "MaxResults": 1000, "NextToken": "t/+=="}),
    ("DeleteQueue", {"QueueUrl": QUEUE_URL}),
    ("PurgeQueue", {"QueueUrl": QUEUE_URL}),
    ("DeleteMessage", {"QueueUrl": QUEUE_URL, "ReceiptHandle": "AQEB+/x==&y"}),
    (
        "ChangeMessageVisibility",
        {"QueueUrl": QUEUE_URL, "ReceiptHandle": "rh", "VisibilityTimeout": 0},
    ),
    (
        "GetQueueAttributes",
        {"QueueUrl": QUEUE_URL, "AttributeNames": ["VisibilityTimeout", "QueueArn", "All"]},
    ),
    (
        "SetQueueAttributes",
        {
            "QueueUrl": QUEUE_URL,
            "Attributes": {
                "VisibilityTimeout": "45",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": QUEUE_ARN + "-dlq"}),
                "Policy": '{"Statement": [{"Effect": "Allow", "Resource": "a&b<c"}]}',
            },
        },
    ),
    ("ListQueueTags", {"QueueUrl": QUEUE_URL}),
    ("TagQueue", {"QueueUrl": QUEUE_URL, "Tags": {"team": "payments", "cost center": "42 +x"}}),
    ("UntagQueue", {"QueueUrl": QUEUE_URL, "TagKeys": ["team", "cost center"]}),
    (
        "AddPermission",
        {
            "QueueUrl": QUEUE_URL,
            "Label": "grant-1",
            "AWSAccountIds": ["111122223333", "444455556666"],
            "Actions": ["SendMessage", "ReceiveMessage", "*"],
        },
    ),
    ("RemovePermission", {"QueueUrl": QUEUE_URL, "Label": "grant-1"}),
    ("ListDeadLetterSourceQueues", {"QueueUrl": QUEUE_URL, "MaxResults": 10, "NextToken": "n"}),
    (
        "StartMessageMoveTask",
        {
            "SourceArn": QUEUE_ARN + "-dlq",
            "DestinationArn": QUEUE_ARN,
            "MaxNumberOfMessagesPerSecond": 500,
        },
    ),
    ("CancelMessageMoveTask", {"TaskHandle": "eyJ0YXNr"}),
    ("ListMessageMoveTasks", {"SourceArn": QUEUE_ARN + "-dlq", "MaxResults": 10}),
    (
        "DeleteMessageBatch",
        {
            "QueueUrl": QUEUE_URL,
            "Entries": [{"Id": "a", "ReceiptHandle": "rh-a"}, {"Id": "b", "ReceiptHandle": "rh-b"}],
        },
    ),
]


@pytest.mark.parametrize(("operation", "params"), REQUEST_CASES, ids=[c[0] for c in REQUEST_CASES])
def test_request_decodes_to_the_params_botocore_serialized(
    oracle: BotocoreServiceModel, model: ServiceModel, operation: str, params: dict[str, Any]
) -> None:
    assert round_trip_request(oracle, model, operation, params) == params


def test_send_message_with_string_number_and_binary_attributes_round_trips_through_botocore(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    params = {
        "QueueUrl": QUEUE_URL,
        "MessageBody": TRICKY_TEXT,
        "DelaySeconds": 900,
        "MessageAttributes": {
            "color": {"DataType": "String", "StringValue": "blue & <green>"},
            "count": {"DataType": "Number", "StringValue": "-12.5e3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff binary\r\n"},
            "custom": {"DataType": "String.custom type", "StringValue": "😀"},
        },
        "MessageSystemAttributes": {
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3f"}
        },
        "MessageDeduplicationId": "dedup-1",
        "MessageGroupId": "group-1",
    }
    decoded = round_trip_request(oracle, model, "SendMessage", params)
    assert decoded == json_shaped(params)
    assert decoded["MessageAttributes"]["blob"]["BinaryValue"] == "AAH/IGJpbmFyeQ0K"


def test_send_message_batch_entries_round_trip_through_botocore(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    entries = [
        {
            "Id": f"msg-{i}",
            "MessageBody": f"body {i} {TRICKY_TEXT}",
            "DelaySeconds": i,
            "MessageAttributes": {
                f"attr{j}": {"DataType": "String", "StringValue": f"v{i}.{j}"} for j in range(3)
            }
            | {"bin": {"DataType": "Binary", "BinaryValue": bytes([i, 255 - i])}},
            "MessageSystemAttributes": {
                "AWSTraceHeader": {"DataType": "String", "StringValue": f"Root=1-{i}"}
            },
            "MessageDeduplicationId": f"d{i}",
            "MessageGroupId": "g",
        }
        for i in range(10)
    ]
    entries.append({"Id": "plain", "MessageBody": "no attributes"})
    params = {"QueueUrl": QUEUE_URL, "Entries": entries}
    decoded = round_trip_request(oracle, model, "SendMessageBatch", params)
    assert decoded == json_shaped(params)
    assert [e["Id"] for e in decoded["Entries"]][:3] == ["msg-0", "msg-1", "msg-2"]


def test_create_queue_attributes_and_tags_round_trip_through_botocore(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    params = {
        "QueueName": "orders.fifo",
        "Attributes": {
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "VisibilityTimeout": "60",
            "RedriveAllowPolicy": '{"redrivePermission":"allowAll"}',
        },
        "tags": {"env": "prod", "owner": "a+b@example.com", "empty": ""},
    }
    body = botocore_query_body(oracle, "CreateQueue", params)
    assert b"Attribute.1.Name=" in body and b"Tag.1.Key=" in body
    assert decode_query(model, "CreateQueue", parse_form(body)) == params


def test_receive_message_attribute_name_lists_round_trip_through_botocore(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    params = {
        "QueueUrl": QUEUE_URL,
        "AttributeNames": ["SenderId", "ApproximateReceiveCount", "All"],
        "MessageAttributeNames": ["color", "size.*", "All"],
        "MaxNumberOfMessages": 10,
        "VisibilityTimeout": 43200,
        "WaitTimeSeconds": 20,
        "ReceiveRequestAttemptId": "attempt-1",
    }
    body = botocore_query_body(oracle, "ReceiveMessage", params)
    assert b"AttributeName.3=All" in body and b"MessageAttributeName.2=size.%2A" in body
    assert decode_query(model, "ReceiveMessage", parse_form(body)) == params


def test_empty_lists_that_botocore_sends_as_bare_keys_decode_to_empty_lists(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    params = {"QueueUrl": QUEUE_URL, "AttributeNames": [], "MessageAttributeNames": []}
    body = botocore_query_body(oracle, "ReceiveMessage", params)
    assert b"AttributeNames=&" in body
    assert decode_query(model, "ReceiveMessage", parse_form(body)) == params


def test_change_message_visibility_batch_round_trips_through_botocore(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    params = {
        "QueueUrl": QUEUE_URL,
        "Entries": [
            {"Id": "a", "ReceiptHandle": "rh+/=a", "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": "rh b", "VisibilityTimeout": 43200},
            {"Id": "c", "ReceiptHandle": "rh-c"},
        ],
    }
    assert round_trip_request(oracle, model, "ChangeMessageVisibilityBatch", params) == params


def test_message_system_attribute_names_share_the_query_name_attribute_name(
    merged_oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    # The Smithy model gives MessageSystemAttributeNames @xmlName("AttributeName"), the
    # Query name of the deprecated AttributeNames; the first declared member receives it.
    params = {"QueueUrl": QUEUE_URL, "MessageSystemAttributeNames": ["SenderId", "All"]}
    body = botocore_query_body(merged_oracle, "ReceiveMessage", params)
    assert b"AttributeName.1=SenderId&AttributeName.2=All" in body
    decoded = decode_query(model, "ReceiveMessage", parse_form(body))
    assert decoded == {"QueueUrl": QUEUE_URL, "AttributeNames": ["SenderId", "All"]}


# --- requests: hand-written forms ------------------------------------------------------


def test_aws_documentation_example_of_send_message_decodes() -> None:
    body = (
        b"Action=SendMessage&QueueUrl=https%3A%2F%2Fsqs.us-east-2.amazonaws.com%2F"
        b"123456789012%2FMyQueue&MessageBody=This+is+a+test+message"
        b"&MessageAttribute.1.Name=my_attribute_name_1"
        b"&MessageAttribute.1.Value.StringValue=my_attribute_value_1"
        b"&MessageAttribute.1.Value.DataType=String"
        b"&MessageAttribute.2.Name=my_attribute_name_2"
        b"&MessageAttribute.2.Value.StringValue=my_attribute_value_2"
        b"&MessageAttribute.2.Value.DataType=String"
        b"&Expires=2020-05-05T22%3A52%3A43PST&Version=2012-11-05&AUTHPARAMS"
    )
    assert decode_query(sqs_model(), "SendMessage", parse_form(body)) == {
        "QueueUrl": "https://sqs.us-east-2.amazonaws.com/123456789012/MyQueue",
        "MessageBody": "This is a test message",
        "MessageAttributes": {
            "my_attribute_name_1": {"StringValue": "my_attribute_value_1", "DataType": "String"},
            "my_attribute_name_2": {"StringValue": "my_attribute_value_2", "DataType": "String"},
        },
    }


def test_list_entries_are_ordered_by_index_number_and_may_have_gaps(model: ServiceModel) -> None:
    params = {
        "QueueUrl": "q",
        "AttributeName.10": "c",
        "AttributeName.2": "b",
        "AttributeName.1": "a",
        "DeleteMessageBatchRequestEntry.7.Id": "z",
        "DeleteMessageBatchRequestEntry.7.ReceiptHandle": "rz",
        "DeleteMessageBatchRequestEntry.3.Id": "y",
        "DeleteMessageBatchRequestEntry.3.ReceiptHandle": "ry",
    }
    assert decode_query(model, "GetQueueAttributes", params)["AttributeNames"] == ["a", "b", "c"]
    assert decode_query(model, "DeleteMessageBatch", params)["Entries"] == [
        {"Id": "y", "ReceiptHandle": "ry"},
        {"Id": "z", "ReceiptHandle": "rz"},
    ]


def test_unknown_query_parameters_are_ignored(model: ServiceModel) -> None:
    params = {
        "Action": "DeleteQueue",
        "Version": "2012-11-05",
        "SignatureMethod": "HmacSHA256",
        "SignatureVersion": "2",
        "Timestamp": "2024-01-01T00:00:00Z",
        "QueueUrl": "q",
        "QueueUrl.1": "nested junk",
        "Bogus.1.Name": "x",
    }
    assert decode_query(model, "DeleteQueue", params) == {"QueueUrl": "q"}


def test_non_integer_text_for_an_integer_is_an_invalid_parameter_value(
    model: ServiceModel,
) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        decode_query(
            model, "SendMessage", {"QueueUrl": "q", "MessageBody": "b", "DelaySeconds": "5s"}
        )
    assert caught.value.message == (
        "Value 5s for parameter DelaySeconds is invalid. Reason: Must be an integer."
    )


def test_integer_errors_inside_batch_entries_name_the_full_query_parameter(
    model: ServiceModel,
) -> None:
    params = {
        "QueueUrl": "q",
        "ChangeMessageVisibilityBatchRequestEntry.2.Id": "a",
        "ChangeMessageVisibilityBatchRequestEntry.2.VisibilityTimeout": "1.5",
    }
    with pytest.raises(InvalidParameterValue, match=r"ChangeMessageVisibilityBatchRequestEntry\.2"):
        decode_query(model, "ChangeMessageVisibilityBatch", params)


@pytest.mark.parametrize("text", ["", " 5", "0x10", "1e3", "2147483648", "-2147483649", "٣"])
def test_integers_outside_the_32_bit_decimal_form_are_rejected(
    model: ServiceModel, text: str
) -> None:
    with pytest.raises(InvalidParameterValue):
        decode_query(model, "ReceiveMessage", {"QueueUrl": "q", "WaitTimeSeconds": text})


def test_signed_integers_at_the_32_bit_limits_are_accepted(model: ServiceModel) -> None:
    for text, value in [("-2147483648", -(2**31)), ("+2147483647", 2**31 - 1), ("007", 7)]:
        decoded = decode_query(model, "ReceiveMessage", {"QueueUrl": "q", "WaitTimeSeconds": text})
        assert decoded["WaitTimeSeconds"] == value


def test_a_map_entry_without_its_name_is_a_missing_parameter(model: ServiceModel) -> None:
    params = {"QueueName": "q", "Attribute.1.Value": "30"}
    with pytest.raises(MissingParameter, match=r"Attribute\.1\.Name"):
        decode_query(model, "CreateQueue", params)


def test_a_map_entry_without_its_value_is_a_missing_parameter(model: ServiceModel) -> None:
    with pytest.raises(MissingParameter, match=r"Tag\.1\.Value"):
        decode_query(model, "TagQueue", {"QueueUrl": "q", "Tag.1.Key": "k"})


def test_decoding_an_unknown_operation_raises_unknown_operation(model: ServiceModel) -> None:
    with pytest.raises(UnknownOperation):
        decode_query(model, "SendMessages", {})


# --- parse_form -------------------------------------------------------------------------


def test_parse_form_decodes_plus_percent_escapes_and_utf8() -> None:
    body = "MessageBody=a+b%2Bc%26d%3De%25&Emoji=%F0%9F%98%80&Raw=日本".encode()
    assert parse_form(body) == {"MessageBody": "a b+c&d=e%", "Emoji": "😀", "Raw": "日本"}


def test_parse_form_keeps_blank_values_and_keys_without_equals() -> None:
    assert parse_form(b"A=&B&&C=%20&=x") == {"A": "", "B": "", "C": " ", "": "x"}


def test_parse_form_lets_the_last_of_repeated_keys_win() -> None:
    assert parse_form(b"QueueUrl=first&QueueUrl=second") == {"QueueUrl": "second"}


def test_parse_form_of_an_empty_body_is_empty() -> None:
    assert parse_form(b"") == {}


def test_parse_form_keeps_backslashes_literal() -> None:
    body = b"MessageBody=a%5Cx41%5C%5Cn\\x42\\&K%5C=%5C"
    assert parse_form(body) == {"MessageBody": "a\\x41\\\\n\\x42\\", "K\\": "\\"}


def test_parse_form_agrees_with_urllib_on_valid_input() -> None:
    rng = random.Random(20251125)
    alphabet = "aZ09 +%&=.-_~*'()!\\/\r\n\t\"<>é日😀\x00\x7f"
    for _ in range(500):
        pairs = [
            (
                "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6))),
                "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))),
            )
            for _ in range(rng.randrange(1, 6))
        ]
        body = urllib.parse.urlencode(pairs).encode("ascii")
        expected = dict(urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True))
        assert parse_form(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"MessageBody=%",
        b"MessageBody=%4",
        b"MessageBody=%zz",
        b"%G1=x",
        b"a=%FF",
        b"a=%C3",
        b"a=\xff",
    ],
)
def test_parse_form_rejects_bad_percent_encoding_and_invalid_utf8(body: bytes) -> None:
    with pytest.raises(MalformedRequest):
        parse_form(body)


# --- responses: encode_query_response -> botocore Query parser --------------------------

RESULT_CASES: list[tuple[str, dict[str, Any]]] = [
    ("CreateQueue", {"QueueUrl": QUEUE_URL}),
    ("GetQueueUrl", {"QueueUrl": QUEUE_URL}),
    ("ListQueues", {"QueueUrls": [QUEUE_URL, QUEUE_URL + "-dlq"], "NextToken": "tok&<"}),
    ("ListQueues", {"QueueUrls": [QUEUE_URL]}),
    ("ListDeadLetterSourceQueues", {"queueUrls": [QUEUE_URL], "NextToken": "n"}),
    (
        "GetQueueAttributes",
        {
            "Attributes": {
                "QueueArn": QUEUE_ARN,
                "ApproximateNumberOfMessages": "0",
                "Policy": '{"Version":"2012-10-17","Statement":[{"Resource":"a&b<c>"}]}',
            }
        },
    ),
    ("ListQueueTags", {"Tags": {"team": "payments", "note": "a & b"}}),
    (
        "SendMessage",
        {
            "MD5OfMessageBody": "fafb00f5732ab283681e124bf8747ed1",
            "MD5OfMessageAttributes": "3ae8f24a165a8cedc005670c81a27295",
            "MD5OfMessageSystemAttributes": "5ae8f24a165a8cedc005670c81a27295",
            "MessageId": "5fea7756-0ea4-451a-a703-a558b933e274",
            "SequenceNumber": "18849496460467696128",
        },
    ),
    (
        "SendMessageBatch",
        {
            "Successful": [
                {"Id": "a", "MessageId": "m-a", "MD5OfMessageBody": "x"},
                {
                    "Id": "b",
                    "MessageId": "m-b",
                    "MD5OfMessageBody": "y",
                    "MD5OfMessageAttributes": "z",
                    "SequenceNumber": "1",
                },
            ],
            "Failed": [
                {
                    "Id": "c",
                    "SenderFault": True,
                    "Code": "InvalidParameterValue",
                    "Message": "Value <bad> & worse",
                },
                {"Id": "d", "SenderFault": False, "Code": "InternalError"},
            ],
        },
    ),
    ("DeleteMessageBatch", {"Successful": [{"Id": "a"}, {"Id": "b"}]}),
    (
        "ChangeMessageVisibilityBatch",
        {
            "Successful": [{"Id": "a"}],
            "Failed": [{"Id": "b", "SenderFault": True, "Code": "ReceiptHandleIsInvalid"}],
        },
    ),
    ("StartMessageMoveTask", {"TaskHandle": "eyJ0YXNrSWQiOiIxIn0="}),
    ("CancelMessageMoveTask", {"ApproximateNumberOfMessagesMoved": 2**40}),
    (
        "ListMessageMoveTasks",
        {
            "Results": [
                {
                    "TaskHandle": "h",
                    "Status": "RUNNING",
                    "SourceArn": QUEUE_ARN + "-dlq",
                    "DestinationArn": QUEUE_ARN,
                    "MaxNumberOfMessagesPerSecond": 50,
                    "ApproximateNumberOfMessagesMoved": 10,
                    "ApproximateNumberOfMessagesToMove": 100,
                    "StartedTimestamp": 1700000000000,
                },
                {"Status": "FAILED", "FailureReason": "AWS.SimpleQueueService.NonExistentQueue"},
            ]
        },
    ),
]


@pytest.mark.parametrize(
    ("operation", "result"), RESULT_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(RESULT_CASES)]
)
def test_encoded_result_parses_back_through_botocore(
    oracle: BotocoreServiceModel, model: ServiceModel, operation: str, result: dict[str, Any]
) -> None:
    assert round_trip_result(oracle, model, operation, result) == result


def test_receive_message_result_with_all_attribute_kinds_parses_back_through_botocore(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    result = {
        "Messages": [
            {
                "MessageId": f"id-{i}",
                "ReceiptHandle": f"rh+/={i}",
                "MD5OfBody": "0" * 32,
                "Body": TRICKY_TEXT * (i + 1),
                "Attributes": {
                    "SenderId": "AIDAEXAMPLE",
                    "SentTimestamp": "1700000000000",
                    "ApproximateReceiveCount": str(i + 1),
                    "MessageGroupId": "g<1>",
                },
                "MD5OfMessageAttributes": "1" * 32,
                "MessageAttributes": {
                    "s": {"StringValue": "blue & <green>\r\n", "DataType": "String"},
                    "n": {"StringValue": "1.5", "DataType": "Number.float"},
                    "b": {
                        "BinaryValue": base64.b64encode(bytes(range(256))).decode(),
                        "DataType": "Binary",
                    },
                    "sl": {"StringListValues": ["x", "y&z"], "DataType": "String"},
                },
            }
            for i in range(3)
        ]
    }
    result["Messages"].append({"MessageId": "bare", "ReceiptHandle": "r", "Body": ""})
    parsed = round_trip_result(oracle, model, "ReceiveMessage", result)
    assert parsed == result


def test_receive_message_xml_has_the_element_names_and_order_of_real_sqs(
    model: ServiceModel,
) -> None:
    result = {
        "Messages": [
            {
                "MessageId": "m1",
                "ReceiptHandle": "r1",
                "MD5OfBody": "d1",
                "Body": "hi",
                "Attributes": {"SenderId": "S", "SentTimestamp": "1"},
                "MD5OfMessageAttributes": "d2",
                "MessageAttributes": {"color": {"StringValue": "red", "DataType": "String"}},
            }
        ]
    }
    xml = encode_query_response(model, "ReceiveMessage", result, "rid").decode()
    assert xml == (
        f'<?xml version="1.0"?><ReceiveMessageResponse xmlns="{NS}"><ReceiveMessageResult>'
        "<Message><MessageId>m1</MessageId><ReceiptHandle>r1</ReceiptHandle>"
        "<MD5OfBody>d1</MD5OfBody><Body>hi</Body>"
        "<Attribute><Name>SenderId</Name><Value>S</Value></Attribute>"
        "<Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>"
        "<MD5OfMessageAttributes>d2</MD5OfMessageAttributes>"
        "<MessageAttribute><Name>color</Name><Value><StringValue>red</StringValue>"
        "<DataType>String</DataType></Value></MessageAttribute></Message>"
        "</ReceiveMessageResult><ResponseMetadata><RequestId>rid</RequestId>"
        "</ResponseMetadata></ReceiveMessageResponse>"
    )


def test_list_queues_and_tags_and_batch_results_use_the_query_element_names(
    model: ServiceModel,
) -> None:
    queues = encode_query_response(model, "ListQueues", {"QueueUrls": ["u1", "u2"]}, "r")
    assert (
        b"<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl></ListQueuesResult>"
        in queues
    )
    tags = encode_query_response(model, "ListQueueTags", {"Tags": {"k": "v"}}, "r")
    assert b"<Tag><Key>k</Key><Value>v</Value></Tag>" in tags
    attrs = encode_query_response(model, "GetQueueAttributes", {"Attributes": {"A": "1"}}, "r")
    assert b"<Attribute><Name>A</Name><Value>1</Value></Attribute>" in attrs
    batch = encode_query_response(
        model,
        "SendMessageBatch",
        {
            "Successful": [{"Id": "a", "MessageId": "m", "MD5OfMessageBody": "d"}],
            "Failed": [{"Id": "b", "SenderFault": True, "Code": "C", "Message": "M"}],
        },
        "r",
    )
    assert (
        b"<SendMessageBatchResultEntry><Id>a</Id><MessageId>m</MessageId>"
        b"<MD5OfMessageBody>d</MD5OfMessageBody></SendMessageBatchResultEntry>"
        b"<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>C</Code>"
        b"<Message>M</Message></BatchResultErrorEntry>"
    ) in batch


@pytest.mark.parametrize(
    "operation",
    [
        "DeleteMessage",
        "DeleteQueue",
        "PurgeQueue",
        "ChangeMessageVisibility",
        "SetQueueAttributes",
        "TagQueue",
        "UntagQueue",
        "AddPermission",
        "RemovePermission",
    ],
)
def test_operations_without_output_have_only_response_metadata(
    oracle: BotocoreServiceModel, model: ServiceModel, operation: str
) -> None:
    xml = encode_query_response(model, operation, None, "rid-7")
    assert (
        xml
        == (
            f'<?xml version="1.0"?><{operation}Response xmlns="{NS}"><ResponseMetadata>'
            f"<RequestId>rid-7</RequestId></ResponseMetadata></{operation}Response>"
        ).encode()
    )
    parsed = botocore_parse(oracle, operation, xml)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "rid-7"
    assert parsed == {}


def test_empty_results_write_an_empty_result_element(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    cases: list[tuple[str, dict[str, Any] | None]] = [
        ("ReceiveMessage", {}),
        ("ReceiveMessage", None),
        ("ReceiveMessage", {"Messages": []}),
        ("ListQueues", {"QueueUrls": [], "NextToken": None}),
        ("SendMessageBatch", {"Successful": [], "Failed": []}),
    ]
    for operation, result in cases:
        xml = encode_query_response(model, operation, result, "r")
        assert f"<{operation}Result/>".encode() in xml
        parsed = botocore_parse(oracle, operation, xml)
        assert parsed.pop("ResponseMetadata")["RequestId"] == "r"
        assert parsed == {}


def test_result_keys_outside_the_output_shape_are_not_written(model: ServiceModel) -> None:
    xml = encode_query_response(model, "CreateQueue", {"QueueUrl": "u", "Internal": "x"}, "r")
    assert b"Internal" not in xml


def test_binary_attribute_values_given_as_bytes_are_base64_encoded(model: ServiceModel) -> None:
    result = {
        "Messages": [
            {"MessageAttributes": {"b": {"BinaryValue": b"\x00\xff", "DataType": "Binary"}}}
        ]
    }
    xml = encode_query_response(model, "ReceiveMessage", result, "r")
    assert b"<BinaryValue>AP8=</BinaryValue>" in xml


def test_carriage_returns_are_written_as_character_references_so_they_survive_parsing(
    oracle: BotocoreServiceModel, model: ServiceModel
) -> None:
    body = "line1\r\nline2\rline3\n"
    xml = encode_query_response(model, "ReceiveMessage", {"Messages": [{"Body": body}]}, "r")
    assert b"<Body>line1&#xD;\nline2&#xD;line3\n</Body>" in xml
    parsed = botocore_parse(oracle, "ReceiveMessage", xml)
    assert parsed["Messages"][0]["Body"] == body


def test_escape_text_escapes_only_what_element_content_needs() -> None:
    assert escape_text("plain") == "plain"
    assert escape_text("a&b<c>d\"e'f\r\n\t") == "a&amp;b&lt;c&gt;d\"e'f&#xD;\n\t"
    assert escape_text("&amp;") == "&amp;amp;"


def test_a_lone_surrogate_in_a_result_is_an_internal_failure(model: ServiceModel) -> None:
    with pytest.raises(InternalFailure):
        encode_query_response(model, "GetQueueUrl", {"QueueUrl": "q\ud800"}, "r")


def test_request_id_is_escaped(model: ServiceModel) -> None:
    xml = encode_query_response(model, "DeleteQueue", None, "a<b")
    assert b"<RequestId>a&lt;b</RequestId>" in xml


def test_encoding_a_response_for_an_unknown_operation_raises_unknown_operation(
    model: ServiceModel,
) -> None:
    with pytest.raises(UnknownOperation):
        encode_query_response(model, "Nope", None, "r")


# --- errors ------------------------------------------------------------------------------


def test_error_document_has_the_shape_real_sqs_sends() -> None:
    xml = encode_query_error(
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist.",
        True,
        "req-9",
    )
    assert (
        xml
        == (
            f'<?xml version="1.0"?><ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type>'
            "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
            "<Message>The specified queue does not exist.</Message><Detail/></Error>"
            "<RequestId>req-9</RequestId></ErrorResponse>"
        ).encode()
    )


@pytest.mark.parametrize(("sender_fault", "kind"), [(True, "Sender"), (False, "Receiver")])
def test_error_document_parses_through_botocore(
    oracle: BotocoreServiceModel, sender_fault: bool, kind: str
) -> None:
    message = 'Value <x> & "y" for parameter\r\nMessageBody is invalid. 😀'
    xml = encode_query_error("InvalidParameterValue", message, sender_fault, "req-3")
    parsed = botocore_parse(oracle, "SendMessage", xml, status=400)
    assert parsed["Error"]["Code"] == "InvalidParameterValue"
    assert parsed["Error"]["Message"] == message
    assert parsed["Error"]["Type"] == kind
    assert parsed["ResponseMetadata"]["RequestId"] == "req-3"


def test_error_messages_echoing_characters_xml_cannot_carry_stay_well_formed(
    oracle: BotocoreServiceModel,
) -> None:
    message = "Invalid binary character #x1 in \x01\x08\x1b\ufffe\udc80 body"
    xml = encode_query_error("InvalidMessageContents", message, True, "r")
    parsed = botocore_parse(oracle, "SendMessage", xml, status=400)
    assert (
        parsed["Error"]["Message"]
        == "Invalid binary character #x1 in \ufffd\ufffd\ufffd\ufffd\ufffd body"
    )


# --- the model --------------------------------------------------------------------------


def test_model_has_all_23_operations_with_their_result_wrappers(model: ServiceModel) -> None:
    assert len(model.operation_names) == 23
    for name in model.operation_names:
        op = model.operation(name)
        assert op.input_shape is not None
        if op.output_shape is not None:
            assert op.result_wrapper == f"{name}Result"
    assert model.xml_namespace == NS
    assert model.api_version == "2012-11-05"


def test_every_exception_shape_has_a_query_error_code(model: ServiceModel) -> None:
    codes = {s.name: s.error for s in model.error_shapes()}
    assert all(error is not None for error in codes.values())
    queue_missing = codes["QueueDoesNotExist"]
    assert queue_missing is not None
    assert (queue_missing.code, queue_missing.http_status, queue_missing.sender_fault) == (
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
        True,
    )
    name_exists = codes["QueueNameExists"]
    assert name_exists is not None and name_exists.code == "QueueAlreadyExists"
    receipt = codes["ReceiptHandleIsInvalid"]
    assert receipt is not None and receipt.http_status == 404


def test_member_references_inherit_the_location_name_of_their_target_shape(
    model: ServiceModel,
) -> None:
    tags = model.shape("TagQueueRequest").members["Tags"]
    assert (tags.shape, tags.location_name, tags.flattened) == ("TagMap", "Tag", True)
    entries = model.shape("SendMessageBatchRequest").members["Entries"]
    assert entries.location_name is None and entries.flattened


def test_model_json_is_free_of_documentation_and_keeps_member_order() -> None:
    import importlib.resources

    text = importlib.resources.files("ekiden.protocols.sqs").joinpath("model.json").read_text()
    assert '"documentation"' not in text
    raw = json.loads(text)
    assert list(raw["shapes"]["MessageAttributeValue"]["members"]) == [
        "StringValue",
        "BinaryValue",
        "StringListValues",
        "BinaryListValues",
        "DataType",
    ]


def test_every_operation_decodes_an_empty_form(model: ServiceModel) -> None:
    for name in model.operation_names:
        assert decode_query(model, name, {"Action": name}) == {}


def test_encoder_and_decoder_plans_are_reused(model: ServiceModel) -> None:
    from ekiden.protocols.wire import query, xml

    decode_query(model, "SendMessage", {"QueueUrl": "q"})
    encode_query_response(model, "SendMessage", {"MessageId": "m"}, "r")
    decoders = query._struct_decoder.cache_info().currsize
    writers = xml._struct_content.cache_info().currsize
    decode_query(model, "SendMessage", {"QueueUrl": "q"})
    encode_query_response(model, "SendMessage", {"MessageId": "m"}, "r")
    assert query._struct_decoder.cache_info().currsize == decoders
    assert xml._struct_content.cache_info().currsize == writers
