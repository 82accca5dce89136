"""decode(): JSON-shaped dicts into the typed request of each SQS action (no server)."""

from __future__ import annotations

import base64
from typing import Any, get_type_hints

import pytest

from ekiden.core.errors import InvalidParameterValue, MalformedRequest, MissingParameter
from ekiden.protocols.sqs import shapes
from ekiden.protocols.sqs.shapes import (
    REQUEST_SHAPES,
    ChangeMessageVisibilityBatchRequest,
    ChangeMessageVisibilityBatchRequestEntry,
    CreateQueueRequest,
    DeleteMessageBatchRequest,
    DeleteMessageBatchRequestEntry,
    MessageAttributeValueShape,
    ReceiveMessageRequest,
    SendMessageBatchRequest,
    SendMessageBatchRequestEntry,
    SendMessageRequest,
    decode,
)
from ekiden.protocols.wire.model import sqs_model
from tests.support.shape_types import model_type_of

URL = "http://localhost:9324/000000000000/q"
ARN = "arn:aws:sqs:us-east-1:000000000000:q"

# The smallest valid input of every action: exactly its required members.
MINIMAL: dict[str, dict[str, Any]] = {
    "AddPermission": {
        "QueueUrl": URL,
        "Label": "l",
        "AWSAccountIds": ["123456789012"],
        "Actions": ["SendMessage"],
    },
    "CancelMessageMoveTask": {"TaskHandle": "h"},
    "ChangeMessageVisibility": {"QueueUrl": URL, "ReceiptHandle": "r", "VisibilityTimeout": 5},
    "ChangeMessageVisibilityBatch": {
        "QueueUrl": URL,
        "Entries": [{"Id": "a", "ReceiptHandle": "r"}],
    },
    "CreateQueue": {"QueueName": "q"},
    "DeleteMessage": {"QueueUrl": URL, "ReceiptHandle": "r"},
    "DeleteMessageBatch": {"QueueUrl": URL, "Entries": [{"Id": "a", "ReceiptHandle": "r"}]},
    "DeleteQueue": {"QueueUrl": URL},
    "GetQueueAttributes": {"QueueUrl": URL},
    "GetQueueUrl": {"QueueName": "q"},
    "ListDeadLetterSourceQueues": {"QueueUrl": URL},
    "ListMessageMoveTasks": {"SourceArn": ARN},
    "ListQueueTags": {"QueueUrl": URL},
    "ListQueues": {},
    "PurgeQueue": {"QueueUrl": URL},
    "ReceiveMessage": {"QueueUrl": URL},
    "RemovePermission": {"QueueUrl": URL, "Label": "l"},
    "SendMessage": {"QueueUrl": URL, "MessageBody": "hello"},
    "SendMessageBatch": {"QueueUrl": URL, "Entries": [{"Id": "a", "MessageBody": "b"}]},
    "SetQueueAttributes": {"QueueUrl": URL, "Attributes": {"VisibilityTimeout": "5"}},
    "StartMessageMoveTask": {"SourceArn": ARN},
    "TagQueue": {"QueueUrl": URL, "Tags": {"k": "v"}},
    "UntagQueue": {"QueueUrl": URL, "TagKeys": ["k"]},
}

# Members the model requires that decode() lets through, because a later layer words
# their absence the way SQS does (operations for QueueName, the service for Actions).
CHECKED_LATER = {("CreateQueue", "QueueName"), ("AddPermission", "Actions")}


def required_members(action: str) -> list[str]:
    shape = sqs_model().input_shape(action)
    assert shape is not None
    return sorted(m for m in shape.required if (action, m) not in CHECKED_LATER)


# --- the shapes agree with the service model ---------------------------------------------


def test_every_model_operation_has_a_request_shape() -> None:
    assert set(REQUEST_SHAPES) == set(sqs_model().operation_names)
    assert set(MINIMAL) == set(REQUEST_SHAPES)


def _wire_members(cls: type) -> dict[str, tuple[Any, bool]]:
    return {wire: (kind, required) for _, wire, kind, required in shapes._plan(cls)}


