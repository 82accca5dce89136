"""Running the ``ekiden`` CLI in the test process against a live server, and reading
its tables."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from ekiden.cli.main import main

Run = tuple[int, str, str]
"""Exit status, standard output and standard error of one CLI run."""


def cli_runner(endpoint: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``run("queue", "list", ...)`` runs ``ekiden`` in this process against
    ``endpoint`` and returns (exit status, stdout, stderr)."""

    def run(*argv: str) -> Run:
        status = main([*argv, "--endpoint", endpoint])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def cells(line: str) -> list[str]:
    """The cells of a table line (columns are separated by two spaces or more)."""
    return re.split(r" {2,}", line.strip())
