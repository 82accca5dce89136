"""The ``account_id`` and ``allow`` settings of ``[[auth.keys]]``: parsed, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from ekiden.config.auth import AccessRule, auth_settings
from ekiden.config.values import ConfigError

PATH = Path("ekiden.toml")


def keys(**extra: object) -> dict[str, object]:
    return {"keys": [{"access_key_id": "AKID", "secret_access_key": "s", **extra}]}


def test_a_key_without_allow_has_no_rules_and_the_server_account() -> None:
    (key,) = auth_settings(keys(), PATH).keys
    assert key.allow is None and key.account_id == ""


def test_allow_rules_and_account_are_read() -> None:
    raw = keys(
        account_id="111111111111",
        allow=[{"actions": ["sqs:SendMessage", "sns:*"], "resources": ["arn:aws:sqs:*:*:o-*"]}],
    )
    (key,) = auth_settings(raw, PATH).keys
    assert key.account_id == "111111111111"
    assert key.allow == (AccessRule(("sqs:SendMessage", "sns:*"), ("arn:aws:sqs:*:*:o-*",)),)


def test_an_empty_allow_list_allows_nothing() -> None:
    (key,) = auth_settings(keys(allow=[]), PATH).keys
    assert key.allow == ()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"account_id": "12"}, "account_id must be 12 digits"),
        ({"allow": {"actions": []}}, "allow must be an array"),
        ({"allow": [{"actions": ["sqs:SendMessage"]}]}, "resources is required"),
        ({"allow": [{"actions": ["SendMessage"], "resources": ["*"]}]}, "service:Action"),
        ({"allow": [{"actions": ["s3:GetObject"], "resources": ["*"]}]}, "service:Action"),
        ({"allow": [{"actions": ["sqs:*"], "resources": ["orders"]}]}, "not an ARN pattern"),
        ({"allow": [{"actions": [], "resources": ["*"]}]}, "non-empty array"),
        ({"allow": [{"actions": ["sqs:*"], "resources": ["*"], "effect": "x"}]}, "effect"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_error(extra: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        auth_settings(keys(**extra), PATH)


def test_keys_sharing_an_identity_must_agree_on_its_rules() -> None:
    raw = {
        "keys": [
            {"access_key_id": "A1", "secret_access_key": "s", "identity": "ops"},
            {"access_key_id": "A2", "secret_access_key": "s", "identity": "ops", "allow": []},
        ]
    }
    with pytest.raises(ConfigError, match="must agree"):
        auth_settings(raw, PATH)
