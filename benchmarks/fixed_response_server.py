"""A trivial SQS-shaped HTTP server for calibrating ``ekiden bench``.

It answers every request at once with a canned, valid AWS JSON 1.0 answer for its
action (the ``X-Amz-Target`` header): ``CreateQueue`` a ``QueueUrl``; ``SendMessage`` a
``MessageId`` and ``MD5OfMessageBody``; ``SendMessageBatch`` and ``DeleteMessageBatch``
one ``Successful`` entry per ``"Id"`` in the request; ``ReceiveMessage`` as many 100-byte
messages as ``MaxNumberOfMessages`` asks (at most 10); anything else ``{}``. So every
``ekiden bench`` scenario that sends, sends batches or drains runs against it unchanged.
No JSON parsing (a byte count or search of the body at most), no storage, no framework:
raw asyncio on uvloop with httptools, keep-alive and pipelining. Whatever rate the bench
reaches against it is (close to) the bench's own ceiling on this machine.

    python benchmarks/fixed_response_server.py [--host 127.0.0.1] [--port 0]

Prints ``listening on http://HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
from typing import Any

import httptools
import uvloop

MESSAGE_ID = b"5fea7756-0ea4-451a-a703-a558b933e274"
BODY_MD5 = b"aed563ecafb4bcc5654c597a421547b2"  # of BODY
BODY = b"x" * 100
RECEIPT = b"AQEB" + b"r" * 176  # the length of an SQS receipt handle, about
SEND_BODY = b'{"MessageId":"%s","MD5OfMessageBody":"%s"}' % (MESSAGE_ID, BODY_MD5)
MAX_BATCH = 10
_MAX_MESSAGES = re.compile(rb'"MaxNumberOfMessages"\s*:\s*(\d+)')


def _response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
        b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body


def _successful(count: int, entry: bytes) -> bytes:
    """A batch answer with ``count`` successful entries (``entry`` takes the Id)."""
    entries = b",".join(entry % b"%d" % i for i in range(count))
    return _response(b'{"Successful":[%s],"Failed":[]}' % entries)


def _received(count: int) -> bytes:
    message = b'{"MessageId":"%s","ReceiptHandle":"%s","MD5OfBody":"%s","Body":"%s"}' % (
        MESSAGE_ID,
        RECEIPT,
        BODY_MD5,
        BODY,
    )
    return _response(b'{"Messages":[%s]}' % b",".join([message] * count))


SEND_RESPONSE = _response(SEND_BODY)
EMPTY_RESPONSE = _response(b"{}")
SEND_BATCH_RESPONSES = [
    _successful(
        n, b'{"Id":"%s","MessageId":"' + MESSAGE_ID + b'","MD5OfMessageBody":"' + BODY_MD5 + b'"}'
    )
    for n in range(MAX_BATCH + 1)
]
DELETE_BATCH_RESPONSES = [_successful(n, b'{"Id":"%s"}') for n in range(MAX_BATCH + 1)]
RECEIVE_RESPONSES = [_received(n) for n in range(MAX_BATCH + 1)]


def _answer(action: bytes, body: bytes, create_response: bytes) -> bytes:
    """The canned answer to ``action`` (the X-Amz-Target header's value)."""
    if action == b"AmazonSQS.SendMessage":
        return SEND_RESPONSE
    if action == b"AmazonSQS.SendMessageBatch":
        return SEND_BATCH_RESPONSES[min(body.count(b'"Id"'), MAX_BATCH)]
    if action == b"AmazonSQS.ReceiveMessage":
        found = _MAX_MESSAGES.search(body)
        wanted = int(found.group(1)) if found else 1
        return RECEIVE_RESPONSES[max(1, min(wanted, MAX_BATCH))]
    if action == b"AmazonSQS.DeleteMessageBatch":
        return DELETE_BATCH_RESPONSES[min(body.count(b'"Id"'), MAX_BATCH)]
    if action == b"AmazonSQS.CreateQueue":
        return create_response
    return EMPTY_RESPONSE


class Stats:
    """Requests answered and connections accepted, reported when the server stops."""

    requests = 0
    connections = 0


class FixedResponse(asyncio.Protocol):
    """One connection: every complete request gets the canned answer, in order."""

    def __init__(self, create_response: bytes) -> None:
        Stats.connections += 1
        self._create_response = create_response
        self._parser: Any = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._action = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.close()
            return
        if self._out and self._transport is not None:
            self._transport.write(b"".join(self._out))
            self._out.clear()

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"x-amz-target":
            self._action = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        Stats.requests += 1
        body = b"".join(self._body)
        self._out.append(_answer(self._action, body, self._create_response))
        self._action = b""
        self._body.clear()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    holder: dict[str, bytes] = {}
    server = await loop.create_server(lambda: FixedResponse(holder["create"]), host, port)
    bound = server.sockets[0].getsockname()
    endpoint = f"http://{bound[0]}:{bound[1]}"
    holder["create"] = _response(b'{"QueueUrl":"%s/000000000000/fixed"}' % endpoint.encode())
    print(f"listening on {endpoint}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    print(f"served {Stats.requests} requests on {Stats.connections} connections", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
