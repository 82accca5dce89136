"""``ekiden bench`` flags: parsing, defaults, validation and the usage errors."""

from __future__ import annotations

import argparse

import pytest

from ekiden.bench.options import (
    DEFAULT_BACKLOG,
    DEFAULT_BODY_SIZE,
    DEFAULT_CONCURRENCY,
    DEFAULT_DURATION_S,
    DEFAULT_GROUPS,
    DEFAULT_RATE,
    SCENARIOS,
    OptionsError,
    make_options,
)
from ekiden.cli.bench import credentials_from, options_from
from ekiden.cli.main import build_parser, main

EP = "http://127.0.0.1:9324"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["bench", *argv])


def options(*argv: str, environ: dict[str, str] | None = None) -> object:
    return options_from(parse(*argv), environ or {})


def test_every_flag_is_parsed() -> None:
    args = parse(
        "drain",
        "--endpoint",
        EP,
        "--compare",
        "http://127.0.0.1:5000",
        "--duration",
        "12.5",
        "--concurrency",
        "64",
        "--processes",
        "2",
        "--pipeline",
        "4",
        "--body-size",
        "512",
        "--fifo",
        "--groups",
        "7",
        "--prefill",
        "3000",
        "--rounds",
        "5",
        "--keep-queue",
        "--progress",
        "--json",
        "out.json",
        "--region",
        "eu-west-1",
    )
    built = options_from(args, {})
    assert built.scenario == "drain"
    assert built.endpoint == EP
    assert built.compare == "http://127.0.0.1:5000"
    assert built.duration_s == 12.5
    assert built.messages is None
    assert built.concurrency == 64
    assert built.processes == 2
    assert built.pipeline == 4
    assert built.connections_per_process() == 8
    assert built.body_size == 512
    assert built.fifo is True
    assert built.groups == 7
    assert built.prefill == 3000
    assert built.rounds == 5
    assert built.keep_queue is True
    assert built.progress is True
    assert built.json_path == "out.json"
    assert built.region == "eu-west-1"


def test_scenario_specific_flags_are_parsed() -> None:
    latency = options_from(parse("latency", "--endpoint", EP, "--rate", "250"), {})
    assert latency.rate == 250
    backlog = options_from(parse("backlog", "--endpoint", EP, "--backlog", "5000"), {})
    assert backlog.backlog == 5000
    counted = options_from(parse("send", "--endpoint", EP, "--messages", "2000"), {})
    assert (counted.messages, counted.duration_s) == (2000, None)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_defaults_fill_what_was_not_given(scenario: str) -> None:
    built = options_from(parse(scenario, "--endpoint", EP), {})
    assert built.duration_s == DEFAULT_DURATION_S
    assert built.messages is None
    assert built.concurrency == DEFAULT_CONCURRENCY[scenario]
    assert (built.processes, built.pipeline) == (1, 1)
    assert built.body_size == DEFAULT_BODY_SIZE
    assert (built.fifo, built.groups) == (False, DEFAULT_GROUPS)
    assert (built.rate, built.backlog, built.prefill) == (
        DEFAULT_RATE,
        DEFAULT_BACKLOG,
        None,  # drain fills for --duration unless --prefill N is given
    )
    assert built.rounds == 1
    assert (built.keep_queue, built.progress, built.json_path, built.region) == (
        False,
        False,
        None,
        None,
    )


def test_compare_defaults_to_three_rounds() -> None:
    built = options_from(parse("send", "--endpoint", EP, "--compare", "http://h:1"), {})
    assert built.rounds == 3


def test_the_region_comes_from_the_environment_unless_given() -> None:
    args = parse("send", "--endpoint", EP)
    assert options_from(args, {"AWS_DEFAULT_REGION": "eu-north-1"}).region == "eu-north-1"
    assert options_from(args, {"AWS_REGION": "sa-east-1"}).region == "sa-east-1"
    flagged = parse("send", "--endpoint", EP, "--region", "ap-east-1")
    assert options_from(flagged, {"AWS_REGION": "sa-east-1"}).region == "ap-east-1"


def test_credentials_come_from_the_usual_variables() -> None:
    assert credentials_from({}) is None
    assert credentials_from({"AWS_ACCESS_KEY_ID": "AKID"}) is None
    found = credentials_from(
        {
            "AWS_ACCESS_KEY_ID": "AKID",
            "AWS_SECRET_ACCESS_KEY": "very-secret",
            "AWS_SESSION_TOKEN": "token-value",
        }
    )
    assert found is not None
    assert (found.access_key_id, found.secret_access_key, found.session_token) == (
        "AKID",
        "very-secret",
        "token-value",
    )
    assert "very-secret" not in repr(found)  # never printed by accident
    assert "token-value" not in repr(found)


def test_duration_and_messages_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "send", "--endpoint", EP, "--duration", "5", "--messages", "9"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(OptionsError, match="mutually exclusive"):
        make_options(scenario="send", endpoint=EP, duration_s=5, messages=9)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["send"], "required: --endpoint"),
        (["nope", "--endpoint", EP], "invalid choice"),
        (["send", "--endpoint", EP, "--messages", "ten"], "invalid int value"),
        (["send", "--endpoint", EP, "--duration", "soon"], "invalid float value"),
    ],
)
def test_malformed_command_lines_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["send", "--duration", "0"], "--duration must be positive"),
        (["send", "--messages", "-5"], "--messages must be positive"),
        (["send", "--concurrency", "0"], "--concurrency must be positive"),
        (["send", "--processes", "0"], "--processes must be positive"),
        (["send", "--pipeline", "0"], "--pipeline must be positive"),
        (["send", "--body-size", "0"], "--body-size must be positive"),
        (["send", "--body-size", "1048577"], "at most 1,048,576"),
        (["send-batch", "--body-size", "200000"], "a batch of 10"),
        (["latency", "--body-size", "10"], "at least 20 for latency"),
        (["send", "--groups", "3"], "--groups needs --fifo"),
        (["send", "--fifo", "--groups", "0"], "--groups must be positive"),
        (["send", "--rate", "10"], "--rate only applies to the latency scenario"),
        (["latency", "--rate", "0"], "--rate must be positive"),
        (["send", "--backlog", "10"], "--backlog only applies to the backlog scenario"),
        (["send", "--prefill", "10"], "--prefill only applies to the drain scenario"),
        (["drain", "--prefill", "10", "--messages", "5"], "--prefill and --messages"),
        (["send", "--rounds", "0"], "--rounds must be positive"),
        (["send", "--compare", EP], "different endpoint"),
        (["send", "--processes", "4", "--concurrency", "2"], "every process needs"),
        (["send", "--pipeline", "8", "--concurrency", "4"], "every process needs"),
    ],
)
def test_unusable_values_are_rejected_with_the_flag_named(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, *rest = argv
    assert main(["bench", scenario, "--endpoint", EP, *rest]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ekiden bench: error: ")
    assert message in err


def test_an_unusable_endpoint_url_fails_before_any_load(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "send", "--endpoint", "ftp://example", "--messages", "1"]) == 1
    assert "http:// or https://" in capsys.readouterr().err


def test_bench_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out
    assert main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--compare", "--duration", "--messages", "--concurrency", "--processes"):
        assert flag in out
    for scenario in SCENARIOS:
        assert scenario in out
