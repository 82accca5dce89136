"""The request loops of each kind of phase, as run inside one worker process.

* ``send`` / ``send-batch``: ``connections * pipeline`` loops, each sending one
  SendMessage (or a batch of 10) at a time, as fast as answers come back.
* ``drain``: loops of ReceiveMessage (10, WaitTimeSeconds=1) then DeleteMessageBatch of
  what came back. A loop stops at the deadline, when its process has received its share
  of ``messages`` (a receive asks for no more than the share has left), when all
  processes together deleted the target, or after two empty receives in a row (the
  queue is empty).
* ``latency``: an open-loop sender paced at a fixed rate, its send time written at the
  start of each body, and long-polling consumers (WaitTimeSeconds=20) that record
  receive-return minus send time; deletes are fired off without holding up a consumer.
* ``long-poll``: receivers waiting with WaitTimeSeconds=20 and one sender that sends one
  message at a time and records receive-return minus send-acknowledgement.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from time import perf_counter_ns
from typing import Any, Final

import orjson

from ekiden.bench.http import Channel, ChannelClosed, ConnectionFailed, Response
from ekiden.bench.options import BATCH_SIZE
from ekiden.bench.sqs import EndpointConfig, RequestBuilder, error_kind
from ekiden.bench.worker import WorkerState

__all__ = ["Messages", "Phase"]

DRAIN_WAIT_S: Final = 1
EMPTY_RECEIVES_TO_STOP: Final = 2
LONG_POLL_WAIT_S: Final = 20
#: Pause before each long-poll send, so that the receiver that took the last message
#: is waiting again.
LONG_POLL_GAP_S: Final = 0.005
#: How long a sent message may take to come back before it counts as lost.
LOST_AFTER_S: Final = 30.0
ERROR_PAUSE_S: Final = 0.01


def _body(size: int) -> str:
    """An ASCII body of ``size`` characters, random per process."""
    return os.urandom(size // 2 + 1).hex()[:size]


class Messages:
    """SendMessage and SendMessageBatch payloads for one process.

    Standard queues reuse one body; FIFO messages get ``MessageGroupId`` ``g<n % groups>``
    and a unique ``MessageDeduplicationId`` (``<prefix>-<n>``) each.
    """

    def __init__(
        self, queue_url: str, body_size: int, fifo: bool, groups: int, prefix: str
    ) -> None:
        self.queue_url = queue_url
        self.body = _body(body_size)
        self.fifo = fifo
        self._groups = groups
        self._prefix = prefix
        self._seq = 0

    def _entry(self, body: str) -> dict[str, str]:
        entry = {"MessageBody": body}
        if self.fifo:
            self._seq += 1
            entry["MessageGroupId"] = f"g{self._seq % self._groups}"
            entry["MessageDeduplicationId"] = f"{self._prefix}-{self._seq}"
        return entry

    def single(self, body: str | None = None) -> bytes:
        return orjson.dumps({"QueueUrl": self.queue_url, **self._entry(body or self.body)})

    def batch(self, n: int) -> bytes:
        entries = [{"Id": str(i), **self._entry(self.body)} for i in range(n)]
        return orjson.dumps({"QueueUrl": self.queue_url, "Entries": entries})


def _entries_outcome(state: WorkerState, body: bytes, now_ns: int) -> None:
    """Count the Successful and Failed entries of a 200 batch answer."""
    data = orjson.loads(body)
    state.acked(len(data.get("Successful") or ()), now_ns)
    for failure in data.get("Failed") or ():
        state.failed(f"entry {failure.get('Code', '?')}")


class Phase:
    """One process's part of a phase: its connections and its request loops."""

    def __init__(self, loop: asyncio.AbstractEventLoop, state: WorkerState) -> None:
        spec = state.spec
        self.loop = loop
        self.state = state
        self.spec = spec
        endpoint: EndpointConfig = spec.endpoint
        self.requests = RequestBuilder(endpoint)
        self.queue_url = spec.queue_url(state.index)
        self.messages = Messages(
            self.queue_url,
            spec.body_size,
            spec.fifo,
            spec.groups,
            f"{spec.run_id}-{spec.name}-{state.index}",
        )
        depth = spec.pipeline
        self.channels = [Channel(loop, endpoint.target, depth) for _ in range(spec.connections)]
        self.extra_channels: list[Channel] = []
        self._background: set[asyncio.Future[Response]] = set()

    def channel(self, depth: int | None = None) -> Channel:
        """A further connection, closed with the others."""
        target = self.spec.endpoint.target
        channel = Channel(self.loop, target, depth or self.spec.pipeline)
        self.extra_channels.append(channel)
        return channel

    async def prepare(self) -> None:
        """Open the connections before the start (failures show up as errors later)."""
        await asyncio.gather(*(c.connect() for c in self.channels), return_exceptions=True)

    async def run(self) -> None:
        runner: Callable[[], Awaitable[None]] = {
            "send": self._send,
            "send-batch": self._send,
            "drain": self._drain,
            "latency": self._latency,
            "long-poll": self._long_poll,
        }[self.spec.kind]
        await runner()

    def abandon(self) -> None:
        """Stop at once: no new requests, everything unanswered fails as closed."""
        self.state.stopping = True
        self.close()

    def close(self) -> None:
        for channel in (*self.channels, *self.extra_channels):
            channel.close()

    def request(self, action: str, payload: dict[str, Any]) -> bytes:
        return self.requests.build_json(action, {"QueueUrl": self.queue_url, **payload})

    # -- send, send-batch ------------------------------------------------------------

    async def _send(self) -> None:
        tasks = [
            self._send_loop(channel) for channel in self.channels for _ in range(self.spec.pipeline)
        ]
        await asyncio.gather(*tasks)

    async def _send_loop(self, channel: Channel) -> None:
        state, result, messages = self.state, self.state.result, self.messages
        batch = self.spec.kind == "send-batch"
        action = "SendMessageBatch" if batch else "SendMessage"
        most = BATCH_SIZE if batch else 1
        histogram = result.histogram(action)
        # Standard queues without signing send the very same bytes every time.
        full = None
        if not messages.fifo and self.spec.endpoint.credentials is None:
            full = self.requests.build(action, messages.batch(most) if batch else messages.single())
        while n := state.take(most):
            if full is not None and n == most:
                request = full
            else:
                payload = messages.batch(n) if batch else messages.single()
                request = self.requests.build(action, payload)
            started = perf_counter_ns()
            try:
                status, body = await channel.submit(request)
            except ConnectionFailed as exc:
                state.failed(exc.kind)
                continue
            except ChannelClosed:
                return
            now = perf_counter_ns()
            result.requests += 1
            histogram.record((now - started) // 1000)
            if status != 200:
                state.failed(error_kind(status, body))
            elif batch:
                _entries_outcome(state, body, now)
            else:
                state.acked(1, now)

    # -- drain -----------------------------------------------------------------------

    async def _drain(self) -> None:
        await asyncio.gather(
            *(self._drain_loop(c) for c in self.channels for _ in range(self.spec.pipeline))
        )

    async def _drain_loop(self, channel: Channel) -> None:
        state, result = self.state, self.state.result
        receive_h = result.histogram("ReceiveMessage")
        delete_h = result.histogram("DeleteMessageBatch")
        cycle_h = result.histogram("receive+delete")
        empties = 0
        while not state.target_reached():
            # Reserve up to 10 of the quota; what the receive does not fill is given back.
            n = state.take(BATCH_SIZE)
            if n == 0:
                return
            receive = {"MaxNumberOfMessages": n, "WaitTimeSeconds": DRAIN_WAIT_S}
            started = perf_counter_ns()
            answer = await self._call(channel, self.request("ReceiveMessage", receive))
            if answer is None:
                state.give_back(n)
                continue
            received_at = perf_counter_ns()
            found = orjson.loads(answer).get("Messages") or []
            state.give_back(n - len(found))
            if not found:  # a long poll that found the queue empty: not part of the drain
                result.extra["empty receives"] += 1
                empties += 1
                if empties >= EMPTY_RECEIVES_TO_STOP:
                    return
                continue
            empties = 0
            receive_h.record((received_at - started) // 1000)
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(found)
            ]
            answer = await self._call(
                channel, self.request("DeleteMessageBatch", {"Entries": entries})
            )
            now = perf_counter_ns()
            if answer is None:
                continue
            delete_h.record((now - received_at) // 1000)
            cycle_h.record((now - started) // 1000)
            _entries_outcome(state, answer, now)

    async def _call(self, channel: Channel, request: bytes) -> bytes | None:
        """Send one request and count it; the body of a 200 answer, else None."""
        state = self.state
        try:
            status, body = await channel.submit(request)
        except ConnectionFailed as exc:
            state.failed(exc.kind)
            await asyncio.sleep(ERROR_PAUSE_S)
            return None
        except ChannelClosed:
            state.stopping = True
            return None
        state.result.requests += 1
        if status != 200:
            state.failed(error_kind(status, body))
            await asyncio.sleep(ERROR_PAUSE_S)
            return None
        return body

    def delete_later(self, channel: Channel, found: list[dict[str, Any]]) -> None:
        """Delete received messages without waiting; counted in ``extra["deleted"]``."""
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(found)]
        future = channel.submit(self.request("DeleteMessageBatch", {"Entries": entries}))
        self._background.add(future)
        future.add_done_callback(self._deleted)

    def _deleted(self, future: asyncio.Future[Response]) -> None:
        self._background.discard(future)
        state = self.state
        if future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, ChannelClosed):
            return
        if isinstance(exc, ConnectionFailed):
            state.failed(exc.kind)
            return
        state.result.requests += 1
        status, body = future.result()
        if status != 200:
            state.failed(error_kind(status, body))
            return
        data = orjson.loads(body)
        state.result.extra["deleted"] += len(data.get("Successful") or ())
        for failure in data.get("Failed") or ():
            state.failed(f"entry {failure.get('Code', '?')}")

    async def settle(self) -> None:
        """Wait for the deletes still in flight."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=LOST_AFTER_S)

    # -- latency and long-poll live in their own module ---------------------------------

    async def _latency(self) -> None:
        from ekiden.bench.timed import run_latency

        await run_latency(self)

    async def _long_poll(self) -> None:
        from ekiden.bench.timed import run_long_poll

        await run_long_poll(self)
