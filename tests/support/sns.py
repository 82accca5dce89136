"""SNS access to a running ekiden for the integration tests (no logic of the server).

* ``sns_client``: boto3's SNS client (Query protocol, as every SDK speaks SNS);
* ``RawSns``: hand-made SNS Query requests with their answers parsed, for bad input
  that boto3 would refuse to send;
* helpers that make a queue, subscribe it to a topic and read what it received.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3
import botocore.config
import requests

from tests.support.queue_admin import ACCOUNT_ID, REGION

SNS_XMLNS = "{http://sns.amazonaws.com/doc/2010-03-31/}"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
_CONFIG = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=60)


def sns_client(endpoint: str) -> Any:
    return boto3.client(
        "sns",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=_CONFIG,
    )


def topic_arn_of(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"


def queue_arn_of(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"


def subscribed_queue(
    sns: Any, sqs: Any, topic_arn: str, name: str, **attributes: str
) -> tuple[str, str]:
    """Create queue ``name`` (FIFO when it ends in ``.fifo``) and subscribe it to the topic
    with subscription ``attributes``; returns (queue URL, subscription ARN)."""
    queue_attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
    url = sqs.create_queue(QueueName=name, Attributes=queue_attributes)["QueueUrl"]
    answer = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn_of(name),
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return url, answer["SubscriptionArn"]


def received(
    sqs: Any, url: str, expected: int, timeout_s: float = 10, **kwargs: Any
) -> list[dict[str, Any]]:
    """Receive ``expected`` messages of a queue with all their attributes, deleting each
    batch as it comes (so a FIFO queue hands out the rest of a group); asserts that
    exactly that many came within ``timeout_s``."""
    kwargs.setdefault("AttributeNames", ["All"])
    kwargs.setdefault("MessageAttributeNames", ["All"])
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < expected and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, expected - len(got)),
            WaitTimeSeconds=1,
            **kwargs,
        ).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        got.extend(batch)
    assert len(got) == expected, got
    return got


def nothing_in(sqs: Any, url: str) -> bool:
    """True when a receive (a 1 s long poll) finds the queue empty."""
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
    return not answer.get("Messages")


def envelope(message: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(message["Body"])
    return document


@dataclass
class SnsAnswer:
    """One HTTP answer of the SNS front end, with an error document parsed out."""

    status: int
    body: bytes
    code: str | None = None
    fault: str | None = None
    message: str | None = None

    def text(self, tag: str) -> str | None:
        """The text of the first element ``tag`` (SNS namespace) of the document."""
        found = ET.fromstring(self.body).find(f".//{SNS_XMLNS}{tag}")
        return None if found is None else (found.text or "")


class RawSns:
    """Sends hand-made SNS Query requests to ``endpoint``."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.session = requests.Session()

    def call(self, action: str, **params: str) -> SnsAnswer:
        """``action`` with ``params`` as an SNS form (with SNS's Version)."""
        return self.post({"Action": action, "Version": "2010-03-31", **params})

    def post(self, form: Mapping[str, str], headers: Mapping[str, str] | None = None) -> SnsAnswer:
        sent = {"Content-Type": FORM_CONTENT_TYPE, **(headers or {})}
        response = self.session.post(self.endpoint + "/", data=urlencode(form), headers=sent)
        answer = SnsAnswer(response.status_code, response.content)
        assert response.headers["content-type"].startswith("text/xml"), response.text
        if response.status_code >= 400:
            root = ET.fromstring(response.content)
            assert root.tag == f"{SNS_XMLNS}ErrorResponse", response.text
            error = root.find(f"{SNS_XMLNS}Error")
            assert error is not None, response.text
            answer.code = error.findtext(f"{SNS_XMLNS}Code")
            answer.fault = error.findtext(f"{SNS_XMLNS}Type")
            answer.message = error.findtext(f"{SNS_XMLNS}Message")
            assert root.findtext(f"{SNS_XMLNS}RequestId"), response.text
        return answer


def expect_sns_error(answer: SnsAnswer, code: str, message: str, status: int = 400) -> None:
    """Assert ``answer`` is SNS's error document for ``code`` with ``message``."""
    seen = (answer.status, answer.code, answer.fault, answer.message)
    assert seen == (status, code, "Sender", message), answer.body
