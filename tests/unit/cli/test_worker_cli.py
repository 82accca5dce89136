"""``ekiden worker`` (and ``serve --no-runtime``): arguments, configuration errors, and real
worker processes polling a live ekiden."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ekiden.cli import serve as serve_command
from ekiden.cli import worker as worker_command
from ekiden.cli.main import build_parser, main
from ekiden.config import ConfigError, Settings
from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess
from tests.support.worker import WorkerProcess, queue_is_empty, wait_until

HANDLERS = textwrap.dedent(
    """
    import time


    def lambda_handler(event, context):
        for record in event["Records"]:
            print("got body:", record["body"])
            if record["body"].startswith("slow"):
                time.sleep(1.5)
                print("finished slow:", record["body"])
        return None
    """
)


def write_app(root: Path, mappings: str, runtime: str = "") -> Path:
    """A config with function ``hello`` (HANDLERS in ./functions) and ``mappings``."""
    (root / "functions").mkdir(parents=True, exist_ok=True)
    (root / "functions" / "handlers.py").write_text(HANDLERS, encoding="utf-8")
    config = root / "ekiden.toml"
    config.write_text(
        '[functions.hello]\nhandler = "handlers:lambda_handler"\ncode = "./functions"\n'
        f"timeout_s = 5\n\n{mappings}\n{runtime}\n",
        encoding="utf-8",
    )
    return config


def mapping(queue: str, extra: str = "") -> str:
    return f'[[event_source_mappings]]\nfunction = "hello"\nqueue = "{queue}"\n{extra}\n'


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().err


# --- arguments ------------------------------------------------------------------------------


def test_worker_flags_are_parsed_without_running_anything() -> None:
    args = build_parser().parse_args(
        [
            "worker",
            "--endpoint",
            "https://sqs.eu-west-1.amazonaws.com",
            "--config",
            "app.toml",
            "--region",
            "eu-west-1",
            "--ca-file",
            "ca.pem",
        ]
    )

    assert args.endpoint == "https://sqs.eu-west-1.amazonaws.com"
    assert (args.config, args.region, args.ca_file) == ("app.toml", "eu-west-1", "ca.pem")
    assert args.func is worker_command.run


def test_worker_without_an_endpoint_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, err = run_main(capsys, "worker")

    assert status == 2
    assert "the following arguments are required: --endpoint" in err


def test_the_worker_command_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "worker" in capsys.readouterr().out


def test_serve_no_runtime_turns_the_runtime_off_and_its_absence_leaves_it_to_the_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served: list[Settings] = []
    monkeypatch.setattr(serve_command, "configure_logging", lambda level: None)

    def fake_serve(settings: Settings) -> int:
        served.append(settings)
        return 0

    fake = type(sys)("ekiden.server.main")
    fake.serve = fake_serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ekiden.server.main", fake)
    (tmp_path / "ekiden.toml").write_text("[runtime]\nenabled = true\n", encoding="utf-8")

    assert build_parser().parse_args(["serve"]).runtime_enabled is None
    assert main(["serve", "--no-runtime"]) == 0
    assert main(["serve"]) == 0
    monkeypatch.setenv("EKIDEN_RUNTIME_ENABLED", "false")
    assert main(["serve"]) == 0

    assert [s.runtime.enabled for s in served] == [False, True, False]


# --- configuration errors (exit status 2, nothing started) ---------------------------------


def test_a_worker_without_declared_mappings_refuses_to_start(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write_app(tmp_path, mappings="")

    status, err = run_main(capsys, "worker", "--endpoint", "http://127.0.0.1:1")

    assert status == 2
    assert "no [[event_source_mappings]] are declared" in err


def test_a_mapping_to_an_undeclared_function_stops_the_worker_naming_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write_app(tmp_path, mapping("q").replace('"hello"', '"nope"'))

    status, err = run_main(capsys, "worker", "--endpoint", "http://127.0.0.1:1")

    assert status == 2
    assert f"event_source_mappings[0] in config file {config.name}" in err
    assert "function 'nope' is not declared" in err


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("ftp://127.0.0.1", "--endpoint: endpoint must be an http:// or https:// URL"),
        ("localhost:9324", "--endpoint: endpoint must be an http:// or https:// URL"),
        ("http://127.0.0.1:9324/?a=b", "--endpoint: endpoint must not have a query"),
    ],
)
def test_an_endpoint_that_is_not_an_http_url_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: str, expected: str
) -> None:
    write_app(tmp_path, mapping("q"))

    status, err = run_main(capsys, "worker", "--endpoint", endpoint)

    assert status == 2
    assert expected in err


def test_an_unreadable_ca_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write_app(tmp_path, mapping("q"))
    (tmp_path / "ca.pem").write_text("not a certificate\n", encoding="utf-8")

    missing, missing_err = run_main(
        capsys, "worker", "--endpoint", "https://x", "--ca-file", "none.pem"
    )
    garbage, garbage_err = run_main(
        capsys, "worker", "--endpoint", "https://x", "--ca-file", "ca.pem"
    )

    assert (missing, garbage) == (2, 2)
    assert "--ca-file none.pem: not a readable PEM file" in missing_err
    assert "--ca-file ca.pem: not a readable PEM file" in garbage_err


def test_a_bad_region_flag_is_refused_like_any_setting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write_app(tmp_path, mapping("q"))

    status, err = run_main(capsys, "worker", "--endpoint", "http://x", "--region", "Mars 1")

    assert status == 2
    assert "region from flag --region: must be a region name" in err


def test_credentials_come_from_the_aws_variables_and_need_both_keys() -> None:
    both = {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}

    plain = worker_command.credentials_from_env(both)
    session = worker_command.credentials_from_env({**both, "AWS_SESSION_TOKEN": "tok"})

    assert worker_command.credentials_from_env({"HOME": "/root"}) is None
    assert plain is not None and (plain.access_key_id, plain.session_token) == ("AKID", None)
    assert session is not None and session.session_token == "tok"
    with pytest.raises(ConfigError, match="AWS_SECRET_ACCESS_KEY is needed"):
        worker_command.credentials_from_env({"AWS_ACCESS_KEY_ID": "AKID"})
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID is needed"):
        worker_command.credentials_from_env({"AWS_SECRET_ACCESS_KEY": "s"})


# --- real worker processes ------------------------------------------------------------------


def test_worker_creates_the_queue_runs_the_handler_and_deletes_what_succeeded(
    ekiden: EkidenProcess,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    queue_name: str,
) -> None:
    write_app(tmp_path, mapping(queue_name))
    worker = start_worker(ekiden.endpoint)
    worker.wait_for_log(rf"created queue \S+/{queue_name}")
    worker.wait_for_log(rf"ekiden worker \S+ polling 1 mappings on {ekiden.endpoint}")
    sqs = sqs_client(ekiden.endpoint, "json")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"hello {n}")

    for n in range(3):
        worker.wait_for_log(rf"\[hello\] got body: hello {n}\n")
    wait_until(lambda: queue_is_empty(sqs, url), "the handled messages to be deleted")
    assert worker.stop() == 0
    assert "INFO ekiden.worker stopped" in worker.log


def test_sigterm_lets_the_batch_in_flight_finish_before_the_worker_exits(
    ekiden: EkidenProcess,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    queue_name: str,
) -> None:
    sqs = sqs_client(ekiden.endpoint, "json")
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    write_app(tmp_path, mapping(queue_name))
    worker = start_worker(ekiden.endpoint)
    worker.wait_for_log("polling 1 mappings")

    sqs.send_message(QueueUrl=url, MessageBody="slow one")
    worker.wait_for_log(r"got body: slow one")
    status = worker.stop()

    assert status == 0
    log = worker.log
    assert log.index("stopping: no new batches") < log.index("finished slow: slow one")
    assert log.index("finished slow: slow one") < log.index("INFO ekiden.worker stopped")
    wait_until(lambda: queue_is_empty(sqs, url), "the finished batch to be deleted")


def test_handler_output_goes_to_the_runtime_log_file_when_one_is_set(
    ekiden: EkidenProcess,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    queue_name: str,
) -> None:
    write_app(
        tmp_path,
        mapping(queue_name) + mapping(queue_name + "-off", "enabled = false"),
        runtime='[runtime]\nlog_file = "logs/handlers.log"\nmax_processes = 2\n',
    )
    worker = start_worker(ekiden.endpoint)
    worker.wait_for_log("polling 1 mappings on .* [(]1 disabled, 1 functions[)]")
    sqs = sqs_client(ekiden.endpoint, "json")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    log_file = tmp_path / "logs" / "handlers.log"

    sqs.send_message(QueueUrl=url, MessageBody="to the file")

    wait_until(
        lambda: log_file.is_file() and "got body: to the file" in log_file.read_text(),
        "the handler's output in the log file",
    )
    assert worker.stop() == 0
    assert "got body" not in worker.log
    assert "[hello] START RequestId:" in log_file.read_text()


@pytest.mark.parametrize(
    ("suffix", "extra", "expected"),
    [
        (
            "",
            "batch_size = 100",
            "Maximum batch window in seconds must be greater than 0 if maximum batch size "
            "is greater than 10",
        ),
        (".fifo", "maximum_batching_window_s = 1", "Batching window is not supported for FIFO"),
        ("", "filters = ['{\"body\": 5}']", "event source mapping of function 'hello'"),
    ],
)
def test_a_mapping_lambda_would_refuse_stops_the_worker_with_lambdas_words(
    ekiden: EkidenProcess,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
    queue_name: str,
    suffix: str,
    extra: str,
    expected: str,
) -> None:
    write_app(tmp_path, mapping(queue_name + suffix, extra))

    worker = start_worker(ekiden.endpoint)

    assert worker.proc.wait(20) == 2
    worker._reader.join(2)
    assert f"ekiden: event source mapping of function 'hello' to queue '{queue_name}" in worker.log
    assert expected in worker.log


def test_a_worker_whose_endpoint_is_down_keeps_trying_and_stops_on_sigterm(
    start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    write_app(tmp_path, mapping("q"))
    worker = start_worker("http://127.0.0.1:1")

    worker.wait_for_log(r"GetQueueUrl q: .*ConnectionFailed.*; retrying")

    assert worker.stop() == 0
    assert "stopped before polling began" in worker.log
