"""Which key the in-process runtime signs its loopback requests with."""

from __future__ import annotations

import dataclasses

import pytest

from ekiden.config import Settings
from ekiden.config.auth import AccessKey, AccessRule, AuthSettings
from ekiden.server.functions import runtime_credentials

RESTRICTED = AccessKey(
    "AKIDPRODUCER", "s1", "producer", allow=(AccessRule(("sqs:SendMessage",), ("*",)),)
)
OTHER_ACCOUNT = AccessKey("AKIDOTHER", "s2", "other", account_id="111111111111")
UNRESTRICTED = AccessKey("AKIDADMIN", "s3", "admin")


def settings_with(*keys: AccessKey) -> Settings:
    return dataclasses.replace(Settings(), auth=AuthSettings(mode="sigv4", keys=keys))


def test_without_auth_the_runtime_does_not_sign() -> None:
    assert runtime_credentials(Settings()) is None


def test_the_runtime_signs_with_the_first_unrestricted_key_of_its_own_account() -> None:
    chosen = runtime_credentials(settings_with(RESTRICTED, OTHER_ACCOUNT, UNRESTRICTED))
    assert chosen is not None and chosen.access_key_id == "AKIDADMIN"


def test_with_only_restricted_keys_the_first_is_used_and_a_warning_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chosen = runtime_credentials(settings_with(RESTRICTED, OTHER_ACCOUNT))
    assert chosen is not None and chosen.access_key_id == "AKIDPRODUCER"
    assert "no unrestricted key" in caplog.text
