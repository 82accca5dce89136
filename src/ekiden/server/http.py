"""The HTTP/1.1 server core: a raw asyncio protocol on httptools, with no framework.

This module knows nothing about SQS or SNS. It turns bytes on a TCP connection into
:class:`HttpRequest` objects, hands each one to a single async ``handler`` and writes
the returned :class:`HttpResponse` back. Everything protocol-specific (dispatch by
``X-Amz-Target`` or ``Action``, error shapes) is layered on top by the caller.

Why not ASGI: on this hardware an ASGI framework costs 4-6x the throughput of a raw
uvloop + httptools protocol before any work is done (DESIGN.md §3), and this is the hot
path of every request. So the code below avoids per-request work it does not need: one
reusable parser per connection, no header multi-dicts, a cached ``Date`` line and one
``transport.write`` (or ``writelines`` for a batch of pipelined answers) per flush.

Contract in brief:

* HTTP/1.1 keep-alive by default; HTTP/1.0 closes unless it asks for keep-alive;
  ``Connection: close`` is honoured and the connection is closed after that answer.
* Pipelining: every request is dispatched as its own task as soon as it is parsed, so
  requests of one connection run concurrently, but answers are written strictly in
  request order. Reading pauses while more than ``MAX_PIPELINED`` requests wait on one
  connection or while the transport's write buffer is above its high-water mark.
* ``Expect: 100-continue`` is answered with ``100 Continue`` before the body is read.
* A body larger than ``max_body_bytes`` gets ``413`` and the connection is closed;
  a request line + headers larger than ``max_header_bytes`` gets ``431``; a request
  whose head does not arrive within ``header_timeout_s`` of its first byte, or whose
  body does not arrive within ``body_timeout_s`` of its head, gets ``408`` (slow
  clients, "slowloris"); malformed HTTP gets ``400``. Each closes the connection, after
  reading and discarding (not buffering) the rest of the input for a short while, so
  that the client sees the answer instead of a reset.
* At most ``max_connections`` connections are served at once; one more gets an
  immediate ``503`` (``ServiceUnavailable``, AWS JSON) and is closed the same way.
  ``start`` raises the process's open-file limit towards what the cap needs, and warns
  when it cannot (accept() then fails for lack of descriptors, which the loop survives).
* A handler that raises gets ``500`` with ``{"__type":"InternalFailure",...}``.
* A client that disconnects does not cancel its handlers: a handler may be in the
  middle of a durable write, and finishing it is simpler to reason about than
  cancelling it. Its answer is dropped.
* With a TLS context (``tls=``) the same port speaks HTTPS only: everything above holds
  inside the TLS session. A client must finish its handshake in time (default
  ``tls.HANDSHAKE_TIMEOUT_S``); one that speaks plain HTTP fails the handshake and is
  disconnected (logged at debug level), and the server carries on. Flow control works
  through the TLS layer one write late: it passes a write on to the socket's transport
  whole and pushes back only on the next write while that transport is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import ssl
import time
from email.utils import formatdate
from functools import partial

from ekiden.server.http_connection import (
    CANCEL_GRACE_S,
    MAX_HEAD_BYTES,
    MAX_PIPELINED,
    NO_BODY_STATUSES,
    STATUS_LINES,
    HttpConnection,
    _log,
)
from ekiden.server.http_messages import Handler, HttpRequest, HttpResponse
from ekiden.server.tls import HANDSHAKE_TIMEOUT_S

__all__ = [
    "MAX_HEAD_BYTES",
    "MAX_PIPELINED",
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "HttpServer",
]


class HttpServer:
    """An HTTP/1.1 server that answers every request with ``handler``.

    ``max_body_bytes`` bounds a request body (413 above it), ``max_header_bytes`` its
    request line + headers (431). ``idle_timeout_s`` closes keep-alive connections that
    have nothing pending and received nothing for that long; ``header_timeout_s`` and
    ``body_timeout_s`` answer 408 to a request whose head or body is late (all checked
    by a sweep about once a second, so they are approximate). ``max_connections`` caps
    the connections served at once (503 above it). ``tls`` (a server context, see
    :func:`ekiden.server.tls.server_context`) makes the port speak HTTPS instead of
    HTTP; a client must complete its handshake within ``tls_handshake_timeout_s``. One
    instance serves one listening address; ``start`` may be called once.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        max_body_bytes: int = 8 * 1024 * 1024,
        idle_timeout_s: float = 75.0,
        max_header_bytes: int = MAX_HEAD_BYTES,
        header_timeout_s: float = 10.0,
        body_timeout_s: float = 60.0,
        max_connections: int = 10_000,
        logger: logging.Logger | None = None,
        tls: ssl.SSLContext | None = None,
        tls_handshake_timeout_s: float = HANDSHAKE_TIMEOUT_S,
    ) -> None:
        self._handler = handler
        self._tls = tls
        self._tls_handshake_timeout_s = tls_handshake_timeout_s
        self._max_body_bytes = max_body_bytes
        self._idle_timeout_s = idle_timeout_s
        self._max_header_bytes = max_header_bytes
        self._header_timeout_s = header_timeout_s
        self._body_timeout_s = body_timeout_s
        self._max_connections = max_connections
        self._log = logger if logger is not None else _log
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: set[HttpConnection] = set()
        # Connections over the cap, answered 503 and closing: not counted against it.
        self._overflow: set[HttpConnection] = set()
        # Strong references to handler tasks (the loop keeps only weak ones), also
        # what stop() cancels after the drain timeout.
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._stopping = False
        self._drained: asyncio.Event | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._now = 0.0
        self._date_second = -1
        self._tail_keep_alive = ""
        self._tail_close = ""
        self._refresh_date()

    @property
    def scheme(self) -> str:
        """``"https"`` when the server speaks TLS, else ``"http"``."""
        return "https" if self._tls is not None else "http"

    @property
    def in_flight(self) -> int:
        """Requests dispatched whose answer has not yet been handed to the transport.

        A request whose client went away still counts until its handler returns.
        """
        return self._in_flight

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` and return the bound port (``port=0`` picks one).

        When ``host`` resolves to several addresses, the port of the first is returned.
        """
        if self._server is not None or self._stopping:
            raise RuntimeError("HttpServer.start may be called once")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._now = loop.time()
        self._ensure_descriptors()
        if self._tls is None:
            self._server = await loop.create_server(
                partial(HttpConnection, self), host, port, backlog=2048, reuse_address=True
            )
        else:
            self._server = await loop.create_server(
                partial(_TlsConnection, self),
                host,
                port,
                backlog=2048,
                reuse_address=True,
                ssl=self._tls,
                ssl_handshake_timeout=self._tls_handshake_timeout_s,
            )
        self._tick_handle = loop.call_later(self._tick_interval(), self._tick)
        sockets = self._server.sockets
        bound: int = sockets[0].getsockname()[1] if sockets else port
        return bound

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        """Stop accepting, answer what is in flight, then close every connection.

        Idle keep-alive connections are closed at once; busy ones get their pending
        answers (the last one says ``Connection: close``) and are closed after them. No
        new request is read from any connection. After ``drain_timeout_s`` the remaining
        connections are aborted and their handlers cancelled. Safe to call twice.
        """
        server = self._server
        if server is None or self._stopping:
            return
        self._stopping = True
        self._drained = asyncio.Event()
        server.close()
        for conn in list(self._connections):
            conn._begin_shutdown()
        if self._in_flight > 0:
            try:
                await asyncio.wait_for(self._drained.wait(), drain_timeout_s)
            except TimeoutError:
                self._log.warning(
                    "shutdown drain timed out with %d request(s) in flight", self._in_flight
                )
        for conn in list(self._connections):
            if conn._queue:
                conn._force_close()
        for conn in list(self._overflow):
            conn._force_close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_GRACE_S)
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        # uvloop's wait_closed waits for every connection to be gone; bound it anyway.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), CANCEL_GRACE_S)

    # --- internals shared with the connections ---------------------------------------

    def _retire(self, n: int) -> None:
        self._in_flight -= n
        if self._in_flight == 0 and self._drained is not None:
            self._drained.set()

    def _encode(self, response: HttpResponse, keep_alive: bool, head: bool) -> bytes:
        """The whole answer as one bytes object: head built in one go, then the body."""
        status = response.status
        status_line = STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n"
        tail = self._tail_keep_alive if keep_alive else self._tail_close
        extra = response.headers
        extra_text = "".join([f"{k}: {v}\r\n" for k, v in extra]) if extra else ""
        if status in NO_BODY_STATUSES or status < 200:
            return f"{status_line}{extra_text}{tail}".encode("latin-1")
        body = response.body
        head_bytes = (
            f"{status_line}Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra_text}{tail}"
        ).encode("latin-1")
        if head or not body:
            return head_bytes
        return head_bytes + body

    def _refresh_date(self) -> None:
        now = time.time()
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            date = formatdate(second, usegmt=True)
            self._tail_keep_alive = f"Date: {date}\r\nConnection: keep-alive\r\n\r\n"
            self._tail_close = f"Date: {date}\r\nConnection: close\r\n\r\n"

    def _tick_interval(self) -> float:
        # Once a second keeps Date exact to the second; a short idle timeout (tests)
        # needs a finer sweep.
        shortest = min(self._idle_timeout_s, self._header_timeout_s, self._body_timeout_s)
        return max(0.05, min(1.0, shortest / 2))

    def _tick(self) -> None:
        loop = self._loop
        assert loop is not None
        self._refresh_date()
        self._now = loop.time()
        deadline = self._now - self._idle_timeout_s
        head_deadline = self._now - self._header_timeout_s
        body_deadline = self._now - self._body_timeout_s
        for conn in list(self._connections):
            if conn._is_idle_since(deadline):
                conn._close()
            else:
                conn._check_slow(head_deadline, body_deadline)
        self._tick_handle = loop.call_later(self._tick_interval(), self._tick)

    def _ensure_descriptors(self) -> None:
        """Raise the soft open-file limit towards ``max_connections`` plus room for the
        store and the listener; warn when the hard limit is lower."""
        wanted = self._max_connections + _SPARE_DESCRIPTORS
        try:
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            if soft != resource.RLIM_INFINITY and soft < wanted:
                ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
                if ceiling > soft:
                    resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
                    soft = ceiling
        except (ValueError, OSError) as exc:  # not permitted in some sandboxes
            self._log.debug("could not raise the open-file limit: %s", exc)
            return
        if soft != resource.RLIM_INFINITY and soft < wanted:
            self._log.warning(
                "max_connections is %d but the open-file limit is %d: connections beyond "
                "about %d may be closed unanswered instead of getting 503",
                self._max_connections,
                soft,
                max(0, soft - _SPARE_DESCRIPTORS),
            )


#: Descriptors kept for what is not a client connection (store, logs, listener, pipes).
_SPARE_DESCRIPTORS = 256


class _TlsConnection(HttpConnection):
    """A connection inside a TLS session.

    TLS has no half-close: a peer's ``close_notify`` ends the session both ways, and
    the SSL transport closes itself whatever ``eof_received`` answers (asking it to
    stay open only logs a warning per connection). So this says "close", and answers
    still pending for that client are dropped, as for any client that disconnects.
    """

    __slots__ = ()

    def eof_received(self) -> bool:
        super().eof_received()
        return False
