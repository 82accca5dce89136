"""``ekiden function list|invoke`` against a live ekiden serving declared functions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cli_runs import cells, cli_runner
from tests.support.functions import FunctionsApp, wait_for
from tests.support.server import EkidenProcess

ECHO_HANDLER = """
def handle(event, context):
    print("echo saw", event)
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event}
"""

RECORD_HANDLER = """
from recorder import record


def handle(event, context):
    record("events", event=event)
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionsApp]:
    app = FunctionsApp(tmp_path_factory.mktemp("function-cli"))
    app.write_handler("echo", ECHO_HANDLER)
    app.write_handler("record", RECORD_HANDLER)
    app.write_config(
        functions={
            "echo": app.function("echo:handle", timeout_s=5, description="echoes"),
            "record": app.function("record:handle", maximum_retry_attempts=0),
        }
    )
    yield app
    app.close()


@pytest.fixture(scope="module")
def server(app: FunctionsApp) -> Iterator[EkidenProcess]:
    with app.server() as server:
        yield server


@pytest.fixture
def cli(server: EkidenProcess, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli("function", ...)``: (exit status, stdout, stderr) of ``ekiden`` run in this
    process against the functions server."""
    return cli_runner(server.endpoint, capsys)


def test_function_list_shows_every_declared_function(cli: Any) -> None:
    status, out, err = cli("function", "list")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert cells(lines[0]) == [
        "NAME", "HANDLER", "INVOCATIONS", "ERRORS", "THROTTLES", "AVG MS", "RUNNING", "MAPPINGS"
    ]  # fmt: skip
    rows = {cells(line)[0]: cells(line) for line in lines[1:]}
    assert set(rows) == {"echo", "record"}
    assert rows["echo"][1] == "echo:handle"
    assert rows["record"][-1] == "0"

    status, out, _ = cli("function", "list", "--json")
    functions = {f["name"]: f for f in json.loads(out)["functions"]}
    assert functions["echo"]["description"] == "echoes"
    assert functions["echo"]["timeout_s"] == 5


def test_invoke_prints_what_the_function_returns(cli: Any) -> None:
    status, out, err = cli("function", "invoke", "echo", '{"n": 1}')
    assert (status, err) == (0, "")
    assert json.loads(out) == {"echo": {"n": 1}}

    status, out, _ = cli("function", "invoke", "echo", "[1, 2]", "--json")
    assert status == 0
    answer = json.loads(out)
    assert (answer["status_code"], answer["function_error"]) == (200, None)
    assert answer["payload"] == {"echo": [1, 2]}


def test_invoke_with_log_prints_the_log_tail_on_stderr(cli: Any) -> None:
    status, out, err = cli("function", "invoke", "echo", '"hello"', "--log")
    assert status == 0
    assert json.loads(out) == {"echo": "hello"}
    assert "echo saw hello" in err


def test_invocations_are_counted_in_the_list(cli: Any) -> None:
    def invocations() -> int:
        answer = json.loads(cli("function", "list", "--json")[1])
        return {f["name"]: f for f in answer["functions"]}["echo"]["invocations"]  # type: ignore[no-any-return]

    before = invocations()
    assert cli("function", "invoke", "echo")[0] == 0
    wait_for(lambda: invocations() == before + 1 or None, 10, "the invocation to be counted")


def test_a_function_error_exits_1_after_printing_the_error_payload(cli: Any) -> None:
    status, out, err = cli("function", "invoke", "echo", '{"fail": true}')
    assert status == 1
    payload = json.loads(out)
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "asked to fail"
    assert err == "ekiden: function echo failed: Unhandled\n"


def test_an_asynchronous_invoke_is_queued_and_runs(cli: Any, app: FunctionsApp) -> None:
    status, out, _ = cli("function", "invoke", "record", '{"id": "async-1"}', "--async")
    assert (status, out) == (0, "queued an invocation of record (status 202)\n")
    app.wait_records(
        "events",
        lambda records: any(r["event"] == {"id": "async-1"} for r in records),
        20,
        "the asynchronous invocation to run",
    )


def test_a_payload_that_is_not_json_is_a_usage_error(cli: Any) -> None:
    status, out, err = cli("function", "invoke", "echo", "{nope")
    assert (status, out) == (2, "")
    assert err.startswith("ekiden: PAYLOAD_JSON is not JSON: ")


def test_an_unknown_function_exits_1_with_the_api_message(cli: Any) -> None:
    status, out, err = cli("function", "invoke", "no-such-function")
    assert (status, out) == (1, "")
    assert re.fullmatch(r"ekiden: \w+: .*no-such-function.*\n", err), err
