"""The console API refuses what a page on another origin could make the operator's
browser send (CSRF), against a live ekiden: a "simple" text/plain POST and any request
from a foreign Origin get a 4xx and change nothing; ekiden's own page and the CLI (no
Origin) still work."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess


def post(server: EkidenProcess, path: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(
        f"{server.endpoint}/console/api/{path}",
        data=json.dumps(body),
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        timeout=10,
    )


def queue_names(server: EkidenProcess) -> list[str]:
    return sqs_client(server.endpoint).list_queues().get("QueueUrls", [])


def test_a_cross_site_text_plain_post_is_refused_and_creates_nothing(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    # What <form enctype="text/plain"> or fetch(..., {mode: "no-cors"}) can send.
    answer = post(ekiden, "queues", {"name": queue_name}, Content_Type="text/plain")
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "UnsupportedMediaType"
    form = post(
        ekiden, "queues", {"name": queue_name}, Content_Type="application/x-www-form-urlencoded"
    )
    assert form.status_code == 415
    assert not any(url.endswith("/" + queue_name) for url in queue_names(ekiden))


def test_a_request_from_a_foreign_origin_is_refused_and_changes_nothing(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    client = sqs_client(ekiden.endpoint)
    url = client.create_queue(QueueName=queue_name)["QueueUrl"]
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
        answer = post(
            ekiden,
            f"queues/{queue_name}/messages",
            {"body": "forged"},
            Content_Type="application/json",
            Origin=origin,
        )
        assert answer.status_code == 403, origin
        assert answer.json()["error"]["code"] == "AccessDenied"
        deleted = requests.delete(
            f"{ekiden.endpoint}/console/api/queues/{queue_name}",
            headers={"Origin": origin},
            timeout=10,
        )
        assert deleted.status_code == 403
    attributes = client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_ekidens_own_page_and_clients_without_an_origin_may_change_state(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    own = ekiden.endpoint.rstrip("/")
    created = post(
        ekiden,
        "queues",
        {"name": queue_name},
        Content_Type="application/json; charset=utf-8",
        Origin=own,
    )
    assert created.status_code == 201, created.text
    sent = post(
        ekiden, f"queues/{queue_name}/messages", {"body": "hi"}, Content_Type="application/json"
    )
    assert sent.status_code == 201, sent.text
    deleted = requests.delete(f"{own}/console/api/queues/{queue_name}", timeout=10)
    assert deleted.status_code == 200
