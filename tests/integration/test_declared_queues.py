"""Queues declared in ekiden.toml are created at startup, idempotently across restarts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.clients import sqs_client
from tests.support.queue_admin import ACCOUNT_ID, arn_of, attributes
from tests.support.server import EkidenProcess

CONFIG = f"""
# The source comes first on purpose: its DLQ is declared after it.
[[queues]]
name = "orders"
tags = {{ team = "shop", tier = "gold" }}

[queues.attributes]
VisibilityTimeout = 60
DelaySeconds = 2

[queues.attributes.RedrivePolicy]
deadLetterTargetArn = "{arn_of("orders-dlq")}"
maxReceiveCount = 5

[[queues]]
name = "orders-dlq"
attributes = {{ MessageRetentionPeriod = 1209600 }}

[[queues]]
name = "events.fifo"
attributes = {{ FifoQueue = true, ContentBasedDeduplication = true }}
"""

Factory = Callable[..., EkidenProcess]


def _write(tmp_path: Path, text: str, name: str = "ekiden.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _client(server: EkidenProcess, protocol: str) -> Any:
    return sqs_client(server.endpoint, protocol)


def _check_declared(sqs: Any, server: EkidenProcess) -> None:
    base = f"http://127.0.0.1:{server.port}/{ACCOUNT_ID}"
    urls = sorted(sqs.list_queues()["QueueUrls"])
    assert urls == [f"{base}/events.fifo", f"{base}/orders", f"{base}/orders-dlq"]
    orders = attributes(sqs, f"{base}/orders")
    assert (orders["VisibilityTimeout"], orders["DelaySeconds"]) == ("60", "2")
    assert json.loads(orders["RedrivePolicy"]) == {
        "deadLetterTargetArn": arn_of("orders-dlq"),
        "maxReceiveCount": 5,
    }
    assert sqs.list_queue_tags(QueueUrl=f"{base}/orders")["Tags"] == {
        "team": "shop",
        "tier": "gold",
    }
    dlq = attributes(sqs, f"{base}/orders-dlq", "MessageRetentionPeriod")
    assert dlq == {"MessageRetentionPeriod": "1209600"}
    assert sqs.list_dead_letter_source_queues(QueueUrl=f"{base}/orders-dlq")["queueUrls"] == [
        f"{base}/orders"
    ]
    fifo = attributes(sqs, f"{base}/events.fifo", "FifoQueue", "ContentBasedDeduplication")
    assert fifo == {"FifoQueue": "true", "ContentBasedDeduplication": "true"}


def test_declared_queues_exist_once_the_server_has_started(
    fresh_ekiden: Factory, tmp_path: Path, protocol: str
) -> None:
    server = fresh_ekiden("--config", str(_write(tmp_path, CONFIG)))
    _check_declared(_client(server, protocol), server)


def test_declared_queues_survive_restarts_unchanged_with_their_messages(
    fresh_ekiden: Factory, tmp_path: Path, protocol: str
) -> None:
    server = fresh_ekiden("--config", str(_write(tmp_path, CONFIG)))
    sqs = _client(server, protocol)
    url = sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept across restarts")
    for _ in range(2):
        assert server.stop() == 0
        server.start()
        sqs = _client(server, protocol)
        _check_declared(sqs, server)
    url = sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["kept across restarts"]


def test_declared_dead_letter_queue_receives_dead_letters(
    fresh_ekiden: Factory, tmp_path: Path, protocol: str
) -> None:
    # RedrivePolicy written as a JSON string this time (CONFIG uses a TOML table).
    policy = json.dumps({"deadLetterTargetArn": arn_of("work-dlq"), "maxReceiveCount": 1})
    config = f"""
[[queues]]
name = "work"
attributes = {{ RedrivePolicy = '{policy}' }}

[[queues]]
name = "work-dlq"
"""
    server = fresh_ekiden("--config", str(_write(tmp_path, config)))
    sqs = _client(server, protocol)
    work = sqs.get_queue_url(QueueName="work")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="work-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=work, MessageBody="poison")
    sqs.receive_message(QueueUrl=work, VisibilityTimeout=0, WaitTimeSeconds=1)
    assert sqs.receive_message(QueueUrl=work, VisibilityTimeout=0).get("Messages", []) == []
    got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["poison"]


def test_queue_created_by_api_and_declared_alike_later_keeps_its_messages(
    fresh_ekiden: Factory, tmp_path: Path, protocol: str
) -> None:
    server = fresh_ekiden()
    sqs = _client(server, protocol)
    url = sqs.create_queue(
        QueueName="orders-dlq",
        Attributes={"MessageRetentionPeriod": "1209600", "VisibilityTimeout": "90"},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="from before the config")
    server.stop()
    config = str(_write(tmp_path, CONFIG))
    declared = fresh_ekiden("--config", config, data_dir=server.data_dir)
    sqs = _client(declared, protocol)
    url = sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"]
    # Attributes the declaration does not name keep the value given through the API.
    assert attributes(sqs, url, "VisibilityTimeout") == {"VisibilityTimeout": "90"}
    assert len(sqs.list_queues()["QueueUrls"]) == 3
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in got] == ["from before the config"]


def test_declaration_that_contradicts_the_existing_queue_stops_the_start(
    fresh_ekiden: Factory, tmp_path: Path
) -> None:
    first = '[[queues]]\nname = "jobs"\nattributes = { VisibilityTimeout = 60 }\n'
    server = fresh_ekiden("--config", str(_write(tmp_path, first)))
    server.stop()
    changed = _write(tmp_path, first.replace("60", "120"), "changed.toml")
    with pytest.raises(RuntimeError, match="ekiden did not start") as caught:
        fresh_ekiden("--config", str(changed), data_dir=server.data_dir)
    assert (
        "declared queue 'jobs': A queue already exists with the same name and a different "
        "value for attribute VisibilityTimeout"
    ) in str(caught.value)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('[[queues]]\nname = "bad name"\n', "declared queue 'bad name'"),
        (
            '[[queues]]\nname = "slow"\nattributes = { VisibilityTimeout = 43201 }\n',
            "VisibilityTimeout",
        ),
        (
            '[[queues]]\nname = "lost"\n[queues.attributes.RedrivePolicy]\n'
            f'deadLetterTargetArn = "{arn_of("nowhere")}"\nmaxReceiveCount = 3\n',
            "declared queue 'lost'",
        ),
    ],
    ids=["bad-name", "out-of-range", "missing-dlq"],
)
def test_unusable_declared_queue_stops_the_server_from_starting(
    fresh_ekiden: Factory, tmp_path: Path, config: str, expected: str
) -> None:
    with pytest.raises(RuntimeError, match="ekiden did not start") as caught:
        fresh_ekiden("--config", str(_write(tmp_path, config)))
    assert expected in str(caught.value)
