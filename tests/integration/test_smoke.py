"""The simplest round trip, over both protocols: if this fails, nothing else will pass."""

from typing import Any


def test_a_sent_message_is_received_and_deleted(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello")
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["MessageId"] for m in received] == [sent["MessageId"]]
    assert received[0]["Body"] == "hello"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
