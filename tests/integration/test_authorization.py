"""Authorisation of a real ``ekiden serve`` between identities: a "producer" whose rules
allow sqs:SendMessage on orders-* only, and a "consumer" of another account allowed
nothing by its own rules but granted ReceiveMessage/DeleteMessage by the queue's policy
(AddPermission). Denials are AccessDenied, change nothing, and are logged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.support.server import EkidenProcess

OWNER = "000000000000"
OTHER = "111111111111"
_CONFIG = botocore.config.Config(retries={"max_attempts": 1})
_KEYS = {"admin": "AKIDADMIN", "producer": "AKIDPRODUCER", "consumer": "AKIDCONSUMER"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EkidenProcess]:
    root = tmp_path_factory.mktemp("authz")
    config = root / "ekiden.toml"
    config.write_text(
        '[auth]\nmode = "sigv4"\n\n'
        '[[auth.keys]]\naccess_key_id = "AKIDADMIN"\nsecret_access_key = "s1"\n'
        'identity = "admin"\n\n'
        '[[auth.keys]]\naccess_key_id = "AKIDPRODUCER"\nsecret_access_key = "s2"\n'
        'identity = "producer"\n'
        'allow = [{ actions = ["sqs:SendMessage", "sqs:GetQueueUrl"], '
        'resources = ["arn:aws:sqs:*:*:orders-*"] }]\n\n'
        '[[auth.keys]]\naccess_key_id = "AKIDCONSUMER"\nsecret_access_key = "s3"\n'
        f'identity = "consumer"\naccount_id = "{OTHER}"\nallow = []\n'
    )
    with EkidenProcess(root / "data", "--config", str(config)) as process:
        yield process


def sqs(server: EkidenProcess, who: str) -> Any:
    secret = {"admin": "s1", "producer": "s2", "consumer": "s3"}[who]
    return boto3.client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=_KEYS[who],
        aws_secret_access_key=secret,
        config=_CONFIG,
    )


def denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return str(error["Message"])


def count(admin: Any, url: str) -> int:
    attributes = admin.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_producer_may_send_to_orders_queues_only(server: EkidenProcess) -> None:
    admin, producer = sqs(server, "admin"), sqs(server, "producer")
    orders = admin.create_queue(QueueName="orders-send")["QueueUrl"]
    billing = admin.create_queue(QueueName="billing-send")["QueueUrl"]
    producer.send_message(QueueUrl=orders, MessageBody="order 1")
    producer.send_message_batch(QueueUrl=orders, Entries=[{"Id": "a", "MessageBody": "2"}])
    message = denied(producer.send_message, QueueUrl=billing, MessageBody="nope")
    assert message == (
        f"User: arn:aws:iam::{OWNER}:user/producer is not authorized to perform: "
        f"sqs:SendMessage on resource: arn:aws:sqs:us-east-1:{OWNER}:billing-send"
    )
    denied(producer.receive_message, QueueUrl=orders)
    denied(producer.create_queue, QueueName="orders-new")
    assert count(admin, orders) == 2 and count(admin, billing) == 0
    assert producer.get_queue_url(QueueName="orders-send")["QueueUrl"] == orders


def test_a_denial_changes_nothing_and_is_logged(server: EkidenProcess) -> None:
    admin, producer = sqs(server, "admin"), sqs(server, "producer")
    url = admin.create_queue(QueueName="orders-keep")["QueueUrl"]
    admin.send_message(QueueUrl=url, MessageBody="stays")
    denied(producer.purge_queue, QueueUrl=url)
    denied(producer.delete_queue, QueueUrl=url)
    denied(producer.set_queue_attributes, QueueUrl=url, Attributes={"DelaySeconds": "5"})
    assert count(admin, url) == 1
    attributes = admin.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])
    assert attributes["Attributes"]["DelaySeconds"] == "0"
    log = server.log_text
    assert "access denied" in log and "sqs:PurgeQueue" in log and "user/producer" in log


def test_consumer_of_another_account_is_let_in_by_add_permission_until_removed(
    server: EkidenProcess,
) -> None:
    admin, producer, consumer = (sqs(server, w) for w in ("admin", "producer", "consumer"))
    url = admin.create_queue(QueueName="orders-shared")["QueueUrl"]
    producer.send_message(QueueUrl=url, MessageBody="for the consumer")
    denied(consumer.receive_message, QueueUrl=url)

    admin.add_permission(
        QueueUrl=url,
        Label="consumer-reads",
        AWSAccountIds=[OTHER],
        Actions=["ReceiveMessage", "DeleteMessage"],
    )
    (message,) = consumer.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "for the consumer"
    consumer.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    denied(consumer.send_message, QueueUrl=url, MessageBody="not granted")
    denied(consumer.purge_queue, QueueUrl=url)
    # owner-only actions stay the owner's whatever a policy grants
    denied(consumer.add_permission, QueueUrl=url, Label="x", AWSAccountIds=[OTHER], Actions=["*"])

    admin.remove_permission(QueueUrl=url, Label="consumer-reads")
    denied(consumer.receive_message, QueueUrl=url)


def test_a_policy_attribute_deny_binds_even_the_owner(server: EkidenProcess) -> None:
    admin = sqs(server, "admin")
    url = admin.create_queue(QueueName="orders-sealed")["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:{OWNER}:orders-sealed"
    policy = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
        f'"Action":"sqs:SendMessage","Resource":"{arn}"}}]}}'
    )
    admin.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    message = denied(admin.send_message, QueueUrl=url, MessageBody="sealed")
    assert message.endswith("with an explicit deny")
    assert count(admin, url) == 0


def client(server: EkidenProcess, service: str, who: str) -> Any:
    secret = {"admin": "s1", "producer": "s2", "consumer": "s3"}[who]
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=_KEYS[who],
        aws_secret_access_key=secret,
        config=_CONFIG,
    )


def test_sns_and_lambda_actions_follow_the_identity_rules(server: EkidenProcess) -> None:
    admin, producer = client(server, "sns", "admin"), client(server, "sns", "producer")
    arn = admin.create_topic(Name="orders-events")["TopicArn"]
    with pytest.raises(ClientError) as caught:
        producer.publish(TopicArn=arn, Message="not allowed by its rules")
    assert caught.value.response["Error"]["Code"] == "AuthorizationError"
    assert "sns:Publish on resource: " + arn in caught.value.response["Error"]["Message"]
    admin.publish(TopicArn=arn, Message="the admin may")
    with pytest.raises(ClientError) as caught:
        client(server, "lambda", "consumer").list_functions()
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
