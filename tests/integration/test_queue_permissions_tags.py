"""TagQueue / UntagQueue / ListQueueTags, PurgeQueue, AddPermission / RemovePermission."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.messaging import rejected
from tests.support.queue_admin import ACCOUNT_ID, arn_of, attribute, message_count


def _queue(sqs: Any, name: str) -> str:
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url


def _policy(sqs: Any, url: str) -> dict[str, Any] | None:
    text = attribute(sqs, url, "Policy")
    return None if text is None else json.loads(text)


# --- tags -------------------------------------------------------------------------------


def test_new_queue_has_no_tags(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_tag_queue_adds_and_overwrites_tags(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    sqs.tag_queue(QueueUrl=url, Tags={"team": "shop", "env": "dev"})
    sqs.tag_queue(QueueUrl=url, Tags={"env": "prod", "cost-centre": ""})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {
        "team": "shop",
        "env": "prod",
        "cost-centre": "",
    }


def test_untag_queue_removes_only_the_named_keys(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    sqs.tag_queue(QueueUrl=url, Tags={"a": "1", "b": "2", "c": "3"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["a", "c", "never-set"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "2"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["b"])
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_more_than_50_tags_are_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    sqs.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(50)})
    with rejected("InvalidParameterValue"):
        sqs.tag_queue(QueueUrl=url, Tags={"one-too-many": "v"})
    assert len(sqs.list_queue_tags(QueueUrl=url)["Tags"]) == 50


@pytest.mark.parametrize(
    "tags",
    [{"k" * 129: "v"}, {"k": "v" * 257}],
    ids=["key-129-chars", "value-257-chars"],
)
def test_tag_longer_than_allowed_is_rejected(
    sqs: Any, queue_name: str, tags: dict[str, str]
) -> None:
    url = _queue(sqs, queue_name)
    with rejected("InvalidParameterValue"):
        sqs.tag_queue(QueueUrl=url, Tags=tags)
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_tagging_a_missing_queue_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    sqs.delete_queue(QueueUrl=url)
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.tag_queue(QueueUrl=url, Tags={"k": "v"})
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.list_queue_tags(QueueUrl=url)


# --- PurgeQueue -------------------------------------------------------------------------


def test_purge_removes_every_message(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=900)
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=600, WaitTimeSeconds=1)
    sqs.purge_queue(QueueUrl=url)
    assert message_count(sqs, url) == 0
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_messages_sent_after_a_purge_are_delivered(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    sqs.send_message(QueueUrl=url, MessageBody="before")
    sqs.purge_queue(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="after")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert [m["Body"] for m in got["Messages"]] == ["after"]


def test_second_purge_within_60_seconds_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    sqs.purge_queue(QueueUrl=url)
    with rejected("AWS.SimpleQueueService.PurgeQueueInProgress", status=403) as error:
        sqs.purge_queue(QueueUrl=url)
    assert error.message == (
        f"Only one PurgeQueue operation on {queue_name} is allowed every 60 seconds."
    )


def test_purge_of_a_missing_queue_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    sqs.delete_queue(QueueUrl=url)
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.purge_queue(QueueUrl=url)


# --- AddPermission / RemovePermission ---------------------------------------------------


def test_add_permission_writes_a_statement_into_the_policy(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    sqs.add_permission(
        QueueUrl=url, Label="consumers", AWSAccountIds=["111122223333"], Actions=["ReceiveMessage"]
    )
    assert _policy(sqs, url) == {
        "Version": "2008-10-17",
        "Id": f"{arn_of(queue_name)}/SQSDefaultPolicy",
        "Statement": [
            {
                "Sid": "consumers",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "SQS:ReceiveMessage",
                "Resource": arn_of(queue_name),
            }
        ],
    }


def test_add_permission_with_several_accounts_and_actions_lists_them(
    sqs: Any, queue_name: str
) -> None:
    url = _queue(sqs, queue_name)
    sqs.add_permission(
        QueueUrl=url,
        Label="producers",
        AWSAccountIds=["111122223333", ACCOUNT_ID],
        Actions=["SendMessage", "GetQueueUrl"],
    )
    (statement,) = (_policy(sqs, url) or {})["Statement"]
    assert statement["Principal"] == {
        "AWS": ["arn:aws:iam::111122223333:root", f"arn:aws:iam::{ACCOUNT_ID}:root"]
    }
    assert statement["Action"] == ["SQS:SendMessage", "SQS:GetQueueUrl"]


def test_add_permission_with_an_existing_label_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    grant = {"Label": "twice", "AWSAccountIds": ["111122223333"], "Actions": ["SendMessage"]}
    sqs.add_permission(QueueUrl=url, **grant)
    with rejected("InvalidParameterValue") as error:
        sqs.add_permission(QueueUrl=url, **grant)
    assert error.message == "Value twice for parameter Label is invalid. Reason: Already exists."
    assert len((_policy(sqs, url) or {})["Statement"]) == 1


def test_add_permission_with_an_unknown_action_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    with rejected("InvalidParameterValue"):
        sqs.add_permission(
            QueueUrl=url, Label="bad", AWSAccountIds=["111122223333"], Actions=["FlyAway"]
        )
    assert _policy(sqs, url) is None


def test_remove_permission_drops_its_statement_and_the_last_removes_the_policy(
    sqs: Any, queue_name: str
) -> None:
    url = _queue(sqs, queue_name)
    for label in ("first", "second"):
        sqs.add_permission(
            QueueUrl=url, Label=label, AWSAccountIds=["111122223333"], Actions=["SendMessage"]
        )
    sqs.remove_permission(QueueUrl=url, Label="first")
    assert [s["Sid"] for s in (_policy(sqs, url) or {})["Statement"]] == ["second"]
    sqs.remove_permission(QueueUrl=url, Label="second")
    assert _policy(sqs, url) is None


def test_remove_permission_with_an_unknown_label_is_rejected(sqs: Any, queue_name: str) -> None:
    url = _queue(sqs, queue_name)
    with rejected("InvalidParameterValue") as error:
        sqs.remove_permission(QueueUrl=url, Label="never-added")
    assert error.message == (
        "Value never-added for parameter Label is invalid. Reason: can't find label."
    )


def test_add_permission_keeps_statements_of_a_policy_set_directly(
    sqs: Any, queue_name: str
) -> None:
    url = _queue(sqs, queue_name)
    own = {"Sid": "own", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [own]})},
    )
    sqs.add_permission(
        QueueUrl=url, Label="added", AWSAccountIds=["111122223333"], Actions=["SendMessage"]
    )
    statements = (_policy(sqs, url) or {})["Statement"]
    assert [s["Sid"] for s in statements] == ["own", "added"]
    assert statements[0] == own
