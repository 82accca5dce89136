"""The progress bar of long CLI work (:mod:`ekiden.cli.progress`): drawn on a terminal
only, at most every 0.1 s, erased at the end."""

from __future__ import annotations

import io

from ekiden.cli.progress import ProgressBar, render_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bar_shows_count_total_percent_and_rate() -> None:
    line = render_bar("sending", 25, 100, 5.0)
    assert line == "sending [#######-----------------------] 25/100  25%  5.0/s"


def test_bar_without_a_total_shows_the_count_and_rate() -> None:
    assert render_bar("redriving", 7, None, 2.0) == "redriving  7  3.5/s"


def test_bar_shows_no_rate_in_its_first_half_second() -> None:
    assert (
        render_bar("sending", 10, 100, 0.002)
        == "sending [###---------------------------] 10/100  10%"
    )


def test_bar_draws_nothing_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with ProgressBar("sending", 20, stream=stream) as progress:
        for _ in range(20):
            progress.advance()
        assert not progress.active
    assert stream.getvalue() == ""


def test_bar_on_a_terminal_redraws_in_place_and_is_erased_at_the_end() -> None:
    stream, clock = Terminal(), Clock()
    with ProgressBar("sending", 20, stream=stream, clock=clock) as progress:
        progress.advance(10)
        clock.now += 1.0
        progress.advance(10)
    drawn = stream.getvalue()
    assert drawn.startswith("\rsending [###############---------------] 10/20  50%")
    assert "\rsending [##############################] 20/20 100%  20.0/s\x1b[K" in drawn
    assert drawn.endswith("\r\x1b[K")
    assert "\n" not in drawn


def test_bar_redraws_at_most_every_tenth_of_a_second_except_the_last_step() -> None:
    stream, clock = Terminal(), Clock()
    progress = ProgressBar("sending", 1000, stream=stream, clock=clock)
    for _ in range(999):
        progress.advance()  # the clock does not move: only the first one draws
    assert stream.getvalue().count("\r") == 1
    progress.advance()  # the end is always shown
    assert stream.getvalue().count("\r") == 2
    assert "1,000/1,000 100%" in stream.getvalue()


def test_total_learnt_late_turns_the_count_into_a_bar() -> None:
    stream, clock = Terminal(), Clock()
    progress = ProgressBar("redriving", stream=stream, clock=clock)
    progress.update(0)
    clock.now += 1.0
    progress.update(5, 10)
    assert stream.getvalue().split("\r")[-1].startswith("redriving [###############")
