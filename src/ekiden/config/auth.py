"""The ``[auth]`` section of ``ekiden.toml``: who may call ekiden.

::

    [auth]
    mode = "sigv4"            # or "none"; default: "sigv4" when keys are configured
    protect_console = true    # /console and /metrics need credentials too (sigv4 only)

    [[auth.keys]]
    access_key_id = "AKIDOPS"
    secret_access_key = "..."
    identity = "ops"          # optional; default: the access key id
    account_id = "000000000000"   # optional; default: the server's account_id
    allow = [                 # optional; default: everything in its own account
      { actions = ["sqs:SendMessage", "sqs:Receive*"], resources = ["arn:aws:sqs:*:*:orders-*"] },
    ]

Mode ``none`` accepts every request unauthenticated; it is meant for local development.
It is what a server gets with no ``[auth]`` section and no keys, and a server bound to
an address other than loopback refuses to run in it unless ``ekiden serve --insecure``
(:func:`insecure_refusal`). Mode ``sigv4`` needs at least one key.

``allow`` rules use IAM's wildcards ``*`` and ``?``; actions are ``service:Action``
(``sqs:``, ``sns:``, ``lambda:``), resources are ARN patterns. What a key may do beyond
its rules, and what identities of other accounts may do, is granted by queue policies
(see :mod:`ekiden.core.rules.access`).

Only the file configures auth: secrets do not belong in flags (visible in ``ps``), and
the keys are a list no environment variable carries well.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ekiden.config.values import ConfigError, describe, unknown

__all__ = [
    "AUTH_MODES",
    "AccessKey",
    "AccessRule",
    "AuthSettings",
    "auth_settings",
    "insecure_refusal",
]

AUTH_MODES: Final = ("none", "sigv4")

_SECTION_KEYS: Final = ("mode", "protect_console", "keys")
_KEY_KEYS: Final = ("access_key_id", "secret_access_key", "identity", "account_id", "allow")
_RULE_KEYS: Final = ("actions", "resources")
_ACTION_SERVICES: Final = ("sqs", "sns", "lambda", "*")
_LOOPBACK_NAMES: Final = ("localhost",)


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One ``allow`` entry: any of ``actions`` (``"sqs:SendMessage"``, ``"sns:*"``) on
    any of ``resources`` (ARN patterns), with ``*`` and ``?`` wildcards."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One access key: its id, its secret and the identity requests signed with it act
    as. The secret is left out of ``repr`` so that it never reaches a log.

    ``account_id`` is the account of the identity (``""``: the server's own);
    ``allow`` its rules (``None``: everything within its own account)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    identity: str = ""
    account_id: str = ""
    allow: tuple[AccessRule, ...] | None = None

    def __post_init__(self) -> None:
        if not self.identity:
            object.__setattr__(self, "identity", self.access_key_id)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """The ``[auth]`` section, resolved.

    Attributes:
        mode: ``"none"`` (no authentication) or ``"sigv4"``.
        protect_console: whether ``/console`` and ``/metrics`` need a SigV4 signature
            or HTTP Basic ``access_key_id:secret_access_key`` (only in ``sigv4`` mode).
        keys: the configured keys, in file order (the first one is what ekiden's own
            runtime signs its loopback requests with).
        explicit_mode: whether ``mode`` was written in the file (rather than implied).
        allow_insecure: ``ekiden serve --insecure``: mode ``none`` may listen on an
            address other than loopback.
    """

    mode: str = "none"
    protect_console: bool = True
    keys: tuple[AccessKey, ...] = ()
    explicit_mode: bool = False
    allow_insecure: bool = False

    @property
    def enabled(self) -> bool:
        """Whether requests must be signed."""
        return self.mode == "sigv4"


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be a non-empty string, got {describe(value)}")
    return value.strip()


def _keys(raw: object, path: Path) -> tuple[AccessKey, ...]:
    if not isinstance(raw, list):
        raise ConfigError(
            f"auth.keys in config file {path}: must be an array of tables ([[auth.keys]]), "
            f"got {describe(raw)}"
        )
    keys: list[AccessKey] = []
    seen: set[str] = set()
    by_identity: dict[str, AccessKey] = {}
    for index, entry in enumerate(raw):
        where = f"auth.keys[{index}] in config file {path}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table, got {describe(entry)}")
        for name in entry:
            if name not in _KEY_KEYS:
                raise unknown("key", name, where, _KEY_KEYS)
        for required in ("access_key_id", "secret_access_key"):
            if required not in entry:
                raise ConfigError(f"{where}: {required} is required")
        key_id = _text(entry["access_key_id"], f"{where}: access_key_id")
        if not key_id.isascii() or not key_id.isalnum():
            raise ConfigError(f"{where}: access_key_id must be letters and digits, got {key_id!r}")
        if key_id in seen:
            raise ConfigError(f"{where}: access key {key_id!r} is configured more than once")
        seen.add(key_id)
        secret = entry["secret_access_key"]
        if not isinstance(secret, str) or not secret:  # never echo a secret back
            raise ConfigError(f"{where}: secret_access_key must be a non-empty string")
        identity = entry.get("identity", "")
        if identity != "":
            identity = _text(identity, f"{where}: identity")
        account = entry.get("account_id", "")
        if account != "" and (
            not isinstance(account, str) or len(account) != 12 or not account.isdigit()
        ):
            raise ConfigError(f"{where}: account_id must be 12 digits, got {describe(account)}")
        allow = _rules(entry["allow"], where) if "allow" in entry else None
        key = AccessKey(key_id, secret, identity, account, allow)
        other = by_identity.setdefault(key.identity, key)
        if (other.account_id, other.allow) != (key.account_id, key.allow):
            raise ConfigError(
                f"{where}: identity {key.identity!r} is also used by access key "
                f"{other.access_key_id!r} with another account_id or allow; keys that share "
                "an identity must agree on them"
            )
        keys.append(key)
    return tuple(keys)


def _patterns(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: must be a non-empty array of strings, got {describe(raw)}")
    return tuple(_text(item, where) for item in raw)


def _rules(raw: object, where: str) -> tuple[AccessRule, ...]:
    if not isinstance(raw, list):
        raise ConfigError(
            f"{where}: allow must be an array of tables "
            f"({{ actions = [...], resources = [...] }}), got {describe(raw)}"
        )
    rules: list[AccessRule] = []
    for index, rule in enumerate(raw):
        at = f"{where}: allow[{index}]"
        if not isinstance(rule, dict):
            raise ConfigError(f"{at}: must be a table, got {describe(rule)}")
        for name in rule:
            if name not in _RULE_KEYS:
                raise unknown("key", name, at, _RULE_KEYS)
        for required in _RULE_KEYS:
            if required not in rule:
                raise ConfigError(f"{at}: {required} is required")
        actions = _patterns(rule["actions"], f"{at} actions")
        for action in actions:
            service, colon, name = action.partition(":")
            if action != "*" and (not colon or service.lower() not in _ACTION_SERVICES or not name):
                raise ConfigError(
                    f"{at} actions: {action!r} is not of the form service:Action "
                    f"(service one of sqs, sns, lambda), e.g. 'sqs:SendMessage' or 'sns:*'"
                )
        resources = _patterns(rule["resources"], f"{at} resources")
        for resource in resources:
            if resource != "*" and not resource.startswith("arn:"):
                raise ConfigError(
                    f"{at} resources: {resource!r} is not an ARN pattern "
                    "(e.g. 'arn:aws:sqs:*:*:orders-*' or '*')"
                )
        rules.append(AccessRule(actions, resources))
    return tuple(rules)


def auth_settings(raw: object, path: Path) -> AuthSettings:
    """The :class:`AuthSettings` of the ``[auth]`` table ``raw`` read from ``path``.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, a mode other than
            ``none``/``sigv4``, or ``sigv4`` without any key.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"[auth] in config file {path}: must be a table")
    for name in raw:
        if name not in _SECTION_KEYS:
            raise unknown("key", name, f"[auth] of config file {path}", _SECTION_KEYS)
    keys = _keys(raw.get("keys", []), path)
    explicit = "mode" in raw
    mode = raw.get("mode", "sigv4" if keys else "none")
    if mode not in AUTH_MODES:
        raise ConfigError(
            f"mode in config file {path} ([auth] mode): must be one of "
            f"{', '.join(AUTH_MODES)}; got {mode!r}"
        )
    if mode == "sigv4" and not keys:
        raise ConfigError(
            f"[auth] in config file {path}: mode 'sigv4' needs at least one [[auth.keys]]"
        )
    protect = raw.get("protect_console", True)
    if not isinstance(protect, bool):
        raise ConfigError(
            f"protect_console in config file {path} ([auth] protect_console): must be "
            f"true or false, got {describe(protect)}"
        )
    return AuthSettings(str(mode), protect, keys, explicit)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def insecure_refusal(auth: AuthSettings, host: str) -> str | None:
    """Why ``ekiden serve`` must not start with these settings, or ``None``.

    A server without authentication is refused on any address other than loopback,
    unless the operator said ``--insecure`` (``auth.allow_insecure``).
    """
    if auth.enabled or auth.allow_insecure or is_loopback(host):
        return None
    return (
        f"refusing to listen on {host} without authentication: configure [[auth.keys]] "
        "in ekiden.toml (see README, Security), bind to 127.0.0.1, or pass --insecure "
        "to serve unauthenticated anyway"
    )
