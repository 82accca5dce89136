"""decode_request(): SNS Query requests, as botocore serializes them, into typed shapes.

The oracle is botocore's own SNS client (SNS still speaks Query in every botocore): each
request body here is the exact form botocore would send, captured without a server.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterator
from typing import Any, get_type_hints

import botocore.session
import pytest
from botocore.awsrequest import create_request_object, prepare_request_dict

from ekiden.core.errors import (
    InvalidParameterValue,
    MissingParameter,
    UnknownOperation,
    UnsupportedOperation,
)
from ekiden.protocols.sns import sns_model
from ekiden.protocols.sns.shapes import (
    REQUEST_SHAPES,
    ConfirmSubscriptionRequest,
    CreateTopicRequest,
    DeleteTopicRequest,
    GetSubscriptionAttributesRequest,
    GetTopicAttributesRequest,
    ListSubscriptionsByTopicRequest,
    ListSubscriptionsRequest,
    ListTagsForResourceRequest,
    ListTopicsRequest,
    MessageAttributeValue,
    PublishBatchRequest,
    PublishBatchRequestEntry,
    PublishRequest,
    SetSubscriptionAttributesRequest,
    SetTopicAttributesRequest,
    SubscribeRequest,
    Tag,
    TagResourceRequest,
    UnsubscribeRequest,
    UntagResourceRequest,
    decode_request,
    wire_name,
)
from ekiden.protocols.wire.query import parse_form
from tests.support.shape_types import model_type_of

TOPIC = "arn:aws:sns:us-east-1:123456789012:orders"
FIFO_TOPIC = "arn:aws:sns:us-east-1:123456789012:orders.fifo"
SUBSCRIPTION = TOPIC + ":5e1b1c53-5b3b-4a1e-a0c2-2f3d4e5f6a7b"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:inbox"
# Text that must survive the form encoding: XML and form specials, CR/LF, astral UTF-8.
TRICKY = "a&b=c+d%20e<f>\"g'h\r\n\ti héllo 日本語 😀 %2B"

# --- botocore, the client whose requests we must read --------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    session = botocore.session.get_session()
    sns = session.create_client(
        "sns",
        region_name="us-east-1",
        endpoint_url="http://x",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    yield sns
    sns.close()


def botocore_body(client: Any, action: str, params: dict[str, Any]) -> bytes:
    """The exact form body botocore's SNS client sends for ``action`` with ``params``."""
    op_model = client.meta.service_model.operation_model(action)
    request = client._serializer.serialize_to_request(params, op_model)
    prepare_request_dict(request, endpoint_url="http://x")
    body = create_request_object(request).prepare().body
    assert isinstance(body, str)
    return body.encode("ascii")


def decode_body(body: bytes) -> Any:
    params = parse_form(body)
    return decode_request(params["Action"], params)


