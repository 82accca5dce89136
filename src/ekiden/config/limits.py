"""The ``[limits]`` section of ``ekiden.toml``: bounds that protect the server from abuse.

::

    [limits]
    max_header_bytes = 65536     # request line + headers; above it: 431 and close
    header_timeout_s = 10        # a request's head must arrive within this: else 408
    body_timeout_s = 60          # ... and its body within this after the head: else 408
    idle_timeout_s = 75          # an idle keep-alive connection is closed after this
    max_connections = 10000      # more at once: 503 and close at once
    requests_per_second = 100    # per identity; absent: no rate limit (the default)
    burst = 200                  # bucket size; default: requests_per_second (at least 1)

Every key is optional. Rate limiting is off unless ``requests_per_second`` is set: a
broker's throughput is its point, and a limit nobody asked for would throttle the
benchmarks. The identity limited is the access key's identity in ``sigv4`` mode, the
client's IP address in mode ``none``.

Only the file configures limits (no environment variables or flags).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ekiden.config.values import ConfigError, describe, unknown

__all__ = ["LimitsSettings", "limits_settings"]


@dataclass(frozen=True, slots=True)
class LimitsSettings:
    """The ``[limits]`` section, resolved (see the module docstring for the meaning).

    ``requests_per_second`` ``None`` means no rate limit; ``burst`` is then unused.
    """

    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    idle_timeout_s: float = 75.0
    max_connections: int = 10_000
    requests_per_second: float | None = None
    burst: int = 1

    @property
    def rate_limited(self) -> bool:
        """Whether requests are limited per identity."""
        return self.requests_per_second is not None


# key -> (lowest, highest, integer?)
_BOUNDS: Final[dict[str, tuple[float, float, bool]]] = {
    "max_header_bytes": (1024, 16 * 1024 * 1024, True),
    "header_timeout_s": (0.1, 3600.0, False),
    "body_timeout_s": (0.1, 3600.0, False),
    "idle_timeout_s": (0.1, 86_400.0, False),
    "max_connections": (1, 1_000_000, True),
    "requests_per_second": (0.001, 1e9, False),
    "burst": (1, 1_000_000_000, True),
}


def _number(key: str, value: object, path: Path) -> float:
    low, high, integer = _BOUNDS[key]
    where = f"{key} in config file {path} ([limits] {key})"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: must be a number, got {describe(value)}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{where}: must be an integer, got {describe(value)}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(f"{where}: must be between {low:g} and {high:g}, got {value!r}")
    return value


def limits_settings(raw: object, path: Path) -> LimitsSettings:
    """The :class:`LimitsSettings` of the ``[limits]`` table ``raw`` read from ``path``.

    Raises:
        ConfigError: an unknown key, a value of the wrong type or out of range, or a
            ``burst`` without ``requests_per_second``.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"[limits] in config file {path}: must be a table")
    values: dict[str, float] = {}
    for key, value in raw.items():
        if key not in _BOUNDS:
            raise unknown("key", key, f"[limits] of config file {path}", tuple(_BOUNDS))
        values[key] = _number(key, value, path)
    rate = values.get("requests_per_second")
    if "burst" in values and rate is None:
        raise ConfigError(
            f"burst in config file {path} ([limits] burst): needs requests_per_second"
        )
    defaults = LimitsSettings()
    return LimitsSettings(
        max_header_bytes=int(values.get("max_header_bytes", defaults.max_header_bytes)),
        header_timeout_s=float(values.get("header_timeout_s", defaults.header_timeout_s)),
        body_timeout_s=float(values.get("body_timeout_s", defaults.body_timeout_s)),
        idle_timeout_s=float(values.get("idle_timeout_s", defaults.idle_timeout_s)),
        max_connections=int(values.get("max_connections", defaults.max_connections)),
        requests_per_second=None if rate is None else float(rate),
        burst=int(values.get("burst", max(1, math.ceil(rate or 1)))),
    )
