"""SNS topics fanning out to SQS queues on the same port, through boto3's sns and sqs
clients: envelopes, raw delivery, MD5s, filter policies, PublishBatch, long-poll wake-ups.

Digests are checked against ``tests/support/sqs_digests`` (computed from the AWS
specification), not against ekiden's own code.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest
import requests

from tests.support.clients import sqs_client
from tests.support.http_endpoint import verify_signature
from tests.support.server import EkidenProcess
from tests.support.sns import (
    envelope,
    nothing_in,
    received,
    subscribed_queue,
)
from tests.support.sqs_digests import md5_of_body, md5_of_message_attributes

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


@pytest.fixture
def sqs(ekiden: EkidenProcess) -> Any:
    return sqs_client(ekiden.endpoint)


def test_one_publish_reaches_three_subscribed_queues_each_in_an_envelope(
    sns: Any, sqs: Any, topic: str, queue_name: str, ekiden: EkidenProcess
) -> None:
    queues = [subscribed_queue(sns, sqs, topic, f"{queue_name}-{i}") for i in range(3)]
    attributes = {
        "level": {"DataType": "String", "StringValue": "error"},
        "count": {"DataType": "Number", "StringValue": "3"},
    }
    published = sns.publish(
        TopicArn=topic, Message="order 42 shipped", Subject="shipping", MessageAttributes=attributes
    )
    sqs_ids = set()
    for url, subscription_arn in queues:
        (message,) = received(sqs, url, 1)
        sqs_ids.add(message["MessageId"])
        assert message["MD5OfBody"] == md5_of_body(message["Body"])
        assert "MessageAttributes" not in message  # they travel inside the envelope
        document = envelope(message)
        assert list(document) == [
            "Type",
            "MessageId",
            "TopicArn",
            "Subject",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
            "UnsubscribeURL",
            "MessageAttributes",
        ]
        verify_signature(document)  # standard topics' envelopes are signed, as on AWS
        assert document["Type"] == "Notification"
        assert document["MessageId"] == published["MessageId"]
        assert document["TopicArn"] == topic
        assert (document["Subject"], document["Message"]) == ("shipping", "order 42 shipped")
        assert _TIMESTAMP.match(document["Timestamp"])
        assert document["UnsubscribeURL"] == (
            f"{ekiden.endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
        )
        assert document["MessageAttributes"] == {
            "level": {"Type": "String", "Value": "error"},
            "count": {"Type": "Number", "Value": "3"},
        }
        assert message["Attributes"]["SenderId"] == "AIDAIT2UOQQY3AUEKVGXU"
    assert len(sqs_ids) == 3  # each queue's copy is its own SQS message


def test_the_envelope_is_written_as_sns_writes_it(sns: Any, sqs: Any, topic: str) -> None:
    url, _ = subscribed_queue(sns, sqs, topic, topic.rsplit(":", 1)[1] + "-q")
    published = sns.publish(TopicArn=topic, Message='say "hi"\n')
    (message,) = received(sqs, url, 1)
    lines = message["Body"].split("\n")
    assert lines[0] == "{" and lines[-1] == "}"
    assert lines[1] == '  "Type" : "Notification",'
    assert lines[2] == f'  "MessageId" : "{published["MessageId"]}",'
    assert '  "Message" : "say \\"hi\\"\\n",' in lines
    assert "Subject" not in envelope(message)  # only when published with one


def test_raw_delivery_carries_the_message_and_its_attributes_with_their_digest(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-raw", RawMessageDelivery="true")
    enveloped, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-env")
    attributes = {
        "level": {"DataType": "String", "StringValue": "warn"},
        "weight": {"DataType": "Number.kg", "StringValue": "12.5"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    }
    sns.publish(TopicArn=topic, Message="ünïcode body", MessageAttributes=attributes)
    (message,) = received(sqs, url, 1)
    assert message["Body"] == "ünïcode body"
    assert message["MD5OfBody"] == md5_of_body("ünïcode body")
    assert message["MessageAttributes"] == {
        "level": {"DataType": "String", "StringValue": "warn"},
        "weight": {"DataType": "Number.kg", "StringValue": "12.5"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    }
    assert message["MD5OfMessageAttributes"] == md5_of_message_attributes(attributes)
    (other,) = received(sqs, enveloped, 1)
    assert envelope(other)["MessageAttributes"]["blob"] == {
        "Type": "Binary",
        "Value": "AAH/",
    }


def test_a_structured_message_delivers_its_sqs_text_and_no_attributes(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    raw, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-raw", RawMessageDelivery="true")
    enveloped, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-env")
    sns.publish(
        TopicArn=topic,
        Message=json.dumps({"default": "for everyone", "sqs": "for queues", "lambda": "fn"}),
        MessageStructure="json",
        MessageAttributes={"level": {"DataType": "String", "StringValue": "info"}},
    )
    (message,) = received(sqs, raw, 1)
    assert message["Body"] == "for queues"
    assert "MessageAttributes" not in message
    (other,) = received(sqs, enveloped, 1)
    assert envelope(other)["Message"] == "for queues"
    assert "MessageAttributes" not in envelope(other)


def test_filter_policies_on_attributes_route_each_message_to_the_queues_that_want_it(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    errors, _ = subscribed_queue(
        sns, sqs, topic, f"{queue_name}-err", FilterPolicy=json.dumps({"level": ["error"]})
    )
    serious, _ = subscribed_queue(
        sns,
        sqs,
        topic,
        f"{queue_name}-serious",
        FilterPolicy=json.dumps({"level": ["warn", "error"], "code": [{"numeric": [">=", 500]}]}),
    )
    everything, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-all")

    def publish(text: str, level: str, code: str) -> None:
        sns.publish(
            TopicArn=topic,
            Message=text,
            MessageAttributes={
                "level": {"DataType": "String", "StringValue": level},
                "code": {"DataType": "Number", "StringValue": code},
            },
        )

    publish("e500", "error", "500")
    publish("w503", "warn", "503")
    publish("e404", "error", "404")
    publish("i200", "info", "200")
    sns.publish(TopicArn=topic, Message="no attributes")

    def texts(url: str, count: int) -> set[str]:
        return {envelope(m)["Message"] for m in received(sqs, url, count)}

    assert texts(errors, 2) == {"e500", "e404"}
    assert texts(serious, 2) == {"e500", "w503"}
    assert texts(everything, 5) == {"e500", "w503", "e404", "i200", "no attributes"}
    assert nothing_in(sqs, errors) and nothing_in(sqs, serious)


def test_a_message_body_filter_matches_nested_keys_of_json_messages(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, subscription = subscribed_queue(
        sns,
        sqs,
        topic,
        f"{queue_name}-body",
        FilterPolicyScope="MessageBody",
        FilterPolicy=json.dumps({"system": {"level": ["error", {"prefix": "crit"}]}}),
    )
    for body in (
        {"system": {"level": "error", "host": "a"}},
        {"system": {"level": "info"}},
        {"system": {"level": "critical"}},
        {"level": "error"},
    ):
        sns.publish(TopicArn=topic, Message=json.dumps(body))
    sns.publish(TopicArn=topic, Message="not json at all")
    got = [json.loads(envelope(m)["Message"]) for m in received(sqs, url, 2)]
    assert sorted(m["system"]["level"] for m in got) == ["critical", "error"]
    assert nothing_in(sqs, url)
    shown = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert shown["FilterPolicyScope"] == "MessageBody"


def test_publish_batch_delivers_every_valid_entry_and_reports_the_invalid_one(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-b", RawMessageDelivery="true")
    answer = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "one", "Message": "first"},
            {"Id": "two", "Message": "second", "Subject": "bad\nsubject"},
            {
                "Id": "three",
                "Message": "third",
                "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "3"}},
            },
        ],
    )
    assert [entry["Id"] for entry in answer["Successful"]] == ["one", "three"]
    assert len({entry["MessageId"] for entry in answer["Successful"]}) == 2
    assert answer["Failed"] == [
        {
            "Id": "two",
            "Code": "InvalidParameter",
            "Message": "Invalid parameter: Subject",
            "SenderFault": True,
        }
    ]
    bodies = {m["Body"]: m for m in received(sqs, url, 2)}
    assert set(bodies) == {"first", "third"}
    assert bodies["third"]["MessageAttributes"] == {"n": {"DataType": "Number", "StringValue": "3"}}


def test_a_long_polling_receiver_gets_a_published_message_at_once(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-poll", RawMessageDelivery="true")
    got: list[dict[str, Any]] = []

    def wait() -> None:
        answer = sqs_client(sqs.meta.endpoint_url).receive_message(QueueUrl=url, WaitTimeSeconds=20)
        got.extend(answer.get("Messages", []))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)  # let the receive start waiting
    started = time.monotonic()
    sns.publish(TopicArn=topic, Message="wake up")
    waiter.join(25)
    assert [m["Body"] for m in got] == ["wake up"]
    assert time.monotonic() - started < 5  # woken by the publish, not by the 20 s timeout


def test_a_deleted_queue_is_skipped_and_the_others_still_receive(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    kept, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-kept")
    gone, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-gone")
    sqs.delete_queue(QueueUrl=gone)
    published = sns.publish(TopicArn=topic, Message="still delivered")
    assert envelope(received(sqs, kept, 1)[0])["MessageId"] == published["MessageId"]


def test_publishing_by_target_arn_reaches_the_topic(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}-t", RawMessageDelivery="true")
    sns.publish(TargetArn=topic, Message="via target")
    assert [m["Body"] for m in received(sqs, url, 1)] == ["via target"]


def test_the_unsubscribe_url_of_an_envelope_ends_the_subscription(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    url, subscription = subscribed_queue(sns, sqs, topic, f"{queue_name}-u")
    sns.publish(TopicArn=topic, Message="last one")
    (message,) = received(sqs, url, 1)
    answer = requests.get(envelope(message)["UnsubscribeURL"], timeout=10)
    assert answer.status_code == 200, answer.text
    assert b"<UnsubscribeResponse" in answer.content
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert subscription not in [s["SubscriptionArn"] for s in listed]
    sns.publish(TopicArn=topic, Message="not delivered")
    assert nothing_in(sqs, url)


def test_publish_answers_only_once_the_message_is_in_every_queue(
    sns: Any, sqs: Any, topic: str, queue_name: str
) -> None:
    urls = [subscribed_queue(sns, sqs, topic, f"{queue_name}-{i}")[0] for i in range(3)]
    for n in range(5):
        sns.publish(TopicArn=topic, Message=f"m{n}")
    for url in urls:
        shown = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        assert shown["ApproximateNumberOfMessages"] == "5"  # no receive, no wait needed
