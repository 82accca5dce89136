"""The HTTP/1.1 transport of the runtime's SQS client: a pool of keep-alive connections.

One request at a time per connection (no pipelining: a long poll holds its connection
for up to 20 s, and answers must not queue behind it), so the pool grows with the
number of concurrent requests, up to a bound. Answers are parsed with httptools
(Content-Length or chunked bodies).

Failures are reported as :class:`TransportError` with ``sent`` telling whether the
request may have reached the server: the caller decides what is safe to retry.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any, Final

import httptools

__all__ = ["Answer", "ConnectionPool", "Endpoint", "TransportError"]

#: Response headers kept (lower-case); the rest are parsed and dropped.
_KEPT_HEADERS: Final = frozenset({"x-amzn-query-error", "x-amzn-errortype", "x-amzn-requestid"})


class TransportError(Exception):
    """A request got no (complete) answer.

    ``code`` is a short label (``ConnectionFailed``, ``ConnectionLost``, ``BadResponse``,
    ``TlsCertificateRejected``, ``ClientClosed``). ``sent`` is False only when the request
    certainly never left this process (the connection could not be opened, or was found
    closed before writing), so that any request may be retried; when True the server may
    have acted on it.
    ``retryable`` is False for what waiting will not mend (a certificate the trust store
    refuses, a closed client).
    """

    def __init__(self, code: str, message: str, *, sent: bool, retryable: bool = True) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.sent = sent
        self.retryable = retryable


class _LostReused(TransportError):
    """A reused keep-alive connection was lost after the request was written and before
    any answer: most likely the server closed it while idle, so an idempotent request
    may be sent once more."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, the kept headers (lower-case names) and the body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Endpoint:
    """Where the pool connects and what the requests' ``Host`` header says."""

    host: str
    port: int
    tls: bool

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


class _Connection(asyncio.Protocol):
    """One TCP/TLS connection carrying one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser: Any = httptools.HttpResponseParser(self)
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._pending: asyncio.Future[Answer] | None = None
        #: False from writing a request until its complete answer allows keep-alive.
        self._reusable = True
        self.transport: asyncio.Transport | None = None
        self.closed = False

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._pending is None:
            # Nothing was asked: a server's goodbye (e.g. 408 on an idle connection).
            # The parser's state is now unknown, so the connection cannot be reused.
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(TransportError("BadResponse", f"unparseable answer: {exc}", sent=True))
            self.close()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost reports it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else "closed by the server"
        self._fail(TransportError("ConnectionLost", reason, sent=True))

    # -- httptools callbacks ---------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        if key in _KEPT_HEADERS:
            self._headers[key] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer = Answer(self._parser.get_status_code(), self._headers, b"".join(self._body))
        self._reusable = bool(self._parser.should_keep_alive())
        self._headers = {}
        self._body = []
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.set_result(answer)

    # -- used by the pool ------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open, idle and allowed to carry another request."""
        transport = self.transport
        return (
            not self.closed
            and self._reusable
            and self._pending is None
            and transport is not None
            and not transport.is_closing()
        )

    async def exchange(self, request: bytes) -> Answer:
        """Write ``request`` and wait for its answer.

        Raises:
            TransportError: the connection was closed before writing (``sent`` False),
                or was lost / answered garbage afterwards (``sent`` True).
        """
        transport = self.transport
        if self.closed or transport is None or transport.is_closing():
            raise TransportError("ConnectionLost", "connection closed before use", sent=False)
        self._reusable = False  # until a complete answer says keep-alive
        pending: asyncio.Future[Answer] = self._loop.create_future()
        self._pending = pending
        transport.write(request)
        return await pending

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: TransportError) -> None:
        pending, self._pending = self._pending, None
        if pending is not None and not pending.done():
            pending.set_exception(error)


