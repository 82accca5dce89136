"""GetQueueAttributes / SetQueueAttributes: every attribute, its AWS range, computed values."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support.messaging import rejected
from tests.support.queue_admin import arn_of, attribute, attributes

STANDARD_DEFAULTS = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "SqsManagedSseEnabled": "true",
    "ApproximateNumberOfMessages": "0",
    "ApproximateNumberOfMessagesNotVisible": "0",
    "ApproximateNumberOfMessagesDelayed": "0",
}
FIFO_DEFAULTS = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
# name -> (lowest valid, highest valid), the AWS ranges.
INTEGER_RANGES = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}


def _fifo(sqs: Any, queue_name: str, **attrs: str) -> str:
    url: str = sqs.create_queue(
        QueueName=f"{queue_name}.fifo", Attributes={"FifoQueue": "true", **attrs}
    )["QueueUrl"]
    return url


# --- GetQueueAttributes -----------------------------------------------------------------


def test_all_returns_the_defaults_and_computed_attributes_of_a_standard_queue(
    sqs: Any, queue_name: str
) -> None:
    before_s = int(time.time()) - 1
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    after_s = int(time.time()) + 1
    found = attributes(sqs, url, "All")
    assert {key: found[key] for key in STANDARD_DEFAULTS} == STANDARD_DEFAULTS
    assert found["QueueArn"] == arn_of(queue_name)
    assert before_s <= int(found["CreatedTimestamp"]) <= after_s
    assert int(found["LastModifiedTimestamp"]) >= int(found["CreatedTimestamp"])
    assert not set(found) & {"FifoQueue", "RedrivePolicy", "Policy", "KmsMasterKeyId"}


def test_all_of_a_fifo_queue_adds_the_fifo_attributes(sqs: Any, queue_name: str) -> None:
    found = attributes(sqs, _fifo(sqs, queue_name), "All")
    assert {key: found[key] for key in FIFO_DEFAULTS} == FIFO_DEFAULTS
    assert found["QueueArn"] == arn_of(f"{queue_name}.fifo")


def test_get_without_attribute_names_returns_no_attributes(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url)


def test_get_of_named_attributes_returns_only_those(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    found = attributes(sqs, url, "VisibilityTimeout", "QueueArn")
    assert found == {"VisibilityTimeout": "30", "QueueArn": arn_of(queue_name)}


def test_get_of_an_unknown_attribute_is_rejected(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeName") as error:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Colour"])
    assert error.message == "Unknown Attribute Colour."


def test_message_counts_follow_sends_receives_and_delays(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message(QueueUrl=url, MessageBody="two")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=900)
    names = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    assert attributes(sqs, url, *names) == dict(zip(names, ("2", "0", "1"), strict=True))
    got = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600, WaitTimeSeconds=1)
    assert len(got["Messages"]) == 1
    assert attributes(sqs, url, *names) == dict(zip(names, ("1", "1", "1"), strict=True))


# --- SetQueueAttributes: every settable attribute round-trips ---------------------------


def test_every_standard_attribute_round_trips(sqs: Any, queue_name: str) -> None:
    sqs.create_queue(QueueName=f"{queue_name}-dlq")  # the RedrivePolicy target
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "s1",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": arn_of(queue_name),
            }
        ],
    }
    redrive = {"deadLetterTargetArn": arn_of(f"{queue_name}-dlq"), "maxReceiveCount": 4}
    allow = {"redrivePermission": "byQueue", "sourceQueueArns": [arn_of("someone-else")]}
    values = {
        "DelaySeconds": "7",
        "MaximumMessageSize": "2048",
        "MessageRetentionPeriod": "3600",
        "ReceiveMessageWaitTimeSeconds": "5",
        "VisibilityTimeout": "45",
        "RedrivePolicy": json.dumps(redrive),
        "RedriveAllowPolicy": json.dumps(allow),
        "Policy": json.dumps(policy),
        "KmsMasterKeyId": "alias/aws/sqs",
        "KmsDataKeyReusePeriodSeconds": "600",
        "SqsManagedSseEnabled": "false",
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes=values)
    found = attributes(sqs, url, *values)
    for name in ("RedrivePolicy", "RedriveAllowPolicy", "Policy"):
        assert json.loads(found.pop(name)) == json.loads(values.pop(name)), name
    assert found == values


def test_fifo_attributes_round_trip(sqs: Any, queue_name: str) -> None:
    url = _fifo(sqs, queue_name)
    values = {
        "ContentBasedDeduplication": "true",
        "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId",
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes=values)
    assert attributes(sqs, url, *values) == values
    back = {
        "ContentBasedDeduplication": "false",
        "DeduplicationScope": "queue",
        "FifoThroughputLimit": "perQueue",
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes=back)
    assert attributes(sqs, url, *back) == back


def test_fifo_attributes_given_at_creation_are_kept(sqs: Any, queue_name: str) -> None:
    url = _fifo(sqs, queue_name, ContentBasedDeduplication="true", DeduplicationScope="queue")
    assert attribute(sqs, url, "ContentBasedDeduplication") == "true"


def test_per_message_group_throughput_needs_message_group_deduplication(
    sqs: Any, queue_name: str
) -> None:
    url = _fifo(sqs, queue_name)
    with rejected("InvalidAttributeValue"):
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={"DeduplicationScope": "queue", "FifoThroughputLimit": "perMessageGroupId"},
        )
    assert attribute(sqs, url, "FifoThroughputLimit") == "perQueue"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DeduplicationScope", "everything"),
        ("FifoThroughputLimit", "perUniverse"),
        ("ContentBasedDeduplication", "yes"),
    ],
)
def test_fifo_attribute_with_an_unknown_value_is_rejected(
    sqs: Any, queue_name: str, name: str, value: str
) -> None:
    url = _fifo(sqs, queue_name)
    with rejected("InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})
    assert attribute(sqs, url, name) == FIFO_DEFAULTS[name]


# --- integer ranges ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(INTEGER_RANGES))
def test_integer_attribute_accepts_both_ends_of_its_range(
    sqs: Any, queue_name: str, name: str
) -> None:
    low, high = INTEGER_RANGES[name]
    url = sqs.create_queue(QueueName=queue_name, Attributes={name: str(low)})["QueueUrl"]
    assert attribute(sqs, url, name) == str(low)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={name: str(high)})
    assert attribute(sqs, url, name) == str(high)


@pytest.mark.parametrize("name", sorted(INTEGER_RANGES))
def test_integer_attribute_outside_its_range_is_rejected_and_keeps_the_old_value(
    sqs: Any, queue_name: str, name: str
) -> None:
    low, high = INTEGER_RANGES[name]
    middle = str((low + high) // 2)
    url = sqs.create_queue(QueueName=queue_name, Attributes={name: middle})["QueueUrl"]
    for bad in (str(low - 1), str(high + 1), "not-a-number"):
        with rejected("InvalidAttributeValue") as error:
            sqs.set_queue_attributes(QueueUrl=url, Attributes={name: bad})
        assert error.message.startswith(f"Invalid value for the parameter {name}."), bad
        assert attribute(sqs, url, name) == middle


@pytest.mark.parametrize("name", sorted(INTEGER_RANGES))
def test_create_queue_with_integer_attribute_outside_its_range_is_rejected(
    sqs: Any, queue_name: str, name: str
) -> None:
    low, high = INTEGER_RANGES[name]
    for bad in (low - 1, high + 1):
        with rejected("InvalidAttributeValue"):
            sqs.create_queue(QueueName=queue_name, Attributes={name: str(bad)})


def test_a_rejected_set_changes_none_of_the_attributes_it_named(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeValue"):
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"DelaySeconds": "10", "VisibilityTimeout": "-1"}
        )
    assert attributes(sqs, url, "DelaySeconds", "VisibilityTimeout") == {
        "DelaySeconds": "0",
        "VisibilityTimeout": "30",
    }


# --- names that cannot be set -----------------------------------------------------------


@pytest.mark.parametrize("name", ["Colour", "QueueArn", "ApproximateNumberOfMessages"])
def test_set_of_an_unknown_or_read_only_attribute_is_rejected(
    sqs: Any, queue_name: str, name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeName") as error:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: "1"})
    assert error.message == f"Unknown Attribute {name}."


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ContentBasedDeduplication", "true"),
        ("DeduplicationScope", "messageGroup"),
        ("FifoThroughputLimit", "perMessageGroupId"),
    ],
)
def test_fifo_only_attribute_on_a_standard_queue_is_rejected(
    sqs: Any, queue_name: str, name: str, value: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeName"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={name: value})
    with rejected("InvalidAttributeName"):
        sqs.create_queue(QueueName=f"{queue_name}-new", Attributes={name: value})
    assert attribute(sqs, url, name) is None


def test_setting_fifo_queue_on_a_standard_queue_is_rejected(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeName") as error:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    assert error.message == "Unknown Attribute FifoQueue."


@pytest.mark.parametrize("value", ["true", "false"])
def test_changing_fifo_queue_on_a_fifo_queue_is_rejected(
    sqs: Any, queue_name: str, value: str
) -> None:
    url = _fifo(sqs, queue_name)
    with rejected("InvalidAttributeValue") as error:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": value})
    assert error.message == (
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported."
    )
    assert attribute(sqs, url, "FifoQueue") == "true"


# --- encryption -------------------------------------------------------------------------


def test_a_kms_key_turns_sqs_managed_encryption_off(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name, Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
    found = attributes(sqs, url["QueueUrl"], "KmsMasterKeyId", "SqsManagedSseEnabled")
    assert found == {"KmsMasterKeyId": "alias/aws/sqs", "SqsManagedSseEnabled": "false"}


def test_kms_and_sqs_managed_encryption_together_are_rejected(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeName") as error:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"KmsMasterKeyId": "k", "SqsManagedSseEnabled": "true"}
        )
    assert error.message == (
        "You can use one type of server-side encryption (SSE) at one time. You can either "
        "enable KMS SSE or SQS SSE."
    )
    assert attribute(sqs, url, "KmsMasterKeyId") is None


def test_sqs_managed_encryption_must_be_a_boolean(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": "maybe"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"SqsManagedSseEnabled": "false"})
    assert attribute(sqs, url, "SqsManagedSseEnabled") == "false"


# --- policies given as JSON -------------------------------------------------------------


def test_policy_that_is_not_json_is_rejected(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    with rejected("InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "{not json"})
    assert attribute(sqs, url, "Policy") is None


def test_empty_policy_value_removes_the_policy(sqs: Any, queue_name: str) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    url = sqs.create_queue(QueueName=queue_name, Attributes={"Policy": policy})["QueueUrl"]
    assert attribute(sqs, url, "Policy") is not None
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert attribute(sqs, url, "Policy") is None


def test_redrive_allow_policy_of_an_unknown_form_is_rejected(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    for bad in ("[]", json.dumps({"redrivePermission": "sometimes"}), "{oops"):
        with rejected("InvalidAttributeValue"):
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": bad})
    assert attribute(sqs, url, "RedriveAllowPolicy") is None


def test_attribute_changes_are_visible_to_every_later_request(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "900"})
    sqs.send_message(QueueUrl=url, MessageBody="delayed by the queue default")
    assert attribute(sqs, url, "ApproximateNumberOfMessagesDelayed") == "1"
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
