"""Settings of one ekiden process: ``ekiden.toml`` < ``EKIDEN_*`` environment < CLI flags.

The settings are read once, at the edge (the CLI), validated, frozen into a
:class:`Settings` and passed down. No module reads ``os.environ`` or a file for its
configuration on its own; :func:`load_settings` takes the environment as an argument.

Every problem found while loading -- an unreadable or malformed file, an unknown key or
``EKIDEN_*`` variable, a value of the wrong type or out of range -- raises
:class:`ConfigError` whose message names the setting and where its value came from
(the file and key, the environment variable, or the command-line flag).

File layout (every section and key is optional)::

    [server]
    host = "127.0.0.1"
    port = 9324
    data_dir = "./ekiden-data"
    account_id = "000000000000"
    region = "us-east-1"
    log_level = "info"
    commit_interval_ms = 0
    max_body_bytes = 8388608
    sns_https_ca_file = "/etc/ekiden/private-ca.pem"   # default: the system trust store
    public_url = "https://broker.example.com"          # default: the request's Host
    tls_cert = "/etc/ekiden/tls/fullchain.pem"         # both or neither: HTTPS on `port`
    tls_key = "/etc/ekiden/tls/key.pem"

    [[queues]]
    name = "orders"
    tags = { team = "shop" }

    [queues.attributes]                  # values: string, integer, boolean or table
    VisibilityTimeout = 60               # stored as "60", as SQS carries it

    [queues.attributes.RedrivePolicy]    # a table is stored as compact JSON
    deadLetterTargetArn = "arn:aws:sqs:us-east-1:000000000000:orders-dlq"
    maxReceiveCount = 5

    [[queues]]
    name = "orders-dlq"

Functions, event source mappings and the ``[runtime]`` section are described in
:mod:`ekiden.config.functions`. The ``[runtime]`` keys also come from ``EKIDEN_RUNTIME_*``
variables (``EKIDEN_RUNTIME_ENABLED=false``) and from overrides named ``runtime_<key>``
(``ekiden serve --no-runtime`` gives ``runtime_enabled=False``).
"""

from __future__ import annotations

import dataclasses
import re
import ssl
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from ekiden.config.auth import AuthSettings, auth_settings
from ekiden.config.functions import (
    RUNTIME_SCALARS,
    FunctionDeclaration,
    MappingDeclaration,
    RuntimeSettings,
    function_declarations,
    mapping_declarations,
)
from ekiden.config.limits import LimitsSettings, limits_settings
from ekiden.config.values import (
    ConfigError,
    Invalid,
    as_float,
    as_int,
    as_str,
    describe,
    string_table,
    unknown,
)

__all__ = [
    "CONFIG_FILE_ENV",
    "ENDPOINT_ENV",
    "ENV_PREFIX",
    "LOG_LEVELS",
    "AuthSettings",
    "ConfigError",
    "FunctionDeclaration",
    "MappingDeclaration",
    "QueueDeclaration",
    "RuntimeSettings",
    "Settings",
    "load_settings",
]

ENV_PREFIX: Final = "EKIDEN_"
"""Prefix of the environment variables that configure ekiden (``EKIDEN_PORT``, ...)."""

CONFIG_FILE_ENV: Final = "EKIDEN_CONFIG"
"""Environment variable naming the config file; read by the CLI, not a setting itself."""

ENDPOINT_ENV: Final = "EKIDEN_ENDPOINT"
"""Environment variable naming the server the ``queue``/``topic``/``function`` commands
talk to; read by the CLI, not a setting of the server."""

_CLI_ONLY_ENV: Final = (CONFIG_FILE_ENV, ENDPOINT_ENV)

LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")
"""Accepted values of ``log_level`` (case-insensitive; ``warn`` means ``warning``)."""


