"""The [limits] section of ekiden.toml: defaults, values, and refusals of bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from ekiden.config import ConfigError, load_settings
from ekiden.config.limits import LimitsSettings


def load(tmp_path: Path, toml: str) -> LimitsSettings:
    config = tmp_path / "ekiden.toml"
    config.write_text(toml)
    return load_settings(config, {}, {}).limits


def test_without_a_limits_section_there_is_no_rate_limit_and_the_defaults_hold() -> None:
    limits = load_settings(None, {}, {}).limits
    assert not limits.rate_limited
    assert (limits.max_header_bytes, limits.max_connections) == (65536, 10000)
    assert (limits.header_timeout_s, limits.body_timeout_s, limits.idle_timeout_s) == (10, 60, 75)


def test_limits_are_read_from_the_file(tmp_path: Path) -> None:
    limits = load(
        tmp_path,
        "[limits]\nrequests_per_second = 50\nburst = 80\nmax_connections = 100\n"
        "header_timeout_s = 2.5\n",
    )
    assert limits == LimitsSettings(
        header_timeout_s=2.5, max_connections=100, requests_per_second=50.0, burst=80
    )


def test_the_burst_defaults_to_the_rate(tmp_path: Path) -> None:
    assert load(tmp_path, "[limits]\nrequests_per_second = 7.5\n").burst == 8


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[limits]\nrequests_per_seconds = 1\n", "requests_per_seconds"),
        ("[limits]\nrequests_per_second = 0\n", "between"),
        ("[limits]\nmax_connections = 1.5\n", "integer"),
        ("[limits]\nheader_timeout_s = true\n", "number"),
        ("[limits]\nburst = 10\n", "needs requests_per_second"),
        ("limits = 3\n", "must be a table"),
    ],
)
def test_bad_limits_stop_the_start_with_a_message_naming_them(
    tmp_path: Path, toml: str, fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load(tmp_path, toml)
