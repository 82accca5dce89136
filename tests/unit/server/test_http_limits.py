"""Limits of the HTTP server core against abuse: header size, slow clients (408), the
connection cap (503). Real sockets against a live server on port 0 (both loops)."""

from __future__ import annotations

import contextlib
import select
import socket
import time

import orjson
import pytest

from tests.unit.server.test_http import (
    assert_closed,
    live_server,
    read_response,
    request_bytes,
)


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def test_a_head_over_max_header_bytes_gets_431_and_one_under_it_is_served(
    loop_kind: str,
) -> None:
    with live_server(loop_kind, max_header_bytes=4096) as srv:
        with srv.connect() as sock, sock.makefile("rb") as stream:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ")
            with contextlib.suppress(ConnectionError):
                for _ in range(8):
                    sock.sendall(b"a" * 1024)
                    time.sleep(0.01)  # separate reads: the limit counts across them
            resp = read_response(stream)
            assert (resp.status, resp.headers["connection"]) == (431, "close")
        with srv.connect() as sock, sock.makefile("rb") as stream:
            sock.sendall(request_bytes("GET", "/", headers=("X-Fine: " + "b" * 2048,)))
            assert read_response(stream).status == 200


def test_a_head_that_trickles_in_too_slowly_gets_408_and_is_closed(loop_kind: str) -> None:
    with (
        live_server(loop_kind, header_timeout_s=0.3) as srv,
        srv.connect() as sock,
        sock.makefile("rb") as stream,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        started = time.monotonic()
        with contextlib.suppress(ConnectionError):
            while time.monotonic() - started < 3.0:
                sock.sendall(b"X-Slow: 1\r\n")  # a slowloris: always one more header
                time.sleep(0.05)
                if time.monotonic() - started > 0.3 and _readable(sock):
                    break
        resp = read_response(stream)
        assert (resp.status, resp.headers["connection"]) == (408, "close")
        assert time.monotonic() - started < 2.5


def test_a_body_that_does_not_arrive_in_time_gets_408(loop_kind: str) -> None:
    with (
        live_server(loop_kind, body_timeout_s=0.3) as srv,
        srv.connect() as sock,
        sock.makefile("rb") as stream,
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\npartial")
        resp = read_response(stream)
        assert (resp.status, resp.headers["connection"]) == (408, "close")
        assert b"body" in resp.body
        assert_closed(sock)


def test_a_request_arriving_within_its_deadlines_is_served(loop_kind: str) -> None:
    with (
        live_server(loop_kind, header_timeout_s=0.5, body_timeout_s=0.5) as srv,
        srv.connect() as sock,
        sock.makefile("rb") as stream,
    ):
        for _ in range(3):  # keep-alive: each request gets its own deadline
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\n")
            time.sleep(0.2)
            sock.sendall(b"Content-Length: 2\r\n\r\n")
            time.sleep(0.2)
            sock.sendall(b"ok")
            assert read_response(stream).json()["body"] == "ok"
            time.sleep(0.3)  # idle between requests is not a slow head


def test_a_connection_over_the_cap_gets_503_and_the_others_are_still_served(
    loop_kind: str,
) -> None:
    with live_server(loop_kind, max_connections=2) as srv:
        first, second = srv.connect(), srv.connect()
        try:
            for sock in (first, second):
                sock.sendall(request_bytes("GET", "/"))
                assert read_response(sock.makefile("rb")).status == 200
            with srv.connect() as third, third.makefile("rb") as stream:
                third.sendall(request_bytes("GET", "/"))
                resp = read_response(stream)
                assert (resp.status, resp.headers["connection"]) == (503, "close")
                assert orjson.loads(resp.body)["__type"] == "ServiceUnavailable"
                assert resp.headers["x-amzn-query-error"] == "ServiceUnavailable;Receiver"
                assert_closed(third)
            # The refused connection does not count against the cap once it is gone.
            first.sendall(request_bytes("GET", "/", headers=("Connection: close",)))
            assert read_response(first.makefile("rb")).status == 200
        finally:
            first.close()
            second.close()
        deadline = time.monotonic() + 5.0
        while True:
            with srv.connect() as sock, sock.makefile("rb") as stream:
                sock.sendall(request_bytes("GET", "/"))
                if read_response(stream).status == 200 or time.monotonic() > deadline:
                    break
            time.sleep(0.05)
        with srv.connect() as sock, sock.makefile("rb") as stream:
            sock.sendall(request_bytes("GET", "/"))
            assert read_response(stream).status == 200


def _readable(sock: socket.socket) -> bool:
    ready, _, _ = select.select([sock], [], [], 0)
    return bool(ready)
