"""A trivial SQS-shaped HTTP server for calibrating ``ekiden bench``.

It answers every request at once with a canned, valid AWS JSON 1.0 answer - SendMessage's
(``MessageId``, ``MD5OfMessageBody``) for everything except ``CreateQueue`` (a
``QueueUrl``), so ``ekiden bench send`` runs against it unchanged. No parsing of the body,
no storage, no framework: raw asyncio on uvloop with httptools, keep-alive and
pipelining. Whatever rate the bench reaches against it is (close to) the bench's own
ceiling on this machine.

    python benchmarks/fixed_response_server.py [--host 127.0.0.1] [--port 0]

Prints ``listening on http://HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import httptools
import uvloop

SEND_BODY = (
    b'{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274",'
    b'"MD5OfMessageBody":"fafb00f5732ab283681e124bf8747ed1"}'
)


def _response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
        b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body


SEND_RESPONSE = _response(SEND_BODY)


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
        self._create = False

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
        if value == b"AmazonSQS.CreateQueue" and name.lower() == b"x-amz-target":
            self._create = True

    def on_message_complete(self) -> None:
        Stats.requests += 1
        self._out.append(self._create_response if self._create else SEND_RESPONSE)
        self._create = False


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
