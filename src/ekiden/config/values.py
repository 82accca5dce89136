"""Value conversion shared by every part of the configuration.

Converters raise :class:`Invalid` with a message that says what is wrong with the value
but not which setting it belongs to or where it came from; the caller, which knows both,
turns it into a :class:`ConfigError` (``"port from environment variable EKIDEN_PORT: ..."``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "ConfigError",
    "Invalid",
    "as_bool",
    "as_float",
    "as_int",
    "as_str",
    "attribute_text",
    "describe",
    "string_table",
    "unknown",
]


class ConfigError(Exception):
    """The configuration cannot be used; the process must not start.

    This is a startup error shown to the operator (``ekiden: <message>``, exit status 2),
    never a wire error.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(Exception):
    """A value is unusable; the message says why, without naming setting or source."""


_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT: Final = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE_TEXT: Final = ("true", "1", "yes", "on")
_FALSE_TEXT: Final = ("false", "0", "no", "off")


def describe(value: object) -> str:
    """``repr`` of a value, with its TOML-side type name unless it is a string."""
    return f"{value!r} ({type(value).__name__})" if not isinstance(value, str) else repr(value)


def as_int(value: object, text_ok: bool) -> int:
    """An integer (never a bool); with ``text_ok`` also its decimal text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if text_ok and isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value.strip())
    raise Invalid(f"must be an integer, got {describe(value)}")


def as_float(value: object, text_ok: bool) -> float:
    """A finite number (integer or float, never a bool); with ``text_ok`` also its text."""
    number: float
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif text_ok and isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        number = float(value.strip())
    else:
        raise Invalid(f"must be a number, got {describe(value)}")
    if not math.isfinite(number):
        raise Invalid(f"must be a finite number, got {describe(value)}")
    return number


def as_bool(value: object, text_ok: bool) -> bool:
    """A boolean; with ``text_ok`` also ``true/false``, ``1/0``, ``yes/no``, ``on/off``."""
    if isinstance(value, bool):
        return value
    if text_ok and isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_TEXT:
            return True
        if text in _FALSE_TEXT:
            return False
    raise Invalid(f"must be true or false, got {describe(value)}")


def as_str(value: object) -> str:
    """A string, as it is."""
    if not isinstance(value, str):
        raise Invalid(f"must be a string, got {describe(value)}")
    return value


def unknown(kind: str, key: str, where: str, known: tuple[str, ...]) -> ConfigError:
    """The error for a key, section or variable that is not part of the configuration."""
    return ConfigError(f"unknown {kind} {key!r} in {where} (known: {', '.join(known)})")


def attribute_text(value: object, *, allow_json: bool) -> str:
    """Turn a TOML value into the string SQS would carry (``true``, ``60``, JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if allow_json and isinstance(value, dict | list):
        # Policies (RedrivePolicy, RedriveAllowPolicy, Policy) are JSON documents in SQS;
        # a TOML table is a friendlier way to write one.
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise Invalid(f"cannot be written as JSON: {exc}") from None
    expected = "a string, integer or boolean" + (" or a table" if allow_json else "")
    raise Invalid(f"must be {expected}, got {describe(value)}")


def string_table(raw: object, where: str, *, allow_json: bool) -> Mapping[str, str]:
    """A TOML table whose values become strings (see :func:`attribute_text`), read-only.

    Raises:
        ConfigError: ``raw`` is not a table or a value cannot be a string; names ``where``.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table, got {describe(raw)}")
    converted: dict[str, str] = {}
    for key, value in raw.items():
        try:
            converted[key] = attribute_text(value, allow_json=allow_json)
        except Invalid as exc:
            raise ConfigError(f"{where}.{key}: {exc}") from None
    return MappingProxyType(converted)
