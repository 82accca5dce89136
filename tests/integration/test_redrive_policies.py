"""RedrivePolicy, RedriveAllowPolicy and ListDeadLetterSourceQueues, over both protocols."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.messaging import rejected
from tests.support.queue_admin import (
    arn_of,
    attribute,
    dead_letter,
    message_count,
    name_of,
    redrive_policy,
)


def _queue(sqs: Any, name: str, **attrs: str) -> str:
    url: str = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    return url


# --- RedrivePolicy ----------------------------------------------------------------------


def test_redrive_policy_given_at_creation_round_trips(sqs: Any, queue_name: str) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    url = _queue(sqs, queue_name, RedrivePolicy=redrive_policy(dlq, 5))
    assert json.loads(attribute(sqs, url, "RedrivePolicy") or "") == {
        "deadLetterTargetArn": arn_of(f"{queue_name}-dlq"),
        "maxReceiveCount": 5,
    }


def test_max_receive_count_given_as_a_string_is_accepted(sqs: Any, queue_name: str) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    policy = json.dumps({"deadLetterTargetArn": arn_of(name_of(dlq)), "maxReceiveCount": "3"})
    url = _queue(sqs, queue_name, RedrivePolicy=policy)
    assert json.loads(attribute(sqs, url, "RedrivePolicy") or "")["maxReceiveCount"] == 3


def test_empty_redrive_policy_removes_it(sqs: Any, queue_name: str) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    url = _queue(sqs, queue_name, RedrivePolicy=redrive_policy(dlq))
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    assert attribute(sqs, url, "RedrivePolicy") is None


def test_messages_received_more_than_max_receive_count_move_to_the_dlq(
    sqs: Any, queue_name: str
) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    url = _queue(sqs, queue_name, RedrivePolicy=redrive_policy(dlq, 1))
    dead_letter(sqs, url, dlq, ["poison"])
    assert message_count(sqs, url) == 0
    got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, AttributeNames=["All"])
    (message,) = got["Messages"]
    assert message["Body"] == "poison"
    assert message["Attributes"].get("DeadLetterQueueSourceArn") == arn_of(queue_name)


@pytest.mark.parametrize("count", [0, 1001])
def test_max_receive_count_outside_1_to_1000_is_rejected(
    sqs: Any, queue_name: str, count: int
) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    url = _queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"RedrivePolicy": redrive_policy(dlq, count)}
        )
    assert error.message.endswith(
        f"Reason: Invalid value for maxReceiveCount: {count}, valid values are from 1 to "
        "1000 both inclusive."
    )
    assert attribute(sqs, url, "RedrivePolicy") is None


def test_max_receive_count_of_1_and_1000_are_accepted(sqs: Any, queue_name: str) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    url = _queue(sqs, queue_name)
    for count in (1, 1000):
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"RedrivePolicy": redrive_policy(dlq, count)}
        )
        assert json.loads(attribute(sqs, url, "RedrivePolicy") or "")["maxReceiveCount"] == count


def test_redrive_policy_with_a_malformed_target_arn_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    policy = '{"deadLetterTargetArn": "dummy", "maxReceiveCount": 42}'
    with rejected("InvalidParameterValue") as error:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    assert error.message == (
        f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Invalid value for "
        "deadLetterTargetArn."
    )


def test_redrive_policy_to_a_missing_dlq_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    policy = json.dumps(
        {"deadLetterTargetArn": arn_of(f"{queue_name}-nowhere"), "maxReceiveCount": 2}
    )
    with rejected("InvalidParameterValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    with rejected("InvalidParameterValue"):
        sqs.create_queue(QueueName=f"{queue_name}-new", Attributes={"RedrivePolicy": policy})
    assert attribute(sqs, url, "RedrivePolicy") is None


def test_standard_queue_cannot_use_a_fifo_dlq(sqs: Any, queue_name: str) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq.fifo", FifoQueue="true")
    url = _queue(sqs, queue_name)
    with rejected("InvalidParameterValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive_policy(dlq)})


def test_fifo_queue_cannot_use_a_standard_dlq(sqs: Any, queue_name: str) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    url = _queue(sqs, f"{queue_name}.fifo", FifoQueue="true")
    with rejected("InvalidParameterValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive_policy(dlq)})
    fifo_dlq = _queue(sqs, f"{queue_name}-dlq.fifo", FifoQueue="true")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive_policy(fifo_dlq)})
    assert attribute(sqs, url, "RedrivePolicy") is not None


@pytest.mark.parametrize(
    "policy",
    [
        '{"maxReceiveCount": 2}',
        '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:x"}',
        '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:x", '
        '"maxReceiveCount": 2, "colour": "blue"}',
    ],
    ids=["no-target", "no-count", "extra-key"],
)
def test_redrive_policy_with_missing_or_extra_keys_is_rejected(
    sqs: Any, queue_name: str, policy: str
) -> None:
    url = _queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    assert error.message.startswith(f"Value {policy} for parameter RedrivePolicy is invalid.")


def test_redrive_policy_that_is_not_json_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    with rejected("InvalidAttributeValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": "{broken"})


# --- RedriveAllowPolicy -----------------------------------------------------------------


def test_deny_all_keeps_every_source_away_from_the_dlq(sqs: Any, queue_name: str) -> None:
    deny = json.dumps({"redrivePermission": "denyAll"})
    dlq = _queue(sqs, f"{queue_name}-dlq", RedriveAllowPolicy=deny)
    url = _queue(sqs, queue_name)
    with rejected("InvalidParameterValue"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive_policy(dlq)})
    with rejected("InvalidParameterValue"):
        sqs.create_queue(
            QueueName=f"{queue_name}-2", Attributes={"RedrivePolicy": redrive_policy(dlq)}
        )
    assert attribute(sqs, url, "RedrivePolicy") is None


def test_by_queue_admits_only_the_listed_sources(sqs: Any, queue_name: str) -> None:
    allowed, refused = f"{queue_name}-allowed", f"{queue_name}-refused"
    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(allowed)]})
    dlq = _queue(sqs, f"{queue_name}-dlq", RedriveAllowPolicy=allow)
    allowed_url = _queue(sqs, allowed, RedrivePolicy=redrive_policy(dlq))
    assert attribute(sqs, allowed_url, "RedrivePolicy") is not None
    with rejected("InvalidParameterValue"):
        _queue(sqs, refused, RedrivePolicy=redrive_policy(dlq))


def test_allow_all_admits_any_source(sqs: Any, queue_name: str) -> None:
    allow = json.dumps({"redrivePermission": "allowAll"})
    dlq = _queue(sqs, f"{queue_name}-dlq", RedriveAllowPolicy=allow)
    url = _queue(sqs, queue_name, RedrivePolicy=redrive_policy(dlq))
    assert attribute(sqs, url, "RedrivePolicy") is not None
    assert json.loads(attribute(sqs, dlq, "RedriveAllowPolicy") or "") == {
        "redrivePermission": "allowAll"
    }


@pytest.mark.parametrize(
    "policy",
    [
        {"redrivePermission": "byQueue"},
        {"redrivePermission": "allowAll", "sourceQueueArns": ["arn:aws:sqs:us-east-1:0:x"]},
        {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [f"arn:aws:sqs:us-east-1:000000000000:q{i}" for i in range(11)],
        },
    ],
    ids=["by-queue-without-sources", "sources-without-by-queue", "eleven-sources"],
)
def test_inconsistent_redrive_allow_policy_is_rejected(
    sqs: Any, queue_name: str, policy: dict[str, Any]
) -> None:
    url = _queue(sqs, queue_name)
    with rejected("InvalidAttributeValue"):
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"RedriveAllowPolicy": json.dumps(policy)}
        )


# --- ListDeadLetterSourceQueues ---------------------------------------------------------


def test_list_dead_letter_source_queues_names_every_source(sqs: Any, queue_name: str) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    sources = sorted(
        _queue(sqs, f"{queue_name}-src{i}", RedrivePolicy=redrive_policy(dlq)) for i in range(3)
    )
    _queue(sqs, f"{queue_name}-unrelated")
    listed = sqs.list_dead_letter_source_queues(QueueUrl=dlq)
    assert sorted(listed["queueUrls"]) == sources


def test_list_dead_letter_source_queues_pages_with_max_results(sqs: Any, queue_name: str) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    sources = {
        _queue(sqs, f"{queue_name}-src{i}", RedrivePolicy=redrive_policy(dlq)) for i in range(3)
    }
    first = sqs.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2)
    assert len(first["queueUrls"]) == 2
    second = sqs.list_dead_letter_source_queues(
        QueueUrl=dlq, MaxResults=2, NextToken=first["NextToken"]
    )
    assert "NextToken" not in second
    assert set(first["queueUrls"]) | set(second["queueUrls"]) == sources


def test_queue_without_sources_lists_none(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    assert sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", []) == []


def test_list_dead_letter_source_queues_of_a_missing_queue_is_rejected(
    sqs: Any, queue_name: str
) -> None:
    url = _queue(sqs, queue_name)
    sqs.delete_queue(QueueUrl=url)
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.list_dead_letter_source_queues(QueueUrl=url)


def test_removing_the_redrive_policy_drops_the_source_from_the_list(
    sqs: Any, queue_name: str
) -> None:
    dlq = _queue(sqs, f"{queue_name}-dlq")
    url = _queue(sqs, queue_name, RedrivePolicy=redrive_policy(dlq))
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": ""})
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq).get("queueUrls", []) == []
