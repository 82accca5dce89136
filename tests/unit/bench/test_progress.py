"""The live progress line: silent unless asked, one line per update off a terminal."""

from __future__ import annotations

import io

import pytest

from ekiden.bench import progress as progress_module
from ekiden.bench.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    return now


def test_without_a_stream_nothing_is_written(clock: list[float]) -> None:
    Progress(None).update("send", 1.0, [1, 2, 3])  # no stream, no error


def test_off_a_terminal_each_update_is_a_plain_line(clock: list[float]) -> None:
    out = io.StringIO()
    shown = Progress(out)
    shown.update("send", 0.0, [0, 0, 0, 0, 0, 0])  # the first sample only starts the clock
    clock[0] += 1.0
    shown.update("send", 1.0, [600, 600, 1, 400, 400, 0])  # two processes' counters
    shown.done()
    assert out.getvalue().count("\n") == 1
    line = out.getvalue()
    assert "[send]" in line
    assert "1,000 msgs" in line
    assert "1,000 msgs/s now" in line
    assert "1 errors" in line
    assert "\r" not in line and "\x1b" not in line


def test_on_a_terminal_the_line_is_rewritten_and_cleared(clock: list[float]) -> None:
    out = Terminal()
    shown = Progress(out)
    shown.update("drain", 0.0, [0, 0, 0])
    clock[0] += 0.6
    shown.update("drain", 0.6, [10, 2, 0])
    clock[0] += 0.1
    shown.update("drain", 0.7, [20, 4, 0])  # too soon: not shown
    shown.done()
    text = out.getvalue()
    assert text.startswith("\r[drain]")
    assert text.count("[drain]") == 1
    assert text.endswith("\r\x1b[K")
