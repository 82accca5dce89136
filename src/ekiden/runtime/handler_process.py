"""The program inside a handler process: import the handler once, then serve invocations.

The worker pool (:mod:`ekiden.runtime.worker`) starts it as
``python -u -c BOOTSTRAP <ekiden import root> <channel fd>`` with the function's code
directory as working directory. It imports only the standard library and
:mod:`ekiden.runtime.context`, so any Python 3.11+ interpreter can run it.

Channel: a private stream socket (fd passed by the parent), never stdout, because the
handler prints there. Each message is a *frame*: a 4-byte big-endian length and a JSON
header, then a 4-byte length and a raw body. The conversation is:

1. parent -> child ``init`` (function name, handler, names for the context, sync token);
2. child -> parent ``ready`` (``ok`` and ``init_ms``; when not ok the body is Lambda's
   error document and the child exits);
3. repeatedly: parent -> child ``invoke`` (request id, timeout, client context; body =
   the event JSON), child -> parent ``result`` (``ok``, ``duration_ms``,
   ``max_memory_mb``; body = the response JSON or the error document).

The parent closing the channel asks the child to exit. Before each ``ready`` and
``result`` the child writes a *sync marker* line (``\\x1e<token>:<seq>``) to fd 1 and fd 2
so the parent knows every byte printed so far has reached it (see ``write_sync_marker``).

Errors follow ``awslambdaric`` (Lambda's Python runtime interface client): the same
``errorType`` values (``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound``,
``Runtime.MarshalError`` ...), the same messages, the same ``[ERROR]`` log line.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import logging
import os
import resource
import socket
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from ekiden.runtime.context import LambdaContext, parse_client_context

FRAME_LENGTH = struct.Struct(">I")
SYNC_PREFIX = b"\x1e"
# Stack frames of this file are runtime, not user code: cut from the traces (Lambda cuts
# its bootstrap.py the same way).
_THIS_FILE = os.path.abspath(__file__)
_ERROR_LOG_INDENT = "\u00a0"  # Lambda indents trace lines with NO-BREAK SPACE
_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"

Handler = Callable[[Any, LambdaContext], Any]


class Fault(Exception):
    """A runtime-detected failure with a Lambda ``Runtime.*`` error type."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


# --- frames (used by both sides) -----------------------------------------------------


def encode_frame(header: dict[str, Any], body: bytes = b"") -> bytes:
    """One frame: length-prefixed JSON header, then length-prefixed body."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return FRAME_LENGTH.pack(len(head)) + head + FRAME_LENGTH.pack(len(body)) + body


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> tuple[dict[str, Any], bytes] | None:
    """Read one frame (blocking); ``None`` when the peer closed the channel."""
    parts = []
    for _ in range(2):
        prefix = _recv_exactly(sock, FRAME_LENGTH.size)
        if prefix is None:
            return None
        data = _recv_exactly(sock, FRAME_LENGTH.unpack(prefix)[0])
        if data is None:
            return None
        parts.append(data)
    header = json.loads(parts[0])
    if not isinstance(header, dict):
        raise ValueError("frame header is not a JSON object")
    return header, parts[1]


def sync_marker(token: str, seq: int) -> bytes:
    """The line that tells the parent's output reader it has seen everything before it."""
    return SYNC_PREFIX + f"{token}:{seq}\n".encode()


def _flush_streams() -> None:
    # The handler may have replaced or closed the streams: flush what can be flushed.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()


def write_sync_marker(token: str, seq: int) -> None:
    """Flush Python's streams, then write the marker to fd 1 and fd 2 (directly: even when
    the handler replaced ``sys.stdout``). A closed fd is skipped; the parent then gives up
    waiting after a short grace period."""
    _flush_streams()
    marker = sync_marker(token, seq)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.write(fd, marker)


# --- error documents -----------------------------------------------------------------


def error_document(
    message: str, error_type: str, trace: list[str], request_id: str
) -> dict[str, Any]:
    """Lambda's error document (``make_error`` of awslambdaric)."""
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }


