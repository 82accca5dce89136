"""The ``ekiden`` command line: parsing, --version, config-file choice and errors."""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from ekiden.cli import serve as serve_command
from ekiden.cli.logs import configure_logging
from ekiden.cli.main import build_parser, main
from ekiden.config import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No EKIDEN_* variable of the developer's shell, and no ./ekiden.toml, leaks in."""
    for name in list(os.environ):
        if name.startswith("EKIDEN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Settings]]:
    """Stand in for ``ekiden.server.main`` and record the settings ``serve`` is given."""
    calls: list[Settings] = []

    def fake_serve(settings: Settings) -> int:
        calls.append(settings)
        return 0

    module = types.ModuleType("ekiden.server.main")
    module.serve = fake_serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ekiden.server.main", module)
    levels: list[str] = []
    monkeypatch.setattr(serve_command, "configure_logging", levels.append)
    yield calls


def test_serve_flags_are_parsed_without_running_anything() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "4566",
            "--data-dir",
            "/data",
            "--config",
            "my.toml",
            "--log-level",
            "debug",
            "--commit-interval-ms",
            "2",
            "--max-body-bytes",
            "2097152",
        ]
    )

    assert args.host == "0.0.0.0"
    assert args.port == "4566"
    assert args.data_dir == "/data"
    assert args.config == "my.toml"
    assert args.log_level == "debug"
    assert args.commit_interval_ms == "2"
    assert args.max_body_bytes == "2097152"
    assert args.func is serve_command.run


def test_serve_flags_that_are_not_given_are_none() -> None:
    args = build_parser().parse_args(["serve"])

    assert args.host is None
    assert args.port is None
    assert args.data_dir is None
    assert args.config is None
    assert args.log_level is None


def test_version_flag_prints_the_version_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--version"]) == 0

    assert re.fullmatch(r"ekiden \S+\n", capsys.readouterr().out)


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0

    assert "serve" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2

    assert "a command is required" in capsys.readouterr().err


def test_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--no-such-flag"]) == 2

    assert "--no-such-flag" in capsys.readouterr().err


def test_unknown_config_file_exits_2_with_a_message(
    capsys: pytest.CaptureFixture[str], served: list[Settings]
) -> None:
    assert main(["serve", "--config", "missing.toml"]) == 2

    err = capsys.readouterr().err
    assert err == "ekiden: config file missing.toml (from --config) does not exist\n"
    assert served == []


def test_config_file_named_by_the_environment_must_exist(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    served: list[Settings],
) -> None:
    monkeypatch.setenv("EKIDEN_CONFIG", "gone.toml")

    assert main(["serve"]) == 2

    assert "EKIDEN_CONFIG" in capsys.readouterr().err


def test_invalid_flag_value_exits_2_naming_the_flag(
    capsys: pytest.CaptureFixture[str], served: list[Settings]
) -> None:
    assert main(["serve", "--port", "abc"]) == 2

    assert capsys.readouterr().err == (
        "ekiden: port from flag --port: must be an integer, got 'abc'\n"
    )
    assert served == []


def test_serve_runs_the_server_with_defaults_when_nothing_is_configured(
    served: list[Settings],
) -> None:
    assert main(["serve"]) == 0

    assert served == [Settings()]


def test_serve_reads_ekiden_toml_from_the_working_directory(
    tmp_path: Path, served: list[Settings]
) -> None:
    (tmp_path / "ekiden.toml").write_text('[server]\nport = 1111\n\n[[queues]]\nname = "q"\n')

    assert main(["serve"]) == 0

    assert served[0].port == 1111
    assert [queue.name for queue in served[0].queues] == ["q"]


def test_serve_flags_win_over_environment_and_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[Settings]
) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('[server]\nport = 1111\nhost = "10.0.0.1"\nregion = "eu-west-1"\n')
    monkeypatch.setenv("EKIDEN_PORT", "2222")
    monkeypatch.setenv("EKIDEN_HOST", "10.0.0.2")

    assert main(["serve", "--config", str(config), "--port", "3333", "--data-dir", "d"]) == 0

    (settings,) = served
    assert settings.port == 3333
    assert settings.host == "10.0.0.2"
    assert settings.region == "eu-west-1"
    assert settings.data_dir == Path("d")


def test_serve_returns_the_exit_status_of_the_server(
    monkeypatch: pytest.MonkeyPatch, served: list[Settings]
) -> None:
    module = sys.modules["ekiden.server.main"]
    monkeypatch.setattr(module, "serve", lambda settings: 3)

    assert main(["serve"]) == 3


def test_log_lines_carry_a_utc_timestamp_level_and_logger_name() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        configure_logging("info", stream)
        configure_logging("info", stream)  # a second call replaces, not duplicates
        logging.getLogger("ekiden.server").info("listening on %s", "127.0.0.1:9324")
        logging.getLogger("ekiden.server").debug("not shown at info")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)

    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO ekiden\.server listening on 127\.0\.0\.1:9324\n",
        stream.getvalue(),
    )