class ConnectionPool:
    """Up to ``max_connections`` keep-alive connections to one endpoint.

    Contract:

    * :meth:`request` sends one complete request and returns its :class:`Answer`. At most
      ``max_connections`` requests are in flight; more wait (FIFO) for a free connection.
    * Idle connections are reused, most recently used first; one found closed is
      dropped, never written to. A connection whose answer said ``Connection: close``,
      or whose request failed or was cancelled, is closed and not reused.
    * ``retry_sent`` (for idempotent requests): a request written to a *reused*
      connection that was lost before any answer is sent once more on a new connection
      (the usual race with a server closing an idle keep-alive connection). Requests
      that failed before being written (connection refused, found closed) are always
      tried once more, on a new connection.
    * :meth:`close` closes every connection; requests in flight fail with
      ``ClientClosed``, and later calls fail with it at once.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._endpoint = endpoint
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._closed = False
        #: Connections opened so far (tests and metrics read it).
        self.connects = 0

    @property
    def open_connections(self) -> int:
        """Connections currently open, idle or busy."""
        return sum(1 for conn in self._all if not conn.closed)

    async def request(self, data: bytes, *, retry_sent: bool) -> Answer:
        """Send ``data`` (a complete HTTP/1.1 request) and return its answer.

        Raises:
            TransportError: no answer (see the class contract for the one retry).
        """
        if self._closed:
            raise TransportError(
                "ClientClosed", "the client is closed", sent=False, retryable=False
            )
        async with self._slots:
            try:
                return await self._attempt(data, fresh=False)
            except TransportError as error:
                again = error.retryable and (
                    not error.sent or (retry_sent and isinstance(error, _LostReused))
                )
                if self._closed or not again:
                    raise self._final(error) from None
            try:
                return await self._attempt(data, fresh=True)
            except TransportError as error:
                raise self._final(error) from None

    async def close(self) -> None:
        """Close every connection (idempotent)."""
        self._closed = True
        self._idle.clear()
        for conn in list(self._all):
            conn.close()
        self._all.clear()
        await asyncio.sleep(0)  # let the transports run their close callbacks

    # -- internals -------------------------------------------------------------------

    def _final(self, error: TransportError) -> TransportError:
        """The error the caller sees: plain, and ``ClientClosed`` once closed."""
        if self._closed:
            return TransportError(
                "ClientClosed", "the client was closed", sent=error.sent, retryable=False
            )
        return TransportError(error.code, error.message, sent=error.sent, retryable=error.retryable)

    async def _attempt(self, data: bytes, *, fresh: bool) -> Answer:
        """One try; a *reused* connection lost before its answer raises :class:`_LostReused`."""
        conn: _Connection | None = None
        reused = False
        if not fresh:
            conn = self._take_idle()
            reused = conn is not None
        if conn is None:
            conn = await self._open()
        try:
            answer = await conn.exchange(data)
        except TransportError as error:
            self._discard(conn)
            if reused and error.sent and error.code == "ConnectionLost":
                raise _LostReused(error.code, error.message, sent=True) from None
            raise
        except BaseException:
            # Cancelled or timed out while the answer was pending: the answer may still
            # arrive and would be read as the next request's, so the connection goes.
            self._discard(conn)
            raise
        if conn.usable and not self._closed:
            self._idle.append(conn)
        else:
            self._discard(conn)
        return answer

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
            self._discard(conn)
        return None

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._all.discard(conn)

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        endpoint = self._endpoint
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(loop),
                endpoint.host,
                endpoint.port,
                ssl=self._ssl,
                server_hostname=endpoint.host if self._ssl is not None else None,
            )
        except ssl.SSLCertVerificationError as exc:
            raise TransportError(
                "TlsCertificateRejected",
                f"{endpoint.host_header}: {exc.verify_message}",
                sent=False,
                retryable=False,
            ) from None
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake failures
            raise TransportError(
                "ConnectionFailed",
                f"cannot connect to {endpoint.host_header}: {type(exc).__name__}: {exc}",
                sent=False,
            ) from None
        if self._closed:
            conn.close()
            raise TransportError(
                "ClientClosed", "the client was closed", sent=False, retryable=False
            )
        self.connects += 1
        self._all.add(conn)
        return conn
