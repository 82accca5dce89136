"""The HTTP/1.1 server core, driven by real sockets against a live server on port 0.

The server runs on its own event loop in a background thread (uvloop and the stdlib
loop both), so the tests can use plain blocking sockets and ``http.client``. Flow
control is checked against the connection protocol directly with a fake transport,
where "did it pause reading" is a fact rather than a timing guess.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import logging
import random
import socket
import struct
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

import orjson
import pytest
import uvloop

from ekiden.server.http import (
    MAX_PIPELINED,
    HttpRequest,
    HttpResponse,
    HttpServer,
)
from ekiden.server.http_connection import HttpConnection

T = TypeVar("T")
TIMEOUT_S = 10.0


# --- a server on a background loop ----------------------------------------------------


@dataclass
class Echo:
    """The test handler: echoes the request as JSON; a few paths behave differently."""

    slow_entered: threading.Event = field(default_factory=threading.Event)
    slow_gate: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if path == "/boom":
            raise RuntimeError("kaboom")
        if path == "/slow":
            self.slow_entered.set()
            await self.slow_gate.wait()
            return HttpResponse(200, b"slow done", "text/plain")
        if path == "/forever":
            self.slow_entered.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        if path == "/sleep":
            await asyncio.sleep(float(request.query))
        if path == "/no-content":
            return HttpResponse(204)
        if path == "/extra":
            return HttpResponse(200, b"{}", headers=[("x-amzn-RequestId", "abc-123")])
        echo = {
            "method": request.method,
            "path": path,
            "query": request.query,
            "headers": request.headers,
            "body": request.body.decode("latin-1"),
            "client_host": request.client_host,
        }
        return HttpResponse(200, orjson.dumps(echo))


class LiveServer:
    def __init__(self, loop_kind: str, handler: Echo, **options: Any) -> None:
        self.handler = handler
        self.loop = uvloop.new_event_loop() if loop_kind == "uvloop" else asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = HttpServer(handler, **options)
        self.port = self.run(self.server.start("127.0.0.1", 0))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT_S)

    def submit(self, coro: Coroutine[Any, Any, T]) -> Any:
        """Start ``coro`` on the server loop; returns its concurrent future."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        # Round-trip once so that the submitted coroutine has taken its first step.
        self.run(asyncio.sleep(0))
        return future

    def in_loop(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()

        return self.run(call())

    def release_slow(self) -> None:
        self.loop.call_soon_threadsafe(self.handler.slow_gate.set)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT_S)
        return sock

    def close(self) -> None:
        self.run(self.server.stop(drain_timeout_s=1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT_S)
        self.loop.close()


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@contextlib.contextmanager
def live_server(loop_kind: str, **options: Any) -> Iterator[LiveServer]:
    server = LiveServer(loop_kind, Echo(), **options)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def srv(loop_kind: str) -> Iterator[LiveServer]:
    with live_server(loop_kind) as server:
        yield server


# --- a minimal response reader ----------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def read_response(stream: BinaryIO, *, head: bool = False) -> Response:
    status_line = stream.readline()
    if not status_line:
        raise EOFError("connection closed before a response")
    version, status, _reason = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    assert version == "HTTP/1.1"
    headers: dict[str, str] = {}
    while True:
        line = stream.readline()
        if line in (b"\r\n", b""):
            break
        name, value = line.decode("latin-1").split(":", 1)
        headers[name.strip().lower()] = value.strip()
    code = int(status)
    body = b""
    if not head and code >= 200 and code not in (204, 304):
        body = stream.read(int(headers["content-length"]))
    return Response(code, headers, body)


def request_bytes(
    method: str = "GET",
    target: str = "/",
    body: bytes = b"",
    headers: tuple[str, ...] = (),
    version: str = "HTTP/1.1",
) -> bytes:
    lines = [f"{method} {target} {version}", "Host: test", *headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def wait_until(condition: Callable[[], bool]) -> None:
    """Yield to the server loop until ``condition`` holds (bounded by the caller)."""
    while not condition():
        await asyncio.sleep(0.001)


def assert_closed(sock: socket.socket) -> None:
    """The server closed the connection: EOF (or a reset) and nothing else."""
    rest = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            rest += chunk
    assert rest == b""


# --- keep-alive, pipelining, bodies ----------------------------------------------------


def test_keep_alive_connection_serves_several_sequential_requests(srv: LiveServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT_S)
    try:
        conn.request("GET", "/first")
        first = conn.getresponse()
        assert first.status == 200
        assert orjson.loads(first.read())["path"] == "/first"
        sock = conn.sock
        for i in range(5):
            conn.request("POST", f"/n/{i}", body=f"body {i}".encode())
            resp = conn.getresponse()
            echo = orjson.loads(resp.read())
            assert (resp.status, echo["method"], echo["body"]) == (200, "POST", f"body {i}")
            assert resp.getheader("Connection") == "keep-alive"
        assert conn.sock is sock  # still the same TCP connection
    finally:
        conn.close()


def test_twenty_pipelined_requests_are_answered_in_request_order(srv: LiveServer) -> None:
    # Earlier requests sleep longer, so handlers finish in reverse order.
    payload = b"".join(
        request_bytes("POST", f"/sleep?{(19 - i) * 0.002}", f"req-{i}".encode()) for i in range(20)
    )
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(payload)
        for i in range(20):
            resp = read_response(stream)
            assert resp.status == 200
            assert resp.json()["body"] == f"req-{i}"


def test_chunked_request_body_is_reassembled(srv: LiveServer) -> None:
    head = b"POST /chunks HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(head + b"5\r\nhello\r\n")
        sock.sendall(b"7\r\n, world\r\n0\r\n\r\n")
        resp = read_response(stream)
    assert resp.json()["body"] == "hello, world"


def test_expect_100_continue_is_answered_before_the_body_is_sent(srv: LiveServer) -> None:
    body = b"x" * 4096
    head = (
        f"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n"
        "Expect: 100-continue\r\n\r\n"
    ).encode()
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(head)
        assert stream.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert stream.readline() == b"\r\n"
        sock.sendall(body)
        resp = read_response(stream)
    assert resp.status == 200
    assert resp.json()["body"] == body.decode()


def test_repeated_headers_are_joined_and_names_are_lower_cased(srv: LiveServer) -> None:
    raw = request_bytes("GET", "/", headers=("X-Thing: one", "x-THING: two", "X-Amz-Target: T"))
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(raw)
        headers = read_response(stream).json()["headers"]
    assert headers["x-thing"] == "one, two"
    assert headers["x-amz-target"] == "T"


def test_path_and_query_are_passed_raw_without_percent_decoding(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/a%20b/q?Action=X&Name=%2Fy"))
        echo = read_response(stream).json()
    assert (echo["path"], echo["query"]) == ("/a%20b/q", "Action=X&Name=%2Fy")
    assert echo["client_host"] == "127.0.0.1"


def test_response_carries_date_content_type_length_and_extra_headers(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/extra"))
        resp = read_response(stream)
    assert resp.body == b"{}"
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["content-length"] == "2"
    assert resp.headers["x-amzn-requestid"] == "abc-123"
    assert resp.headers["date"].endswith(" GMT")


def test_no_content_response_has_neither_body_nor_length(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/no-content") + request_bytes("GET", "/after"))
        first = read_response(stream)
        second = read_response(stream)
    assert first.status == 204
    assert "content-length" not in first.headers
    assert second.json()["path"] == "/after"


def test_head_request_gets_headers_without_body(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("HEAD", "/h") + request_bytes("GET", "/g"))
        head = read_response(stream, head=True)
        after = read_response(stream)
    assert head.status == 200
    assert int(head.headers["content-length"]) > 0  # the length a GET would have had
    assert after.json()["path"] == "/g"  # so no body bytes sat between the two


# --- closing rules --------------------------------------------------------------------


def test_connection_close_request_is_answered_then_the_connection_is_closed(
    srv: LiveServer,
) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        # The second request follows a closing one and must be ignored.
        sock.sendall(
            request_bytes("GET", "/bye", headers=("Connection: close",))
            + request_bytes("GET", "/ignored")
        )
        resp = read_response(stream)
        assert resp.headers["connection"] == "close"
        assert resp.json()["path"] == "/bye"
        assert stream.read() == b""


def test_http_1_0_closes_unless_keep_alive_is_asked(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/old", version="HTTP/1.0"))
        resp = read_response(stream)
        assert (resp.status, resp.headers["connection"]) == (200, "close")
        assert stream.read() == b""
    with srv.connect() as sock, sock.makefile("rb") as stream:
        keep = ("Connection: keep-alive",)
        sock.sendall(request_bytes("GET", "/1", headers=keep, version="HTTP/1.0"))
        assert read_response(stream).headers["connection"] == "keep-alive"
        sock.sendall(request_bytes("GET", "/2", headers=keep, version="HTTP/1.0"))
        assert read_response(stream).json()["path"] == "/2"


def test_client_half_close_still_gets_the_pending_answer(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/sleep?0.01"))
        sock.shutdown(socket.SHUT_WR)
        assert read_response(stream).status == 200
        assert stream.read() == b""


def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(loop_kind: str) -> None:
    with live_server(loop_kind, idle_timeout_s=0.1) as srv, srv.connect() as sock:
        sock.sendall(request_bytes("GET", "/"))
        with sock.makefile("rb") as stream:
            assert read_response(stream).status == 200
            assert stream.read() == b""  # returns once the server closes


# --- bad input ------------------------------------------------------------------------


def test_body_over_the_limit_gets_413_and_the_connection_is_closed(loop_kind: str) -> None:
    with live_server(loop_kind, max_body_bytes=1024) as srv:
        with srv.connect() as sock, sock.makefile("rb") as stream:
            head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"
            sock.sendall(head + b"y" * 2048)
            resp = read_response(stream)
            assert (resp.status, resp.headers["connection"]) == (413, "close")
            assert_closed(sock)
        # Chunked: the limit applies to the body as it arrives.
        with srv.connect() as sock, sock.makefile("rb") as stream:
            head = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            sock.sendall(head + b"400\r\n" + b"z" * 1024 + b"\r\n" + b"1\r\nz\r\n")
            assert read_response(stream).status == 413
            assert_closed(sock)
        # A body exactly at the limit is fine.
        with srv.connect() as sock, sock.makefile("rb") as stream:
            sock.sendall(request_bytes("POST", "/", b"k" * 1024))
            assert len(read_response(stream).json()["body"]) == 1024


def test_oversize_body_with_expect_gets_413_instead_of_100_continue(loop_kind: str) -> None:
    with live_server(loop_kind, max_body_bytes=10) as srv, srv.connect() as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
        )
        with sock.makefile("rb") as stream:
            assert read_response(stream).status == 413


def test_malformed_request_line_gets_400_and_the_connection_is_closed(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        resp = read_response(stream)
        assert (resp.status, resp.headers["connection"]) == (400, "close")
        assert_closed(sock)


def test_bad_request_after_good_pipelined_ones_is_answered_in_order(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/sleep?0.01") + b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        assert read_response(stream).json()["path"] == "/sleep"
        assert read_response(stream).status == 400
        assert_closed(sock)


def test_endless_request_head_gets_431(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Long: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(40):
                sock.sendall(b"a" * 8192)
        assert read_response(stream).status == 431


def test_upgrade_request_is_answered_as_a_plain_request_and_closed(srv: LiveServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(
            request_bytes("GET", "/up", headers=("Connection: Upgrade", "Upgrade: h2c"))
            + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        )
        resp = read_response(stream)
        assert (resp.status, resp.json()["path"]) == (200, "/up")
        assert resp.headers["connection"] == "close"
        assert_closed(sock)


def test_handler_exception_gets_500_json_and_the_server_keeps_serving(
    srv: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("POST", "/boom", b"{}"))
        resp = read_response(stream)
    assert resp.status == 500
    assert resp.json()["__type"] == "InternalFailure"
    assert resp.json()["message"]
    assert "kaboom" in caplog.text  # the traceback is logged
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/next"))
        assert read_response(stream).json()["path"] == "/next"


def test_random_garbage_never_kills_the_server(
    srv: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20240601)
    samples = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
        b"GET /\x00 HTTP/1.1\r\n\r\n",
        b"\r\n\r\n\r\n",
    ]
    samples += [rng.randbytes(rng.randint(1, 300)) for _ in range(30)]
    for sample in samples:
        with srv.connect() as sock:
            with contextlib.suppress(ConnectionError):
                sock.sendall(sample)
                sock.shutdown(socket.SHUT_WR)
            with contextlib.suppress(ConnectionError):
                while sock.recv(65536):
                    pass
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/alive"))
        assert read_response(stream).json()["path"] == "/alive"
    # Read on the server loop: the answer can reach us before the write call returns.
    assert srv.in_loop(lambda: srv.server.in_flight) == 0
    # Bad input is answered, never a crash of our own parser callbacks.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_client_that_disconnects_does_not_cancel_its_handler(srv: LiveServer) -> None:
    with srv.connect() as sock:
        sock.sendall(request_bytes("GET", "/slow"))
        assert srv.handler.slow_entered.wait(TIMEOUT_S)
        # Close with a reset: a plain close looks like a half-close, which still
        # waits to be answered.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    srv.run(wait_until(lambda: not srv.server._connections))
    assert srv.in_loop(lambda: srv.server.in_flight) == 1  # still running
    srv.release_slow()
    srv.run(wait_until(lambda: srv.server.in_flight == 0))  # finished; answer dropped


# --- graceful stop --------------------------------------------------------------------


def test_stop_waits_for_a_slow_in_flight_request_and_answers_it(loop_kind: str) -> None:
    srv = LiveServer(loop_kind, Echo())
    try:
        idle = srv.connect()
        idle.sendall(request_bytes("GET", "/warm"))
        with idle.makefile("rb") as stream:
            assert read_response(stream).status == 200
        busy = srv.connect()
        busy.sendall(request_bytes("GET", "/slow"))
        assert srv.handler.slow_entered.wait(TIMEOUT_S)
        assert srv.in_loop(lambda: srv.server.in_flight) == 1

        stopping = srv.submit(srv.server.stop(drain_timeout_s=TIMEOUT_S))
        with pytest.raises(ConnectionRefusedError):
            srv.connect()
        assert_closed(idle)  # the idle keep-alive connection is closed at once
        assert not stopping.done()  # still draining

        srv.release_slow()
        with busy.makefile("rb") as stream:
            resp = read_response(stream)
            assert (resp.status, resp.body) == (200, b"slow done")
            assert resp.headers["connection"] == "close"
        stopping.result(TIMEOUT_S)
        assert_closed(busy)
        assert srv.server.in_flight == 0
        with pytest.raises(ConnectionRefusedError):
            srv.connect()
        idle.close()
        busy.close()
    finally:
        srv.close()


def test_stop_after_the_drain_timeout_closes_the_rest_and_cancels_handlers(
    loop_kind: str,
) -> None:
    srv = LiveServer(loop_kind, Echo())
    try:
        with srv.connect() as sock:
            sock.sendall(request_bytes("GET", "/forever"))
            assert srv.handler.slow_entered.wait(TIMEOUT_S)
            srv.run(srv.server.stop(drain_timeout_s=0.05))
            assert_closed(sock)
        assert srv.handler.cancelled.is_set()
        assert srv.server.in_flight == 0
    finally:
        srv.close()


# --- flow control, against the protocol with a fake transport ---------------------------


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.reading = True
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        self.written.append(b"".join(list_of_data))

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5555) if name == "peername" else default


def gated_handler(gate: asyncio.Event) -> Callable[[HttpRequest], Coroutine[Any, Any, Any]]:
    async def handler(request: HttpRequest) -> HttpResponse:
        await gate.wait()
        return HttpResponse(200, request.path.encode(), "text/plain")

    return handler


def test_reading_pauses_while_too_many_pipelined_requests_wait() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        server = HttpServer(gated_handler(gate))
        conn = HttpConnection(server)
        transport = FakeTransport()
        conn.connection_made(transport)
        conn.data_received(b"".join(request_bytes("GET", f"/{i}") for i in range(MAX_PIPELINED)))
        assert transport.reading
        conn.data_received(request_bytes("GET", "/one-too-many"))
        assert not transport.reading
        assert server.in_flight == MAX_PIPELINED + 1

        gate.set()
        while server.in_flight:
            await asyncio.sleep(0)
        assert transport.reading
        answers = b"".join(transport.written)
        order = [line.split(b"\r\n\r\n")[-1] for line in answers.split(b"HTTP/1.1 ")[1:]]
        assert order == [f"/{i}".encode() for i in range(MAX_PIPELINED)] + [b"/one-too-many"]

    asyncio.run(scenario())


def test_answers_wait_while_the_transport_asks_to_pause_writing() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        gate.set()
        server = HttpServer(gated_handler(gate))
        conn = HttpConnection(server)
        transport = FakeTransport()
        conn.connection_made(transport)
        conn.pause_writing()
        assert not transport.reading
        conn.data_received(request_bytes("GET", "/a") + request_bytes("GET", "/b"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert transport.written == []
        assert server.in_flight == 2  # answered only once written

        conn.resume_writing()
        assert transport.reading
        assert len(transport.written) == 1  # both answers in one writelines
        assert transport.written[0].endswith(b"/b")
        assert server.in_flight == 0

    asyncio.run(scenario())