def exception_document(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The error document of an exception raised by user code: type name, ``str(exc)`` and
    the formatted frames, runtime frames at the top removed."""
    frames = traceback.extract_tb(exc.__traceback__)
    while frames and os.path.abspath(frames[0].filename) == _THIS_FILE:
        frames = traceback.StackSummary.from_list(frames[1:])
    return error_document(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def error_log_line(document: dict[str, Any]) -> str:
    """Lambda's text-format log line of an error: ``[ERROR] Type: message`` and the trace,
    joined with carriage returns so that it stays one log event."""
    description = "[ERROR]"
    if document["errorType"]:
        description += " " + document["errorType"]
    if document["errorMessage"]:
        if document["errorType"]:
            description += ":"
        description += " " + document["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for element in document["stackTrace"]:
        for line in str(element).splitlines():
            stripped = line.lstrip(" ")
            lines.append(_ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped)
    return "\r".join(lines) + "\n"


# --- handler loading -----------------------------------------------------------------


def load_handler(module_name: str, function_name: str, handler: str) -> Handler:
    """Import the handler module and find the function; raises :class:`Fault` with
    Lambda's error type and message (``Runtime.ImportModuleError``, ...). Any other
    exception comes from the module's own top-level code."""
    if not module_name or not function_name:
        raise Fault(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        )
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise Fault(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise Fault(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {exc}",
            trace,
        ) from exc
    function = getattr(module, function_name, None)
    if function is None:
        raise Fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return function  # type: ignore[no-any-return]


def _json_default(value: object) -> object:
    # Lambda encodes Decimal (what boto3's DynamoDB returns) as a JSON number.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def marshal_response(response: Any) -> bytes:
    """The response body: bytes as they are, anything else as JSON (``null`` for None)."""
    if isinstance(response, bytes):
        return response
    try:
        return json.dumps(response, default=_json_default).encode()
    except Exception as exc:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc


def unmarshal_event(body: bytes) -> Any:
    """The event object; an empty payload is ``{}`` as with Lambda's Invoke."""
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except Exception as exc:
        raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from exc


# --- the process ---------------------------------------------------------------------


class _RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (Lambda's ``LambdaLoggerFilter``)."""

    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


class _StdoutHandler(logging.Handler):
    """Writes formatted records to whatever ``sys.stdout`` is now, as Lambda's sink does."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


def _setup_logging() -> _RequestIdFilter:
    """Configure the root logger like Lambda's Python runtime (level left at WARNING)."""
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter(_LOG_FORMAT, "%Y-%m-%dT%H:%M:%S"))
    request_filter = _RequestIdFilter()
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _max_memory_mb() -> int:
    return max(1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def _exit_now(exc: BaseException) -> None:
    """Leave at once for ``sys.exit`` (or Ctrl-C) in user code: threads the handler started
    must not keep a process alive that the parent considers dead."""
    code = 1
    if isinstance(exc, SystemExit):
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
    _flush_streams()
    os._exit(code & 0xFF)


def _invoke_once(
    handler: Handler,
    header: dict[str, Any],
    body: bytes,
    init: dict[str, Any],
    request_filter: _RequestIdFilter,
) -> tuple[dict[str, Any], bytes]:
    request_id = str(header["request_id"])
    request_filter.request_id = request_id
    started = time.perf_counter()
    ok = False
    try:
        context = LambdaContext(
            aws_request_id=request_id,
            function_name=init["function_name"],
            invoked_function_arn=init["function_arn"],
            memory_limit_in_mb=int(init["memory_mb"]),
            log_group_name=init["log_group_name"],
            log_stream_name=init["log_stream_name"],
            deadline_monotonic_s=started + float(header["timeout_s"]),
            client_context=_client_context(header.get("client_context")),
        )
        response = handler(unmarshal_event(body), context)
        payload = marshal_response(response)
        ok = True
    except Fault as fault:
        document = error_document(fault.message, fault.error_type, fault.trace, request_id)
    except Exception as exc:
        document = exception_document(exc, request_id)
    except BaseException as exc:
        _exit_now(exc)
        raise  # not reached
    duration_ms = (time.perf_counter() - started) * 1000
    if not ok:
        sys.stdout.write(error_log_line(document))
        payload = json.dumps(document).encode()
    result = {"ok": ok, "duration_ms": duration_ms, "max_memory_mb": _max_memory_mb()}
    return result, payload


def _client_context(encoded: object) -> Any:
    try:
        return parse_client_context(encoded if isinstance(encoded, str) else None)
    except ValueError as exc:
        raise Fault("Runtime.LambdaContextUnmarshalError", str(exc)) from exc


def serve(sock: socket.socket) -> None:
    """Run the conversation described in the module docstring until the parent closes the
    channel."""
    first = read_frame(sock)
    if first is None:
        return
    init, _ = first
    token = str(init["token"])
    # The function's variables and Lambda's reserved ones, before the handler's import
    # reads them (module-level configuration is common in handlers).
    os.environ.update(init.get("environment", {}))
    request_filter = _setup_logging()
    started = time.perf_counter()
    try:
        handler = load_handler(init["module"], init["function"], init["handler"])
    except Fault as fault:
        document = error_document(fault.message, fault.error_type, fault.trace, "")
    except Exception as exc:
        document = exception_document(exc, "")
    except BaseException as exc:
        _exit_now(exc)
        raise  # not reached
    else:
        document = {}
    init_ms = (time.perf_counter() - started) * 1000
    if document:
        sys.stdout.write(error_log_line(document))
    write_sync_marker(token, 0)
    ready = {"type": "ready", "ok": not document, "init_ms": init_ms}
    sock.sendall(encode_frame(ready, json.dumps(document).encode() if document else b""))
    if document:
        return
    while (frame := read_frame(sock)) is not None:
        header, body = frame
        result, payload = _invoke_once(handler, header, body, init, request_filter)
        request_filter.request_id = ""
        write_sync_marker(token, int(header["seq"]))
        sock.sendall(encode_frame({"type": "result", "seq": header["seq"], **result}, payload))


def main() -> None:
    """Entry point of the bootstrap: ``argv = [-c, <ekiden import root>, <channel fd>]``."""
    import_root, fd = sys.argv[1], int(sys.argv[2])
    # The handler's import path is Lambda's: its code directory (the cwd) first, and not
    # the directory we were imported from (unless it was already on the path).
    sys.path.remove(import_root)
    while "" in sys.path:
        sys.path.remove("")
    sys.path.insert(0, os.getcwd())
    sys.argv = [_THIS_FILE]
    os.set_inheritable(fd, False)  # processes the handler starts must not hold the channel
    sock = socket.socket(fileno=fd)
    try:
        serve(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent went away: nothing left to answer
    finally:
        _flush_streams()
    # Skip interpreter shutdown: non-daemon threads of the handler must not keep us alive.
    os._exit(0)


BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from ekiden.runtime.handler_process import main; main()"
)
"""The ``python -c`` program that starts a handler process."""
