"""Where handler log lines go when ``[runtime] log_file`` is set: appended to a file."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path


def file_sink(files: contextlib.ExitStack, path: Path) -> Callable[[str], None]:
    """A sink appending each line to ``path`` (created with its directories; line-buffered,
    so a line reaches the kernel as soon as it is written). The file is closed with
    ``files``.

    Raises:
        OSError: the file cannot be opened.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = files.enter_context(path.open("a", encoding="utf-8", buffering=1))

    def write(line: str) -> None:
        stream.write(line + "\n")

    return write