@dataclass(frozen=True, slots=True)
class QueueDeclaration:
    """A queue that must exist once the server has started (created if missing).

    ``attributes`` and ``tags`` are read-only string mappings, as SQS carries them. They are
    not validated here: the service layer validates attributes when it creates the queue.
    Mappings passed in are copied, so the declaration cannot change afterwards.
    """

    name: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Copy into a read-only proxy so that a caller's dict cannot mutate a frozen value.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything an ekiden process is configured with. Immutable; pass it down.

    Construct it with :func:`load_settings` to get validation; constructing it directly
    (tests) trusts the values given.

    Attributes:
        host: address the HTTP server binds to.
        port: TCP port of the HTTP server; 0 picks a free port.
        data_dir: directory of the embedded store (relative paths are relative to the
            working directory of the process).
        account_id: the 12-digit AWS account id shown in queue URLs and ARNs.
        region: the AWS region shown in queue URLs and ARNs.
        log_level: one of :data:`LOG_LEVELS`, lower case.
        queues: queues declared in the config file, created at startup if missing.
        commit_interval_ms: extra time a group commit waits to collect more mutations;
            0 commits as soon as the previous commit has finished.
        max_body_bytes: largest HTTP request body the server reads; a larger request is
            refused before it is parsed. The default (8 MiB) leaves room for a 1 MiB SQS
            message (or batch) after Query/JSON encoding and base64 of binary
            attributes, and for Lambda's 6 MB synchronous Invoke payload.
        sns_https_ca_file: PEM file of the CA certificates that HTTPS endpoints of SNS
            subscriptions are verified against, instead of the system's trust store;
            ``None`` uses the system's. It must exist when the settings are loaded.
        public_url: the ``http(s)://host[:port][/path]`` clients reach ekiden at (behind
            a proxy, a load balancer, in a container), used instead of the request's
            Host header in queue URLs and in the SubscribeURL, UnsubscribeURL and
            SigningCertURL of SNS messages; ``None`` uses the Host header. Kept without
            a trailing slash.
        tls_cert: PEM certificate chain (the server's certificate first); with
            ``tls_key`` the server speaks HTTPS instead of HTTP on ``port``. Both or
            neither; the files must exist (their contents are checked at startup).
        tls_key: PEM private key (unencrypted) of ``tls_cert``.
        functions: functions declared as ``[functions.NAME]``, in file order.
        event_source_mappings: ``[[event_source_mappings]]``, each naming a declared
            function.
        runtime: the ``[runtime]`` section, ``EKIDEN_RUNTIME_*`` and ``--no-runtime``.
        auth: the ``[auth]`` section (:mod:`ekiden.config.auth`); file only.
        limits: the ``[limits]`` section (:mod:`ekiden.config.limits`); file only.
    """

    host: str = "127.0.0.1"
    port: int = 9324
    data_dir: Path = Path("./ekiden-data")
    account_id: str = "000000000000"
    region: str = "us-east-1"
    log_level: str = "info"
    queues: tuple[QueueDeclaration, ...] = ()
    commit_interval_ms: float = 0.0
    max_body_bytes: int = 8 * 1024 * 1024
    sns_https_ca_file: Path | None = None
    public_url: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    functions: tuple[FunctionDeclaration, ...] = ()
    event_source_mappings: tuple[MappingDeclaration, ...] = ()
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)


# --- value conversion -----------------------------------------------------------------


_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_HOST = re.compile(r"[A-Za-z0-9.:_%\[\]-]+")
# scheme://host[:port][/path], no query, fragment, credentials, whitespace or controls.
_PUBLIC_URL = re.compile(
    r"https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(:[0-9]{1,5})?(/[^\s\x00-\x1f\x7f?#]*)?"
)

_MAX_COMMIT_INTERVAL_MS: Final = 1000.0
_MIN_BODY_BYTES: Final = 1024
_MAX_BODY_BYTES: Final = 1024 * 1024 * 1024


def _host(value: object, text_ok: bool) -> str:
    text = as_str(value).strip()
    if not _HOST.fullmatch(text):
        raise Invalid(f"must be a host name or IP address, got {value!r}")
    return text


def _port(value: object, text_ok: bool) -> int:
    port = as_int(value, text_ok)
    if not 0 <= port <= 65535:
        raise Invalid(f"must be between 0 and 65535, got {port}")
    return port


def _data_dir(value: object, text_ok: bool) -> Path:
    text = str(value) if isinstance(value, Path) else as_str(value)
    if not text.strip():
        raise Invalid("must be a directory path, got an empty string")
    return Path(text).expanduser()


def _account_id(value: object, text_ok: bool) -> str:
    text = as_str(value).strip()
    if not _ACCOUNT_ID.fullmatch(text):
        raise Invalid(f"must be exactly 12 digits, got {value!r}")
    return text


def _region(value: object, text_ok: bool) -> str:
    text = as_str(value).strip()
    if not _REGION.fullmatch(text) or len(text) > 32:
        raise Invalid(f"must be a region name such as 'us-east-1', got {value!r}")
    return text


def _log_level(value: object, text_ok: bool) -> str:
    text = as_str(value).strip().lower()
    if text == "warn":
        text = "warning"
    if text not in LOG_LEVELS:
        raise Invalid(f"must be one of {', '.join(LOG_LEVELS)}; got {value!r}")
    return text


def _commit_interval_ms(value: object, text_ok: bool) -> float:
    interval = as_float(value, text_ok)
    if not 0.0 <= interval <= _MAX_COMMIT_INTERVAL_MS:
        raise Invalid(f"must be between 0 and {_MAX_COMMIT_INTERVAL_MS:g}, got {interval:g}")
    return interval


def _max_body_bytes(value: object, text_ok: bool) -> int:
    size = as_int(value, text_ok)
    if not _MIN_BODY_BYTES <= size <= _MAX_BODY_BYTES:
        raise Invalid(f"must be between {_MIN_BODY_BYTES} and {_MAX_BODY_BYTES}, got {size}")
    return size


def _ca_file(value: object, text_ok: bool) -> Path:
    text = str(value) if isinstance(value, Path) else as_str(value)
    if not text.strip():
        raise Invalid("must be the path of a PEM file, got an empty string")
    path = Path(text).expanduser()
    if not path.is_file():
        raise Invalid(f"must be an existing PEM file of CA certificates, got {text!r}")
    try:  # load it once now, so that a bad file stops the start rather than deliveries
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise Invalid(f"is not a readable PEM file of CA certificates ({exc}): {text!r}") from None
    return path


def _public_url(value: object, text_ok: bool) -> str:
    text = as_str(value).strip()
    if not _PUBLIC_URL.fullmatch(text):
        raise Invalid(
            "must be an http:// or https:// URL (host, optional port and path; no query), "
            f"got {value!r}"
        )
    port = text.split("://", 1)[1].split("/", 1)[0].rpartition("]")[2].rpartition(":")
    if port[1] and not 1 <= int(port[2]) <= 65535:
        raise Invalid(f"has a port outside 1-65535: {value!r}")
    return text.rstrip("/")


def _pem_file(value: object, text_ok: bool) -> Path:
    text = str(value) if isinstance(value, Path) else as_str(value)
    if not text.strip():
        raise Invalid("must be the path of a PEM file, got an empty string")
    path = Path(text).expanduser()
    if not path.is_file():
        raise Invalid(f"must be an existing PEM file, got {text!r}")
    return path


# Scalar settings: name -> converter(value, text_ok). ``text_ok`` says whether a string may
# stand for a number (environment variables and flags are text; TOML has real types).
_SCALARS: Final[Mapping[str, Callable[[object, bool], object]]] = MappingProxyType(
    {
        "host": _host,
        "port": _port,
        "data_dir": _data_dir,
        "account_id": _account_id,
        "region": _region,
        "log_level": _log_level,
        "commit_interval_ms": _commit_interval_ms,
        "max_body_bytes": _max_body_bytes,
        "sns_https_ca_file": _ca_file,
        "public_url": _public_url,
        "tls_cert": _pem_file,
        "tls_key": _pem_file,
    }
)

# The [runtime] keys share the flat namespace of settings as ``runtime_<key>``, so that
# their environment variables are EKIDEN_RUNTIME_<KEY> like every other one.
_RUNTIME_PREFIX: Final = "runtime_"
_ALL_SCALARS: Final[Mapping[str, Callable[[object, bool], object]]] = MappingProxyType(
    {**_SCALARS, **{_RUNTIME_PREFIX + key: convert for key, convert in RUNTIME_SCALARS.items()}}
)


def _env_name(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def _flag_name(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def _convert(setting: str, value: object, source: str, text_ok: bool) -> object:
    try:
        return _ALL_SCALARS[setting](value, text_ok)
    except Invalid as exc:
        raise ConfigError(f"{setting} from {source}: {exc}") from None


# --- the three layers -------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fp:
            return tomllib.load(fp)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path}: not valid UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read: {exc.strerror}") from None


_QUEUE_KEYS: Final = ("name", "attributes", "tags")


def _queue_declarations(raw: object, path: Path) -> tuple[QueueDeclaration, ...]:
    if not isinstance(raw, list):
        raise ConfigError(
            f"queues in config file {path}: must be an array of tables ([[queues]]), "
            f"got {describe(raw)}"
        )
    declarations: list[QueueDeclaration] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"queues[{index}] in config file {path}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table, got {describe(entry)}")
        for key in entry:
            if key not in _QUEUE_KEYS:
                raise unknown("key", key, where, _QUEUE_KEYS)
        if "name" not in entry:
            raise ConfigError(f"{where}: name is required")
        name = entry["name"]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: name must be a non-empty string, got {describe(name)}")
        if name in seen:
            raise ConfigError(f"{where}: queue {name!r} is declared more than once")
        seen.add(name)
        where = f"queue {name!r} in config file {path}"
        attributes = string_table(
            entry.get("attributes", {}), f"{where}: attributes", allow_json=True
        )
        tags = string_table(entry.get("tags", {}), f"{where}: tags", allow_json=False)
        declarations.append(QueueDeclaration(name=name, attributes=attributes, tags=tags))
    return tuple(declarations)


_FILE_SECTIONS: Final = (
    "server",
    "queues",
    "functions",
    "event_source_mappings",
    "runtime",
    "auth",
    "limits",
)


def _scalar_section(
    document: Mapping[str, object],
    section: str,
    known: Mapping[str, object],
    path: Path,
    prefix: str = "",
) -> dict[str, object]:
    """The scalar keys of table ``[section]``, as ``prefix + key`` -> converted value."""
    table = document.get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] in config file {path}: must be a table")
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in known:
            raise unknown("key", key, f"[{section}] of config file {path}", tuple(known))
        source = f"config file {path} ([{section}] {key})"
        values[prefix + key] = _convert(prefix + key, value, source, False)
    return values


def _from_file(path: Path) -> tuple[dict[str, object], dict[str, object]]:
    """(scalar settings, declarations) of the file; declarations hold only the sections
    present, keyed by their Settings field."""
    document = _read_toml(path)
    for section in document:
        if section not in _FILE_SECTIONS:
            raise unknown("section", section, f"config file {path}", _FILE_SECTIONS)
    values = _scalar_section(document, "server", _SCALARS, path)
    values.update(_scalar_section(document, "runtime", RUNTIME_SCALARS, path, _RUNTIME_PREFIX))
    declared: dict[str, object] = {}
    if "queues" in document:
        declared["queues"] = _queue_declarations(document["queues"], path)
    functions = function_declarations(document.get("functions", {}), path)
    if "functions" in document:
        declared["functions"] = functions
    if "event_source_mappings" in document:
        declared["event_source_mappings"] = mapping_declarations(
            document["event_source_mappings"], path, functions
        )
    if "auth" in document:
        declared["auth"] = auth_settings(document["auth"], path)
    if "limits" in document:
        declared["limits"] = limits_settings(document["limits"], path)
    return values, declared


def _from_env(env: Mapping[str, str]) -> dict[str, object]:
    by_env_name = {_env_name(name): name for name in _ALL_SCALARS}
    values: dict[str, object] = {}
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX) or variable in _CLI_ONLY_ENV:
            continue
        setting = by_env_name.get(variable)
        if setting is None:
            known = (*by_env_name, *_CLI_ONLY_ENV)
            raise unknown("environment variable", variable, "the environment", known)
        values[setting] = _convert(setting, env[variable], f"environment variable {variable}", True)
    return values


def _from_overrides(overrides: Mapping[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    for setting, value in overrides.items():
        if value is None:  # a flag that was not given
            continue
        if setting not in _ALL_SCALARS:
            raise unknown("override", setting, "the command line", tuple(_ALL_SCALARS))
        values[setting] = _convert(setting, value, f"flag {_flag_name(setting)}", True)
    return values


def load_settings(
    config_file: Path | None,
    env: Mapping[str, str],
    overrides: Mapping[str, object],
) -> Settings:
    """Build the settings from a TOML file, the environment and command-line overrides.

    Later layers win, setting by setting: defaults < ``config_file`` < ``EKIDEN_*``
    variables of ``env`` < ``overrides``.

    Args:
        config_file: the TOML file to read, or ``None`` for none. It must exist.
        env: the process environment (pass ``os.environ``). Variables without the
            ``EKIDEN_`` prefix are ignored; ``EKIDEN_CONFIG`` is left to the caller.
        overrides: setting name (``"port"``, ``"data_dir"``, ``"runtime_enabled"``, ...)
            -> value from a command-line flag; ``None`` values mean "not given" and are
            skipped. Strings are parsed as in the environment.

    Queue, function and event source mapping declarations come only from the file.

    Raises:
        ConfigError: for any unreadable file, unknown key or variable, wrong type or
            out-of-range value; the message names the setting and its source.
    """
    # Any: every value below went through its setting's converter, which returns the
    # field's type; dataclasses.replace checks nothing more at run time.
    values: dict[str, Any] = {}
    declared: dict[str, object] = {}
    if config_file is not None:
        file_values, declared = _from_file(config_file)
        values.update(file_values)
    values.update(_from_env(env))
    values.update(_from_overrides(overrides))
    if ("tls_cert" in values) != ("tls_key" in values):
        given, missing = ("tls_cert", "tls_key")[:: 1 if "tls_cert" in values else -1]
        raise ConfigError(f"{given} is set but {missing} is not: give both (HTTPS) or neither")
    runtime = {
        name.removeprefix(_RUNTIME_PREFIX): values.pop(name)
        for name in list(values)
        if name.startswith(_RUNTIME_PREFIX)
    }
    values.update(declared)
    values["runtime"] = dataclasses.replace(RuntimeSettings(), **runtime)
    return dataclasses.replace(Settings(), **values)
