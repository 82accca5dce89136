"""SNS -> function end to end: a topic with a ``lambda`` subscription invokes a declared
function with Lambda's SNS event; a function that keeps failing is retried
``maximum_retry_attempts`` times and the event then lands in its ``on_failure_queue``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.functions import (
    FunctionsApp,
    function_arn,
    receive_all,
    sqs,
    wait_for_queue_url,
)
from tests.support.server import EkidenProcess
from tests.support.sns import sns_client

SNS_HANDLER = """
from recorder import record


def lambda_handler(event, context):
    record("sns", event=event, function=context.function_name)
"""

FAILING_HANDLER = """
from recorder import record


def lambda_handler(event, context):
    record("failing", message=event["Records"][0]["Sns"]["Message"])
    raise RuntimeError("always fails")
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path_factory.mktemp("functions-sns"))
    app.write_handler("snshandler", SNS_HANDLER)
    app.write_handler("failing", FAILING_HANDLER)
    app.write_config(
        functions={
            "on-sns": app.function("snshandler:lambda_handler"),
            "failing": app.function(
                "failing:lambda_handler",
                maximum_retry_attempts=1,
                async_retry_delay_s=0.5,
                on_failure_queue="failing-dlq",
            ),
        },
        queues=[{"name": "failing-dlq"}],
    )
    yield app
    app.close()


@pytest.fixture(scope="module")
def sns(server: EkidenProcess) -> Any:
    return sns_client(server.endpoint)


def test_a_published_message_invokes_the_subscribed_function_with_the_sns_event(
    app: FunctionsApp, sns: Any
) -> None:
    topic = sns.create_topic(Name="to-function")["TopicArn"]
    subscription = sns.subscribe(
        TopicArn=topic, Protocol="lambda", Endpoint=function_arn("on-sns")
    )["SubscriptionArn"]
    published = sns.publish(
        TopicArn=topic,
        Message="hello function",
        Subject="greeting",
        MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}},
    )

    calls = app.wait_records("sns", lambda calls: len(calls) >= 1, 20, "the SNS invocation")
    assert len(calls) == 1
    assert calls[0]["function"] == "on-sns"
    records = calls[0]["event"]["Records"]
    assert len(records) == 1
    record = records[0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    message = record["Sns"]
    assert message["Type"] == "Notification"
    assert message["MessageId"] == published["MessageId"]
    assert message["TopicArn"] == topic
    assert message["Subject"] == "greeting"
    assert message["Message"] == "hello function"
    assert message["MessageAttributes"] == {"color": {"Type": "String", "Value": "blue"}}
    assert {
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertUrl",
        "UnsubscribeUrl",
    } <= set(message)


def test_a_failing_function_is_retried_then_its_event_goes_to_the_on_failure_queue(
    app: FunctionsApp, server: EkidenProcess, sns: Any
) -> None:
    client = sqs(server.endpoint)
    dlq = wait_for_queue_url(client, "failing-dlq")
    topic = sns.create_topic(Name="to-failing")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn("failing"))
    sns.publish(TopicArn=topic, Message="doomed")

    dead = receive_all(client, dlq, expected=1, timeout_s=30)
    assert len(dead) == 1
    event = json.loads(dead[0]["Body"])
    assert event["Records"][0]["Sns"]["Message"] == "doomed"
    # Lambda's dead-letter messages say which request failed and why.
    assert {"RequestID", "ErrorCode", "ErrorMessage"} <= set(dead[0].get("MessageAttributes", {}))
    assert [call["message"] for call in app.records("failing")] == ["doomed", "doomed"]
