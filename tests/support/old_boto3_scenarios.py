"""The core SQS scenarios through boto3 1.26.165, whose SQS client speaks Query/XML.

Run with the interpreter of ``.venv-query`` (see the Makefile), not the dev venv::

    .venv-query/bin/python tests/support/old_boto3_scenarios.py <endpoint> <queue-prefix>

Prints one JSON report on stdout (exit 0), or the error on stderr (exit 1). Botocore
does not check SQS digests, so the script computes them from the SQS specification and
reports both sides for ``tests/integration/test_old_boto3.py`` to compare. It runs in an
environment without ekiden or pytest, so from the repository it imports only
``tests/support/sqs_digests.py``, which needs nothing beyond the standard library.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.config
from botocore.exceptions import ClientError

# Run as a script, so the repository root is not on the path: put it there for ``tests``.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.sqs_digests import md5_of_body, md5_of_message_attributes


def plain(attributes: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, str]]:
    """Attributes as JSON values (binary as base64)."""
    out = {}
    for name, value in (attributes or {}).items():
        if "BinaryValue" in value:
            encoded = base64.b64encode(value["BinaryValue"]).decode("ascii")
            out[name] = {"DataType": value["DataType"], "BinaryValue": encoded}
        else:
            out[name] = {"DataType": value["DataType"], "StringValue": value["StringValue"]}
    return out


class Scenarios:
    def __init__(self, endpoint: str, prefix: str) -> None:
        self.prefix = prefix
        self.sqs = boto3.client(
            "sqs",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIDEKIDENQUERY",
            aws_secret_access_key="dummy-secret",
            config=botocore.config.Config(retries={"max_attempts": 1}),
        )
        protocol = self.sqs.meta.service_model.protocol
        assert protocol == "query", f"botocore {botocore.__version__} speaks {protocol}"
        self.created: list[str] = []

    def create_queue(self, suffix: str, **attributes: str) -> str:
        url: str = self.sqs.create_queue(
            QueueName=f"{self.prefix}-{suffix}", Attributes=attributes
        )["QueueUrl"]
        self.created.append(url)
        return url

    def receive_all(self, url: str, count: int, **extra: Any) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for _ in range(20):
            if len(messages) >= count:
                break
            response = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **extra
            )
            messages.extend(response.get("Messages", []))
        return messages

    # --- scenarios ---------------------------------------------------------------------

    def queues(self) -> dict[str, Any]:
        url = self.create_queue("standard", VisibilityTimeout="50", DelaySeconds="0")
        found = self.sqs.get_queue_url(QueueName=f"{self.prefix}-standard")["QueueUrl"]
        self.sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={"MaximumMessageSize": "2048", "ReceiveMessageWaitTimeSeconds": "2"},
        )
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return {"url": url, "found": found, "attributes": attributes["Attributes"]}

    def attributes(self) -> dict[str, Any]:
        url = self.create_queue("attributes")
        attributes: dict[str, dict[str, Any]] = {
            "text": {"DataType": "String", "StringValue": "grüße ✓ <&>\r\n"},
            "number": {"DataType": "Number", "StringValue": "3.25"},
            "blob": {"DataType": "Binary", "BinaryValue": bytes([0, 1, 2, 254, 255])},
            "custom": {"DataType": "String.colour", "StringValue": "blue"},
            "customBinary": {"DataType": "Binary.gzip", "BinaryValue": b"\x1f\x8b\x08"},
        }
        system = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc-def"}}
        # XML parsers turn a raw CR into LF: the server must escape it for the body to survive.
        body = "query protocol ✓ <xml> & ampersands ]]>\r\nCRLF, a lone \r and 😀"
        sent = self.sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes=attributes,
            MessageSystemAttributes=system,
        )
        received = self.sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=5, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        message = received[0] if received else {}
        return {
            "sent": {
                key: sent.get(key)
                for key in (
                    "MessageId",
                    "MD5OfMessageBody",
                    "MD5OfMessageAttributes",
                    "MD5OfMessageSystemAttributes",
                )
            },
            "expected": {
                "Body": body,
                "MD5OfMessageBody": md5_of_body(body),
                "MD5OfMessageAttributes": md5_of_message_attributes(attributes),
                "MD5OfMessageSystemAttributes": md5_of_message_attributes(system),
                "MessageAttributes": plain(attributes),
            },
            "receivedCount": len(received),
            "received": {
                "MessageId": message.get("MessageId"),
                "Body": message.get("Body"),
                "MD5OfBody": message.get("MD5OfBody"),
                "MD5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
                "MessageAttributes": plain(message.get("MessageAttributes")),
                "Attributes": message.get("Attributes", {}),
            },
        }

    def batch(self) -> dict[str, Any]:
        url = self.create_queue("batch")
        entries: list[dict[str, Any]] = [
            {"Id": f"e{i}", "MessageBody": f"batch body {i}"} for i in range(4)
        ]
        entries[2]["MessageAttributes"] = {"n": {"DataType": "Number", "StringValue": "2"}}
        sent = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        messages = self.receive_all(url, len(entries), MessageAttributeNames=["All"])
        hidden = self.sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"], VisibilityTimeout=300
        )
        deleted = self.sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        left = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        return {
            "entries": [
                {
                    "Id": e["Id"],
                    "MD5OfMessageBody": md5_of_body(e["MessageBody"]),
                    "MD5OfMessageAttributes": (
                        md5_of_message_attributes(e["MessageAttributes"])
                        if "MessageAttributes" in e
                        else None
                    ),
                }
                for e in entries
            ],
            "successful": [
                {
                    "Id": s["Id"],
                    "MessageId": s["MessageId"],
                    "MD5OfMessageBody": s["MD5OfMessageBody"],
                    "MD5OfMessageAttributes": s.get("MD5OfMessageAttributes"),
                }
                for s in sent.get("Successful", [])
            ],
            "failed": sent.get("Failed", []),
            "received": [
                {
                    "MessageId": m["MessageId"],
                    "Body": m["Body"],
                    "MD5OfBody": m["MD5OfBody"],
                    "MD5OfMessageAttributes": m.get("MD5OfMessageAttributes"),
                    "computedMD5OfMessageAttributes": (
                        md5_of_message_attributes(m["MessageAttributes"])
                        if "MessageAttributes" in m
                        else None
                    ),
                }
                for m in messages
            ],
            "changeVisibilityStatus": hidden["ResponseMetadata"]["HTTPStatusCode"],
            "deleted": sorted(s["Id"] for s in deleted.get("Successful", [])),
            "deleteFailed": deleted.get("Failed", []),
            "left": left["Attributes"],
        }

    def visibility(self) -> dict[str, Any]:
        url = self.create_queue("visibility")
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="come back")
        first = self.sqs.receive_message(QueueUrl=url, VisibilityTimeout=600, WaitTimeSeconds=5)
        while_hidden = self.sqs.receive_message(QueueUrl=url)
        self.sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=first["Messages"][0]["ReceiptHandle"], VisibilityTimeout=0
        )
        second = self.sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])
        return {
            "sentId": sent["MessageId"],
            "firstIds": [m["MessageId"] for m in first.get("Messages", [])],
            "hiddenCount": len(while_hidden.get("Messages", [])),
            "secondIds": [m["MessageId"] for m in second.get("Messages", [])],
            "secondReceiveCount": second["Messages"][0]["Attributes"]["ApproximateReceiveCount"],
        }

    def fifo(self) -> dict[str, Any]:
        url = self.create_queue("order.fifo", FifoQueue="true", ContentBasedDeduplication="true")
        sends = []
        for body in ["one", "two", "one", "three"]:  # the second "one" is a content duplicate
            sent = self.sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
            sends.append(
                {
                    "body": body,
                    "MessageId": sent["MessageId"],
                    "SequenceNumber": sent.get("SequenceNumber"),
                }
            )
        messages = self.receive_all(url, 3, AttributeNames=["All"])
        return {
            "sends": sends,
            "received": [
                {
                    "Body": m["Body"],
                    "MessageGroupId": m["Attributes"].get("MessageGroupId"),
                    "SequenceNumber": m["Attributes"].get("SequenceNumber"),
                }
                for m in messages
            ],
        }

    def missing_queue(self) -> dict[str, Any]:
        try:
            self.sqs.get_queue_url(QueueName=f"{self.prefix}-never-created")
        except ClientError as error:
            return {
                "thrown": True,
                "code": error.response["Error"]["Code"],
                "type": error.response["Error"].get("Type"),
                "httpStatusCode": error.response["ResponseMetadata"]["HTTPStatusCode"],
                "modeledClass": type(error).__name__,
            }
        return {"thrown": False}

    def run(self) -> dict[str, Any]:
        report = {
            "boto3": boto3.__version__,
            "botocore": botocore.__version__,
            "protocol": self.sqs.meta.service_model.protocol,
            "queues": self.queues(),
            "attributes": self.attributes(),
            "batch": self.batch(),
            "visibility": self.visibility(),
            "fifo": self.fifo(),
            "missingQueue": self.missing_queue(),
        }
        for url in self.created:
            self.sqs.delete_queue(QueueUrl=url)
        return report


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: old_boto3_scenarios.py <endpoint> <queue-prefix>", file=sys.stderr)
        return 2
    report = Scenarios(sys.argv[1], sys.argv[2]).run()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
