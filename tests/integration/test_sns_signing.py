"""Envelopes a standard topic delivers to SQS queues are signed as AWS signs them, and
verify with the certificate ekiden serves at their SigningCertURL; FIFO topics' are not
signed (as on AWS). The key is made once per data directory and kept across restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.clients import sqs_client
from tests.support.http_endpoint import verify_signature
from tests.support.server import EkidenProcess
from tests.support.sns import envelope, received, sns_client, subscribed_queue


@pytest.mark.parametrize("version", ["1", "2"])
def test_envelopes_a_standard_topic_delivers_to_sqs_are_signed_and_verify(
    ekiden: EkidenProcess, queue_name: str, version: str
) -> None:
    sns, sqs = sns_client(ekiden.endpoint), sqs_client(ekiden.endpoint, "json")
    topic = sns.create_topic(Name=queue_name, Attributes={"SignatureVersion": version})["TopicArn"]
    url, _ = subscribed_queue(sns, sqs, topic, queue_name)
    sns.publish(TopicArn=topic, Message="signed\nand sealed", Subject="Hello \u2713")

    body = envelope(received(sqs, url, 1)[0])

    assert body["SignatureVersion"] == version
    assert body["SigningCertURL"].startswith(f"{ekiden.endpoint}/sns/SimpleNotificationService-")
    assert body["SigningCertURL"].endswith(".pem")
    verify_signature(body)


def test_the_certificate_is_served_as_pem_and_other_names_are_not_found(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    sns, sqs = sns_client(ekiden.endpoint), sqs_client(ekiden.endpoint, "json")
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    url, _ = subscribed_queue(sns, sqs, topic, queue_name)
    sns.publish(TopicArn=topic, Message="m")
    cert_url = envelope(received(sqs, url, 1)[0])["SigningCertURL"]

    served = requests.get(cert_url, timeout=10)

    assert served.status_code == 200
    assert served.content.startswith(b"-----BEGIN CERTIFICATE-----")
    other = requests.get(f"{ekiden.endpoint}/sns/SimpleNotificationService-0.pem", timeout=10)
    assert other.status_code >= 400


def test_envelopes_of_a_fifo_topic_are_not_signed(ekiden: EkidenProcess, queue_name: str) -> None:
    sns, sqs = sns_client(ekiden.endpoint), sqs_client(ekiden.endpoint, "json")
    topic = sns.create_topic(
        Name=f"{queue_name}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    url, _ = subscribed_queue(sns, sqs, topic, f"{queue_name}.fifo")
    sns.publish(TopicArn=topic, Message="ordered", MessageGroupId="g")

    body = envelope(received(sqs, url, 1)[0])

    assert "Signature" not in body and "SigningCertURL" not in body
    assert "SignatureVersion" not in body


def test_the_signing_key_is_kept_across_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess],
) -> None:
    server = fresh_ekiden()

    def publish_and_receive() -> dict[str, Any]:
        sns, sqs = sns_client(server.endpoint), sqs_client(server.endpoint, "json")
        topic = sns.create_topic(Name="keys")["TopicArn"]
        url, _ = subscribed_queue(sns, sqs, topic, "keys")
        sns.publish(TopicArn=topic, Message="m")
        return envelope(received(sqs, url, 1)[0])

    before = publish_and_receive()
    pem_before = requests.get(before["SigningCertURL"], timeout=10).content
    server.kill()
    server.start()
    after = publish_and_receive()

    assert urlsplit(after["SigningCertURL"]).path == urlsplit(before["SigningCertURL"]).path
    assert requests.get(after["SigningCertURL"], timeout=10).content == pem_before
    verify_signature(after)
    # A message signed before the restart still verifies with the certificate served now.
    verify_signature(dict(before, SigningCertURL=after["SigningCertURL"]))
