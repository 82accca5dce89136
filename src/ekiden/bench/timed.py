"""The two timing phases: end-to-end latency at a fixed rate, and long-poll wake-up.

Both run against a queue of their own per process, so every message a process receives
is one it sent and the timing needs no clock shared between processes.

* latency: the sender is open-loop. Message ``k`` is due at ``start + k / rate``; when
  the loop is late it sends what is due at once instead of drifting, and each body starts
  with the time (``perf_counter_ns``, 20 digits) the message was handed to its
  connection. Consumers record receive-return minus that time ("end-to-end"); sends
  record their own acknowledgement time ("SendMessage"). After the last send the phase
  waits until every acknowledged message was received (or :data:`LOST_AFTER_S`).
* long-poll: one message at a time; "wake-up" is the time from the send's
  acknowledgement to the return of the receive that got it. A receive that returns
  before the acknowledgement was read counts as 0 (and in ``extra["before-ack"]``);
  "send-to-receive" times the same return from the start of the send instead.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

import orjson

from ekiden.bench.http import Channel, ChannelClosed, ConnectionFailed, Response
from ekiden.bench.options import BATCH_SIZE, LATENCY_STAMP_BYTES
from ekiden.bench.phases import (
    LONG_POLL_GAP_S,
    LONG_POLL_WAIT_S,
    LOST_AFTER_S,
    Phase,
)
from ekiden.bench.sqs import error_kind

__all__ = ["run_latency", "run_long_poll"]

_RECEIVE = {
    "MaxNumberOfMessages": BATCH_SIZE,
    "WaitTimeSeconds": LONG_POLL_WAIT_S,
}


async def _consume(
    phase: Phase,
    channel: Channel,
    deleter: Channel,
    on_messages: Callable[[list[dict[str, Any]], int], None],
) -> None:
    """Receive until the channel is closed; hand each batch to ``on_messages(list, now)``."""
    state = phase.state
    request = phase.request("ReceiveMessage", _RECEIVE)
    while not state.stopping:
        try:
            status, body = await channel.submit(request)
        except ChannelClosed:
            return
        except ConnectionFailed as exc:
            state.failed(exc.kind)
            await asyncio.sleep(0.05)
            continue
        now = perf_counter_ns()
        state.result.requests += 1
        if status != 200:
            state.failed(error_kind(status, body))
            await asyncio.sleep(0.05)
            continue
        found = orjson.loads(body).get("Messages") or []
        if found:
            on_messages(found, now)
            phase.delete_later(deleter, found)


async def _stop_consumers(phase: Phase, consumers: list[asyncio.Task[None]]) -> None:
    phase.state.stopping = True
    for channel in phase.channels:
        channel.close()  # fails the waiting receives with ChannelClosed
    await asyncio.gather(*consumers, return_exceptions=True)


async def run_latency(phase: Phase) -> None:
    """Send at ``rate / processes`` messages/s and time each one end to end."""
    state, result, spec = phase.state, phase.state.result, phase.spec
    end_to_end = result.histogram("end-to-end")
    send_h = result.histogram("SendMessage")
    senders = [phase.channel() for _ in phase.channels]
    sent_acked = 0
    received = 0
    all_in = asyncio.Event()
    sending_done = False
    pad = phase.messages.body[LATENCY_STAMP_BYTES:]

    def on_messages(found: list[dict[str, Any]], now: int) -> None:
        nonlocal received
        for message in found:
            sent_at = int(message["Body"][:LATENCY_STAMP_BYTES])
            end_to_end.record((now - sent_at) // 1000)
        received += len(found)
        state.acked(len(found), now)
        if sending_done and received >= sent_acked:
            all_in.set()

    def on_sent(future: asyncio.Future[Response], *, sent_at: int) -> None:
        nonlocal sent_acked
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            if isinstance(exc, ConnectionFailed):
                state.failed(exc.kind)
            return
        result.requests += 1
        status, body = future.result()
        send_h.record((perf_counter_ns() - sent_at) // 1000)
        if status == 200:
            sent_acked += 1
            result.extra["sent"] += 1
        else:
            state.failed(error_kind(status, body))

    consumers = [
        phase.loop.create_task(_consume(phase, channel, phase.channel(), on_messages))
        for channel in phase.channels
    ]
    rate = spec.rate / spec.processes
    interval_ns = 1e9 / rate
    due = float(perf_counter_ns())
    sends: list[asyncio.Future[Response]] = []
    k = 0
    while state.take(1):
        wait_ns = due - perf_counter_ns()
        if wait_ns > 0:
            await asyncio.sleep(wait_ns / 1e9)
        sent_at = perf_counter_ns()
        payload = phase.messages.single(f"{sent_at:020d}{pad}")
        future = senders[k % len(senders)].submit(phase.requests.build("SendMessage", payload))
        future.add_done_callback(functools.partial(on_sent, sent_at=sent_at))
        sends.append(future)
        k += 1
        due += interval_ns
    await asyncio.gather(*sends, return_exceptions=True)
    sending_done = True
    if received >= sent_acked:
        all_in.set()
    if not state.stopping:
        try:
            await asyncio.wait_for(all_in.wait(), LOST_AFTER_S)
        except TimeoutError:
            state.failed("lost", sent_acked - received)
    await _stop_consumers(phase, consumers)
    await phase.settle()


async def run_long_poll(phase: Phase) -> None:
    """Send one message at a time to waiting receivers and time each wake-up."""
    state, result = phase.state, phase.state.result
    wake_up = result.histogram("wake-up")
    from_send = result.histogram("send-to-receive")
    send_h = result.histogram("SendMessage")
    sender = phase.channel()
    waiting: dict[str, asyncio.Future[int]] = {}
    early: dict[str, int] = {}

    def on_messages(found: list[dict[str, Any]], now: int) -> None:
        for message in found:
            message_id = message["MessageId"]
            future = waiting.pop(message_id, None)
            if future is None:
                early[message_id] = now
            elif not future.done():
                future.set_result(now)

    consumers = [
        phase.loop.create_task(_consume(phase, channel, phase.channel(), on_messages))
        for channel in phase.channels
    ]
    while state.take(1):
        await asyncio.sleep(LONG_POLL_GAP_S)
        started = perf_counter_ns()
        try:
            request = phase.requests.build("SendMessage", phase.messages.single())
            status, body = await sender.submit(request)
        except ConnectionFailed as exc:
            state.failed(exc.kind)
            continue
        acked_at = perf_counter_ns()
        result.requests += 1
        send_h.record((acked_at - started) // 1000)
        if status != 200:
            state.failed(error_kind(status, body))
            continue
        result.extra["sent"] += 1
        message_id = orjson.loads(body)["MessageId"]
        early_at = early.pop(message_id, None)
        if early_at is not None:
            received_at = early_at
        else:
            future: asyncio.Future[int] = phase.loop.create_future()
            waiting[message_id] = future
            try:
                received_at = await asyncio.wait_for(future, LOST_AFTER_S)
            except TimeoutError:
                waiting.pop(message_id, None)
                state.failed("lost")
                continue
        if received_at < acked_at:
            result.extra["before-ack"] += 1
        wake_up.record(max(0, received_at - acked_at) // 1000)
        from_send.record((received_at - started) // 1000)
        state.acked(1, perf_counter_ns())
    await _stop_consumers(phase, consumers)
    await phase.settle()
