"""The console's JSON API against a live ekiden, cross-checked with boto3: what it sends
boto3 receives with the same digests, peeking changes nothing, a redrive empties a DLQ,
and bad input gets a 4xx and changes nothing."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import requests

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess

BLOB = base64.b64encode(b"\x00\x01").decode()


def api(server: EkidenProcess, method: str, path: str, body: Any = None) -> requests.Response:
    data = None if body is None else json.dumps(body)
    headers = {"Content-Type": "application/json"}  # the API refuses other state changes
    return requests.request(
        method, f"{server.endpoint}/console/api/{path}", data=data, headers=headers, timeout=30
    )


def counts(client: Any, url: str) -> tuple[str, str]:
    attributes = client.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesNotVisible"],
    )


def test_a_message_sent_through_the_api_reaches_boto3_with_the_same_digests(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    created = api(ekiden, "POST", "queues", {"name": queue_name})
    assert created.status_code == 201
    url = created.json()["queue"]["url"]
    sent = api(
        ekiden,
        "POST",
        f"queues/{queue_name}/messages",
        {
            "body": "hello console",
            "attributes": {
                "kind": {"data_type": "String", "string_value": "order"},
                "blob": {
                    "data_type": "Binary",
                    "binary_value": base64.b64encode(b"\x00\x01").decode(),
                },
            },
        },
    )
    assert sent.status_code == 201, sent.text
    answer = sent.json()
    client = sqs_client(ekiden.endpoint)
    [message] = client.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert message["MessageId"] == answer["message_id"]
    assert message["MD5OfBody"] == answer["md5_of_body"]
    assert message["MD5OfMessageAttributes"] == answer["md5_of_message_attributes"]
    assert message["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"


def test_peek_changes_neither_visibility_nor_receive_count(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    client = sqs_client(ekiden.endpoint)
    url = client.create_queue(QueueName=queue_name)["QueueUrl"]
    for n in range(3):
        client.send_message(QueueUrl=url, MessageBody=f"m{n}")
    for _ in range(2):
        peeked = api(ekiden, "GET", f"queues/{queue_name}/peek?max=10")
        assert peeked.status_code == 200
        assert [m["body"] for m in peeked.json()["messages"]] == ["m0", "m1", "m2"]
        assert {m["state"] for m in peeked.json()["messages"]} == {"visible"}
    assert counts(client, url) == ("3", "0")
    received = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in received} == {"1"}
    after = api(ekiden, "GET", f"queues/{queue_name}/peek?max=10").json()["messages"]
    assert {m["state"] for m in after} == {"in_flight"}


def test_the_overview_shows_depth_and_a_redrive_empties_the_dead_letter_queue(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    client = sqs_client(ekiden.endpoint)
    dlq_url = client.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url = client.create_queue(
        QueueName=queue_name, Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "0"}
    )["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="poison")
    client.receive_message(QueueUrl=url)  # receive 1; the next receive moves it
    client.receive_message(QueueUrl=url)
    overview = api(ekiden, "GET", "overview").json()
    by_name = {q["name"]: q for q in overview["queues"]}
    assert by_name[f"{queue_name}-dlq"]["visible"] == 1
    assert by_name[f"{queue_name}-dlq"]["dead_letter_sources"] == [queue_name]
    assert by_name[queue_name]["dead_lettered_total"] == 1

    started = api(ekiden, "POST", f"queues/{queue_name}-dlq/redrive", {})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = api(ekiden, "GET", f"queues/{queue_name}-dlq/redrive").json()["tasks"]
        if tasks and tasks[0]["status"] == "COMPLETED":
            break
        time.sleep(0.1)
    assert tasks[0]["status"] == "COMPLETED"
    assert tasks[0]["moved"] == 1
    assert counts(client, dlq_url) == ("0", "0")
    assert counts(client, url) == ("1", "0")


def test_bad_input_gets_a_client_error_and_changes_nothing(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    client = sqs_client(ekiden.endpoint)
    url = client.create_queue(QueueName=queue_name)["QueueUrl"]
    answers = [
        api(ekiden, "POST", f"queues/{queue_name}/messages", {"body": 5}),
        api(ekiden, "POST", f"queues/{queue_name}/messages", {"body": ""}),
        api(ekiden, "PATCH", f"queues/{queue_name}/attributes", {"attributes": {"Nope": "1"}}),
        api(ekiden, "POST", "queues/no-such-queue/messages", {"body": "x"}),
        requests.post(
            f"{ekiden.endpoint}/console/api/queues/{queue_name}/messages",
            data=b"{",
            headers={"Content-Type": "application/json"},
            timeout=10,
        ),
    ]
    assert [a.status_code // 100 for a in answers] == [4, 4, 4, 4, 4]
    assert answers[3].status_code == 404
    assert answers[3].json()["error"]["code"] == "QueueDoesNotExist"
    assert counts(client, url) == ("0", "0")
    assert api(ekiden, "GET", "overview").status_code == 200  # still serving
