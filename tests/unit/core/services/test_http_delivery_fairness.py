"""The delivery loop shares its attempts between subscriptions: a subscription whose
endpoint does not answer holds at most ``MAX_IN_FLIGHT_PER_SUBSCRIPTION`` of them, the
others keep being served, and its postponed entries come back, oldest first, as its
attempts end. Run with an in-memory outbox, a poster that never answers one endpoint,
and a clock that does not move (so only an ending attempt brings an entry back)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Any, cast

from ekiden.core.clock import FakeClock
from ekiden.core.services.http_delivery import (
    MAX_IN_FLIGHT,
    MAX_IN_FLIGHT_PER_SUBSCRIPTION,
    HttpDeliveryService,
    HttpOutcome,
)
from ekiden.core.services.topic_catalog import Subscription
from ekiden.core.subscriptions import SubscriptionSettings
from ekiden.core.topic_storage import (
    DueDeliveries,
    HttpDelivery,
    PendingDelivery,
    QueueDelivery,
    SubscriptionRecord,
)

TOPIC = "arn:aws:sns:us-east-1:000000000000:t"
SLOW, FAST = f"{TOPIC}:slow", f"{TOPIC}:fast"
NOW = 1_700_000_000_000


class MemoryOutbox:
    def __init__(self, entries: Sequence[PendingDelivery]) -> None:
        self.rows = {entry.row_id: entry for entry in entries}
        self.postponed: list[int] = []

    async def due(self, now_ms: int, limit: int, skip: Collection[int]) -> DueDeliveries:
        ordered = sorted(self.rows.values(), key=lambda p: (p.due_ms, p.row_id))
        chosen = [p for p in ordered if p.row_id not in skip and p.due_ms <= now_ms][:limit]
        later = [p.due_ms for p in ordered if p.row_id not in skip and p not in chosen]
        return DueDeliveries(chosen, min(later) if later else None)

    async def delivered(self, row_id: int) -> None:
        self.rows.pop(row_id, None)

    async def retry_later(self, row_id: int, attempts: int, due_ms: int) -> None:
        raise AssertionError("no attempt fails here")

    async def defer(self, slots: Sequence[tuple[int, int]]) -> None:
        raise AssertionError("nothing is throttled here")

    async def postpone(self, due: Sequence[tuple[int, int]]) -> None:
        for row_id, due_ms in due:
            if row_id in self.rows:
                self.postponed.append(row_id)
                self.rows[row_id] = PendingDelivery(
                    row_id, self.rows[row_id].delivery, self.rows[row_id].attempts, due_ms
                )

    async def dead_letter(self, row_id: int, delivery: QueueDelivery, now_ms: int) -> bool:
        raise AssertionError("nothing is dead-lettered here")


class Catalog:
    region = "us-east-1"

    def __init__(self) -> None:
        self.subscriptions = {arn: _subscription(arn) for arn in (SLOW, FAST)}

    def delivery_target(self, arn: str) -> tuple[Subscription, None] | None:
        found = self.subscriptions.get(arn)
        return None if found is None else (found, None)


def _subscription(arn: str) -> Subscription:
    record = SubscriptionRecord(
        0, arn, 1, "http", f"http://{arn.rpartition(':')[2]}/", {}, False, True, None, "0", NOW
    )
    return Subscription(record, SubscriptionSettings.from_attributes({}), None)


class Poster:
    """Answers ``fast`` at once; ``slow`` only once ``open`` is set."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.posted: list[tuple[str, bytes]] = []

    async def post(
        self, url: str, body: bytes, headers: Sequence[tuple[str, str]], timeout_s: float
    ) -> HttpOutcome:
        self.posted.append((url, body))
        if "slow" in url:
            await self.open.wait()
        return HttpOutcome(200)


def entry(row_id: int, arn: str) -> PendingDelivery:
    return PendingDelivery(
        row_id, HttpDelivery(arn, "Notification", f"m{row_id}", TOPIC, str(row_id)), 0, NOW
    )


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def test_a_silent_endpoint_holds_a_few_attempts_and_the_others_are_still_served() -> None:
    slow_count = MAX_IN_FLIGHT + 8  # more than every attempt there is, and the oldest
    entries = [entry(n, SLOW) for n in range(slow_count)]
    entries += [entry(slow_count + n, FAST) for n in range(3)]
    outbox = MemoryOutbox(entries)
    poster = Poster()

    async def scenario() -> None:
        service = HttpDeliveryService(
            cast(Any, outbox),
            cast(Any, Catalog()),
            cast(Any, None),
            cast(Any, None),
            FakeClock(NOW),
            poster,
        )
        service.start()
        try:
            await until(lambda: sum("fast" in url for url, _ in poster.posted) == 3)
            slow_posts = [body for url, body in poster.posted if "slow" in url]
            assert len(slow_posts) == MAX_IN_FLIGHT_PER_SUBSCRIPTION
            assert slow_posts == [str(n).encode() for n in range(MAX_IN_FLIGHT_PER_SUBSCRIPTION)]
            assert outbox.postponed  # the rest of the backlog was moved out of the way

            poster.open.set()  # the endpoint answers again: the backlog drains in order
            await until(lambda: not outbox.rows)
            slow_posts = [body for url, body in poster.posted if "slow" in url]
            assert sorted(slow_posts, key=int) == [str(n).encode() for n in range(slow_count)]
            assert len(slow_posts) == slow_count  # each entry was POSTed once
        finally:
            await service.stop()

    asyncio.run(scenario())
