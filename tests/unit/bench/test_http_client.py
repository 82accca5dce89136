"""The bench's HTTP client against small scripted servers on port 0 (no timing asserted)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httptools
import pytest
import uvloop

from ekiden.bench.http import Channel, ChannelClosed, ConnectionFailed, Target


class Scripted(asyncio.Protocol):
    """Answers each request with its own body; ``close_after`` answers with
    ``Connection: close`` and closes; ``drop`` closes without answering."""

    def __init__(self, log: dict[str, Any], close_after: bool, drop: bool) -> None:
        self.log = log
        self.close_after = close_after
        self.drop = drop
        self.parser: Any = httptools.HttpRequestParser(self)
        self.body = b""
        self.transport: asyncio.Transport | None = None
        log["connections"] += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.log["max_unanswered_bytes"] = max(self.log["max_unanswered_bytes"], len(data))
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        assert self.transport is not None
        body, self.body = self.body, b""
        if self.transport.is_closing():
            return  # like a real server: nothing is read after the answer that closed
        self.log["seen"].append(body)
        if self.drop:
            self.transport.close()
            return
        close = b"Connection: close\r\n" if self.close_after else b""
        self.transport.write(
            b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (close, len(body), body)
        )
        if self.close_after:
            self.transport.close()


def request(body: bytes) -> bytes:
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def run_with_server(
    test: Callable[[Target, dict[str, Any]], Awaitable[None]],
    *,
    close_after: bool = False,
    drop: bool = False,
) -> dict[str, Any]:
    log: dict[str, Any] = {"connections": 0, "seen": [], "max_unanswered_bytes": 0}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Scripted(log, close_after, drop), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await test(Target("127.0.0.1", port), log)
        finally:
            server.close()

    uvloop.run(main())
    return log


def test_pipelined_answers_come_back_in_request_order_on_one_connection() -> None:
    async def test(target: Target, log: dict[str, Any]) -> None:
        channel = Channel(asyncio.get_running_loop(), target, depth=8)
        futures = [channel.submit(request(b"m%d" % i)) for i in range(50)]
        answers = await asyncio.gather(*futures)
        assert answers == [(200, b"m%d" % i) for i in range(50)]
        assert channel.in_flight == 0
        channel.close()

    log = run_with_server(test)
    assert log["seen"] == [b"m%d" % i for i in range(50)]
    assert log["connections"] == 1


def test_without_pipelining_one_request_at_a_time_reaches_the_server() -> None:
    async def test(target: Target, log: dict[str, Any]) -> None:
        channel = Channel(asyncio.get_running_loop(), target, depth=1)
        futures = [channel.submit(request(b"x" * 10)) for _ in range(20)]
        assert [a for a in await asyncio.gather(*futures)] == [(200, b"x" * 10)] * 20
        channel.close()

    log = run_with_server(test)
    assert log["max_unanswered_bytes"] == len(request(b"x" * 10))


def test_a_server_that_closes_after_each_answer_gets_every_request_once() -> None:
    async def test(target: Target, log: dict[str, Any]) -> None:
        channel = Channel(asyncio.get_running_loop(), target, depth=4)
        await channel.connect()
        futures = [channel.submit(request(b"c%d" % i)) for i in range(10)]
        answers = await asyncio.gather(*futures)
        assert answers == [(200, b"c%d" % i) for i in range(10)]
        assert channel.closes == 10
        channel.close()

    log = run_with_server(test, close_after=True)
    assert sorted(log["seen"]) == sorted(b"c%d" % i for i in range(10))
    assert log["connections"] >= 10


def test_a_connection_lost_before_the_answer_fails_the_request() -> None:
    async def test(target: Target, log: dict[str, Any]) -> None:
        channel = Channel(asyncio.get_running_loop(), target, depth=1)
        with pytest.raises(ConnectionFailed):
            await channel.submit(request(b"lost"))
        channel.close()

    log = run_with_server(test, drop=True)
    assert log["seen"] == [b"lost"]


def test_a_refused_connection_fails_the_waiting_requests() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        channel = Channel(loop, Target("127.0.0.1", port))
        with pytest.raises(ConnectionFailed) as failed:
            await channel.submit(request(b"x"))
        assert failed.value.kind == "ConnectionRefusedError"
        with pytest.raises(ConnectionFailed):
            await channel.connect()
        channel.close()

    uvloop.run(main())


def test_closing_the_channel_fails_what_is_unanswered_and_refuses_more() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)  # never answers
        port = server.sockets[0].getsockname()[1]
        channel = Channel(loop, Target("127.0.0.1", port), depth=2)
        await channel.connect()
        pending = [channel.submit(request(b"wait")) for _ in range(3)]
        await asyncio.sleep(0)
        channel.close()
        for future in pending:
            with pytest.raises(ChannelClosed):
                await future
        with pytest.raises(ChannelClosed):
            await channel.submit(request(b"late"))
        server.close()

    uvloop.run(main())


def test_a_pipelining_depth_below_one_is_refused() -> None:
    async def main() -> None:
        with pytest.raises(ValueError):
            Channel(asyncio.get_running_loop(), Target("127.0.0.1", 1), depth=0)

    uvloop.run(main())
