"""Lambda's platform log lines and the 4 KiB log tail."""

from __future__ import annotations

import re
import signal

from ekiden.runtime.invocation_log import (
    TailCollector,
    end_line,
    exit_error_message,
    exit_reason,
    report_line,
    start_line,
    timeout_message,
)


def test_start_end_and_report_lines_are_worded_as_lambdas() -> None:
    assert start_line("r1") == "START RequestId: r1 Version: $LATEST"
    assert end_line("r1") == "END RequestId: r1"
    assert report_line("r1", duration_ms=12.341, memory_mb=128, max_memory_used_mb=40) == (
        "REPORT RequestId: r1\tDuration: 12.34 ms\tBilled Duration: 13 ms"
        "\tMemory Size: 128 MB\tMax Memory Used: 40 MB"
    )


def test_report_shows_init_duration_on_a_cold_start_and_the_status_of_a_failure() -> None:
    line = report_line(
        "r2",
        duration_ms=3000.0,
        memory_mb=256,
        max_memory_used_mb=50,
        init_duration_ms=101.5,
        status="error",
        error_type="Runtime.ExitError",
    )
    assert line.endswith(
        "\tBilled Duration: 3000 ms\tMemory Size: 256 MB\tMax Memory Used: 50 MB"
        "\tInit Duration: 101.50 ms\tStatus: error\tError Type: Runtime.ExitError"
    )


def test_billed_duration_is_at_least_one_millisecond() -> None:
    assert "\tBilled Duration: 1 ms\t" in report_line(
        "r", duration_ms=0.04, memory_mb=128, max_memory_used_mb=1
    )


def test_the_timeout_message_carries_time_request_id_and_seconds_with_two_decimals() -> None:
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z abc Task timed out after 3\.00 seconds",
        timeout_message("abc", 3),
    )


def test_exits_are_worded_as_lambdas_runtime_exit_error() -> None:
    assert exit_reason(1) == "exit status 1"
    assert exit_reason(-signal.SIGSEGV) == "signal: segmentation fault"
    assert exit_reason(-signal.SIGKILL) == "signal: killed"
    assert (
        exit_error_message("r", 2) == "RequestId: r Error: Runtime exited with error: exit status 2"
    )
    assert exit_error_message("r", 0) == (
        "RequestId: r Error: Runtime exited without providing a reason"
    )


def test_the_tail_keeps_the_last_4_kib_of_whole_lines_plus_a_cut_first_one() -> None:
    tail = TailCollector()
    for i in range(1000):
        tail.add(f"line {i:04d}")
    text = tail.text()
    assert len(text.encode()) == 4096
    assert text.endswith("line 0998\nline 0999\n")
    assert text.split("\n")[1] == f"line {1000 - 4096 // 10:04d}"


def test_a_tail_cut_inside_a_multibyte_character_stays_valid_text() -> None:
    tail = TailCollector(limit_bytes=10)
    tail.add("ééééééé")  # 14 bytes + newline
    text = tail.text()
    assert len(text.encode()) <= 10 and text.endswith("é\n") and "\ufffd" not in text


def test_a_short_log_is_kept_whole() -> None:
    tail = TailCollector()
    tail.add("START")
    tail.add("END")
    assert tail.text() == "START\nEND\n"
