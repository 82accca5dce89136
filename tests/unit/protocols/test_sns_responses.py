"""encode_result() and encode_error(): SNS XML answers, read back by botocore's parser.

The oracle is botocore's ``QueryParser`` with its own SNS model: whatever we write must
parse into exactly the result (or error) boto3 users expect.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import botocore.session
import pytest
from botocore.model import ServiceModel as BotocoreServiceModel
from botocore.parsers import create_parser

from ekiden.core import errors as e
from ekiden.protocols.sns import XML_NAMESPACE, sns_model
from ekiden.protocols.sns.errors import encode_error
from ekiden.protocols.sns.responses import (
    RESULT_SHAPES,
    BatchResultErrorEntry,
    ConfirmSubscriptionResult,
    CreateTopicResult,
    GetSubscriptionAttributesResult,
    GetTopicAttributesResult,
    ListSubscriptionsByTopicResult,
    ListSubscriptionsResult,
    ListTagsForResourceResult,
    ListTopicsResult,
    PublishBatchResult,
    PublishBatchResultEntry,
    PublishResult,
    SubscribeResult,
    SubscriptionSummary,
    encode_result,
)
from ekiden.protocols.sns.shapes import REQUEST_SHAPES

TOPIC = "arn:aws:sns:us-east-1:123456789012:orders"
SUBSCRIPTION = TOPIC + ":5e1b1c53-5b3b-4a1e-a0c2-2f3d4e5f6a7b"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:inbox"
REQUEST_ID = "3f1c2a9e-0c0d-5b1e-9f57-7d6f5b8c9e10"
TRICKY = "a&b<c>d\"e'f\r\n\rg\th héllo 日本語 😀 ]]> &amp;"
POLICY = '{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Resource":"' + TOPIC + '"}]}'


@pytest.fixture(scope="module")
def oracle() -> BotocoreServiceModel:
    model: BotocoreServiceModel = botocore.session.get_session().get_service_model("sns")
    assert model.protocol == "query"
    return model


def botocore_parse(
    oracle: BotocoreServiceModel, action: str, xml: bytes, status: int = 200
) -> dict[str, Any]:
    """What botocore's Query parser makes of an XML answer to ``action``."""
    response = {"body": xml, "headers": {}, "status_code": status}
    output = oracle.operation_model(action).output_shape
    parsed: dict[str, Any] = create_parser("query").parse(response, output)
    parsed.pop("ResponseMetadata", None)
    return parsed


def summary(n: int) -> SubscriptionSummary:
    return SubscriptionSummary(
        subscription_arn=f"{SUBSCRIPTION}{n}",
        owner="123456789012",
        protocol="sqs",
        endpoint=QUEUE,
        topic_arn=TOPIC,
    )


def summary_parsed(n: int) -> dict[str, str]:
    return {
        "SubscriptionArn": f"{SUBSCRIPTION}{n}",
        "Owner": "123456789012",
        "Protocol": "sqs",
        "Endpoint": QUEUE,
        "TopicArn": TOPIC,
    }


# (action, result, what boto3 returns for it)
EXAMPLES: list[tuple[str, Any, dict[str, Any]]] = [
    ("CreateTopic", CreateTopicResult(TOPIC), {"TopicArn": TOPIC}),
    ("DeleteTopic", None, {}),
    (
        "ListTopics",
        ListTopicsResult([TOPIC, TOPIC + "2"], next_token="tok=="),
        {"Topics": [{"TopicArn": TOPIC}, {"TopicArn": TOPIC + "2"}], "NextToken": "tok=="},
    ),
    ("ListTopics", ListTopicsResult([]), {"Topics": []}),
    (
        "GetTopicAttributes",
        GetTopicAttributesResult(
            {"TopicArn": TOPIC, "Policy": POLICY, "DisplayName": TRICKY, "Empty": ""}
        ),
        {"Attributes": {"TopicArn": TOPIC, "Policy": POLICY, "DisplayName": TRICKY, "Empty": ""}},
    ),
    ("SetTopicAttributes", None, {}),
    ("Subscribe", SubscribeResult(SUBSCRIPTION), {"SubscriptionArn": SUBSCRIPTION}),
    (
        "Subscribe",
        SubscribeResult("pending confirmation"),
        {"SubscriptionArn": "pending confirmation"},
    ),
    (
        "ConfirmSubscription",
        ConfirmSubscriptionResult(SUBSCRIPTION),
        {"SubscriptionArn": SUBSCRIPTION},
    ),
    ("Unsubscribe", None, {}),
    (
        "ListSubscriptions",
        ListSubscriptionsResult([summary(1), summary(2)], next_token="n"),
        {"Subscriptions": [summary_parsed(1), summary_parsed(2)], "NextToken": "n"},
    ),
    ("ListSubscriptions", ListSubscriptionsResult([]), {"Subscriptions": []}),
    (
        "ListSubscriptionsByTopic",
        ListSubscriptionsByTopicResult([summary(3)]),
        {"Subscriptions": [summary_parsed(3)]},
    ),
    (
        "GetSubscriptionAttributes",
        GetSubscriptionAttributesResult(
            {"RawMessageDelivery": "true", "FilterPolicy": '{"a": ["<b>"]}'}
        ),
        {"Attributes": {"RawMessageDelivery": "true", "FilterPolicy": '{"a": ["<b>"]}'}},
    ),
    ("SetSubscriptionAttributes", None, {}),
    ("Publish", PublishResult("m-1"), {"MessageId": "m-1"}),
    (
        "Publish",
        PublishResult("m-2", sequence_number="10000000000000000001"),
        {"MessageId": "m-2", "SequenceNumber": "10000000000000000001"},
    ),
    (
        "PublishBatch",
        PublishBatchResult(
            successful=[
                PublishBatchResultEntry("a", "m-a"),
                PublishBatchResultEntry("b", "m-b", sequence_number="2"),
            ],
            failed=[
                BatchResultErrorEntry("c", "InvalidParameter", True, "Invalid parameter: Id"),
                BatchResultErrorEntry("d", "InternalError", False),
            ],
        ),
        {
            "Successful": [
                {"Id": "a", "MessageId": "m-a"},
                {"Id": "b", "MessageId": "m-b", "SequenceNumber": "2"},
            ],
            "Failed": [
                {
                    "Id": "c",
                    "Code": "InvalidParameter",
                    "Message": "Invalid parameter: Id",
                    "SenderFault": True,
                },
                {"Id": "d", "Code": "InternalError", "SenderFault": False},
            ],
        },
    ),
    ("PublishBatch", PublishBatchResult(), {"Successful": [], "Failed": []}),
    ("TagResource", None, {}),
    ("UntagResource", None, {}),
    (
        "ListTagsForResource",
        ListTagsForResourceResult({"team": "a&b", "empty": ""}),
        {"Tags": [{"Key": "team", "Value": "a&b"}, {"Key": "empty", "Value": ""}]},
    ),
    ("ListTagsForResource", ListTagsForResourceResult({}), {"Tags": []}),
]


