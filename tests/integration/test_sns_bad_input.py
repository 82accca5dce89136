"""Bad SNS requests sent as raw HTTP: each gets SNS's error code, status and message in
SNS's XML error document, changes nothing, and the server keeps serving both APIs."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support.clients import sqs_client
from tests.support.raw_http import logged
from tests.support.server import EkidenProcess
from tests.support.sns import (
    SNS_XMLNS,
    RawSns,
    expect_sns_error,
    nothing_in,
    subscribed_queue,
    topic_arn_of,
)


@pytest.fixture
def raw(ekiden: EkidenProcess) -> RawSns:
    return RawSns(ekiden.endpoint)


@pytest.fixture
def sqs(ekiden: EkidenProcess) -> Any:
    return sqs_client(ekiden.endpoint)


def _state(sns: Any, topic: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return attributes, subscriptions


def test_an_invalid_filter_policy_is_refused_and_subscribes_nothing(
    raw: RawSns, sns: Any, queue_name: str
) -> None:
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    before = _state(sns, topic)
    answer = raw.call(
        "Subscribe",
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=f"arn:aws:sqs:us-east-1:000000000000:{queue_name}",
        **{
            "Attributes.entry.1.key": "FilterPolicy",
            "Attributes.entry.1.value": json.dumps({"level": [{"wildcard": "x"}]}),
        },
    )
    assert (answer.status, answer.code) == (400, "InvalidParameter"), answer.body
    assert answer.message is not None
    assert answer.message.startswith("Invalid parameter: Attributes Reason: FilterPolicy: ")
    answer = raw.call(
        "Subscribe",
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=f"arn:aws:sqs:us-east-1:000000000000:{queue_name}",
        **{"Attributes.entry.1.key": "FilterPolicy", "Attributes.entry.1.value": "{not json"},
    )
    assert (answer.status, answer.code) == (400, "InvalidParameter"), answer.body
    assert _state(sns, topic) == before


def test_an_invalid_filter_policy_leaves_the_subscription_as_it_was(
    raw: RawSns, sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    _, subscription = subscribed_queue(
        sns, sqs, topic, queue_name, FilterPolicy=json.dumps({"level": ["error"]})
    )
    before = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    policy = json.dumps({f"k{n}": ["v"] for n in range(6)})  # SNS allows 5 keys
    answer = raw.call(
        "SetSubscriptionAttributes",
        SubscriptionArn=subscription,
        AttributeName="FilterPolicy",
        AttributeValue=policy,
    )
    assert (answer.status, answer.code) == (400, "InvalidParameter"), answer.body
    assert answer.message is not None and answer.message.startswith(
        "Invalid parameter: FilterPolicy: "
    )
    after = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert after == before


def test_publishing_to_an_unknown_topic_is_not_found(
    raw: RawSns, ekiden: EkidenProcess, queue_name: str
) -> None:
    with logged(ekiden, "rejected Publish: NotFound: Topic does not exist"):
        answer = raw.call("Publish", TopicArn=topic_arn_of(f"{queue_name}-none"), Message="m")
    expect_sns_error(answer, "NotFound", "Topic does not exist", 404)


def test_an_oversize_message_is_refused_and_delivered_nowhere(
    raw: RawSns, sns: Any, sqs: Any, queue_name: str
) -> None:
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    url, _ = subscribed_queue(sns, sqs, topic, queue_name)
    answer = raw.call("Publish", TopicArn=topic, Message="x" * (262_144 + 1))
    expect_sns_error(answer, "InvalidParameter", "Invalid parameter: Message too long")
    # Attributes count too: 262,144 bytes of message plus one attribute is over.
    answer = raw.call(
        "Publish",
        TopicArn=topic,
        Message="x" * 262_140,
        **{
            "MessageAttributes.entry.1.Name": "a",
            "MessageAttributes.entry.1.Value.DataType": "String",
            "MessageAttributes.entry.1.Value.StringValue": "bb",
        },
    )
    expect_sns_error(answer, "InvalidParameter", "Invalid parameter: Message too long")
    assert nothing_in(sqs, url)
    assert raw.call("Publish", TopicArn=topic, Message="x" * 262_144).status == 200


def test_malformed_arns_get_sns_wording(raw: RawSns, sns: Any, queue_name: str) -> None:
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    expect_sns_error(
        raw.call("Publish", TopicArn="orders", Message="m"),
        "InvalidParameter",
        "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
    )
    expect_sns_error(
        raw.call("Publish", TopicArn=topic.replace("us-east-1", "eu-west-1"), Message="m"),
        "InvalidParameter",
        "Invalid parameter: TopicArn",
    )
    expect_sns_error(
        raw.call("GetSubscriptionAttributes", SubscriptionArn=topic),
        "InvalidParameter",
        "Invalid parameter: SubscriptionId",
    )
    expect_sns_error(
        raw.call("TagResource", ResourceArn="arn:aws:sns", **{"Tags.member.1.Key": "k"}),
        "ValidationError",
        "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy "
        "constraint: Member must not be null",
    )
    expect_sns_error(
        raw.call("Publish", Message="m"),
        "InvalidParameter",
        "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter",
    )


def test_missing_parameters_and_bad_attributes_get_their_own_codes(
    raw: RawSns, sns: Any, queue_name: str
) -> None:
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    expect_sns_error(
        raw.call("Publish", TopicArn=topic),
        "ValidationError",
        "1 validation error detected: Value null at 'message' failed to satisfy constraint: "
        "Member must not be null",
    )
    answer = raw.call(
        "Publish",
        TopicArn=topic,
        Message="m",
        **{
            "MessageAttributes.entry.1.Name": "n",
            "MessageAttributes.entry.1.Value.DataType": "Number",
            "MessageAttributes.entry.1.Value.StringValue": "twelve",
        },
    )
    assert (answer.status, answer.code) == (400, "ParameterValueInvalid"), answer.body
    expect_sns_error(
        raw.call("Subscribe", TopicArn=topic, Protocol="sqs", Endpoint="not-an-arn"),
        "InvalidParameter",
        "Invalid parameter: SQS endpoint ARN",
    )


def test_requests_are_told_apart_by_action_version_and_credential_scope(
    raw: RawSns, ekiden: EkidenProcess
) -> None:
    # An action SNS does not have, with SNS's Version: SNS's InvalidAction.
    answer = raw.call("ListQueues")
    assert (answer.status, answer.code) == (400, "InvalidAction"), answer.body
    # AddPermission exists in both APIs: SNS's Version or credential scope picks SNS
    # (whose answer, in SNS's namespace, is that ekiden does not support it).
    unsupported = "ekiden does not support the SNS action AddPermission."
    answer = raw.post({"Action": "AddPermission", "Version": "2010-03-31"})
    expect_sns_error(answer, "InvalidAction", unsupported)
    signed = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sns/aws4_request, "
        "SignedHeaders=host, Signature=00"
    }
    expect_sns_error(
        raw.post({"Action": "AddPermission"}, headers=signed), "InvalidAction", unsupported
    )
    # An SQS Query request on the same port is still SQS's.
    sqs_answer = requests.post(
        ekiden.endpoint + "/", data={"Action": "ListQueues", "Version": "2012-11-05"}, timeout=10
    )
    assert sqs_answer.status_code == 200
    assert b"<ListQueuesResponse" in sqs_answer.content
    # An SNS action without any version: SNS.
    answer = raw.post({"Action": "ListTopics"})
    assert answer.status == 200
    assert answer.text("Topics") is not None


def test_the_server_keeps_serving_after_bad_requests(raw: RawSns, sns: Any) -> None:
    for _ in range(3):
        assert raw.post({"Action": "Publish", "Version": "2010-03-31"}).status == 400
    assert raw.post({"Action": "NoSuchThing", "Version": "2010-03-31"}).code == "InvalidAction"
    assert "Topics" in sns.list_topics()
    assert SNS_XMLNS  # the raw helper checked every error document's namespace
