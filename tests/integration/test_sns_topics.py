"""Topic and subscription management through boto3's sns client: CreateTopic idempotency,
attributes, tags, subscriptions of every protocol, confirmation, listings page by page."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from tests.support.messaging import rejected
from tests.support.server import EkidenProcess
from tests.support.sns import queue_arn_of, sns_client, topic_arn_of

LAMBDA_ARN = "arn:aws:lambda:us-east-1:000000000000:function:handler"


def test_creating_a_topic_twice_returns_the_same_arn_unless_attributes_differ(
    sns: Any, queue_name: str
) -> None:
    arn = sns.create_topic(Name=queue_name, Attributes={"DisplayName": "Orders"})["TopicArn"]
    assert arn == topic_arn_of(queue_name)
    assert sns.create_topic(Name=queue_name)["TopicArn"] == arn
    again = sns.create_topic(Name=queue_name, Attributes={"DisplayName": "Orders"})
    assert again["TopicArn"] == arn
    with rejected("InvalidParameter") as error:
        sns.create_topic(Name=queue_name, Attributes={"DisplayName": "Other"})
    assert error.message == (
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    )
    assert arn in [t["TopicArn"] for t in _all_topics(sns)]


def test_topic_attributes_show_what_was_set_and_what_sns_computes(
    sns: Any, queue_name: str
) -> None:
    arn = sns.create_topic(
        Name=f"{queue_name}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Shop")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn_of(f"{queue_name}.fifo"))
    shown = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert shown["TopicArn"] == arn
    assert shown["DisplayName"] == "Shop"
    assert shown["FifoTopic"] == "true"
    assert shown["ContentBasedDeduplication"] == "true"
    assert (shown["SubscriptionsConfirmed"], shown["SubscriptionsPending"]) == ("1", "0")
    assert json.loads(shown["Policy"])["Statement"][0]["Resource"] == arn
    assert "http" in json.loads(shown["EffectiveDeliveryPolicy"])
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == ""
    with rejected("InvalidParameter") as error:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Colour", AttributeValue="red")
    assert error.message == "Invalid parameter: AttributeName"


def test_deleting_a_topic_removes_its_subscriptions_and_is_idempotent(
    sns: Any, queue_name: str
) -> None:
    arn = sns.create_topic(Name=queue_name)["TopicArn"]
    subscription = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn_of(queue_name))[
        "SubscriptionArn"
    ]
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)
    assert arn not in [t["TopicArn"] for t in _all_topics(sns)]
    with rejected("NotFound", 404) as error:
        sns.get_subscription_attributes(SubscriptionArn=subscription)
    assert error.message == "Subscription does not exist"
    with rejected("NotFound", 404) as error:
        sns.publish(TopicArn=arn, Message="m")
    assert error.message == "Topic does not exist"


def test_tags_are_added_replaced_listed_and_removed(sns: Any, queue_name: str) -> None:
    arn = sns.create_topic(
        Name=queue_name, Tags=[{"Key": "team", "Value": "shop"}, {"Key": "env", "Value": "dev"}]
    )["TopicArn"]
    sns.tag_resource(
        ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "cost", "Value": "7"}]
    )
    tags = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert tags == [
        {"Key": "team", "Value": "shop"},
        {"Key": "env", "Value": "prod"},
        {"Key": "cost", "Value": "7"},
    ]
    sns.untag_resource(ResourceArn=arn, TagKeys=["team", "missing"])
    assert [t["Key"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]] == [
        "env",
        "cost",
    ]
    # CreateTopic again may repeat some of the tags, but not bring another one.
    assert sns.create_topic(Name=queue_name, Tags=[{"Key": "env", "Value": "prod"}])
    with rejected("InvalidParameter") as error:
        sns.create_topic(Name=queue_name, Tags=[{"Key": "env", "Value": "dev"}])
    assert (
        error.message == "Invalid parameter: Tags Reason: Topic already exists with different tags"
    )


def test_tag_requests_are_checked_against_sns_rules(sns: Any, queue_name: str) -> None:
    arn = sns.create_topic(Name=queue_name)["TopicArn"]
    with rejected("InvalidParameter") as error:
        sns.tag_resource(
            ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
        )
    assert error.message == "Invalid parameter: Duplicated keys are not allowed."
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(50)])
    with rejected("TagLimitExceeded") as error:
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    assert len(sns.list_tags_for_resource(ResourceArn=arn)["Tags"]) == 50
    with rejected("ResourceNotFound", 404):
        sns.list_tags_for_resource(ResourceArn=topic_arn_of(f"{queue_name}-none"))


def test_subscriptions_of_each_protocol_start_confirmed_or_pending_as_on_aws(
    sns: Any, queue_name: str
) -> None:
    arn = sns.create_topic(Name=queue_name)["TopicArn"]
    queue = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn_of(queue_name))
    function = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=LAMBDA_ARN)
    web = sns.subscribe(TopicArn=arn, Protocol="https", Endpoint="https://example.com/hook")
    assert web["SubscriptionArn"] == "pending confirmation"
    for confirmed in (queue, function):
        shown = sns.get_subscription_attributes(SubscriptionArn=confirmed["SubscriptionArn"])
        assert shown["Attributes"]["PendingConfirmation"] == "false"
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [(s["Protocol"], s["SubscriptionArn"]) for s in listed] == [
        ("sqs", queue["SubscriptionArn"]),
        ("lambda", function["SubscriptionArn"]),
        ("https", "PendingConfirmation"),
    ]
    counts = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (counts["SubscriptionsConfirmed"], counts["SubscriptionsPending"]) == ("2", "1")
    with rejected("InvalidParameter") as error:
        sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.com")
    assert error.message == (
        "Invalid parameter: Amazon SNS does not support this protocol string: email"
    )


def test_an_http_subscription_is_confirmed_with_its_token(
    sns: Any, ekiden: EkidenProcess, queue_name: str
) -> None:
    arn = sns.create_topic(Name=queue_name)["TopicArn"]
    pending = sns.subscribe(
        TopicArn=arn,
        Protocol="http",
        Endpoint="http://example.com/in",
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    shown = sns.get_subscription_attributes(SubscriptionArn=pending)["Attributes"]
    assert shown["PendingConfirmation"] == "true"
    assert "EffectiveDeliveryPolicy" in shown
    token = _token_of(ekiden, pending)  # what the confirmation message will carry
    assert len(token) == 288
    with rejected("InvalidParameter") as error:
        sns.confirm_subscription(TopicArn=arn, Token="0" * 288)
    assert error.message == "Invalid parameter: Token"
    confirmed = sns.confirm_subscription(TopicArn=arn, Token=token)
    assert confirmed["SubscriptionArn"] == pending
    assert sns.confirm_subscription(TopicArn=arn, Token=token)["SubscriptionArn"] == pending
    shown = sns.get_subscription_attributes(SubscriptionArn=pending)["Attributes"]
    assert shown["PendingConfirmation"] == "false"


def test_subscribing_an_endpoint_again_returns_its_subscription(sns: Any, queue_name: str) -> None:
    arn = sns.create_topic(Name=queue_name)["TopicArn"]
    endpoint = queue_arn_of(queue_name)
    first = sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=endpoint, Attributes={"RawMessageDelivery": "true"}
    )["SubscriptionArn"]
    assert (
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=endpoint)["SubscriptionArn"] == first
    )
    with rejected("InvalidParameter") as error:
        sns.subscribe(
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=endpoint,
            Attributes={"RawMessageDelivery": "false"},
        )
    assert error.message == (
        "Invalid parameter: Attributes Reason: Subscription already exists with different "
        "attributes"
    )


def test_subscription_attributes_are_set_shown_and_removed(sns: Any, queue_name: str) -> None:
    arn = sns.create_topic(Name=queue_name)["TopicArn"]
    subscription = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn_of(queue_name))[
        "SubscriptionArn"
    ]
    policy = json.dumps({"level": ["error"]})
    sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=policy
    )
    sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="RawMessageDelivery", AttributeValue="True"
    )
    shown = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert shown["FilterPolicy"] == policy
    assert shown["FilterPolicyScope"] == "MessageAttributes"
    assert shown["RawMessageDelivery"] == "true"
    assert (shown["Protocol"], shown["Endpoint"], shown["TopicArn"]) == (
        "sqs",
        queue_arn_of(queue_name),
        arn,
    )
    sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=""
    )
    shown = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert "FilterPolicy" not in shown and "FilterPolicyScope" not in shown


def test_unsubscribing_twice_is_not_an_error(sns: Any, queue_name: str) -> None:
    arn = sns.create_topic(Name=queue_name)["TopicArn"]
    subscription = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn_of(queue_name))[
        "SubscriptionArn"
    ]
    sns.unsubscribe(SubscriptionArn=subscription)
    sns.unsubscribe(SubscriptionArn=subscription)
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_listings_go_beyond_one_page_of_100(
    fresh_ekiden: Callable[..., EkidenProcess],
) -> None:
    sns = sns_client(fresh_ekiden().endpoint)
    topics = [sns.create_topic(Name=f"page-{n:03d}")["TopicArn"] for n in range(105)]
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and first["NextToken"]
    second = sns.list_topics(NextToken=first["NextToken"])
    assert "NextToken" not in second
    assert [t["TopicArn"] for t in first["Topics"] + second["Topics"]] == topics

    busy, quiet = topics[0], topics[1]
    sns.subscribe(TopicArn=quiet, Protocol="sqs", Endpoint=queue_arn_of("quiet"))
    subscriptions = [
        sns.subscribe(TopicArn=busy, Protocol="sqs", Endpoint=queue_arn_of(f"q{n}"))[
            "SubscriptionArn"
        ]
        for n in range(103)
    ]
    page = sns.list_subscriptions_by_topic(TopicArn=busy)
    assert len(page["Subscriptions"]) == 100
    rest = sns.list_subscriptions_by_topic(TopicArn=busy, NextToken=page["NextToken"])
    assert "NextToken" not in rest
    listed = [s["SubscriptionArn"] for s in page["Subscriptions"] + rest["Subscriptions"]]
    assert listed == subscriptions
    everything = [
        s["SubscriptionArn"]
        for answer in sns.get_paginator("list_subscriptions").paginate()
        for s in answer["Subscriptions"]
    ]
    assert len(everything) == 104 and set(subscriptions) < set(everything)
    with rejected("InvalidParameter") as error:
        sns.list_topics(NextToken="not-a-token")
    assert error.message == "Invalid parameter: NextToken"
    with rejected("InvalidParameter"):  # a token of another listing
        sns.list_subscriptions(NextToken=first["NextToken"])


def _all_topics(sns: Any) -> list[dict[str, str]]:
    return [t for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]


def _token_of(server: EkidenProcess, subscription_arn: str) -> str:
    with sqlite3.connect(f"file:{server.data_dir / 'ekiden.sqlite3'}?mode=ro", uri=True) as db:
        (token,) = db.execute(
            "SELECT token FROM subscriptions WHERE arn = ?", (subscription_arn,)
        ).fetchone()
    return str(token)