def _shape_pairs() -> list[tuple[type, str]]:
    model = sqs_model()
    pairs: list[tuple[type, str]] = []
    for action, cls in REQUEST_SHAPES.items():
        name = model.operation(action).input_shape
        assert name is not None
        pairs.append((cls, name))
    pairs += [
        (SendMessageBatchRequestEntry, "SendMessageBatchRequestEntry"),
        (DeleteMessageBatchRequestEntry, "DeleteMessageBatchRequestEntry"),
        (ChangeMessageVisibilityBatchRequestEntry, "ChangeMessageVisibilityBatchRequestEntry"),
        (MessageAttributeValueShape, "MessageAttributeValue"),
    ]
    return pairs


@pytest.mark.parametrize(
    ("cls", "shape_name"), _shape_pairs(), ids=lambda p: getattr(p, "__name__", p)
)
def test_a_shape_has_exactly_the_model_members_with_the_model_types(
    cls: type, shape_name: str
) -> None:
    model = sqs_model()
    shape = model.shape(shape_name)
    members = _wire_members(cls)
    assert set(members) == set(shape.members)
    for wire, (kind, _) in members.items():
        assert model_type_of(kind) == model.shape(shape.members[wire].shape).type, wire


@pytest.mark.parametrize(
    ("cls", "shape_name"), _shape_pairs(), ids=lambda p: getattr(p, "__name__", p)
)
def test_a_shape_requires_what_the_model_requires(cls: type, shape_name: str) -> None:
    shape = sqs_model().shape(shape_name)
    action = next((a for a, c in REQUEST_SHAPES.items() if c is cls), None)
    expected = {m for m in shape.required if (action, m) not in CHECKED_LATER}
    required = {wire for wire, (_, req) in _wire_members(cls).items() if req}
    assert required == expected


# --- required members --------------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(MINIMAL))
def test_the_minimal_input_of_every_action_decodes(action: str) -> None:
    request = decode(REQUEST_SHAPES[action], MINIMAL[action])
    assert isinstance(request, REQUEST_SHAPES[action])


@pytest.mark.parametrize(
    ("action", "member"),
    [(action, member) for action in sorted(MINIMAL) for member in required_members(action)],
)
def test_a_missing_required_member_is_a_missing_parameter_naming_it(
    action: str, member: str
) -> None:
    data = {k: v for k, v in MINIMAL[action].items() if k != member}
    with pytest.raises(MissingParameter) as raised:
        decode(REQUEST_SHAPES[action], data)
    assert raised.value.message == f"The request must contain the parameter {member}."


@pytest.mark.parametrize(
    ("action", "member"),
    [(action, member) for action in sorted(MINIMAL) for member in required_members(action)],
)
def test_a_null_required_member_counts_as_missing(action: str, member: str) -> None:
    data = dict(MINIMAL[action]) | {member: None}
    with pytest.raises(MissingParameter, match=member):
        decode(REQUEST_SHAPES[action], data)


def test_a_create_queue_without_a_name_is_left_to_the_operation_to_reject() -> None:
    assert decode(CreateQueueRequest, {}).queue_name is None


def test_an_add_permission_without_actions_decodes_to_no_actions() -> None:
    data = {k: v for k, v in MINIMAL["AddPermission"].items() if k != "Actions"}
    assert decode(REQUEST_SHAPES["AddPermission"], data).actions == []


def test_absent_and_null_optional_members_are_none() -> None:
    for data in (MINIMAL["SendMessage"], MINIMAL["SendMessage"] | {"DelaySeconds": None}):
        request = decode(SendMessageRequest, data)
        assert request.delay_seconds is None
        assert request.message_attributes is None
        assert request.message_group_id is None


# --- member values and types --------------------------------------------------------------


def test_a_send_message_decodes_every_member() -> None:
    request = decode(
        SendMessageRequest,
        {
            "QueueUrl": URL,
            "MessageBody": "hello",
            "DelaySeconds": 5,
            "MessageDeduplicationId": "d",
            "MessageGroupId": "g",
            "MessageAttributes": {"color": {"DataType": "String", "StringValue": "blue"}},
            "MessageSystemAttributes": {
                "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1"}
            },
        },
    )
    assert request == SendMessageRequest(
        queue_url=URL,
        message_body="hello",
        delay_seconds=5,
        message_attributes={"color": MessageAttributeValueShape("String", string_value="blue")},
        message_system_attributes={
            "AWSTraceHeader": MessageAttributeValueShape("String", string_value="Root=1")
        },
        message_deduplication_id="d",
        message_group_id="g",
    )


