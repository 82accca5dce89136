"""Authorisation gaps found in review: restricted keys may not use the console or the
metrics (they act without per-action checks), and an unsigned UnsubscribeURL may not
remove a subscription that needs authentication."""

from __future__ import annotations

from typing import Any

import boto3
import requests

from tests.integration.test_authorization import server as server
from tests.integration.test_authorization import sqs
from tests.support.server import EkidenProcess


def sns(server: EkidenProcess) -> Any:
    return boto3.client(
        "sns",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDADMIN",
        aws_secret_access_key="s1",
    )


def test_only_unrestricted_keys_of_the_account_may_use_the_console_and_metrics(
    server: EkidenProcess,
) -> None:
    def get(path: str, key: str, secret: str) -> requests.Response:
        return requests.get(f"{server.endpoint}{path}", auth=(key, secret), timeout=10)

    assert get("/console/api/overview", "AKIDADMIN", "s1").status_code == 200
    assert get("/metrics", "AKIDADMIN", "s1").status_code == 200
    for key, secret in (("AKIDPRODUCER", "s2"), ("AKIDCONSUMER", "s3")):
        for path in ("/console/api/overview", "/metrics", "/console/"):
            answer = get(path, key, secret)
            assert answer.status_code == 403, (key, path, answer.text)
    refused = get("/console/api/overview", "AKIDPRODUCER", "s2").json()
    assert refused["error"]["code"] == "AccessDenied"
    assert "refused console access" in server.log_text


def test_an_unsigned_unsubscribe_of_a_queue_subscription_is_refused(
    server: EkidenProcess,
) -> None:
    admin_sqs = sqs(server, "admin")
    url = admin_sqs.create_queue(QueueName="review-subscriber")["QueueUrl"]
    arn = admin_sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    client = sns(server)
    topic = client.create_topic(Name="review-topic")["TopicArn"]
    subscription = client.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    answer = requests.get(
        server.endpoint,
        params={"Action": "Unsubscribe", "SubscriptionArn": subscription, "Version": "2010-03-31"},
        timeout=10,
    )
    assert answer.status_code == 403, answer.text
    assert "AuthorizationError" in answer.text
    listed = client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [subscription]
    client.unsubscribe(SubscriptionArn=subscription)  # signed: allowed
    assert client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
