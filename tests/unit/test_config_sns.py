"""The ``sns_https_ca_file`` setting: the CA certificates HTTPS endpoints of SNS
subscriptions are verified against, from the file or the environment, checked at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from ekiden.config import ConfigError, load_settings
from tests.support.http_endpoint import make_private_ca


def test_without_a_ca_file_the_system_trust_store_is_used() -> None:
    assert load_settings(None, {}, {}).sns_https_ca_file is None


def test_the_ca_file_can_come_from_the_file_or_the_environment(tmp_path: Path) -> None:
    ca_file = make_private_ca(tmp_path).ca_file
    config = tmp_path / "ekiden.toml"
    config.write_text(f'[server]\nsns_https_ca_file = "{ca_file}"\n')
    assert load_settings(config, {}, {}).sns_https_ca_file == ca_file
    env = {"EKIDEN_SNS_HTTPS_CA_FILE": str(ca_file)}
    assert load_settings(None, env, {}).sns_https_ca_file == ca_file


def test_a_ca_file_that_does_not_exist_is_rejected_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"EKIDEN_SNS_HTTPS_CA_FILE.*existing PEM file"):
        load_settings(None, {"EKIDEN_SNS_HTTPS_CA_FILE": str(tmp_path / "none.pem")}, {})


def test_a_file_without_certificates_is_rejected(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="not a readable PEM file of CA certificates"):
        load_settings(None, {"EKIDEN_SNS_HTTPS_CA_FILE": str(junk)}, {})