@pytest.mark.parametrize(
    ("action", "result", "expected"),
    EXAMPLES,
    ids=[f"{action}-{i}" for i, (action, _, _) in enumerate(EXAMPLES)],
)
def test_botocore_reads_the_result_we_encode_as_the_result_we_meant(
    oracle: BotocoreServiceModel, action: str, result: Any, expected: dict[str, Any]
) -> None:
    xml = encode_result(action, result, REQUEST_ID)
    assert botocore_parse(oracle, action, xml) == expected


def test_every_supported_action_has_a_result_shape_and_an_example() -> None:
    assert set(RESULT_SHAPES) == set(REQUEST_SHAPES)
    assert {action for action, _, _ in EXAMPLES} == set(RESULT_SHAPES)


@pytest.mark.parametrize("action", sorted(RESULT_SHAPES))
def test_actions_answer_with_a_result_exactly_when_the_model_gives_them_members(
    action: str,
) -> None:
    output = sns_model().output_shape(action)
    has_members = output is not None and bool(output.members)
    assert (RESULT_SHAPES[action] is not None) == has_members


@pytest.mark.parametrize(
    ("action", "result"),
    [(action, result) for action, result, _ in EXAMPLES if result is not None],
    ids=lambda x: x if isinstance(x, str) else type(x).__name__,
)
def test_a_result_names_only_members_of_the_model_output(action: str, result: Any) -> None:
    output = sns_model().output_shape(action)
    assert output is not None
    assert set(result.to_wire()) <= set(output.members)


def test_a_document_is_the_response_sns_writes() -> None:
    xml = encode_result("CreateTopic", CreateTopicResult(TOPIC), REQUEST_ID)
    assert (
        xml
        == (
            '<?xml version="1.0"?>'
            f'<CreateTopicResponse xmlns="{XML_NAMESPACE}">'
            f"<CreateTopicResult><TopicArn>{TOPIC}</TopicArn></CreateTopicResult>"
            f"<ResponseMetadata><RequestId>{REQUEST_ID}</RequestId></ResponseMetadata>"
            "</CreateTopicResponse>"
        ).encode()
    )


def test_botocore_finds_the_request_id_of_a_result(oracle: BotocoreServiceModel) -> None:
    xml = encode_result("Publish", PublishResult("m"), REQUEST_ID)
    response = {"body": xml, "headers": {}, "status_code": 200}
    output = oracle.operation_model("Publish").output_shape
    parsed = create_parser("query").parse(response, output)
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_attributes_are_written_as_entries_of_key_and_value() -> None:
    xml = encode_result("GetTopicAttributes", GetTopicAttributesResult({"a": "1"}), REQUEST_ID)
    root = ET.fromstring(xml)
    ns = {"sns": XML_NAMESPACE}
    entries = root.findall("sns:GetTopicAttributesResult/sns:Attributes/sns:entry", ns)
    assert [
        (x.findtext("sns:key", None, ns), x.findtext("sns:value", None, ns)) for x in entries
    ] == [("a", "1")]


def test_an_action_without_a_result_writes_only_its_request_id() -> None:
    xml = encode_result("DeleteTopic", None, REQUEST_ID)
    assert b"<DeleteTopicResult" not in xml
    assert xml.endswith(
        f"<ResponseMetadata><RequestId>{REQUEST_ID}</RequestId></ResponseMetadata>"
        "</DeleteTopicResponse>".encode()
    )


