"""The web console in a real browser (headless chromium over CDP) against a real server.

One scenario, as an operator lives it: the dashboard lists the queues with their depths,
the queue page sends a message and shows the new depth, the purge dialog is keyboard
operable, and the DLQ page redrives its messages back with live progress. Screenshots go
to tests/artifacts/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.browser.cdp import Browser
from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess

SOURCE = "console-orders"
DLQ = "console-orders-dlq"


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _queues_with_a_full_dlq(sqs: Any) -> tuple[str, str]:
    """A source queue holding 2 messages whose DLQ holds 3 dead-lettered ones."""
    dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source_url = sqs.create_queue(QueueName=SOURCE, Attributes={"RedrivePolicy": policy})[
        "QueueUrl"
    ]
    for i in range(3):
        sqs.send_message(QueueUrl=source_url, MessageBody=f"poison {i}")
    # Received once with no visibility timeout, then received again: past maxReceiveCount
    # each message moves to the DLQ, as in production.
    deadline = time.monotonic() + 20
    while _depth(sqs, dlq_url) < 3:
        assert time.monotonic() < deadline, "messages never reached the DLQ"
        sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    for i in range(2):
        sqs.send_message(QueueUrl=source_url, MessageBody=f"fresh {i}")
    assert _depth(sqs, source_url) == 2
    return source_url, dlq_url


def _row_field(queue: str, field: str) -> str:
    return (
        f'document.querySelector(\'#queues-table tr[data-key="{queue}"] '
        f'[data-field="{field}"]\')?.textContent'
    )


def _stat(field: str) -> str:
    return f"document.querySelector('#queue-stats [data-field=\"{field}\"]')?.textContent"


def _loaded(page: str) -> str:
    return f"document.getElementById('main').dataset.loaded === {json.dumps(page)}"


def test_operator_sends_a_message_and_redrives_a_dlq_from_the_console(
    fresh_ekiden: Callable[..., EkidenProcess], browser: Browser, artifacts_dir: Path
) -> None:
    server = fresh_ekiden()
    sqs = sqs_client(server.endpoint, "json")
    source_url, dlq_url = _queues_with_a_full_dlq(sqs)

    # Dashboard: both queues with their live depths, the DLQ marked in words.
    browser.navigate(f"{server.endpoint}/console/")
    browser.wait_for(_loaded("overview"), what="the dashboard")
    assert browser.wait_for(f"{_row_field(SOURCE, 'visible')} === '2'", what="source depth")
    assert browser.wait_for(f"{_row_field(DLQ, 'visible')} === '3'", what="DLQ depth")
    assert browser.evaluate(_row_field(DLQ, "name")).strip() == f"{DLQ} DLQ"
    assert browser.evaluate(_row_field(DLQ, "dead_letter")) == f"DLQ of {SOURCE}"
    assert browser.evaluate("document.querySelector('nav[aria-label]') !== null")
    assert browser.evaluate("document.querySelectorAll('#queues-table th[scope=col]').length") == 8
    browser.screenshot(artifacts_dir / "console-dashboard.png")

    # Queue page: send a message with an attribute through the form; the depth follows.
    browser.click(f"#queues-table a[href='#/queues/{SOURCE}']")
    browser.wait_for(_loaded(f"queue:{SOURCE}"), what="the queue page")
    assert browser.wait_for(f"{_stat('visible')} === '2'")
    browser.type_text("#send-form textarea", "hello from the console")
    browser.click("#send-form button.add-attr")
    browser.type_text("#send-form [data-role=attr-name]", "origin")
    browser.type_text("#send-form [data-role=attr-value]", "browser-test")
    browser.click("#send-form button[type=submit]")
    browser.wait_for(f"{_stat('visible')} === '3'", what="the new depth on the page")
    assert "sent" in browser.evaluate("document.querySelector('#send-form .message').textContent")
    assert _depth(sqs, source_url) == 3
    # Every form control has a label.
    unlabelled = browser.evaluate(
        "[...document.querySelectorAll('input, select, textarea')]"
        ".filter(e => !e.labels || !e.labels.length).map(e => e.outerHTML)"
    )
    assert unlabelled == []

    # Peek shows the message and its attribute without receiving it.
    browser.click("#peek-form button[type=submit]")
    browser.wait_for(
        "[...document.querySelectorAll('#h-peek ~ .table-wrap tbody tr')]"
        ".some(r => r.textContent.includes('hello from the console')"
        " && r.textContent.includes('browser-test'))",
        what="the sent message in the peek table",
    )
    browser.screenshot(artifacts_dir / "console-queue.png")
    received = sqs.receive_message(
        QueueUrl=source_url,
        MaxNumberOfMessages=10,
        AttributeNames=["ApproximateReceiveCount"],
        VisibilityTimeout=0,
    )["Messages"]
    sent_here = [m for m in received if m["Body"] == "hello from the console"]
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in sent_here] == ["1"]

    # The attributes form saves what changed (a PATCH), as GetQueueAttributes then shows.
    browser.type_text("#attributes-form input[name=VisibilityTimeout]", "45")
    browser.click("#attributes-form button[type=submit]")
    browser.wait_for(
        "document.querySelector('#attributes-form .message')?.textContent"
        ".includes('Saved VisibilityTimeout')",
        what="the attributes saved",
    )
    visibility = sqs.get_queue_attributes(
        QueueUrl=source_url, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    assert visibility == "45"

    # The purge dialog takes focus, Escape closes it, focus returns, nothing is purged.
    browser.click("#purge-button")
    browser.wait_for("document.querySelector('dialog[open]')?.contains(document.activeElement)")
    browser.press("Escape", "Escape", 27)
    browser.wait_for(
        "!document.querySelector('dialog') && document.activeElement.id === 'purge-button'"
    )
    assert _depth(sqs, source_url) == 3

    # DLQ page: one click redrives, the progress runs to COMPLETED and the DLQ empties.
    browser.navigate(f"{server.endpoint}/console/#/queues/{DLQ}")
    browser.wait_for(_loaded(f"queue:{DLQ}"), what="the DLQ page")
    assert browser.wait_for(f"{_stat('visible')} === '3'")
    browser.click("#redrive-button")
    browser.wait_for(
        "document.getElementById('redrive-status').dataset.status === 'COMPLETED'",
        timeout_s=30,
        what="the redrive to complete",
    )
    status = browser.evaluate("document.getElementById('redrive-status').textContent")
    assert status.startswith("Completed: 3 of 3 messages moved"), status
    assert browser.evaluate("document.getElementById('redrive-progress').value") == 3
    browser.wait_for(f"{_stat('visible')} === '0'", what="the DLQ shown empty")
    browser.screenshot(artifacts_dir / "console-after-redrive.png")
    assert _depth(sqs, dlq_url) == 0
    assert _depth(sqs, source_url) == 6

    # 375 px wide: readable, nothing wider than the screen (tables scroll inside).
    browser.set_viewport(375, 812, mobile=True)
    browser.navigate(f"{server.endpoint}/console/")
    browser.wait_for(_loaded("overview"))
    browser.wait_for(f"{_row_field(DLQ, 'visible')} === '0'")
    assert browser.evaluate("document.documentElement.scrollWidth") <= 375
    browser.screenshot(artifacts_dir / "console-dashboard-375px.png")

    # Nothing went wrong in the page, and it asked nothing of any other host.
    assert browser.console_errors == []
    foreign = [
        url
        for url in browser.requested_urls
        if not url.startswith((server.endpoint + "/", "data:", "about:"))
    ]
    assert foreign == []