def test_wire_names_that_are_not_plain_camel_case_are_honoured() -> None:
    url = decode(REQUEST_SHAPES["GetQueueUrl"], {"QueueName": "q", "QueueOwnerAWSAccountId": "1"})
    assert url.queue_owner_aws_account_id == "1"
    permission = decode(REQUEST_SHAPES["AddPermission"], MINIMAL["AddPermission"])
    assert permission.aws_account_ids == ["123456789012"]
    created = decode(CreateQueueRequest, {"QueueName": "q", "tags": {"team": "a"}})
    assert created.tags == {"team": "a"}


def test_an_empty_string_is_a_present_value() -> None:
    assert decode(SendMessageRequest, {"QueueUrl": URL, "MessageBody": ""}).message_body == ""


@pytest.mark.parametrize("value", [0, 1, 2**31 - 1, -(2**31)])
def test_an_integer_member_takes_any_32_bit_json_number(value: int) -> None:
    data = MINIMAL["SendMessage"] | {"DelaySeconds": value}
    assert decode(SendMessageRequest, data).delay_seconds == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "STRING_VALUE can not be converted to an Integer"),
        (True, "TRUE_VALUE can not be converted to an Integer"),
        (False, "FALSE_VALUE can not be converted to an Integer"),
        (5.5, "NUMBER_VALUE can not be converted to an Integer"),
        (2**31, "NUMBER_VALUE can not be converted to an Integer"),
        (-(2**31) - 1, "NUMBER_VALUE can not be converted to an Integer"),
        ([5], "Start of list found where not expected"),
        ({"n": 5}, "Start of structure or map found where not expected."),
    ],
)
def test_an_integer_member_of_another_json_type_is_malformed(value: Any, message: str) -> None:
    with pytest.raises(MalformedRequest) as raised:
        decode(SendMessageRequest, MINIMAL["SendMessage"] | {"DelaySeconds": value})
    assert raised.value.message == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (5, "NUMBER_VALUE can not be converted to a String"),
        (1.5, "NUMBER_VALUE can not be converted to a String"),
        (True, "TRUE_VALUE can not be converted to a String"),
        (["u"], "Start of list found where not expected"),
        ({"u": 1}, "Start of structure or map found where not expected."),
    ],
)
def test_a_string_member_of_another_json_type_is_malformed(value: Any, message: str) -> None:
    with pytest.raises(MalformedRequest) as raised:
        decode(SendMessageRequest, {"QueueUrl": value, "MessageBody": "b"})
    assert raised.value.message == message


@pytest.mark.parametrize("data", [None, [], "text", 5, True])
def test_a_request_that_is_not_a_json_object_is_malformed(data: Any) -> None:
    with pytest.raises(MalformedRequest):
        decode(SendMessageRequest, data)


def test_a_list_member_given_something_else_is_malformed() -> None:
    for value in ("All", {"a": 1}, 5):
        with pytest.raises(MalformedRequest):
            decode(ReceiveMessageRequest, {"QueueUrl": URL, "MessageAttributeNames": value})


def test_a_list_of_strings_with_a_non_string_element_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="NUMBER_VALUE"):
        decode(ReceiveMessageRequest, {"QueueUrl": URL, "MessageAttributeNames": ["a", 2]})


def test_a_receive_decodes_its_lists_and_numbers() -> None:
    request = decode(
        ReceiveMessageRequest,
        {
            "QueueUrl": URL,
            "AttributeNames": ["All"],
            "MessageSystemAttributeNames": ["SentTimestamp"],
            "MessageAttributeNames": ["geo.*", "color"],
            "MaxNumberOfMessages": 10,
            "VisibilityTimeout": 0,
            "WaitTimeSeconds": 20,
            "ReceiveRequestAttemptId": "x",
        },
    )
    assert request.attribute_names == ["All"]
    assert request.message_system_attribute_names == ["SentTimestamp"]
    assert request.message_attribute_names == ["geo.*", "color"]
    assert (request.max_number_of_messages, request.visibility_timeout) == (10, 0)
    assert request.wait_time_seconds == 20
    assert request.receive_request_attempt_id == "x"


