"""Tables, JSON and confirmations of the ``ekiden queue|topic|function`` commands
(:mod:`ekiden.cli.output`), on real streams and the real ``sys.stdin`` slot."""

from __future__ import annotations

import io
import json
import sys

import pytest

from ekiden.cli.api_client import CliError
from ekiden.cli.output import age, confirm, one_line, print_json, print_table, render_table


class Terminal(io.StringIO):
    """A text stream that says it is a terminal (what a person's shell gives)."""

    def isatty(self) -> bool:
        return True


def test_table_has_a_header_row_and_aligned_columns() -> None:
    text = render_table(("NAME", "VISIBLE"), [("orders", 3), ("a-much-longer-name", 12)])
    assert text.splitlines() == [
        "NAME                VISIBLE",
        "orders                    3",
        "a-much-longer-name       12",
    ]


def test_numbers_align_right_text_left_and_none_shows_as_a_dash() -> None:
    text = render_table(
        ("A", "COUNT", "AGE", "DLQ"), [("x", None, None, None), ("yy", 100, "3m05s", None)]
    )
    assert text.splitlines() == [
        "A   COUNT  AGE    DLQ",
        "x       -  -      -",
        "yy    100  3m05s  -",
    ]


def test_table_without_rows_is_just_the_header() -> None:
    assert render_table(("NAME", "ARN"), []) == "NAME  ARN"


def test_row_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError):
        render_table(("A", "B"), [("only one",)])


def test_table_into_a_pipe_has_no_escape_sequences() -> None:
    stream = io.StringIO()
    print_table(("NAME",), [("q",)], stream)
    assert stream.getvalue() == "NAME\nq\n"


def test_table_on_a_terminal_has_a_bold_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream = Terminal()
    print_table(("NAME",), [("q",)], stream)
    assert stream.getvalue() == "\x1b[1mNAME\x1b[0m\nq\n"


def test_no_color_turns_the_bold_header_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stream = Terminal()
    print_table(("NAME",), [("q",)], stream)
    assert stream.getvalue() == "NAME\nq\n"


def test_json_keeps_the_api_key_order_and_unicode() -> None:
    stream = io.StringIO()
    print_json({"z": 1, "a": "café"}, stream)
    assert stream.getvalue() == '{\n  "z": 1,\n  "a": "café"\n}\n'
    assert json.loads(stream.getvalue()) == {"z": 1, "a": "café"}


def test_bodies_are_shown_on_one_line_and_cut() -> None:
    assert one_line("a\nb\tc") == "a\\nb\\tc"
    assert one_line("x" * 100, 10) == "x" * 9 + "…"


def test_ages_read_like_durations() -> None:
    assert [age(s) for s in (None, 0.4, 59, 61, 3600 * 2 + 600, 86400 * 4 + 3 * 3600)] == [
        None,
        "0s",
        "59s",
        "1m01s",
        "2h10m",
        "4d03h",
    ]


def test_confirmation_without_a_terminal_needs_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    with pytest.raises(CliError) as refused:
        confirm("delete queue q", yes=False)
    assert refused.value.status == 2
    assert refused.value.message == (
        "will not delete queue q without --yes (standard input is not a terminal)"
    )
    confirm("delete queue q", yes=True)  # --yes goes on without asking


def test_confirmation_on_a_terminal_goes_on_when_the_answer_is_yes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    confirm("delete queue q", yes=False)
    assert capsys.readouterr().err == "Delete queue q? [y/N] "


def test_confirmation_on_a_terminal_stops_on_anything_but_yes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("\n"))
    with pytest.raises(CliError) as declined:
        confirm("delete queue q", yes=False)
    assert (declined.value.status, declined.value.message) == (1, "cancelled")
