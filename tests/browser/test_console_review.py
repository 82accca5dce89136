"""Review of the web console in headless chromium against a real server: what the
dashboard shows after real traffic (queues, charts drawn from /console/api/history,
topics with subscriptions, functions with their figures), accessibility (an automated
audit, focus on route changes, live announcements, a keyboard-only send), message bodies
holding HTML shown as inert text, 375 px screens, and API errors shown in the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.a11y import audit
from tests.browser.cdp import Browser
from tests.support.functions import FunctionsApp, lambda_client, sqs, wait_for
from tests.support.server import EkidenProcess
from tests.support.sns import sns_client

WORK = "review-work"
TOPIC = "review-events"
ECHO_HANDLER = """
def handle(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event}
"""
XSS_BODY = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
XSS_ATTRIBUTE = '"><b onmouseover="window.__pwned = 3">bold</b> & <i>more</i>'
# The chart's plot area ends at y = 192 (H 220 - bottom padding 28, see chart.js): a
# point above it has a value above zero.
BASELINE_Y = 192.0


def _loaded(page: str) -> str:
    return f"document.getElementById('main').dataset.loaded === {json.dumps(page)}"


def _row_field(table: str, key: str, field: str) -> str:
    return (
        f"document.querySelector('#{table} tr[data-key={json.dumps(key)}] "
        f"[data-field={json.dumps(field)}]')?.textContent"
    )


def _history(endpoint: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{endpoint}/console/api/history", timeout=10)
    answer.raise_for_status()
    samples: list[dict[str, Any]] = answer.json()["samples"]
    return samples


def _chart_paths(chart_id: str) -> str:
    """JavaScript giving the [x, y] points of every line of a chart."""
    return (
        f"[...document.querySelectorAll('#{chart_id} svg path.line')]"
        ".map(p => [...p.getAttribute('d').matchAll(/[ML]([\\d.]+),([\\d.]+)/g)]"
        ".map(m => [Number(m[1]), Number(m[2])]))"
    )


def _tab_to(browser: Browser, selector: str, presses: int = 20) -> None:
    """Press Tab until the focused element matches selector; fail if it never does."""
    for _ in range(presses):
        browser.press("Tab", "Tab", 9)
        if browser.evaluate(f"document.activeElement.matches({json.dumps(selector)})"):
            assert browser.evaluate("document.activeElement.matches(':focus-visible')")
            return
    raise AssertionError(f"Tab never reached {selector}")


def _app_errors(browser: Browser) -> list[str]:
    """Console errors other than the failed requests a test provoked on purpose."""
    return [e for e in browser.console_errors if "Failed to load resource" not in e]


@pytest.fixture
def functions_app(tmp_path: Path) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path / "app")
    app.write_handler("echo", ECHO_HANDLER)
    app.write_config(functions={"echo": app.function("echo:handle", timeout_s=10)})
    yield app
    app.close()


def test_dashboard_shows_queues_topics_functions_and_charts_of_real_traffic(
    functions_app: FunctionsApp, browser: Browser, artifacts_dir: Path
) -> None:
    server = functions_app.server().start()
    client = sqs(server.endpoint)
    url = client.create_queue(QueueName=WORK)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns = sns_client(server.endpoint)
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": '{"kind": ["order"]}'},
    )
    functions = lambda_client(server.endpoint)
    for payload in ({"n": 1}, {"n": 2}, {"fail": True}):
        functions.invoke(FunctionName="echo", Payload=json.dumps(payload).encode())

    # Throughput is a difference between two samples that both know the queue: wait for
    # one that does, then make traffic the next sample sees.
    first = wait_for(
        lambda: len(s) if (s := _history(server.endpoint)) and WORK in s[-1]["queues"] else None,
        15,
        "a history sample with the queue",
    )
    for i in range(10):
        client.send_message(QueueUrl=url, MessageBody=f"work {i}")
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=4, VisibilityTimeout=300)
    assert len(received["Messages"]) == 4
    wait_for(lambda: len(_history(server.endpoint)) > first or None, 15, "the next sample")

    browser.navigate(f"{server.endpoint}/console/")
    browser.wait_for(_loaded("overview"), what="the dashboard")
    browser.wait_for(f"{_row_field('queues-table', WORK, 'visible')} === '6'", what="depth")
    assert browser.evaluate(_row_field("queues-table", WORK, "in_flight")) == "4"
    assert re.fullmatch(r"\d+ s", browser.evaluate(_row_field("queues-table", WORK, "oldest_age")))

    topic_row = browser.evaluate(
        f"document.querySelector('tr[data-key={json.dumps(topic_arn)}]')?.textContent"
    )
    assert topic_row is not None and TOPIC in topic_row
    for shown in ("sqs", arn, "raw", "filtered"):
        assert shown in topic_row, (shown, topic_row)
    function_row = "document.querySelector('tr[data-key=\"echo\"] [data-field={}]')?.textContent"
    browser.wait_for(f"{function_row.format('invocations')} === '3'", what="invocations")
    assert browser.evaluate(function_row.format("errors")).startswith("1")
    assert re.fullmatch(r"0 / peak [1-9]\d*", browser.evaluate(function_row.format("concurrency")))

    # Both charts are drawn from the history: the queue's depth line ends above zero, and
    # the throughput lines (one point per pair of samples) show the sends.
    browser.wait_for(
        "document.querySelector('#throughput-chart svg') !== null", what="a throughput chart"
    )
    depth_lines = browser.evaluate(_chart_paths("depth-chart"))
    assert any(len(line) >= 2 and line[-1][1] < BASELINE_Y for line in depth_lines), depth_lines
    rate_lines = browser.evaluate(_chart_paths("throughput-chart"))
    assert len(rate_lines) == 2 and all(rate_lines), rate_lines
    assert any(y < BASELINE_Y for _, y in rate_lines[0]), rate_lines  # Sent
    assert browser.evaluate("document.querySelectorAll('#throughput-chart circle.point').length")
    label = browser.evaluate(
        "document.querySelector('#depth-chart svg').getAttribute('aria-label')"
    )
    assert f"{WORK} 6 messages" in label, label
    assert audit(browser) == []
    browser.screenshot(artifacts_dir / "console-review-dashboard.png")

    browser.set_viewport(375, 812, mobile=True)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 375
    browser.screenshot(artifacts_dir / "console-review-dashboard-375px.png")

    # The server goes away: the page says so and keeps what it showed.
    server.kill()
    browser.wait_for(
        "[...document.querySelectorAll('[role=alert]')].some(e => !e.hidden"
        " && e.textContent.includes('Could not load the overview'))",
        timeout_s=15,
        what="the overview error",
    )
    assert browser.evaluate(_row_field("queues-table", WORK, "visible")) == "6"
    assert _app_errors(browser) == []


def test_queue_page_is_keyboard_operable_and_shows_html_in_messages_as_text(
    fresh_ekiden: Callable[..., EkidenProcess], browser: Browser, artifacts_dir: Path
) -> None:
    server = fresh_ekiden()
    client = sqs(server.endpoint)
    url = client.create_queue(QueueName=WORK)["QueueUrl"]
    client.send_message(
        QueueUrl=url,
        MessageBody=XSS_BODY,
        MessageAttributes={"note": {"DataType": "String", "StringValue": XSS_ATTRIBUTE}},
    )

    # A route change moves focus to the new page's heading, and it stays there when the
    # page's data arrives.
    browser.navigate(f"{server.endpoint}/console/")
    browser.wait_for(_loaded("overview"))
    browser.click(f"#queues-table a[href='#/queues/{WORK}']")
    browser.wait_for(_loaded(f"queue:{WORK}"), what="the queue page")
    assert browser.evaluate("document.activeElement.tagName") == "H1"
    assert browser.evaluate("document.activeElement.textContent") == WORK
    assert browser.evaluate("document.title").startswith(WORK)

    # Peek shows the HTML as text: nothing is parsed into elements, nothing runs.
    browser.click("#peek-form button[type=submit]")
    rows = "document.querySelectorAll('#h-peek ~ .table-wrap tbody tr[data-key]')"
    browser.wait_for(f"{rows}.length === 1", what="the peeked message")
    row = f"{rows}[0]"
    assert browser.evaluate(f"{row}.querySelector('pre.body').textContent") == XSS_BODY
    assert XSS_ATTRIBUTE in browser.evaluate(f"{row}.textContent")
    assert browser.evaluate(f"{row}.querySelectorAll('script, img, b, i').length") == 0
    assert browser.evaluate("document.querySelectorAll('script:not([type=module])').length") == 0
    assert browser.evaluate("window.__pwned === undefined")
    browser.wait_for(
        "document.getElementById('announce').textContent === 'Peek: 1 message shown.'",
        what="the peek announced",
    )
    assert audit(browser) == []

    # Keyboard only: Tab from the heading to the body, type, add an attribute with Enter,
    # Tab to Send and press Space.
    browser.focus("main h1")
    _tab_to(browser, "#send-form textarea")
    browser.send("Input.insertText", {"text": "typed by keyboard"})
    _tab_to(browser, "#send-form button.add-attr")
    browser.press("Enter", "Enter", 13)
    assert browser.evaluate("document.activeElement.dataset.role") == "attr-name"
    browser.send("Input.insertText", {"text": "via"})
    _tab_to(browser, "#send-form [data-role=attr-value]")
    browser.send("Input.insertText", {"text": "keyboard"})
    _tab_to(browser, "#send-form button[type=submit]")
    browser.press(" ", "Space", 32)
    browser.wait_for(
        "document.getElementById('announce').textContent === 'Message sent to review-work.'",
        what="the send announced",
    )
    assert "sent" in browser.evaluate("document.querySelector('#send-form .message').textContent")
    # Focus stays on the button (a disabled one would drop it to <body>).
    assert browser.evaluate("document.activeElement.matches('#send-form button[type=submit]')")
    messages = client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    typed = [m for m in messages if m["Body"] == "typed by keyboard"]
    assert [m["MessageAttributes"]["via"]["StringValue"] for m in typed] == ["keyboard"]

    # The purge dialog is named and described, and passes the same audit.
    browser.click("#purge-button")
    browser.wait_for("document.querySelector('dialog[open]')?.contains(document.activeElement)")
    assert audit(browser) == []
    browser.press("Escape", "Escape", 27)
    browser.wait_for("!document.querySelector('dialog')")

    # 375 px: the page with the long HTML body still fits the screen.
    browser.set_viewport(375, 812, mobile=True)
    browser.click("#peek-form button[type=submit]")
    browser.wait_for(f"{rows}.length === 2")
    assert browser.evaluate("document.documentElement.scrollWidth") <= 375
    browser.screenshot(artifacts_dir / "console-review-queue-375px.png")
    browser.set_viewport(1280, 900)

    # API errors are shown in the page, never a blank one.
    browser.navigate(f"{server.endpoint}/console/#/queues/no-such-queue")
    browser.wait_for(
        "document.querySelector('main [role=alert]')?.textContent.includes('QueueDoesNotExist')",
        what="the missing queue reported",
    )
    assert browser.evaluate("document.querySelector('main h1').textContent") == "no-such-queue"
    # A malformed escape or a non-route hash on first load gives the dashboard.
    for hash_ in ("#/queues/%E0%A4%A", "#main"):
        browser.navigate(f"{server.endpoint}/console/?reload={len(hash_)}{hash_}")
        browser.wait_for(_loaded("overview"), what=f"the dashboard for {hash_}")
    # The skip link moves focus to the content without replacing the route.
    browser.navigate(f"{server.endpoint}/console/#/queues/{WORK}")
    browser.wait_for(_loaded(f"queue:{WORK}"))
    browser.focus(".skip-link")
    browser.press("Enter", "Enter", 13)
    assert browser.evaluate("document.activeElement.id") == "main"
    assert browser.evaluate("location.hash") == f"#/queues/{WORK}"
    assert _app_errors(browser) == []
