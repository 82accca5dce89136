"""The handler process's pieces that need no process: frames, handler loading, Lambda's
error documents and error log lines. (The whole process is exercised in test_pool.py.)"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from ekiden.runtime.handler_process import (
    Fault,
    encode_frame,
    error_log_line,
    exception_document,
    load_handler,
    marshal_response,
    read_frame,
    unmarshal_event,
)


def test_frames_carry_a_json_header_and_a_raw_body_across_a_socket() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(encode_frame({"type": "invoke", "seq": 1}, b"\x00\xff" * 100_000))
        left.sendall(encode_frame({"type": "x"}))
        left.close()
        assert read_frame(right) == ({"type": "invoke", "seq": 1}, b"\x00\xff" * 100_000)
        assert read_frame(right) == ({"type": "x"}, b"")
        assert read_frame(right) is None


def test_a_handler_is_found_in_a_module_of_the_import_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod_for_load_test.py").write_text("def go(e, c): return e\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_handler("pkg.mod_for_load_test", "go", "pkg.mod_for_load_test.go")(1, None) == 1  # type: ignore[arg-type]
    assert load_handler("pkg/mod_for_load_test", "go", "pkg/mod_for_load_test.go")(2, None) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("module", "function", "error_type", "message"),
    [
        (
            "",
            "handler",
            "Runtime.MalformedHandlerName",
            "Bad handler 'handler': not enough values to unpack (expected 2, got 1)",
        ),
        (
            "sys",
            "handler",
            "Runtime.BuiltInModuleConflict",
            "Cannot use built-in module sys as a handler module",
        ),
        (
            "no_such_module_here",
            "handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'no_such_module_here': No module named 'no_such_module_here'",
        ),
        (
            "json",
            "nothing",
            "Runtime.HandlerNotFound",
            "Handler 'nothing' missing on module 'json'",
        ),
    ],
)
def test_loading_failures_carry_lambdas_error_types_and_messages(
    module: str, function: str, error_type: str, message: str
) -> None:
    with pytest.raises(Fault) as fault:
        load_handler(module, function, "handler" if not module else f"{module}.{function}")
    assert (fault.value.error_type, fault.value.message) == (error_type, message)


def test_a_syntax_error_is_reported_with_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "typo_for_load_test.py").write_text("def handler(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(Fault) as fault:
        load_handler("typo_for_load_test", "handler", "typo_for_load_test.handler")
    assert fault.value.error_type == "Runtime.UserCodeSyntaxError"
    assert fault.value.message.startswith("Syntax error in module 'typo_for_load_test': ")
    assert "Line 1" in fault.value.trace[0]
    sys.modules.pop("typo_for_load_test", None)


def test_an_exception_document_names_the_type_message_request_and_frames() -> None:
    def user_code() -> None:
        raise KeyError("order")

    try:
        user_code()
    except KeyError as exc:
        document = exception_document(exc, "r-1")
    assert document["errorType"] == "KeyError"
    assert document["errorMessage"] == "'order'"
    assert document["requestId"] == "r-1"
    assert document["stackTrace"][-1].endswith('raise KeyError("order")\n')


def test_the_error_log_line_is_one_line_with_carriage_returns_and_no_break_indents() -> None:
    document = {
        "errorMessage": "boom",
        "errorType": "ValueError",
        "requestId": "r",
        "stackTrace": ['  File "/x/app.py", line 3, in handler\n    raise ValueError("boom")\n'],
    }
    assert error_log_line(document) == (
        "[ERROR] ValueError: boom\rTraceback (most recent call last):\r"
        '\u00a0\u00a0File "/x/app.py", line 3, in handler\r'
        '\u00a0\u00a0\u00a0\u00a0raise ValueError("boom")\n'
    )


def test_responses_are_json_except_bytes_and_decimals_become_numbers() -> None:
    from decimal import Decimal

    assert marshal_response(None) == b"null"
    assert marshal_response(b"raw") == b"raw"
    assert marshal_response({"n": Decimal("3"), "f": Decimal("1.5")}) == b'{"n": 3, "f": 1.5}'
    with pytest.raises(Fault, match="Unable to marshal response: Object of type object"):
        marshal_response(object())


def test_events_are_json_and_an_empty_payload_is_an_empty_object() -> None:
    assert unmarshal_event(b'{"a": [1]}') == {"a": [1]}
    assert unmarshal_event(b"") == {}
    with pytest.raises(Fault) as fault:
        unmarshal_event(b"{nope")
    assert fault.value.error_type == "Runtime.UnmarshalError"
    assert fault.value.message.startswith("Unable to unmarshal input: ")
