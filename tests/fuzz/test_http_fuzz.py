"""Fuzzing of the HTTP layer over raw sockets against a live ``ekiden serve``.

Each example writes mutated request bytes (broken request lines, forged headers, bad
``Content-Length`` and chunked framing, pipelined garbage) on a fresh connection, closes
its write side and reads until the server closes. Whatever was sent:

* the answer is a sequence of well-formed HTTP/1.1 responses, or nothing (a closed
  connection);
* no response is a 5xx: malformed input is the client's fault (4xx), never the server's;
* the server process is still alive, and after the run it still answers ``/health`` and
  a SendMessage / ReceiveMessage round trip.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from tests.support.raw_http import RawSqs, create_queue, receive, send
from tests.support.server import EkidenProcess

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([0-9]{3}) [^\r\n]*")


@dataclass
class Live:
    server: EkidenProcess
    raw: RawSqs
    queue_url: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with EkidenProcess(tmp_path_factory.mktemp("fuzz-http")) as server:
        raw = RawSqs(server.endpoint)
        yield Live(server, raw, create_queue(raw, "fuzz-http"))


def assert_still_serving(live: Live) -> None:
    """The process lives, answers /health, and a message goes in and comes out."""
    assert live.server.proc is not None and live.server.proc.poll() is None, "server died"
    assert requests.get(live.server.endpoint + "/health", timeout=10).status_code == 200
    probe = create_queue(live.raw, "fuzz-http-probe")  # fuzzed sends fill the other queue
    send(live.raw, probe, "still here")
    assert [m["Body"] for m in receive(live.raw, probe)] == ["still here"]


def exchange(endpoint: str, data: bytes, timeout_s: float = 10.0) -> bytes:
    """Write ``data`` on a fresh connection, half-close, read until the server closes.

    The server may close before reading everything (after a 400 it stops reading), so a
    failed write is not an error; a reset after the answer is not one either."""
    host, port = endpoint.removeprefix("http://").split(":")
    chunks: list[bytes] = []
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def parse_responses(answer: bytes) -> list[int]:
    """The statuses of the HTTP/1.1 responses ``answer`` holds, in order; raises
    ``AssertionError`` when it holds anything else (a torn response, stray bytes)."""
    statuses: list[int] = []
    rest = answer
    while rest:
        head, sep, rest = rest.partition(b"\r\n\r\n")
        assert sep, f"a response head without its end: {head[:300]!r}"
        lines = head.split(b"\r\n")
        found = _STATUS_LINE.fullmatch(lines[0])
        assert found, f"not a status line: {lines[0][:200]!r}"
        status = int(found.group(1))
        statuses.append(status)
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            assert colon and name and name == name.strip(), f"bad header line {line!r}"
            headers[name.lower()] = value.strip()
        if status < 200 or status in (204, 304):
            continue
        if headers.get(b"transfer-encoding") == b"chunked":
            rest = _skip_chunked(rest)
            continue
        assert b"content-length" in headers, f"a {status} answer without a length"
        length = int(headers[b"content-length"])
        assert len(rest) >= length, f"a torn body: {length} announced, {len(rest)} sent"
        rest = rest[length:]
    return statuses


def _skip_chunked(data: bytes) -> bytes:
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        assert sep, "a torn chunk size"
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            _, sep, data = data.partition(b"\r\n")
            assert sep
            return data
        assert data[size : size + 2] == b"\r\n", "a torn chunk"
        data = data[size + 2 :]


def _request(method: bytes, target: bytes, headers: list[bytes], body: bytes) -> bytes:
    head = b"\r\n".join([method + b" " + target + b" HTTP/1.1", b"Host: localhost", *headers])
    return head + b"\r\n\r\n" + body


def _json_send(url: str) -> bytes:
    body = json.dumps({"QueueUrl": url, "MessageBody": "fuzz"}).encode()
    headers = [
        b"Content-Type: application/x-amz-json-1.0",
        b"X-Amz-Target: AmazonSQS.SendMessage",
        b"Content-Length: " + str(len(body)).encode(),
    ]
    return _request(b"POST", b"/", headers, body)


def _query_send(url: str) -> bytes:
    body = f"Action=SendMessage&QueueUrl={url}&MessageBody=fuzz".encode()
    headers = [
        b"Content-Type: application/x-www-form-urlencoded",
        b"Content-Length: " + str(len(body)).encode(),
    ]
    return _request(b"POST", b"/", headers, body)


def _chunked_send(url: str) -> bytes:
    body = f"Action=SendMessage&QueueUrl={url}&MessageBody=fuzz".encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    headers = [b"Content-Type: application/x-www-form-urlencoded", b"Transfer-Encoding: chunked"]
    return _request(b"POST", b"/", headers, chunks + b"0\r\n\r\n")


_HEALTH = _request(b"GET", b"/health", [], b"")

_NASTY_HEADERS = [
    b"Content-Length: -1",
    b"Content-Length: 99999999999999999999999",
    b"Content-Length: 0x10",
    b"Content-Length: 5, 6",
    b"Content-Length: 3",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: identity",
    b"Expect: 100-continue",
    b"Expect: something-else",
    b"Connection: Upgrade\r\nUpgrade: websocket",
    b"Connection: close",
    b"Connection: keep-alive",
    b"Host:",
    b"X-Amz-Target: AmazonSQS.",
    b"X-Amz-Target: AmazonSQS.\xff\xfe",
    b"X-Amz-Target: " + b"A" * 5000,
    b"Content-Type: application/x-amz-json-1.0",
    b"Authorization: AWS4-HMAC-SHA256 Credential=/x/y/sns/aws4_request",
    b"no colon here",
    b"Bad Name: value",
    b" folded: continuation",
    b"Na\x00me: nul",
    b"Value: nul\x00inside",
    b"X: " + b"v" * 70_000,
]


@st.composite
def mutated_request(draw: st.DrawFn, url: str) -> bytes:
    """One valid request, then up to four random mutations of its bytes."""
    data = bytearray(
        draw(st.sampled_from([_json_send(url), _query_send(url), _chunked_send(url), _HEALTH]))
    )
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(
            st.sampled_from(["flip", "insert", "delete", "header", "method", "version", "lf"])
        )
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        elif kind == "header":
            end = data.find(b"\r\n")
            line = draw(st.sampled_from(_NASTY_HEADERS))
            data[end + 2 : end + 2] = line + b"\r\n"
        elif kind == "method":
            end = data.find(b" ")
            data[: max(end, 0)] = draw(
                st.sampled_from([b"GET", b"PUT", b"DELETE", b"BREW", b"", b"G\xffT", b"CONNECT"])
            )
        elif kind == "version":
            data = bytearray(
                bytes(data).replace(
                    b"HTTP/1.1",
                    draw(st.sampled_from([b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9.9", b"", b"HTTP"])),
                    1,
                )
            )
        elif kind == "lf":
            data = bytearray(bytes(data).replace(b"\r\n", b"\n"))
    return bytes(data)


def request_bytes(url: str) -> st.SearchStrategy[bytes]:
    """Mutated requests, pure garbage, or a few of either pipelined on one connection."""
    single = st.one_of(mutated_request(url), mutated_request(url), st.binary(max_size=200))
    return st.one_of(
        single,
        st.lists(single, min_size=2, max_size=4).map(b"".join),
        st.lists(single, min_size=1, max_size=3).map(lambda parts: b"".join(parts) + _HEALTH),
    )


@given(data=st.data())
def test_any_bytes_get_well_formed_answers_below_500_and_the_server_lives_on(
    live: Live, data: st.DataObject
) -> None:
    sent = data.draw(request_bytes(live.queue_url))
    answer = exchange(live.server.endpoint, sent)
    statuses = parse_responses(answer)
    assert all(status < 500 for status in statuses), (statuses, sent[:300], answer[:600])
    assert live.server.proc is not None and live.server.proc.poll() is None, "server died"


@given(data=st.data())
def test_valid_requests_pipelined_after_each_other_are_all_answered(
    live: Live, data: st.DataObject
) -> None:
    count = data.draw(st.integers(1, 5))
    kinds = data.draw(
        st.lists(st.sampled_from([_json_send, _query_send, _chunked_send]), min_size=count)
    )
    sent = b"".join(kind(live.queue_url) for kind in kinds) + _HEALTH
    assert parse_responses(exchange(live.server.endpoint, sent)) == [200] * (len(kinds) + 1)


def test_the_server_still_serves_after_the_fuzzing(live: Live) -> None:
    assert_still_serving(live)
