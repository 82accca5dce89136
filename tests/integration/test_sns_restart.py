"""What a restart keeps of SNS: topics with their attributes and tags, subscriptions with
theirs, published messages, FIFO sequence numbers and the deduplication window.

The server is stopped (SIGTERM) or killed (SIGKILL) and started again on the same data
directory; the port changes, so each phase makes new clients.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess
from tests.support.sns import envelope, nothing_in, received, sns_client, subscribed_queue


@pytest.fixture(params=["sigterm", "sigkill"])
def restart(request: pytest.FixtureRequest) -> Callable[[EkidenProcess], None]:
    def do_restart(server: EkidenProcess) -> None:
        if request.param == "sigterm":
            assert server.stop() == 0
        else:
            server.kill()
        server.start()

    return do_restart


def _level(value: str) -> dict[str, dict[str, str]]:
    return {"level": {"DataType": "String", "StringValue": value}}


def test_topics_subscriptions_and_published_messages_survive_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], None]
) -> None:
    server = fresh_ekiden()
    sns, sqs = sns_client(server.endpoint), sqs_client(server.endpoint)
    topic = sns.create_topic(
        Name="events",
        Attributes={"DisplayName": "Events"},
        Tags=[{"Key": "team", "Value": "ops"}],
    )["TopicArn"]
    errors_url, errors = subscribed_queue(
        sns,
        sqs,
        topic,
        "errors",
        RawMessageDelivery="true",
        FilterPolicy=json.dumps({"level": ["error"]}),
    )
    all_url, _ = subscribed_queue(sns, sqs, topic, "all")
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://example.com/hook")
    published = sns.publish(TopicArn=topic, Message="before", MessageAttributes=_level("error"))
    attributes_before = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    subscriptions_before = sns.list_subscriptions()["Subscriptions"]
    subscription_before = sns.get_subscription_attributes(SubscriptionArn=errors)["Attributes"]

    restart(server)
    sns, sqs = sns_client(server.endpoint), sqs_client(server.endpoint)
    errors_url = sqs.get_queue_url(QueueName="errors")["QueueUrl"]
    all_url = sqs.get_queue_url(QueueName="all")["QueueUrl"]

    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [topic]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"] == attributes_before
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [
        {"Key": "team", "Value": "ops"}
    ]
    assert sns.list_subscriptions()["Subscriptions"] == subscriptions_before
    after = sns.get_subscription_attributes(SubscriptionArn=errors)["Attributes"]
    assert after == subscription_before
    # The message acknowledged before the restart is in both queues.
    assert [m["Body"] for m in received(sqs, errors_url, 1)] == ["before"]
    assert envelope(received(sqs, all_url, 1)[0])["MessageId"] == published["MessageId"]
    # And the subscriptions still deliver, filter included.
    sns.publish(TopicArn=topic, Message="info after", MessageAttributes=_level("info"))
    sns.publish(TopicArn=topic, Message="error after", MessageAttributes=_level("error"))
    assert [m["Body"] for m in received(sqs, errors_url, 1)] == ["error after"]
    assert len(received(sqs, all_url, 2)) == 2
    assert nothing_in(sqs, errors_url)


def test_fifo_sequence_numbers_and_deduplication_continue_after_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], None]
) -> None:
    server = fresh_ekiden()
    sns, sqs = sns_client(server.endpoint), sqs_client(server.endpoint)
    topic = sns.create_topic(Name="ledger.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    subscribed_queue(sns, sqs, topic, "ledger.fifo", RawMessageDelivery="true")
    first = sns.publish(
        TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="1"
    )

    restart(server)
    sns, sqs = sns_client(server.endpoint), sqs_client(server.endpoint)
    url = sqs.get_queue_url(QueueName="ledger.fifo")["QueueUrl"]

    again = sns.publish(
        TopicArn=topic, Message="one", MessageGroupId="g", MessageDeduplicationId="1"
    )
    assert (again["MessageId"], again["SequenceNumber"]) == (
        first["MessageId"],
        first["SequenceNumber"],
    )
    second = sns.publish(
        TopicArn=topic, Message="two", MessageGroupId="g", MessageDeduplicationId="2"
    )
    assert int(second["SequenceNumber"]) > int(first["SequenceNumber"])
    assert [m["Body"] for m in received(sqs, url, 2)] == ["one", "two"]
    assert nothing_in(sqs, url)
