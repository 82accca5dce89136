"""Logging set-up for long-running commands (``serve``, later ``worker``).

One line per record, UTC timestamps, e.g.
``2026-11-25T18:00:00Z INFO ekiden.server listening on 127.0.0.1:9324``.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

__all__ = ["LOG_FORMAT", "configure_logging"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime(datefmt or _DATE_FORMAT, time.gmtime(record.created))


class _EkidenHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so a second call replaces it."""


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send log records at ``level`` and above (a name from ``LOG_LEVELS``) to ``stream``.

    ``stream`` defaults to standard error. Configures the root logger; calling it again
    replaces the handler installed by the previous call instead of adding a second one.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _EkidenHandler):
            root.removeHandler(handler)
    handler = _EkidenHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(_UtcFormatter(LOG_FORMAT, _DATE_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())
