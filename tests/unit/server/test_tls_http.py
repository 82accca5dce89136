"""The HTTP server core speaking HTTPS: keep-alive, pipelining, flow control towards a slow
reader, timeouts, and clients that do not speak TLS (or speak too old a TLS).

The server runs on its own event loop (uvloop and the stdlib loop) in a background
thread; the tests are plain blocking ``ssl`` sockets that trust a freshly made CA.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pytest
import uvloop

from ekiden.server.http import HttpRequest, HttpResponse, HttpServer
from ekiden.server.tls import server_context
from tests.support.tls_certs import make_authority, make_server_files

T = TypeVar("T")
TIMEOUT_S = 10.0
BIG = 256 * 1024


async def handler(request: HttpRequest) -> HttpResponse:
    if request.path == "/big":
        tag = request.query.encode()
        return HttpResponse(200, tag + b"." * (BIG - len(tag)), "text/plain")
    if request.path == "/sleep":
        await asyncio.sleep(float(request.query))
    return HttpResponse(200, f"{request.method} {request.path} {request.body!r}".encode())


class TlsServer:
    """An :class:`HttpServer` with TLS on a background loop, and a client context."""

    def __init__(self, loop_kind: str, directory: Path, **options: Any) -> None:
        ca = make_authority(directory)
        files = make_server_files(ca, directory)
        self.client_context = ssl.create_default_context(cafile=str(ca.cert_path))
        self.loop = uvloop.new_event_loop() if loop_kind == "uvloop" else asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = HttpServer(handler, tls=server_context(files.chain, files.key), **options)
        self.port = self.run(self.server.start("127.0.0.1", 0))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT_S)

    def tcp(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT_S)

    def connect(self, context: ssl.SSLContext | None = None) -> ssl.SSLSocket:
        return (context or self.client_context).wrap_socket(self.tcp(), server_hostname="localhost")

    def close(self) -> None:
        self.run(self.server.stop(drain_timeout_s=1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT_S)
        self.loop.close()


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.contextmanager
def tls_server(loop_kind: str, directory: Path, **options: Any) -> Iterator[TlsServer]:
    server = TlsServer(loop_kind, directory, **options)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def srv(loop_kind: str, tmp_path: Path) -> Iterator[TlsServer]:
    with tls_server(loop_kind, tmp_path) as server:
        yield server


def request_bytes(method: str, target: str, body: bytes = b"") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def read_response(stream: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = stream.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server ends the connection (EOF, reset, or a TLS alert then EOF)."""
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, ssl.SSLError):
        pass
    return True


def test_https_keep_alive_connection_serves_sequential_requests(srv: TlsServer) -> None:
    with srv.connect() as sock, sock.makefile("rb") as stream:
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        assert sock.selected_alpn_protocol() is None  # the client offered none
        for i in range(5):
            sock.sendall(request_bytes("POST", f"/n/{i}", f"body {i}".encode()))
            status, headers, body = read_response(stream)
            assert (status, body) == (200, f"POST /n/{i} b'body {i}'".encode())
            assert headers["connection"] == "keep-alive"


def test_pipelined_https_requests_are_answered_in_request_order(srv: TlsServer) -> None:
    # Earlier requests sleep longer, so handlers finish in reverse order.
    payload = b"".join(request_bytes("GET", f"/sleep?{(19 - i) * 0.002}") for i in range(20))
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(payload)
        for i in range(20):
            status, _, body = read_response(stream)
            assert (status, body) == (200, b"GET /sleep b''"), i
        sock.sendall(request_bytes("GET", "/after"))
        assert read_response(stream)[2] == b"GET /after b''"


def test_a_slow_reader_over_tls_gets_every_large_answer_in_order(srv: TlsServer) -> None:
    # 48 answers of 256 KiB (12 MiB), asked for in three waves, are more than socket
    # buffers hold, so the server must pause writing (and reading) until the client
    # reads. Waves, because the TLS layer hands one write straight to the socket's
    # transport and can only push back on the next one.
    count = 48
    with srv.connect() as sock, sock.makefile("rb") as stream:
        for wave in range(3):
            sock.sendall(
                b"".join(
                    request_bytes("GET", f"/big?{i}") for i in range(16 * wave, 16 * wave + 16)
                )
            )
            srv.run(asyncio.sleep(0.2))  # the server fills the buffers meanwhile
        assert srv.run(_writing_paused(srv.server)), "the TLS transport never pushed back"
        for i in range(count):
            status, _, body = read_response(stream)
            assert status == 200 and len(body) == BIG
            assert body.startswith(f"{i}.".encode())
    assert srv.run(_in_flight(srv.server)) == 0


async def _in_flight(server: HttpServer) -> int:
    return server.in_flight


async def _writing_paused(server: HttpServer) -> bool:
    return any(conn._writing_paused for conn in server._connections)


def test_idle_https_connection_is_closed_after_the_idle_timeout(
    loop_kind: str, tmp_path: Path
) -> None:
    with tls_server(loop_kind, tmp_path, idle_timeout_s=0.2) as srv, srv.connect() as sock:
        sock.sendall(request_bytes("GET", "/"))
        with sock.makefile("rb") as stream:
            assert read_response(stream)[0] == 200
            assert stream.read() == b""  # returns once the server closes


def test_a_client_that_never_finishes_its_handshake_is_disconnected(
    loop_kind: str, tmp_path: Path
) -> None:
    with tls_server(loop_kind, tmp_path, tls_handshake_timeout_s=0.3) as srv, srv.tcp() as sock:
        sock.settimeout(5.0)  # well above the handshake timeout
        assert sock.recv(100) == b""


def test_plain_http_to_the_https_port_is_refused_and_the_server_keeps_serving(
    srv: TlsServer,
) -> None:
    for _ in range(3):
        with srv.tcp() as sock:
            sock.sendall(request_bytes("GET", "/plain"))
            answer = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    answer += chunk
            assert not answer.startswith(b"HTTP/"), answer
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/still-here"))
        assert read_response(stream)[2] == b"GET /still-here b''"


def test_garbage_instead_of_a_handshake_does_not_hurt_the_server(srv: TlsServer) -> None:
    with srv.tcp() as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello" + bytes(range(256)) * 8)
        assert closed_by_server(sock)
    with srv.connect() as sock, sock.makefile("rb") as stream:
        sock.sendall(request_bytes("GET", "/ok"))
        assert read_response(stream)[0] == 200


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_a_client_limited_to_tls_1_1_is_refused_and_tls_1_2_is_accepted(
    srv: TlsServer,
) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.set_ciphers("ALL:@SECLEVEL=0")  # let the client offer whatever it still has
    with contextlib.suppress(ValueError, ssl.SSLError):
        old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        srv.connect(old).close()
    only12 = srv.client_context
    only12.maximum_version = ssl.TLSVersion.TLSv1_2
    with srv.connect(only12) as sock:
        assert sock.version() == "TLSv1.2"


def test_a_client_that_does_not_trust_the_ca_fails_verification(srv: TlsServer) -> None:
    system_only = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        srv.connect(system_only).close()
