"""``--public-url``: behind a proxy or a load balancer the URLs ekiden hands out — queue
URLs, and the SubscribeURL, UnsubscribeURL and SigningCertURL of SNS messages — start
with the configured URL instead of the Host header the request came with."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.clients import sqs_client
from tests.support.http_endpoint import Endpoint, verify_signature
from tests.support.server import EkidenProcess
from tests.support.sns import queue_arn_of, sns_client

PUBLIC = "https://mq.example.com/broker"


@pytest.fixture
def server(fresh_ekiden: Callable[..., EkidenProcess]) -> EkidenProcess:
    return fresh_ekiden("--public-url", PUBLIC + "/")


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_queue_urls_start_with_the_public_url_and_still_address_the_queue(
    server: EkidenProcess, protocol: str
) -> None:
    sqs = sqs_client(server.endpoint, protocol)
    url = sqs.create_queue(QueueName="orders")["QueueUrl"]
    assert url == f"{PUBLIC}/000000000000/orders"
    assert sqs.get_queue_url(QueueName="orders")["QueueUrl"] == url
    assert sqs.list_queues()["QueueUrls"] == [url]
    sqs.send_message(QueueUrl=url, MessageBody="via the public URL")
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "via the public URL"


def test_sns_message_links_start_with_the_public_url(server: EkidenProcess) -> None:
    sns = sns_client(server.endpoint)
    topic = sns.create_topic(Name="hooks")["TopicArn"]
    with Endpoint() as endpoint:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        confirmation = endpoint.next().json()
        assert confirmation["SubscribeURL"].startswith(f"{PUBLIC}/?Action=ConfirmSubscription&")
        assert confirmation["SigningCertURL"].startswith(f"{PUBLIC}/sns/")
        # A proxy that keeps the path prefix reaches the certificate too.
        path = urlsplit(confirmation["SigningCertURL"]).path
        verify_signature(dict(confirmation, SigningCertURL=server.endpoint + path))
        local = confirmation["SubscribeURL"].replace(PUBLIC, server.endpoint)
        assert requests.get(local, timeout=10).status_code == 200

        sns.publish(TopicArn=topic, Message="hello")
        notification = endpoint.next().json()
        assert notification["UnsubscribeURL"].startswith(f"{PUBLIC}/?Action=Unsubscribe&")

    sqs = sqs_client(server.endpoint)
    sqs.create_queue(QueueName="inbox")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn_of("inbox"))
    sns.publish(TopicArn=topic, Message="to a queue")
    url = f"{PUBLIC}/000000000000/inbox"
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert '"SigningCertURL" : "https://mq.example.com/broker/sns/' in message["Body"]


def test_an_invalid_public_url_stops_the_start(fresh_ekiden: Callable[..., EkidenProcess]) -> None:
    with pytest.raises(RuntimeError, match="public_url from flag --public-url"):
        fresh_ekiden("--public-url", "mq.example.com")