def test_a_map_of_strings_decodes_and_rejects_non_string_values() -> None:
    request = decode(CreateQueueRequest, {"QueueName": "q", "Attributes": {"DelaySeconds": "5"}})
    assert request.attributes == {"DelaySeconds": "5"}
    with pytest.raises(MalformedRequest, match="NUMBER_VALUE can not be converted to a String"):
        decode(CreateQueueRequest, {"QueueName": "q", "Attributes": {"DelaySeconds": 5}})
    with pytest.raises(MalformedRequest, match="Start of list"):
        decode(CreateQueueRequest, {"QueueName": "q", "Attributes": [["DelaySeconds", "5"]]})


# --- message attributes and base64 --------------------------------------------------------


def send_with_attribute(value: Any) -> SendMessageRequest:
    return decode(SendMessageRequest, MINIMAL["SendMessage"] | {"MessageAttributes": {"a": value}})


def test_a_binary_attribute_value_is_decoded_from_base64() -> None:
    raw = bytes(range(256))
    request = send_with_attribute(
        {"DataType": "Binary", "BinaryValue": base64.b64encode(raw).decode()}
    )
    assert request.message_attributes == {
        "a": MessageAttributeValueShape("Binary", binary_value=raw)
    }


def test_an_empty_binary_value_decodes_to_empty_bytes() -> None:
    request = send_with_attribute({"DataType": "Binary", "BinaryValue": ""})
    assert request.message_attributes is not None
    assert request.message_attributes["a"].binary_value == b""


def test_list_values_of_an_attribute_are_decoded() -> None:
    request = send_with_attribute(
        {
            "DataType": "String",
            "StringListValues": ["x", "y"],
            "BinaryListValues": [base64.b64encode(b"\x00").decode(), "YWI="],
        }
    )
    assert request.message_attributes is not None
    value = request.message_attributes["a"]
    assert value.string_list_values == ["x", "y"]
    assert value.binary_list_values == [b"\x00", b"ab"]


@pytest.mark.parametrize("blob", ["not base64!", "YQ", "-_-_", "YW Jj", "YWJj\n", "\u00e9"])
def test_a_binary_value_that_is_not_valid_base64_is_an_invalid_parameter(blob: str) -> None:
    with pytest.raises(InvalidParameterValue, match=r"MessageAttributes\.a\.BinaryValue"):
        send_with_attribute({"DataType": "Binary", "BinaryValue": blob})


def test_a_binary_value_that_is_not_a_string_is_malformed() -> None:
    with pytest.raises(MalformedRequest, match="can not be converted to a Blob"):
        send_with_attribute({"DataType": "Binary", "BinaryValue": 5})


def test_an_attribute_without_a_data_type_names_the_nested_member() -> None:
    with pytest.raises(MissingParameter) as raised:
        send_with_attribute({"StringValue": "x"})
    assert (
        raised.value.message
        == "The request must contain the parameter MessageAttributes.a.DataType."
    )


def test_an_attribute_value_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedRequest):
        send_with_attribute("blue")


def test_message_attributes_that_are_not_a_map_are_malformed() -> None:
    with pytest.raises(MalformedRequest, match="Start of list"):
        decode(SendMessageRequest, MINIMAL["SendMessage"] | {"MessageAttributes": [{"a": 1}]})


def test_a_system_attribute_is_decoded_like_a_message_attribute() -> None:
    request = decode(
        SendMessageRequest,
        MINIMAL["SendMessage"]
        | {"MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String"}}},
    )
    assert request.message_system_attributes == {
        "AWSTraceHeader": MessageAttributeValueShape("String")
    }
    with pytest.raises(
        MissingParameter, match=r"MessageSystemAttributes\.AWSTraceHeader\.DataType"
    ):
        decode(
            SendMessageRequest,
            MINIMAL["SendMessage"] | {"MessageSystemAttributes": {"AWSTraceHeader": {}}},
        )


# --- batch entries ------------------------------------------------------------------------


def test_send_batch_entries_decode_in_order_with_their_attributes() -> None:
    request = decode(
        SendMessageBatchRequest,
        {
            "QueueUrl": URL,
            "Entries": [
                {"Id": "one", "MessageBody": "b1", "DelaySeconds": 3},
                {
                    "Id": "two",
                    "MessageBody": "b2",
                    "MessageGroupId": "g",
                    "MessageAttributes": {
                        "bin": {"DataType": "Binary.gif", "BinaryValue": "R0lG"},
                        "num": {"DataType": "Number", "StringValue": "1.5"},
                    },
                },
            ],
        },
    )
    assert request.entries == [
        SendMessageBatchRequestEntry(id="one", message_body="b1", delay_seconds=3),
        SendMessageBatchRequestEntry(
            id="two",
            message_body="b2",
            message_group_id="g",
            message_attributes={
                "bin": MessageAttributeValueShape("Binary.gif", binary_value=b"GIF"),
                "num": MessageAttributeValueShape("Number", string_value="1.5"),
            },
        ),
    ]