def form(params: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(params).encode("ascii")


# --- every action: botocore's input -> the typed request ----------------------------------

BLOB = bytes(range(256))

EXAMPLES: list[tuple[str, dict[str, Any], Any]] = [
    (
        "CreateTopic",
        {
            "Name": "orders.fifo",
            "Attributes": {"FifoTopic": "true", "DisplayName": TRICKY},
            "Tags": [{"Key": "team", "Value": "a"}, {"Key": "empty", "Value": ""}],
            "DataProtectionPolicy": '{"Name":"p"}',
        },
        CreateTopicRequest(
            name="orders.fifo",
            attributes={"FifoTopic": "true", "DisplayName": TRICKY},
            tags=[Tag("team", "a"), Tag("empty", "")],
            data_protection_policy='{"Name":"p"}',
        ),
    ),
    ("CreateTopic", {"Name": "t"}, CreateTopicRequest(name="t")),
    ("DeleteTopic", {"TopicArn": TOPIC}, DeleteTopicRequest(TOPIC)),
    ("ListTopics", {}, ListTopicsRequest()),
    ("ListTopics", {"NextToken": "abc=="}, ListTopicsRequest(next_token="abc==")),
    ("GetTopicAttributes", {"TopicArn": TOPIC}, GetTopicAttributesRequest(TOPIC)),
    (
        "SetTopicAttributes",
        {"TopicArn": TOPIC, "AttributeName": "Policy", "AttributeValue": '{"a": [1, "&"]}'},
        SetTopicAttributesRequest(TOPIC, "Policy", '{"a": [1, "&"]}'),
    ),
    (
        "SetTopicAttributes",
        {"TopicArn": TOPIC, "AttributeName": "DisplayName"},
        SetTopicAttributesRequest(TOPIC, "DisplayName", None),
    ),
    (
        "Subscribe",
        {
            "TopicArn": TOPIC,
            "Protocol": "sqs",
            "Endpoint": QUEUE,
            "Attributes": {"RawMessageDelivery": "true", "FilterPolicy": '{"c": ["b"]}'},
            "ReturnSubscriptionArn": True,
        },
        SubscribeRequest(
            TOPIC,
            "sqs",
            QUEUE,
            {"RawMessageDelivery": "true", "FilterPolicy": '{"c": ["b"]}'},
            return_subscription_arn=True,
        ),
    ),
    (
        "Subscribe",
        {"TopicArn": TOPIC, "Protocol": "http", "ReturnSubscriptionArn": False},
        SubscribeRequest(TOPIC, "http", return_subscription_arn=False),
    ),
    (
        "ConfirmSubscription",
        {"TopicArn": TOPIC, "Token": "t0k3n", "AuthenticateOnUnsubscribe": "true"},
        ConfirmSubscriptionRequest(TOPIC, "t0k3n", "true"),
    ),
    ("Unsubscribe", {"SubscriptionArn": SUBSCRIPTION}, UnsubscribeRequest(SUBSCRIPTION)),
    ("ListSubscriptions", {"NextToken": "n"}, ListSubscriptionsRequest("n")),
    (
        "ListSubscriptionsByTopic",
        {"TopicArn": TOPIC, "NextToken": "n"},
        ListSubscriptionsByTopicRequest(TOPIC, "n"),
    ),
    (
        "GetSubscriptionAttributes",
        {"SubscriptionArn": SUBSCRIPTION},
        GetSubscriptionAttributesRequest(SUBSCRIPTION),
    ),
    (
        "SetSubscriptionAttributes",
        {"SubscriptionArn": SUBSCRIPTION, "AttributeName": "FilterPolicy", "AttributeValue": ""},
        SetSubscriptionAttributesRequest(SUBSCRIPTION, "FilterPolicy", ""),
    ),
    (
        "Publish",
        {
            "TopicArn": FIFO_TOPIC,
            "Message": TRICKY,
            "Subject": "Hello & welcome",
            "MessageStructure": "json",
            "MessageAttributes": {
                "color": {"DataType": "String", "StringValue": "blue"},
                "price": {"DataType": "Number.float", "StringValue": "1.5"},
                "raw": {"DataType": "Binary", "BinaryValue": BLOB},
                "list": {"DataType": "String.Array", "StringValue": '["a", 1]'},
            },
            "MessageDeduplicationId": "dedup-1",
            "MessageGroupId": "group-1",
        },
        PublishRequest(
            message=TRICKY,
            topic_arn=FIFO_TOPIC,
            subject="Hello & welcome",
            message_structure="json",
            message_attributes={
                "color": MessageAttributeValue("String", string_value="blue"),
                "price": MessageAttributeValue("Number.float", string_value="1.5"),
                "raw": MessageAttributeValue("Binary", binary_value=BLOB),
                "list": MessageAttributeValue("String.Array", string_value='["a", 1]'),
            },
            message_deduplication_id="dedup-1",
            message_group_id="group-1",
        ),
    ),
    (
        "Publish",
        {"TargetArn": TOPIC, "Message": ""},
        PublishRequest(message="", target_arn=TOPIC),
    ),
    (
        "Publish",
        {"PhoneNumber": "+15555550100", "Message": "hi"},
        PublishRequest(message="hi", phone_number="+15555550100"),
    ),
    (
        "PublishBatch",
        {
            "TopicArn": TOPIC,
            "PublishBatchRequestEntries": [
                {"Id": "first", "Message": "one"},
                {
                    "Id": "second",
                    "Message": TRICKY,
                    "Subject": "s",
                    "MessageStructure": "json",
                    "MessageAttributes": {"b": {"DataType": "Binary", "BinaryValue": b""}},
                    "MessageDeduplicationId": "d",
                    "MessageGroupId": "g",
                },
            ],
        },
        PublishBatchRequest(
            TOPIC,
            [
                PublishBatchRequestEntry("first", "one"),
                PublishBatchRequestEntry(
                    "second",
                    TRICKY,
                    subject="s",
                    message_structure="json",
                    message_attributes={"b": MessageAttributeValue("Binary", binary_value=b"")},
                    message_deduplication_id="d",
                    message_group_id="g",
                ),
            ],
        ),
    ),
    (
        "TagResource",
        {"ResourceArn": TOPIC, "Tags": [{"Key": "k", "Value": "v"}, {"Key": "k", "Value": "w"}]},
        TagResourceRequest(TOPIC, [Tag("k", "v"), Tag("k", "w")]),
    ),
    (
        "UntagResource",
        {"ResourceArn": TOPIC, "TagKeys": ["a", "b&c"]},
        UntagResourceRequest(TOPIC, ["a", "b&c"]),
    ),
    ("ListTagsForResource", {"ResourceArn": TOPIC}, ListTagsForResourceRequest(TOPIC)),
]


@pytest.mark.parametrize(
    ("action", "params", "expected"),
    EXAMPLES,
    ids=[f"{action}-{i}" for i, (action, _, _) in enumerate(EXAMPLES)],
)
def test_a_request_botocore_sends_decodes_into_its_typed_shape(
    client: Any, action: str, params: dict[str, Any], expected: Any
) -> None:
    assert decode_body(botocore_body(client, action, params)) == expected


def test_every_supported_action_has_an_example() -> None:
    assert {action for action, _, _ in EXAMPLES} == set(REQUEST_SHAPES)


def test_empty_lists_botocore_sends_as_a_bare_key_decode_to_empty_lists(client: Any) -> None:
    body = botocore_body(client, "TagResource", {"ResourceArn": TOPIC, "Tags": []})
    assert b"&Tags=" in body or body.endswith(b"Tags=")
    assert decode_body(body) == TagResourceRequest(TOPIC, [])
    body = botocore_body(
        client, "PublishBatch", {"TopicArn": TOPIC, "PublishBatchRequestEntries": []}
    )
    assert decode_body(body) == PublishBatchRequest(TOPIC, [])
    body = botocore_body(client, "UntagResource", {"ResourceArn": TOPIC, "TagKeys": []})
    assert decode_body(body) == UntagResourceRequest(TOPIC, [])


def test_ten_batch_entries_keep_their_order(client: Any) -> None:
    entries = [{"Id": f"e{i}", "Message": f"m{i}"} for i in range(10)]
    body = botocore_body(
        client, "PublishBatch", {"TopicArn": TOPIC, "PublishBatchRequestEntries": entries}
    )
    request = decode_body(body)
    assert [(e.id, e.message) for e in request.entries] == [(f"e{i}", f"m{i}") for i in range(10)]


def test_list_members_are_ordered_by_their_index_not_by_their_position_in_the_form() -> None:
    body = form(
        {
            "Action": "UntagResource",
            "ResourceArn": TOPIC,
            "TagKeys.member.10": "ten",
            "TagKeys.member.2": "two",
            "TagKeys.member.1": "one",
        }
    )
    assert decode_body(body).tag_keys == ["one", "two", "ten"]


def test_parameters_the_action_does_not_define_are_ignored() -> None:
    body = form(
        {
            "Action": "DeleteTopic",
            "Version": "2010-03-31",
            "TopicArn": TOPIC,
            "Signature": "x",
            "TopicARN": "typo",
        }
    )
    assert decode_body(body) == DeleteTopicRequest(TOPIC)


def test_a_return_subscription_arn_flag_is_read_in_any_case() -> None:
    params = {"Action": "Subscribe", "TopicArn": TOPIC, "Protocol": "sqs"}
    assert decode_body(form(params | {"ReturnSubscriptionArn": "TRUE"})).return_subscription_arn
    request = decode_body(form(params | {"ReturnSubscriptionArn": "False"}))
    assert request.return_subscription_arn is False


# --- what is rejected ---------------------------------------------------------------------


def required_members(action: str) -> list[str]:
    shape = sns_model().input_shape(action)
    assert shape is not None
    return sorted(shape.required)


def _minimal(action: str) -> dict[str, str]:
    """The form of ``action`` with exactly its required members (as any text)."""
    params = {"Action": action, "Version": "2010-03-31"}
    for member in required_members(action):
        params[member] = "x"
    if action == "PublishBatch":
        del params["PublishBatchRequestEntries"]
        params |= {
            "PublishBatchRequestEntries.member.1.Id": "a",
            "PublishBatchRequestEntries.member.1.Message": "m",
        }
    if action == "TagResource":
        del params["Tags"]
        params |= {"Tags.member.1.Key": "k", "Tags.member.1.Value": "v"}
    if action == "UntagResource":
        del params["TagKeys"]
        params["TagKeys.member.1"] = "k"
    return params


@pytest.mark.parametrize("action", sorted(REQUEST_SHAPES))
def test_the_minimal_form_of_every_action_decodes(action: str) -> None:
    assert isinstance(decode_body(form(_minimal(action))), REQUEST_SHAPES[action])


@pytest.mark.parametrize(
    ("action", "member"),
    [(action, member) for action in sorted(REQUEST_SHAPES) for member in required_members(action)],
)
def test_an_absent_required_member_is_named_as_aws_request_validation_names_it(
    action: str, member: str
) -> None:
    params = {
        k: v for k, v in _minimal(action).items() if k != member and not k.startswith(member + ".")
    }
    with pytest.raises(MissingParameter) as raised:
        decode_body(form(params))
    path = member[0].lower() + member[1:]
    assert raised.value.message == (
        f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_an_empty_string_is_a_present_value() -> None:
    params = {"Action": "Publish", "TopicArn": "", "Message": ""}
    assert decode_body(form(params)) == PublishRequest(message="", topic_arn="")


def test_every_absent_member_is_reported_at_once_with_its_nested_path() -> None:
    params = {
        "Action": "PublishBatch",
        "PublishBatchRequestEntries.member.1.Id": "a",
        "PublishBatchRequestEntries.member.2.Message": "m",
        "PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Name": "color",
        "PublishBatchRequestEntries.member.2.MessageAttributes.entry.1.Value.StringValue": "b",
    }
    with pytest.raises(MissingParameter) as raised:
        decode_body(form(params))
    null = "failed to satisfy constraint: Member must not be null"
    assert raised.value.message == (
        f"4 validation errors detected: Value null at 'topicArn' {null}; "
        f"Value null at 'publishBatchRequestEntries.1.member.message' {null}; "
        f"Value null at 'publishBatchRequestEntries.2.member.id' {null}; "
        "Value null at 'publishBatchRequestEntries.2.member.messageAttributes.color.member"
        f".dataType' {null}"
    )


def test_a_tag_without_a_value_names_the_tag_member() -> None:
    params = {"Action": "TagResource", "ResourceArn": TOPIC, "Tags.member.1.Key": "k"}
    with pytest.raises(MissingParameter, match=r"'tags\.1\.member\.value'"):
        decode_body(form(params))


def test_a_tag_sent_as_plain_text_lacks_its_key_and_value() -> None:
    params = {"Action": "TagResource", "ResourceArn": TOPIC, "Tags.member.1": "k=v"}
    with pytest.raises(
        MissingParameter, match=r"^2 validation errors detected: .*'tags\.1\.member\.key'"
    ):
        decode_body(form(params))


def test_a_message_attribute_without_a_data_type_is_rejected() -> None:
    params = {
        "Action": "Publish",
        "Message": "m",
        "MessageAttributes.entry.1.Name": "color",
        "MessageAttributes.entry.1.Value.StringValue": "blue",
    }
    with pytest.raises(MissingParameter, match=r"'messageAttributes\.color\.member\.dataType'"):
        decode_body(form(params))


@pytest.mark.parametrize(
    ("params", "missing"),
    [
        (
            {"Attributes.entry.1.key": "DisplayName"},
            "Attributes.entry.1.value",
        ),
        (
            {"Attributes.entry.1.value": "x"},
            "Attributes.entry.1.key",
        ),
    ],
)
def test_a_map_entry_without_its_key_or_value_is_a_missing_parameter(
    params: dict[str, str], missing: str
) -> None:
    with pytest.raises(MissingParameter, match=missing.replace(".", r"\.")):
        decode_body(form({"Action": "CreateTopic", "Name": "t"} | params))


def test_a_message_attribute_without_its_value_is_a_missing_parameter() -> None:
    params = {"Action": "Publish", "Message": "m", "MessageAttributes.entry.1.Name": "color"}
    with pytest.raises(MissingParameter, match=r"MessageAttributes\.entry\.1\.Value"):
        decode_body(form(params))


@pytest.mark.parametrize("flag", ["yes", "1", "", "truee"])
def test_a_return_subscription_arn_that_is_no_boolean_is_an_invalid_parameter(flag: str) -> None:
    params = {"Action": "Subscribe", "TopicArn": TOPIC, "Protocol": "sqs"}
    with pytest.raises(InvalidParameterValue, match="ReturnSubscriptionArn"):
        decode_body(form(params | {"ReturnSubscriptionArn": flag}))


@pytest.mark.parametrize("blob", ["not base64!", "YQ", "-_-_", "YW Jj"])
def test_a_binary_value_that_is_not_base64_is_an_invalid_parameter(blob: str) -> None:
    params = {
        "Action": "Publish",
        "Message": "m",
        "MessageAttributes.entry.1.Name": "raw",
        "MessageAttributes.entry.1.Value.DataType": "Binary",
        "MessageAttributes.entry.1.Value.BinaryValue": blob,
    }
    with pytest.raises(InvalidParameterValue) as raised:
        decode_body(form(params))
    assert raised.value.message == "Invalid parameter: BinaryValue Reason: not valid base64"


@pytest.mark.parametrize("action", ["Nonsense", "publish", "SendMessage"])
def test_an_action_sns_does_not_have_is_an_unknown_operation(action: str) -> None:
    with pytest.raises(UnknownOperation) as raised:
        decode_request(action, {"Action": action})
    assert raised.value.message == f"The action {action} is not valid for this web service."


def test_a_request_without_an_action_is_an_unknown_operation_saying_so() -> None:
    with pytest.raises(UnknownOperation) as raised:
        decode_request("", {})
    assert raised.value.message == "The request must contain the parameter Action."


@pytest.mark.parametrize(
    "action", ["CreatePlatformApplication", "AddPermission", "GetSMSAttributes"]
)
def test_an_sns_action_without_a_request_shape_is_unsupported(action: str) -> None:
    with pytest.raises(UnsupportedOperation, match=action):
        decode_request(action, {"Action": action})


# --- the shapes agree with the service model ---------------------------------------------


def _shape_pairs() -> list[tuple[type, str]]:
    model = sns_model()
    pairs: list[tuple[type, str]] = []
    for action, cls in REQUEST_SHAPES.items():
        name = model.operation(action).input_shape
        assert name is not None
        pairs.append((cls, name))
    pairs += [
        (Tag, "Tag"),
        (MessageAttributeValue, "MessageAttributeValue"),
        (PublishBatchRequestEntry, "PublishBatchRequestEntry"),
    ]
    return pairs


def _wire_fields(cls: type) -> dict[str, tuple[Any, bool]]:
    hints = get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        wire = f.metadata.get("wire") or wire_name(f.name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out[wire] = (hints[f.name], required)
    return out


@pytest.mark.parametrize(
    ("cls", "shape_name"), _shape_pairs(), ids=lambda p: getattr(p, "__name__", p)
)
def test_a_shape_has_exactly_the_model_members_with_the_model_types(
    cls: type, shape_name: str
) -> None:
    model = sns_model()
    shape = model.shape(shape_name)
    members = _wire_fields(cls)
    assert set(members) == set(shape.members)
    for wire, (kind, _) in members.items():
        target = model.shape(shape.members[wire].shape)
        assert model_type_of(kind) == target.type, wire


@pytest.mark.parametrize(
    ("cls", "shape_name"), _shape_pairs(), ids=lambda p: getattr(p, "__name__", p)
)
def test_a_shape_requires_exactly_what_the_model_requires(cls: type, shape_name: str) -> None:
    required = {wire for wire, (_, req) in _wire_fields(cls).items() if req}
    assert required == set(sns_model().shape(shape_name).required)


def test_every_supported_action_is_an_sns_action() -> None:
    assert set(REQUEST_SHAPES) <= set(sns_model().operation_names)


def test_request_shapes_are_immutable() -> None:
    request = DeleteTopicRequest(TOPIC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.topic_arn = "other"  # type: ignore[misc]
