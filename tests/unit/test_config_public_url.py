"""The ``public_url`` setting: where clients reach ekiden, from the file, the environment
or ``--public-url``, validated as an http(s) URL at load."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ekiden.cli import serve
from ekiden.config import ConfigError, load_settings


def test_without_a_public_url_the_host_header_is_used() -> None:
    assert load_settings(None, {}, {}).public_url is None


def test_the_public_url_comes_from_the_file_the_environment_or_the_flag(tmp_path: Path) -> None:
    config = tmp_path / "ekiden.toml"
    config.write_text('[server]\npublic_url = "https://broker.example.com/"\n')
    assert load_settings(config, {}, {}).public_url == "https://broker.example.com"
    env = {"EKIDEN_PUBLIC_URL": "http://10.0.0.5:9324"}
    assert load_settings(config, env, {}).public_url == "http://10.0.0.5:9324"
    flag = {"public_url": "https://[::1]:8443/ekiden"}
    assert load_settings(config, env, flag).public_url == "https://[::1]:8443/ekiden"


def test_serve_has_a_public_url_flag() -> None:
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    args = parser.parse_args(["serve", "--public-url", "https://mq.example.com"])
    assert args.public_url == "https://mq.example.com"


@pytest.mark.parametrize(
    "url",
    [
        "broker.example.com",
        "ftp://broker.example.com",
        "https://",
        "https://broker.example.com/a b",
        "https://broker.example.com/?x=1",
        "https://user:secret@broker.example.com",
        "https://broker.example.com:99999",
    ],
)
def test_anything_but_an_http_or_https_url_is_rejected_naming_its_source(url: str) -> None:
    with pytest.raises(
        ConfigError, match=r"public_url from environment variable EKIDEN_PUBLIC_URL"
    ):
        load_settings(None, {"EKIDEN_PUBLIC_URL": url}, {})