def test_an_empty_entry_list_decodes_to_an_empty_list() -> None:
    # The service answers EmptyBatchRequest; decoding must not hide that.
    assert decode(SendMessageBatchRequest, {"QueueUrl": URL, "Entries": []}).entries == []


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([{"MessageBody": "b"}], "Entries.1.Id"),
        ([{"Id": "a", "MessageBody": "b"}, {"Id": "c"}], "Entries.2.MessageBody"),
        (
            [{"Id": "a", "MessageBody": "b", "MessageAttributes": {"x": {}}}],
            "Entries.1.MessageAttributes.x.DataType",
        ),
    ],
)
def test_a_missing_member_of_a_send_batch_entry_names_the_entry(
    entries: list[dict[str, Any]], expected: str
) -> None:
    with pytest.raises(MissingParameter) as raised:
        decode(SendMessageBatchRequest, {"QueueUrl": URL, "Entries": entries})
    assert raised.value.message == f"The request must contain the parameter {expected}."


def test_a_bad_base64_value_in_a_batch_entry_names_its_path() -> None:
    entry = {
        "Id": "a",
        "MessageBody": "b",
        "MessageAttributes": {"x": {"DataType": "Binary", "BinaryValue": "%%%"}},
    }
    with pytest.raises(
        InvalidParameterValue, match=r"Entries\.1\.MessageAttributes\.x\.BinaryValue"
    ):
        decode(SendMessageBatchRequest, {"QueueUrl": URL, "Entries": [entry]})


def test_delete_batch_entries_decode_and_require_a_receipt_handle() -> None:
    request = decode(
        DeleteMessageBatchRequest,
        {
            "QueueUrl": URL,
            "Entries": [{"Id": "a", "ReceiptHandle": "r1"}, {"Id": "b", "ReceiptHandle": "r2"}],
        },
    )
    assert request.entries == [
        DeleteMessageBatchRequestEntry("a", "r1"),
        DeleteMessageBatchRequestEntry("b", "r2"),
    ]
    with pytest.raises(MissingParameter, match=r"Entries\.2\.ReceiptHandle"):
        decode(
            DeleteMessageBatchRequest,
            {"QueueUrl": URL, "Entries": [{"Id": "a", "ReceiptHandle": "r"}, {"Id": "b"}]},
        )


def test_change_visibility_batch_entries_have_an_optional_timeout() -> None:
    request = decode(
        ChangeMessageVisibilityBatchRequest,
        {
            "QueueUrl": URL,
            "Entries": [
                {"Id": "a", "ReceiptHandle": "r1", "VisibilityTimeout": 60},
                {"Id": "b", "ReceiptHandle": "r2"},
            ],
        },
    )
    assert request.entries == [
        ChangeMessageVisibilityBatchRequestEntry("a", "r1", 60),
        ChangeMessageVisibilityBatchRequestEntry("b", "r2", None),
    ]


def test_a_batch_entry_of_the_wrong_type_is_malformed() -> None:
    with pytest.raises(MalformedRequest):
        decode(SendMessageBatchRequest, {"QueueUrl": URL, "Entries": ["not an entry"]})
    with pytest.raises(MalformedRequest):
        decode(SendMessageBatchRequest, {"QueueUrl": URL, "Entries": {"Id": "a"}})
    with pytest.raises(MalformedRequest, match="STRING_VALUE can not be converted to an Integer"):
        decode(
            ChangeMessageVisibilityBatchRequest,
            {
                "QueueUrl": URL,
                "Entries": [{"Id": "a", "ReceiptHandle": "r", "VisibilityTimeout": "5"}],
            },
        )


def test_every_shape_field_has_a_resolvable_type() -> None:
    for cls, _ in _shape_pairs():
        get_type_hints(cls)  # raises if an annotation cannot be resolved
