"""A minimal HTTP/1.1 client built for load generation.

Raw asyncio (uvloop in the bench) with httptools parsing the responses: keep-alive
connections, pipelining (several requests written before the first answer, answers
matched in order), and writes of one loop turn coalesced into one ``write``. There is
no header parsing beyond the status and keep-alive, no redirects, no chunked request
bodies: the caller hands in complete request bytes.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

import httptools

__all__ = ["Channel", "ChannelClosed", "ConnectionFailed", "Response", "Target"]

#: ``(HTTP status, body)`` of one answer.
Response = tuple[int, bytes]

#: How long a failed connection attempt waits before failing its requests, so that a
#: dead server produces a steady trickle of errors instead of a busy loop.
RECONNECT_PAUSE_S: Final = 0.1


class ConnectionFailed(Exception):
    """The request may not have reached the server, or its answer was lost.

    ``kind`` is a short label for the error summary (``ConnectionRefusedError``, ...).
    """

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class ChannelClosed(Exception):
    """The channel was closed by its owner before the request was answered."""


@dataclass(frozen=True)
class Target:
    """Where a channel connects: host, port and whether to speak TLS."""

    host: str
    port: int
    tls: bool = False


_Pending = tuple[bytes, "asyncio.Future[Response]"]


class _Wire(asyncio.Protocol):
    """One TCP (or TLS) connection of a :class:`Channel`; parses answers with httptools."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._parser: Any = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._channel._lost(self, "HttpParserError")
        except httptools.HttpParserUpgrade:  # pragma: no cover - nothing asks to upgrade
            self._channel._lost(self, "HttpParserUpgrade")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        parts = self._body
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        self._body = []
        parser = self._parser
        self._channel._answered(self, parser.get_status_code(), body, parser.should_keep_alive())

    def connection_lost(self, exc: Exception | None) -> None:
        self._channel._lost(self, type(exc).__name__ if exc is not None else "ConnectionClosed")


class Channel:
    """A logical keep-alive HTTP/1.1 connection to one target, (re)connected on demand.

    Contract:

    * :meth:`submit` takes one complete request (head and body) and returns a future of
      its :data:`Response`. Answers resolve in submission order.
    * At most ``depth`` requests are written and unanswered at once (the pipelining
      depth); later ones wait in the channel, in order, and are written as answers come.
    * An answer that ends the connection (``Connection: close``, HTTP/1.0) is delivered,
      then the connection is closed and the requests written behind it, which the server
      said it would not read, are written again on a new connection; from then on the
      channel no longer pipelines (depth 1).
    * A connection lost any other way fails its written, unanswered requests with
      :class:`ConnectionFailed` (the server may or may not have acted on them, so the
      caller must count them as errors, never retry them blindly); requests not yet
      written go out on a new connection. A failed connection attempt fails the requests
      that were waiting for it.
    * :meth:`close` fails every unanswered request with :class:`ChannelClosed`.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        target: Target,
        depth: int = 1,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._loop = loop
        self._target = target
        self._depth = depth
        self._ssl = ssl_context if ssl_context is not None or not target.tls else _default_ssl()
        self._waiting: deque[_Pending] = deque()
        self._written: deque[_Pending] = deque()
        self._wire: _Wire | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._closed = False
        #: Connections opened so far (a server that closes after every answer shows here).
        self.connects = 0
        #: Answers after which the server closed the connection.
        self.closes = 0

    @property
    def in_flight(self) -> int:
        """Requests submitted and not yet answered (written or waiting)."""
        return len(self._written) + len(self._waiting)

    def submit(self, request: bytes) -> asyncio.Future[Response]:
        """Send ``request`` (complete HTTP/1.1 bytes); the future resolves to its answer."""
        future: asyncio.Future[Response] = self._loop.create_future()
        if self._closed:
            future.set_exception(ChannelClosed())
            return future
        if self._wire is not None and len(self._written) < self._depth and not self._waiting:
            self._written.append((request, future))
            self._write(request)
        else:
            self._waiting.append((request, future))
            if self._wire is None and self._connecting is None:
                self._connect()
        return future

    async def connect(self) -> None:
        """Open the connection now (it is otherwise opened by the first request).

        Raises:
            ConnectionFailed: the connection could not be opened.
        """
        if self._wire is None and self._connecting is None:
            self._connect()
        if self._connecting is not None:
            await asyncio.shield(self._connecting)
        if self._wire is None:
            raise ConnectionFailed("ConnectionFailed")

    def close(self) -> None:
        """Close the connection and fail everything unanswered with :class:`ChannelClosed`."""
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        wire, self._wire = self._wire, None
        if wire is not None and wire.transport is not None:
            wire.transport.close()
        self._out.clear()
        self._fail(self._written, ChannelClosed())
        self._fail(self._waiting, ChannelClosed())

    # -- internals -------------------------------------------------------------------

    def _connect(self) -> None:
        self._connecting = self._loop.create_task(self._open())

    async def _open(self) -> None:
        target = self._target
        try:
            _, wire = await self._loop.create_connection(
                lambda: _Wire(self),
                target.host,
                target.port,
                ssl=self._ssl,
                server_hostname=target.host if self._ssl is not None else None,
            )
        except OSError as exc:
            await asyncio.sleep(RECONNECT_PAUSE_S)
            self._connecting = None
            self._fail(self._waiting, ConnectionFailed(type(exc).__name__))
            return
        self._connecting = None
        self.connects += 1
        if self._closed:
            if wire.transport is not None:
                wire.transport.close()
            return
        self._wire = wire
        self._pump()

    def _pump(self) -> None:
        while self._waiting and len(self._written) < self._depth:
            item = self._waiting.popleft()
            self._written.append(item)
            self._write(item[0])

    def _write(self, data: bytes) -> None:
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        wire = self._wire
        if not out or wire is None or wire.transport is None:
            return
        wire.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _answered(self, wire: _Wire, status: int, body: bytes, keep_alive: bool) -> None:
        if wire is not self._wire or not self._written:
            return  # a stale connection, or an answer nobody asked for
        _, future = self._written.popleft()
        if not future.done():
            future.set_result((status, body))
        if keep_alive:
            self._pump()
            return
        # The server closes after this answer: what was written behind it was not read.
        # A server that does this will likely do it again, and pipelining into a socket
        # about to close invites a reset that destroys answers: stop pipelining.
        self._depth = 1
        self.closes += 1
        self._wire = None
        self._out.clear()
        if wire.transport is not None:
            wire.transport.close()
        self._waiting.extendleft(reversed(self._written))
        self._written.clear()
        if self._waiting and not self._closed:
            self._connect()

    def _lost(self, wire: _Wire, kind: str) -> None:
        if wire is not self._wire:
            return
        self._wire = None
        self._out.clear()
        if wire.transport is not None:
            wire.transport.close()
        self._fail(self._written, ConnectionFailed(kind))
        if self._waiting and not self._closed:
            self._connect()

    @staticmethod
    def _fail(items: deque[_Pending], exc: Exception) -> None:
        while items:
            _, future = items.popleft()
            if not future.done():
                future.set_exception(exc)


def _default_ssl() -> ssl.SSLContext:
    return ssl.create_default_context()
