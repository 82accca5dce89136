"""Functions, event source mappings and the runtime, as ``ekiden.toml`` declares them.

File layout (every section is optional; see :class:`FunctionDeclaration`,
:class:`MappingDeclaration` and :class:`RuntimeSettings` for each key)::

    [functions.hello]                      # the table's name is the function's name
    handler = "handlers:lambda_handler"    # module:function (module.function works too)
    code = "./functions"                   # relative to the config file's directory
    timeout_s = 30
    environment = { GREETING = "hi" }

    [[event_source_mappings]]
    function = "hello"
    queue = "hello"                        # a queue name or ARN
    filters = ['{"body": {"kind": ["order"]}}', { body = { kind = ["refund"] } }]

    [runtime]
    enabled = true
    max_processes = 32

Only what is pure configuration is checked here: types, names, numeric ranges, that a
mapping names a declared function. What depends on AWS semantics or on the queue (batch
size against FIFO, batching-window rules, filter pattern syntax, reserved environment
variable names) is left to the functions service, which reports it at startup. The
``code`` directory is not required to exist either: a broker started with the runtime
off may declare functions whose code lives only on the worker machines.

This module imports only the rest of :mod:`ekiden.config` (the layer rule of config).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from ekiden.config.values import (
    ConfigError,
    Invalid,
    as_bool,
    as_float,
    as_int,
    as_str,
    describe,
    string_table,
    unknown,
)

__all__ = [
    "RUNTIME_SCALARS",
    "FunctionDeclaration",
    "MappingDeclaration",
    "RuntimeSettings",
    "function_declarations",
    "mapping_declarations",
]

_IDENTIFIER: Final = r"[A-Za-z_][A-Za-z0-9_]*"
_FUNCTION_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
# module:function (dotted module) or Lambda's module.function (at least one dot).
_HANDLER: Final = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})*:{_IDENTIFIER}")
_LAMBDA_HANDLER: Final = re.compile(rf"{_IDENTIFIER}(\.{_IDENTIFIER})+")
# Lambda's rule for environment variable names.
_ENVIRONMENT_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_QUEUE_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,80}|[A-Za-z0-9_-]{1,75}\.fifo")
_QUEUE_ARN: Final = re.compile(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:(?P<name>[^:]+)")
_MAX_DESCRIPTION: Final = 256
_MAX_FILTERS: Final = 5


@dataclass(frozen=True, slots=True)
class FunctionDeclaration:
    """A function declared as ``[functions.NAME]``; mirrors ``ekiden.core.functions.FunctionSpec``.

    Attributes:
        name: ``[A-Za-z0-9_-]{1,64}``, the table's name.
        handler: ``module:function`` or ``module.function``, imported from ``code``.
        code: directory put first on the handler's import path; a relative path in the
            file is relative to the config file's directory (default: that directory).
            Not required to exist when the settings are loaded.
        timeout_s: 1-900 seconds (file key ``timeout_s``, default 3).
        memory_mb: 128-10240, a label reported to the handler (default 128).
        environment: extra environment variables of the handler processes (names
            ``[A-Za-z][A-Za-z0-9_]*``; integers and booleans are written as text).
        reserved_concurrency: file key ``concurrency``; at least 1, or ``None`` for only
            the runtime's cap.
        description: free text, at most 256 characters.
        maximum_retry_attempts: 0-2 retries of a failed asynchronous invocation.
        async_retry_delay_s: more than 0; the wait before the first such retry.
        on_failure_queue: queue name or ARN for asynchronous invocations that failed
            every attempt, or ``None``.
    """

    name: str
    handler: str
    code: Path = Path(".")
    timeout_s: int = 3
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    description: str = ""
    maximum_retry_attempts: int = 2
    async_retry_delay_s: float = 60.0
    on_failure_queue: str | None = None

    def __post_init__(self) -> None:
        # A read-only copy, so that a caller's dict cannot mutate a frozen value.
        object.__setattr__(self, "environment", MappingProxyType(dict(self.environment)))


@dataclass(frozen=True, slots=True)
class MappingDeclaration:
    """An ``[[event_source_mappings]]`` entry: a queue feeding a declared function.

    Attributes:
        function: the name of a function declared in the same file.
        queue: the queue's name or ARN, as written; the queue is created if missing.
        batch_size: 1-10,000 records per invocation (FIFO's 1-10 is the service's check).
        maximum_batching_window_s: 0-300 seconds.
        report_batch_item_failures: FunctionResponseTypes ``["ReportBatchItemFailures"]``.
        filters: at most 5 FilterCriteria patterns as JSON text; a table in the file is
            written as compact JSON. Their syntax is the service's check.
        maximum_concurrency: ScalingConfig.MaximumConcurrency, 2-1000, or ``None``.
        enabled: whether the runtime polls it.
    """

    function: str
    queue: str
    batch_size: int = 10
    maximum_batching_window_s: int = 0
    report_batch_item_failures: bool = False
    filters: tuple[str, ...] = ()
    maximum_concurrency: int | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """The ``[runtime]`` section (also ``EKIDEN_RUNTIME_*`` and ``--no-runtime``).

    Attributes:
        enabled: ``ekiden serve`` runs the runtime (polling, handler processes) in its
            own process; off, an ``ekiden worker`` elsewhere does it.
        max_processes: 1-1024, cap on handler worker processes over all functions.
        max_concurrency: 1-1000, cap on concurrent batches per mapping.
        log_file: handler output goes to this file instead of the process's standard
            error; relative to the working directory, like ``data_dir``.
    """

    enabled: bool = True
    max_processes: int = 32
    max_concurrency: int = 1000
    log_file: Path | None = None


# --- converters ---------------------------------------------------------------------------

_Converter = Callable[[object], object]


def _ranged_int(low: int, high: int | None) -> _Converter:
    def convert(value: object) -> int:
        number = as_int(value, False)
        if number < low or (high is not None and number > high):
            span = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise Invalid(f"must be {span}, got {number}")
        return number

    return convert


def _positive_number(value: object) -> float:
    number = as_float(value, False)
    if number <= 0:
        raise Invalid(f"must be more than 0, got {number:g}")
    return number


def _boolean(value: object) -> bool:
    return as_bool(value, False)


def _handler(value: object) -> str:
    text = as_str(value).strip()
    if not (_HANDLER.fullmatch(text) or _LAMBDA_HANDLER.fullmatch(text)):
        raise Invalid(
            "must name a module and a function, as 'module:function' or 'module.function', "
            f"got {value!r}"
        )
    return text


def _description(value: object) -> str:
    text = as_str(value)
    if len(text) > _MAX_DESCRIPTION:
        raise Invalid(f"must be at most {_MAX_DESCRIPTION} characters, got {len(text)}")
    return text


def _queue_reference(value: object) -> str:
    text = as_str(value).strip()
    arn = _QUEUE_ARN.fullmatch(text)
    if not _QUEUE_NAME.fullmatch(arn.group("name") if arn else text):
        raise Invalid(
            "must be a queue name (1-80 of A-Z a-z 0-9 _ -, FIFO ending in .fifo) or an SQS "
            f"queue ARN, got {value!r}"
        )
    return text


def _filter_patterns(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Invalid(f"must be an array of patterns, got {describe(value)}")
    if len(value) > _MAX_FILTERS:
        raise Invalid(f"must hold at most {_MAX_FILTERS} patterns, got {len(value)}")
    patterns: list[str] = []
    for index, pattern in enumerate(value):
        if isinstance(pattern, dict):
            # FilterCriteria carries each pattern as a JSON string; a table is easier to write.
            patterns.append(json.dumps(pattern, separators=(",", ":"), allow_nan=False))
        elif isinstance(pattern, str) and pattern.strip():
            patterns.append(pattern)
        else:
            raise Invalid(
                f"[{index}] must be a JSON pattern string or a table, got {describe(pattern)}"
            )
    return tuple(patterns)


def _path(value: object, text_ok: bool) -> Path:
    text = str(value) if isinstance(value, Path) else as_str(value)
    if not text.strip():
        raise Invalid("must be a file path, got an empty string")
    return Path(text).expanduser()


# file key -> (field of FunctionDeclaration, converter); "code" and "environment" are
# handled apart because they need the file's directory or check names.
_FUNCTION_KEYS: Final[Mapping[str, tuple[str, _Converter]]] = MappingProxyType(
    {
        "handler": ("handler", _handler),
        "timeout_s": ("timeout_s", _ranged_int(1, 900)),
        "memory_mb": ("memory_mb", _ranged_int(128, 10240)),
        "concurrency": ("reserved_concurrency", _ranged_int(1, None)),
        "description": ("description", _description),
        "maximum_retry_attempts": ("maximum_retry_attempts", _ranged_int(0, 2)),
        "async_retry_delay_s": ("async_retry_delay_s", _positive_number),
        "on_failure_queue": ("on_failure_queue", _queue_reference),
    }
)
_ALL_FUNCTION_KEYS: Final = (*_FUNCTION_KEYS, "code", "environment")

_MAPPING_KEYS: Final[Mapping[str, _Converter]] = MappingProxyType(
    {
        "function": as_str,
        "queue": _queue_reference,
        "batch_size": _ranged_int(1, 10_000),
        "maximum_batching_window_s": _ranged_int(0, 300),
        "report_batch_item_failures": _boolean,
        "filters": _filter_patterns,
        "maximum_concurrency": _ranged_int(2, 1000),
        "enabled": _boolean,
    }
)

RUNTIME_SCALARS: Final[Mapping[str, Callable[[object, bool], object]]] = MappingProxyType(
    {
        "enabled": as_bool,
        "max_processes": lambda value, text_ok: _ranged_int(1, 1024)(as_int(value, text_ok)),
        "max_concurrency": lambda value, text_ok: _ranged_int(1, 1000)(as_int(value, text_ok)),
        "log_file": _path,
    }
)
"""``[runtime]`` key -> converter(value, text_ok); the environment variable of a key is
``EKIDEN_RUNTIME_<KEY>``."""


# --- sections -------------------------------------------------------------------------------


def _code_directory(value: object, base: Path, where: str) -> Path:
    try:
        path = _path(value, False)
    except Invalid as exc:
        raise ConfigError(f"{where}: code {exc}") from None
    # Relative to the file, not to wherever the process happens to be started.
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _environment(raw: object, where: str) -> Mapping[str, str]:
    variables = string_table(raw, f"{where}: environment", allow_json=False)
    for name in variables:
        if not _ENVIRONMENT_NAME.fullmatch(name):
            raise ConfigError(
                f"{where}: environment variable name {name!r} must match [A-Za-z][A-Za-z0-9_]*"
            )
    return variables


def function_declarations(raw: object, path: Path) -> tuple[FunctionDeclaration, ...]:
    """The ``[functions.NAME]`` tables of config file ``path``, in file order.

    Raises:
        ConfigError: a name, key or value is unusable; the message names the function,
            the key and the file.
    """
    if not isinstance(raw, dict):
        raise ConfigError(
            f"functions in config file {path}: must be tables ([functions.NAME]), "
            f"got {describe(raw)}"
        )
    base = path.parent.absolute()
    declarations: list[FunctionDeclaration] = []
    for name, entry in raw.items():
        where = f"function {name!r} in config file {path}"
        if not _FUNCTION_NAME.fullmatch(name):
            raise ConfigError(f"{where}: the name must be 1-64 of A-Z a-z 0-9 _ -")
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table, got {describe(entry)}")
        for key in entry:
            if key not in _ALL_FUNCTION_KEYS:
                raise unknown("key", key, where, _ALL_FUNCTION_KEYS)
        if "handler" not in entry:
            raise ConfigError(f"{where}: handler is required")
        values: dict[str, Any] = {"name": name, "code": base}
        for key, (field_name, convert) in _FUNCTION_KEYS.items():
            if key in entry:
                try:
                    values[field_name] = convert(entry[key])
                except Invalid as exc:
                    raise ConfigError(f"{where}: {key} {exc}") from None
        if "code" in entry:
            values["code"] = _code_directory(entry["code"], base, where)
        if "environment" in entry:
            values["environment"] = _environment(entry["environment"], where)
        declarations.append(FunctionDeclaration(**values))
    return tuple(declarations)


def mapping_declarations(
    raw: object, path: Path, functions: tuple[FunctionDeclaration, ...]
) -> tuple[MappingDeclaration, ...]:
    """The ``[[event_source_mappings]]`` of config file ``path``, in file order.

    Raises:
        ConfigError: a key or value is unusable, a mapping names an undeclared function,
            or two mappings join the same function and queue.
    """
    if not isinstance(raw, list):
        raise ConfigError(
            f"event_source_mappings in config file {path}: must be an array of tables "
            f"([[event_source_mappings]]), got {describe(raw)}"
        )
    declared = {function.name for function in functions}
    declarations: list[MappingDeclaration] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(raw):
        where = f"event_source_mappings[{index}] in config file {path}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table, got {describe(entry)}")
        for key in entry:
            if key not in _MAPPING_KEYS:
                raise unknown("key", key, where, tuple(_MAPPING_KEYS))
        for required in ("function", "queue"):
            if required not in entry:
                raise ConfigError(f"{where}: {required} is required")
        values: dict[str, Any] = {}
        for key, convert in _MAPPING_KEYS.items():
            if key in entry:
                try:
                    values[key] = convert(entry[key])
                except Invalid as exc:
                    raise ConfigError(f"{where}: {key} {exc}") from None
        mapping = MappingDeclaration(**values)
        if mapping.function not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ConfigError(
                f"{where}: function {mapping.function!r} is not declared as "
                f"[functions.{mapping.function}] (declared: {known})"
            )
        if (mapping.function, mapping.queue) in seen:
            raise ConfigError(
                f"{where}: function {mapping.function!r} is already mapped to queue "
                f"{mapping.queue!r}"
            )
        seen.add((mapping.function, mapping.queue))
        declarations.append(mapping)
    return tuple(declarations)