@pytest.mark.parametrize(
    ("action", "result"),
    [
        ("CreateTopic", None),
        ("CreateTopic", SubscribeResult(SUBSCRIPTION)),
        ("DeleteTopic", CreateTopicResult(TOPIC)),
        ("ListSubscriptions", ListSubscriptionsByTopicResult([])),
    ],
)
def test_a_result_of_another_action_is_refused(action: str, result: Any) -> None:
    with pytest.raises(TypeError, match=action):
        encode_result(action, result, REQUEST_ID)


def test_a_result_holding_a_lone_surrogate_is_an_internal_failure() -> None:
    with pytest.raises(e.InternalFailure):
        encode_result("CreateTopic", CreateTopicResult("arn\ud800"), REQUEST_ID)


# --- errors -------------------------------------------------------------------------------

ERROR_EXAMPLES: list[tuple[e.EkidenError, int, str, str]] = [
    (e.TopicDoesNotExist(), 404, "NotFound", "Sender"),
    (e.SubscriptionDoesNotExist(), 404, "NotFound", "Sender"),
    (e.InvalidParameterValue("Invalid parameter: TopicArn"), 400, "InvalidParameter", "Sender"),
    (
        e.MissingParameter(
            "1 validation error detected: Value null at 'topicArn' failed to satisfy "
            "constraint: Member must not be null"
        ),
        400,
        "ValidationError",
        "Sender",
    ),
    (
        e.InvalidMessageAttribute("The message attribute 'a' ..."),
        400,
        "ParameterValueInvalid",
        "Sender",
    ),
    (e.MessageTooLong("Invalid parameter: Message too long"), 400, "InvalidParameter", "Sender"),
    (e.AccessDenied("User is not authorized"), 403, "AuthorizationError", "Sender"),
    (e.ResourceNotFound("Resource does not exist"), 404, "ResourceNotFound", "Sender"),
    (e.TopicLimitExceeded("Topic limit exceeded"), 403, "TopicLimitExceeded", "Sender"),
    (e.TagLimitExceeded("Could not complete request"), 400, "TagLimitExceeded", "Sender"),
    (
        e.EmptyBatchRequest("The batch request doesn't contain any entries."),
        400,
        "EmptyBatchRequest",
        "Sender",
    ),
    (e.InternalFailure("We encountered an internal error."), 500, "InternalError", "Receiver"),
    (e.ServiceUnavailable("The store is closed."), 503, "ServiceUnavailable", "Receiver"),
    (
        e.UnknownOperation("The action Foo is not valid for this web service."),
        400,
        "InvalidAction",
        "Sender",
    ),
]


@pytest.mark.parametrize(
    ("error", "status", "code", "fault"),
    ERROR_EXAMPLES,
    ids=[type(x[0]).__name__ for x in ERROR_EXAMPLES],
)
def test_botocore_reads_the_error_we_encode_as_its_code_message_and_fault(
    oracle: BotocoreServiceModel, error: e.EkidenError, status: int, code: str, fault: str
) -> None:
    got_status, xml = encode_error(error, REQUEST_ID)
    assert got_status == status
    parsed = create_parser("query").parse(
        {"body": xml, "headers": {}, "status_code": status},
        oracle.operation_model("Publish").output_shape,
    )
    assert {k: parsed["Error"][k] for k in ("Type", "Code", "Message")} == {
        "Type": fault,
        "Code": code,
        "Message": error.message,
    }
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


def test_an_error_document_is_in_the_sns_namespace() -> None:
    _, xml = encode_error(e.TopicDoesNotExist(), REQUEST_ID)
    root = ET.fromstring(xml)
    assert root.tag == f"{{{XML_NAMESPACE}}}ErrorResponse"
    ns = {"sns": XML_NAMESPACE}
    assert root.findtext("sns:Error/sns:Code", None, ns) == "NotFound"
    assert root.findtext("sns:Error/sns:Message", None, ns) == "Topic does not exist"
    assert root.findtext("sns:RequestId", None, ns) == REQUEST_ID


def test_an_error_message_with_characters_xml_cannot_carry_still_parses(
    oracle: BotocoreServiceModel,
) -> None:
    status, xml = encode_error(e.InvalidParameterValue("Invalid parameter: \x00<&>\ud800"), "r")
    parsed = create_parser("query").parse(
        {"body": xml, "headers": {}, "status_code": status},
        oracle.operation_model("Publish").output_shape,
    )
    assert parsed["Error"]["Message"] == "Invalid parameter: \ufffd<&>\ufffd"


def test_an_error_document_has_no_detail_element_as_sns_writes_none(
    oracle: BotocoreServiceModel,
) -> None:
    status, xml = encode_error(e.TopicDoesNotExist(), REQUEST_ID)
    parsed = create_parser("query").parse(
        {"body": xml, "headers": {}, "status_code": status},
        oracle.operation_model("Publish").output_shape,
    )
    assert "Detail" not in parsed["Error"]
