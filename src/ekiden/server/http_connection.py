"""One HTTP/1.1 connection of :class:`ekiden.server.http.HttpServer`: parsing with httptools,
pipelined dispatch, in-order answers, flow control and lingering close."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from http import HTTPStatus
from typing import TYPE_CHECKING, Final, cast

import httptools

from ekiden.server.http_messages import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from ekiden.server.http import HttpServer

_log = logging.getLogger(__name__)

#: Reading pauses while more requests than this are waiting for their answer on one
#: connection. Requests already received in the same read are still dispatched, so the
#: real bound is this plus one read buffer's worth of requests.
MAX_PIPELINED: Final = 32

#: A request head (request line + headers) larger than this gets 431 and a close, by
#: default (``HttpServer(max_header_bytes=...)``). llhttp itself has no limit, so
#: without one a client could grow a header forever.
MAX_HEAD_BYTES: Final = 64 * 1024

#: After a 400/413 the write side is shut down and input is discarded for this long
#: before the socket is closed (a "lingering close"): closing a socket with unread
#: input makes the kernel send a reset, which can destroy the answer in flight.
LINGER_S: Final = 2.0

#: How long ``stop`` waits for handlers that are cancelled after the drain timeout.
CANCEL_GRACE_S: Final = 1.0

_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"

STATUS_LINES: Final[dict[int, str]] = {
    s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus
}

# Statuses that must carry neither a body nor Content-Length (RFC 9110 §8.6, §15.3.5).
NO_BODY_STATUSES: Final = frozenset({204, 304})

_KNOWN_METHODS: Final[dict[bytes, str]] = {
    m.encode(): m
    for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE")
}

# Header names repeat endlessly across requests: decoding and lower-casing them once
# saves two allocations per header. Bounded so that random names cannot grow it.
_HEADER_NAMES: dict[bytes, str] = {}
_HEADER_NAMES_MAX: Final = 512

_INTERNAL_FAILURE_BODY: Final = (
    b'{"__type":"InternalFailure","message":"We encountered an internal error. Please try again."}'
)

# The answer of a connection over the server's cap. The protocol is unknown before a
# request is read, so it is spelled as the other server-made errors: AWS JSON with the
# Query code in x-amzn-query-error; SDKs retry a 503 whatever they make of the body.
_OVER_CAPACITY: Final = HttpResponse(
    503,
    b'{"__type":"ServiceUnavailable","message":"Too many connections; try again later."}',
    "application/x-amz-json-1.0",
    [("x-amzn-query-error", "ServiceUnavailable;Receiver"), ("Retry-After", "1")],
)


class _StopParsing(Exception):
    """Raised from a parser callback to abandon the rest of the input on purpose."""


class _Slot:
    """One answer-to-be in a connection's ordered output queue.

    ``data`` stays None until the answer is encoded; the queue is flushed from the front
    as far as encoded answers reach, which is what keeps pipelined answers in order.
    ``counted`` slots are requests (part of ``in_flight``); the others are interim
    ``100 Continue`` lines and error answers made by the server itself.
    """

    __slots__ = ("counted", "data", "head", "keep_alive", "task")

    def __init__(self, keep_alive: bool, head: bool, counted: bool) -> None:
        self.keep_alive = keep_alive
        self.head = head
        self.counted = counted
        self.data: bytes | None = None
        self.task: asyncio.Task[None] | None = None


class HttpConnection(asyncio.Protocol):
    """One TCP connection: parser callbacks, dispatch, ordered output, flow control."""

    __slots__ = (
        "_body",
        "_body_buf",
        "_body_size",
        "_chunk_len",
        "_client_host",
        "_closed",
        "_dead",
        "_eof",
        "_flush_scheduled",
        "_head_bytes",
        "_headers",
        "_in_body",
        "_in_head",
        "_last_active",
        "_linger",
        "_linger_handle",
        "_loop",
        "_no_more",
        "_parser",
        "_phase_started",
        "_queue",
        "_reading_paused",
        "_server",
        "_transport",
        "_url",
        "_writing_paused",
    )

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        # Protocols are created by the loop that serves them.
        self._loop = asyncio.get_running_loop()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[_Slot] = deque()
        self._client_host = ""
        self._last_active = server._now
        # Connection state flags. _no_more: parse no further requests, discard input.
        # _dead: write nothing more (closing or closed). _linger: close via lingering
        # close. _eof: the client half-closed its side.
        self._no_more = False
        self._dead = False
        self._linger = False
        self._eof = False
        self._flush_scheduled = False
        self._linger_handle: asyncio.TimerHandle | None = None
        self._reading_paused = False
        self._writing_paused = False
        # Per-request parse state, reset in on_message_begin.
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body = b""
        self._body_buf: bytearray | None = None
        self._body_size = 0
        self._in_head = False
        self._in_body = False
        # When the current head (or body) began to arrive: the slow-client deadlines.
        self._phase_started = server._now
        self._head_bytes = 0
        self._chunk_len = 0

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        server = self._server
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self._client_host = str(peer[0])
        if len(server._connections) >= server._max_connections and not server._stopping:
            # Over the cap: answer at once and close (lingering, so that the answer is
            # not lost to a reset). Kept apart so that it does not count against the cap.
            server._overflow.add(self)
            server._log.debug("connection from %s over the cap: 503", self._client_host or "?")
            self._reject(503, "", _OVER_CAPACITY)
            return
        server._connections.add(self)
        if server._stopping:
            # Accepted just before the listener closed: nothing is in flight here.
            self._no_more = True
            self._dead = True
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
        self._mark_dead()
        self._no_more = True
        if self._linger_handle is not None:
            self._linger_handle.cancel()
            self._linger_handle = None
        self._server._connections.discard(self)
        self._server._overflow.discard(self)

    def data_received(self, data: bytes) -> None:
        if self._no_more:
            return  # after an error, a close or during shutdown: discard, never buffer
        self._last_active = self._server._now
        self._chunk_len = len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # A valid Upgrade (h2c, websocket) or CONNECT request. We never upgrade; the
            # request was answered as a plain one (see on_message_complete), and the
            # parser cannot be trusted past this point, so stop reading.
            self._no_more = True
        except Exception as exc:
            if self._no_more:
                return  # we raised _StopParsing on purpose
            # Bad input is routine (debug); an exception out of one of our callbacks
            # (httptools wraps it, keeping the original as __context__) is a bug of ours:
            # log it, but still answer and survive.
            if isinstance(exc, httptools.HttpParserCallbackError):
                bug = exc.__context__
            else:
                bug = None if isinstance(exc, httptools.HttpParserError) else exc
            if bug is not None:
                self._server._log.error("error while parsing a request", exc_info=bug)
            else:
                self._server._log.debug("malformed request from %s: %s", self._client_host, exc)
            self._reject(400, "Bad Request")
            return
        if self._in_head:
            # The head is still incomplete after this read; bound its size. The read in
            # which the request began counts as 0 (see on_message_begin), so the memory
            # held is at most one read buffer plus MAX_HEAD_BYTES.
            self._head_bytes += len(data)
            if self._head_bytes > self._server._max_header_bytes:
                self._reject(431, "Request Header Fields Too Large")

    def eof_received(self) -> bool:
        self._eof = True
        self._no_more = True
        # A client that stops sending has, in practice, given up (an SDK's read timeout
        # closes the socket): long-running handlers learn of it now, not at the next write.
        if not self._closed.done():
            self._closed.set_result(None)
        # Keep the transport open (return True) only to answer what is still pending;
        # the last flush then closes it.
        return bool(self._queue) and not self._dead

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._flush()
        self._update_reading()

    # --- httptools callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = b""
        self._body_buf = None
        self._body_size = 0
        self._in_head = True
        self._phase_started = self._server._now
        self._head_bytes = -self._chunk_len

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = _HEADER_NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(_HEADER_NAMES) < _HEADER_NAMES_MAX:
                _HEADER_NAMES[name] = key
        headers = self._headers
        old = headers.get(key)
        text = value.decode("latin-1")
        headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._in_body = True
        self._phase_started = self._server._now
        headers = self._headers
        length = headers.get("content-length")
        if length is not None and int(length) > self._server._max_body_bytes:
            self._reject(413, "Request body too large")
            raise _StopParsing
        expect = headers.get("expect")
        if expect is not None and expect.lower() == "100-continue":
            self._send_continue()

    def on_body(self, body: bytes) -> None:
        size = self._body_size + len(body)
        if size > self._server._max_body_bytes:
            self._reject(413, "Request body too large")
            raise _StopParsing
        self._body_size = size
        if size == len(body):
            self._body = body  # the common case: the whole body in one piece, no copy
        elif self._body_buf is None:
            self._body_buf = bytearray(self._body)
            self._body_buf += body
        else:
            self._body_buf += body

    def on_message_complete(self) -> None:
        self._in_body = False
        parser = self._parser
        server = self._server
        keep_alive: bool = parser.should_keep_alive()
        if parser.should_upgrade():
            keep_alive = False
            self._no_more = True
            headers = self._headers
            if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
                # llhttp skips the body of an upgrade request, so we cannot see it.
                self._reject(400, "Upgrade with a request body is not supported")
                raise _StopParsing
        raw_method = parser.get_method()
        method = _KNOWN_METHODS.get(raw_method) or raw_method.decode("latin-1")
        url = self._url
        mark = url.find(b"?")
        if mark < 0:
            path = url.decode("latin-1")
            query = ""
        else:
            path = url[:mark].decode("latin-1")
            query = url[mark + 1 :].decode("latin-1")
        body = self._body if self._body_buf is None else bytes(self._body_buf)
        request = HttpRequest(
            method, path, query, self._headers, body, self._client_host, self._closed
        )

        slot = _Slot(keep_alive, method == "HEAD", True)
        queue = self._queue
        queue.append(slot)
        server._in_flight += 1
        slot.task = task = self._loop.create_task(self._serve(slot, request))
        server._tasks.add(task)
        if len(queue) > MAX_PIPELINED:
            self._update_reading()
        if not keep_alive:
            # Anything after a closing request is not ours to answer.
            self._no_more = True
            raise _StopParsing

    # --- dispatch and output ---------------------------------------------------------

    async def _serve(self, slot: _Slot, request: HttpRequest) -> None:
        """Run the handler for one request and queue its encoded answer."""
        server = self._server
        response: HttpResponse | None = None
        try:
            response = await server._handler(request)
        except asyncio.CancelledError:
            task = slot.task
            if task is not None and task.cancelling():
                # Cancelled by stop() after the drain timeout, or by loop shutdown.
                server._tasks.discard(task)
                self._abandon(slot)
                raise
            # A CancelledError leaking out of the handler's own awaits is a handler bug.
            server._log.exception("handler failed for %s %s", request.method, request.path)
        except Exception:
            server._log.exception("handler failed for %s %s", request.method, request.path)
        if slot.task is not None:
            server._tasks.discard(slot.task)
        if self._dead:
            server._retire(1)  # nobody left to answer
            return
        if server._stopping and self._queue and self._queue[-1] is slot:
            slot.keep_alive = False  # the last answer before shutdown says so
        data: bytes | None = None
        if response is not None:
            try:
                data = server._encode(response, slot.keep_alive, slot.head)
            except Exception:
                server._log.exception("could not encode the response to %s", request.path)
        if data is None:
            data = server._encode(
                HttpResponse(
                    500,
                    _INTERNAL_FAILURE_BODY,
                    "application/x-amz-json-1.0",
                    [("x-amzn-query-error", "InternalFailure;Receiver")],
                ),
                slot.keep_alive,
                slot.head,
            )
        slot.data = data
        if len(self._queue) == 1:
            self._flush()  # nothing to batch with: write now, no added latency
        elif not self._flush_scheduled:
            # Pipelined answers tend to complete in the same loop turn; flushing once
            # at the end of it turns N send() calls into one writelines.
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _flush(self) -> None:
        """Write every answer at the front of the queue that is ready, in order."""
        if self._dead or self._writing_paused:
            return
        queue = self._queue
        first: bytes | None = None
        batch: list[bytes] | None = None
        retired = 0
        close = False
        while queue:
            slot = queue[0]
            data = slot.data
            if data is None:
                break
            queue.popleft()
            if slot.counted:
                retired += 1
            if first is None:
                first = data
            elif batch is None:
                batch = [first, data]
            else:
                batch.append(data)
            if not slot.keep_alive:
                close = True
                break
        if first is None:
            return
        transport = self._transport
        assert transport is not None
        if batch is None:
            transport.write(first)
        else:
            transport.writelines(batch)
        # An answer counts as activity: a long poll must not leave its connection
        # looking idle for the sweep the moment it is answered.
        self._last_active = self._server._now
        if retired:
            self._server._retire(retired)
        if close or (not queue and (self._eof or self._server._stopping)):
            self._close()
        elif self._reading_paused:
            self._update_reading()

    def _send_continue(self) -> None:
        if not self._queue and not self._writing_paused and self._transport is not None:
            self._transport.write(_CONTINUE)
            return
        # Earlier answers are still pending: the interim line must follow them.
        slot = _Slot(True, False, False)
        slot.data = _CONTINUE
        self._queue.append(slot)

    def _reject(self, status: int, message: str, response: HttpResponse | None = None) -> None:
        """Answer ``status`` (a plain-text ``message``, or ``response``) after any earlier
        answers, then close with a lingering close."""
        if response is None:
            self._server._log.info(
                "rejected a request from %s: %d %s", self._client_host or "?", status, message
            )
            response = HttpResponse(status, message.encode(), "text/plain; charset=utf-8")
        self._no_more = True
        self._linger = True
        self._in_head = False
        self._in_body = False
        slot = _Slot(False, False, False)
        slot.data = self._server._encode(response, False, False)
        self._queue.append(slot)
        self._flush()

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        # While discarding input (_no_more) we keep reading: pausing would only make the
        # client's writes block and our lingering close pointless.
        pause = not self._no_more and (self._writing_paused or len(self._queue) > MAX_PIPELINED)
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # --- closing ---------------------------------------------------------------------

    def _mark_dead(self) -> None:
        """Stop writing; answers already encoded but unwritten leave ``in_flight``."""
        if self._dead:
            return
        self._dead = True
        retired = 0
        for slot in self._queue:
            # Slots still waiting for their handler are retired by _serve when it ends.
            if slot.counted and slot.data is not None:
                retired += 1
        self._queue.clear()
        if retired:
            self._server._retire(retired)

    def _abandon(self, slot: _Slot) -> None:
        """A handler was cancelled: its answer will never come, so the order is broken."""
        if not self._dead:
            self._mark_dead()
            self._no_more = True
            if self._transport is not None:
                self._transport.abort()
        self._server._retire(1)

    def _close(self) -> None:
        """Close after the answers already written have gone out."""
        if self._dead:
            return
        self._mark_dead()
        self._no_more = True
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._linger and transport.can_write_eof():
            transport.write_eof()
            if self._reading_paused:
                self._reading_paused = False
                transport.resume_reading()
            self._linger_handle = self._loop.call_later(LINGER_S, transport.abort)
        elif self._writing_paused:
            transport.abort()  # the peer is not reading; close() would wait forever
        else:
            transport.close()

    def _begin_shutdown(self) -> None:
        """Server stop: close now if idle, else after the pending answers are written."""
        self._no_more = True
        if not self._queue:
            self._close()

    def _force_close(self) -> None:
        """Server stop after the drain timeout: drop whatever is still pending."""
        self._mark_dead()
        self._no_more = True
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()

    def _is_idle_since(self, deadline: float) -> bool:
        return not self._dead and not self._queue and self._last_active < deadline

    def _check_slow(self, head_deadline: float, body_deadline: float) -> None:
        """408 and close when a request's head began before ``head_deadline`` and is not
        complete yet, or its body began before ``body_deadline`` (a slowloris).

        Not while reading is paused: then the wait is ours, not the client's.
        """
        if self._no_more or self._reading_paused:
            return
        if (self._in_head and self._phase_started < head_deadline) or (
            self._in_body and self._phase_started < body_deadline
        ):
            what = "headers" if self._in_head else "body"
            self._reject(408, f"Request Timeout: the request {what} did not arrive in time")
