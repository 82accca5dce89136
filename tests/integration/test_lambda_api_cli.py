"""The real aws-cli's ``aws lambda`` commands against a live ``ekiden serve --config FILE``:
functions, an event source mapping's life, Invoke, and an error as the CLI reports it.

Like ``test_lambda_api.py``, the module is skipped until the server runs the functions
service of ``[functions.*]``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.aws_cli import AwsCli, aws_cli_env
from tests.support.functions import FunctionsApp, function_arn, queue_arn
from tests.support.server import EkidenProcess

HANDLER = """
def handle(event, context):
    print("cli says", event.get("word"))
    if event.get("fail"):
        raise RuntimeError("failed on purpose")
    return {"got": event}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EkidenProcess]:
    app = FunctionsApp(tmp_path_factory.mktemp("lambda-cli"))
    app.write_handler("cli_handler", HANDLER)
    app.write_config(
        functions={"words": app.function("cli_handler:handle", description="for the CLI")}
    )
    try:
        with app.server() as server:
            yield server
    finally:
        app.close()


@pytest.fixture(scope="module")
def aws(server: EkidenProcess, tmp_path_factory: pytest.TempPathFactory) -> AwsCli:
    return AwsCli(server.endpoint, aws_cli_env(tmp_path_factory.mktemp("aws-cli")))


def test_aws_lambda_lists_and_gets_functions(aws: AwsCli) -> None:
    listed = aws("lambda", "list-functions")
    assert [f["FunctionName"] for f in listed["Functions"]] == ["words"]
    got = aws("lambda", "get-function", "--function-name", function_arn("words"))
    assert got["Configuration"]["Description"] == "for the CLI"
    assert got["Code"]["RepositoryType"] == "ekiden"
    configuration = aws("lambda", "get-function-configuration", "--function-name", "words")
    assert configuration["Handler"] == "cli_handler:handle"


def test_aws_lambda_reports_an_unknown_function_as_not_found(aws: AwsCli) -> None:
    done = aws.run("lambda", "get-function", "--function-name", "missing")
    assert done.returncode != 0
    assert "ResourceNotFoundException" in done.stderr
    assert "Function not found" in done.stderr


def test_aws_lambda_manages_an_event_source_mapping(aws: AwsCli) -> None:
    aws("sqs", "create-queue", "--queue-name", "cli-source")
    source = queue_arn("cli-source")
    created = aws(
        "lambda", "create-event-source-mapping", "--function-name", "words",
        "--event-source-arn", source, "--batch-size", "3",
    )  # fmt: skip
    uuid = created["UUID"]
    assert created["State"] == "Creating"
    assert aws("lambda", "get-event-source-mapping", "--uuid", uuid)["BatchSize"] == 3
    listed = aws("lambda", "list-event-source-mappings", "--function-name", "words")
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [uuid]
    updated = aws(
        "lambda", "update-event-source-mapping", "--uuid", uuid, "--no-enabled",
        "--filter-criteria", json.dumps({"Filters": [{"Pattern": '{"body": {"a": [1]}}'}]}),
    )  # fmt: skip
    assert updated["State"] == "Updating"
    got = aws("lambda", "get-event-source-mapping", "--uuid", uuid)
    assert got["State"] == "Disabled"
    assert got["FilterCriteria"]["Filters"][0]["Pattern"] == '{"body": {"a": [1]}}'
    assert aws("lambda", "delete-event-source-mapping", "--uuid", uuid)["State"] == "Deleting"
    assert aws("lambda", "list-event-source-mappings")["EventSourceMappings"] == []
    refused = aws.run(
        "lambda", "create-event-source-mapping", "--function-name", "words",
        "--event-source-arn", source, "--batch-size", "20000",
    )  # fmt: skip
    assert refused.returncode != 0
    assert "InvalidParameterValueException" in refused.stderr


def test_aws_lambda_invoke_writes_the_result_and_the_log_tail(aws: AwsCli, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    answer = aws(
        "lambda", "invoke", "--function-name", "words", "--payload", '{"word": "bird"}',
        "--log-type", "Tail", str(out),
    )  # fmt: skip
    assert answer["StatusCode"] == 200
    assert answer["ExecutedVersion"] == "$LATEST"
    assert json.loads(out.read_text()) == {"got": {"word": "bird"}}
    assert "cli says bird" in base64.b64decode(answer["LogResult"]).decode()


def test_aws_lambda_invoke_reports_a_function_error(aws: AwsCli, tmp_path: Path) -> None:
    out = tmp_path / "error.json"
    answer = aws(
        "lambda", "invoke", "--function-name", "words", "--payload", '{"fail": true}', str(out)
    )
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorMessage"] == "failed on purpose"


def test_aws_lambda_invoke_as_an_event_answers_202(aws: AwsCli, tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    answer = aws(
        "lambda", "invoke", "--function-name", "words", "--invocation-type", "Event",
        "--payload", '{"word": "later"}', str(out),
    )  # fmt: skip
    assert answer["StatusCode"] == 202
    assert out.read_bytes() == b""
