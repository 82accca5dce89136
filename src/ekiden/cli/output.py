"""What the ``ekiden queue|topic|function`` commands print: aligned tables for people,
the API's JSON for scripts (``--json``), and the confirmation of destructive commands.

Tables are plain text: a header row, columns separated by two spaces, numbers aligned
right. The header is bold only when the stream is a terminal and ``NO_COLOR`` is unset;
anything else (a pipe, a file) gets no escape sequence at all.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, TextIO

from ekiden.cli.api_client import EXIT_USAGE, CliError

__all__ = [
    "age",
    "confirm",
    "count",
    "one_line",
    "print_json",
    "print_table",
    "render_table",
]

_BOLD: Final = "\x1b[1m"
_RESET: Final = "\x1b[0m"
_GAP: Final = "  "
BODY_WIDTH: Final = 60


Cell = str | int | float | None


def _text(cell: Cell) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, float):
        return f"{cell:.1f}"
    return str(cell)


def render_table(
    headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, bold: bool = False
) -> str:
    """The table as text, one line per row after the header, trailing spaces stripped.

    ``None`` shows as ``-``; numeric cells (int, float) align right, text aligns left.
    Every row must have as many cells as ``headers``.
    """
    table = [list(row) for row in rows]
    for row in table:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, not {len(headers)}")
    texts = [[_text(cell) for cell in row] for row in table]
    widths = [len(header) for header in headers]
    for row_texts in texts:
        widths = [max(width, len(text)) for width, text in zip(widths, row_texts, strict=True)]
    # A column is numeric when it holds numbers and nothing else but blanks (None).
    numeric = [
        any(isinstance(row[i], int | float) for row in table)
        and all(isinstance(row[i], int | float) or row[i] is None for row in table)
        for i in range(len(headers))
    ]
    head = _GAP.join(
        header.rjust(width) if right else header.ljust(width)
        for header, width, right in zip(headers, widths, numeric, strict=True)
    ).rstrip()
    lines = [f"{_BOLD}{head}{_RESET}" if bold else head]
    for row_texts in texts:
        cells = (
            text.rjust(width) if right else text.ljust(width)
            for text, width, right in zip(row_texts, widths, numeric, strict=True)
        )
        lines.append(_GAP.join(cells).rstrip())
    return "\n".join(lines)


def _colour(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[Cell]], stream: TextIO | None = None
) -> None:
    """Print :func:`render_table` to ``stream`` (default standard output)."""
    out = stream if stream is not None else sys.stdout
    out.write(render_table(headers, rows, bold=_colour(out)) + "\n")


def print_json(value: Any, stream: TextIO | None = None) -> None:
    """Print ``value`` as indented JSON (keys in the API's order, UTF-8 as is)."""
    out = stream if stream is not None else sys.stdout
    out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def emit(as_json: bool, answer: Any, human: str | Callable[[], None]) -> int:
    """Print the API's ``answer`` as JSON (``--json``), else ``human``: a line of text, or
    a function that prints the human form. Returns exit status 0."""
    if as_json:
        print_json(answer)
    elif isinstance(human, str):
        print(human)
    else:
        human()
    return 0


def one_line(text: str, width: int = BODY_WIDTH) -> str:
    """``text`` on one line (line breaks and tabs escaped), cut to ``width`` with ``…``."""
    flat = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def age(seconds: float | None) -> str | None:
    """A duration for people: ``42s``, ``3m05s``, ``2h10m``, ``4d03h``; None stays None."""
    if seconds is None:
        return None
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def count(n: int, noun: str) -> str:
    """``1 message``, ``3 messages``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def confirm(action: str, *, yes: bool) -> None:
    """Go on when ``yes`` (``--yes`` was given) or the user answers y on a terminal.

    ``action`` says what will happen, in lower case ("delete queue orders"); the
    question is ``Delete queue orders? [y/N]`` on standard error.

    Raises:
        CliError: (status 2) standard input is not a terminal and ``yes`` is false, so
            nobody can answer; (status 1) the user declined.
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(
            f"will not {action} without --yes (standard input is not a terminal)", EXIT_USAGE
        )
    sys.stderr.write(f"{action[0].upper()}{action[1:]}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("cancelled", 1)
