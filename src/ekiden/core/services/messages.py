"""Message use cases: send, receive (with long polling), delete, change visibility.

Batch calls validate each entry on its own: an entry that is wrong becomes that entry's
failure (an ``EkidenError`` in the result list), the others go on. Errors that concern the
whole request (empty batch, too many entries, duplicate ids, total size, and on FIFO
queues an entry that lacks its FIFO parameters) are raised.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ekiden.core import limits
from ekiden.core.clock import Clock
from ekiden.core.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EkidenError,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidParameterValue,
    MessageTooLong,
    MissingParameter,
    ReceiptHandleIsInvalid,
    TooManyEntriesInBatchRequest,
)
from ekiden.core.ids import ReceiptCodec, new_message_id
from ekiden.core.messages import (
    AttributeValue,
    attributes_size,
    check_body,
    check_message_attributes,
    content_dedup_id,
    md5_of_attributes,
    md5_of_body,
    select_attributes,
)
from ekiden.core.queues import QueueSettings
from ekiden.core.rules import dedup
from ekiden.core.services.counters import QueueCounters
from ekiden.core.services.queues import Queue, QueueService
from ekiden.core.services.waiters import QueueWaiters
from ekiden.core.storage import (
    ClaimRequest,
    DeadLetterTarget,
    DeleteOutcome,
    DeliveredMessage,
    NewMessage,
    Store,
    VisibilityChange,
    VisibilityOutcome,
)

_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}\Z")  # \Z: "$" would allow a final newline
_DEDUP_ID = re.compile(r"^[!-~]{1,128}\Z")  # alphanumerics and punctuation, no spaces

SYSTEM_ATTRIBUTE_NAMES = frozenset(
    {
        "All",
        "SenderId",
        "SentTimestamp",
        "ApproximateReceiveCount",
        "ApproximateFirstReceiveTimestamp",
        "SequenceNumber",
        "MessageDeduplicationId",
        "MessageGroupId",
        "AWSTraceHeader",
        "DeadLetterQueueSourceArn",
    }
)


@dataclass(slots=True)
class SendEntry:
    body: str
    delay_s: int | None = None
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    system_attributes: dict[str, AttributeValue] = field(default_factory=dict)
    dedup_id: str | None = None
    group_id: str | None = None


@dataclass(slots=True)
class SendResult:
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None
    md5_of_system_attributes: str | None
    sequence_number: str | None


@dataclass(slots=True)
class ReceiveOptions:
    max_messages: int = 1
    visibility_timeout_s: int | None = None
    wait_time_s: int | None = None
    system_attribute_names: Sequence[str] = ()
    message_attribute_names: Sequence[str] = ()
    attempt_id: str | None = None
    # Completed when the receiver has gone away (its connection closed): a long poll then
    # stops instead of claiming messages nobody will get.
    abandoned: asyncio.Future[None] | None = None


@dataclass(slots=True)
class ReceivedMessage:
    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, str]
    message_attributes: dict[str, AttributeValue]
    md5_of_message_attributes: str | None


class MessageService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        queues: QueueService,
        waiters: QueueWaiters,
        counters: QueueCounters | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.queues = queues
        self.waiters = waiters
        self.counters = counters if counters is not None else QueueCounters()
        self._receipts: ReceiptCodec | None = None

    def use_receipt_key(self, key: bytes) -> None:
        """Seal receipt handles with ``key`` (the store's; stable across restarts)."""
        self._receipts = ReceiptCodec(key)

    @property
    def receipts(self) -> ReceiptCodec:
        if self._receipts is None:
            raise RuntimeError("MessageService used before the broker was started")
        return self._receipts

    # --- send ------------------------------------------------------------------------

    async def send(
        self,
        queue_name: str,
        entries: Sequence[SendEntry],
        sender_id: str,
        *,
        batch: bool = False,
    ) -> list[SendResult | EkidenError]:
        """Send one or more messages; one result (or per-entry error) per entry, in order.

        On a FIFO queue an entry without its group id or deduplication id, or with a
        per-message delay, fails the whole request (``batch``: it came from
        SendMessageBatch), as in SQS.
        """
        queue = await self.queues.get(queue_name)
        if queue.settings.is_fifo:
            for entry in entries:
                _check_fifo_entry(queue.settings, entry, batch=batch)
        results: list[SendResult | EkidenError | None] = []
        prepared: list[NewMessage] = []
        slots: list[int] = []
        for entry in entries:
            try:
                message = self._prepare(queue, entry, sender_id)
            except EkidenError as error:
                results.append(error)
                continue
            slots.append(len(results))
            results.append(None)
            prepared.append(message)
        if prepared:
            if not queue.settings.is_fifo and self.waiters.watched(queue.queue_id):
                self._wake_early(queue.queue_id, prepared)
            outcomes = await self.store.enqueue(
                queue.record, prepared, queue.settings.retention_s * 1000, self.clock.now_ms()
            )
            for slot, message, outcome in zip(slots, prepared, outcomes, strict=True):
                results[slot] = SendResult(
                    outcome.message_id,
                    message.md5_of_body,
                    message.md5_of_attributes,
                    message.md5_of_system_attributes,
                    outcome.sequence_number,
                )
            # A FIFO deduplication hit is answered like a send but stores nothing.
            stored = sum(1 for outcome in outcomes if not outcome.duplicate)
            self.counters.add_sent(queue.queue_id, stored)
            self.waiters.notify(queue.queue_id)
        return [r for r in results if r is not None]

    def _wake_early(self, queue_id: int, prepared: list[NewMessage]) -> None:
        """Wake the receivers long polling a standard queue as soon as the send is queued
        for the store, not once it is durable.

        Scheduled with ``call_soon``, the wake-up runs after ``store.enqueue`` has handed
        the send to the store (the SQLite store queues its job before it first waits), so
        the woken receives queue their claims behind it: often in the same group commit,
        where the claim is answered before that group's fsync. A receiver may so hold a
        message before its sender is answered; should that commit fail, the sender's
        retry is a duplicate, which SQS's at-least-once delivery allows (FIFO queues,
        whose deduplication promises more, are woken only after the commit). Correctness
        does not depend on the order: a claim that runs first finds nothing and waits
        again, and the wake-up after the commit reaches it. The price: receivers that
        lose the race for the message are woken once more by that second wake-up and
        claim again for nothing (concurrent claims of one queue are one store job).
        """
        if any(message.delay_s == 0 for message in prepared):
            self.waiters.loop.call_soon(self.waiters.notify, queue_id)

    def _prepare(self, queue: Queue, entry: SendEntry, sender_id: str) -> NewMessage:
        check_body(entry.body)
        check_message_attributes(entry.attributes)
        check_message_attributes(entry.system_attributes, system=True)
        body_bytes = entry.body.encode("utf-8")
        size = len(body_bytes) + attributes_size(entry.attributes)
        if size > queue.settings.max_message_bytes:
            raise MessageTooLong(
                "One or more parameters are invalid. Reason: Message must be shorter than "
                f"{queue.settings.max_message_bytes} bytes."
            )
        settings = queue.settings
        delay = settings.delay_s
        if entry.delay_s is not None and not settings.is_fifo:
            if not limits.MIN_DELAY_S <= entry.delay_s <= limits.MAX_DELAY_S:
                raise InvalidParameterValue(
                    f"Value {entry.delay_s} for parameter DelaySeconds is invalid. Reason: "
                    "DelaySeconds must be >= 0 and <= 900."
                )
            delay = entry.delay_s
        dedup_id = entry.dedup_id
        dedup_key = None
        group_id = entry.group_id
        if group_id is not None:
            _check_token("MessageGroupId", group_id)
        if settings.is_fifo:
            assert group_id is not None  # _check_fifo_entry ran first
            if dedup_id is None:  # ContentBasedDeduplication is on (_check_fifo_entry)
                dedup_id = content_dedup_id(entry.body)
            else:
                _check_token("MessageDeduplicationId", dedup_id)
            dedup_key = dedup.dedup_key(
                dedup_id, group_id, scope_is_message_group=settings.dedup_scope_group
            )
        elif dedup_id is not None:
            raise InvalidParameterValue(
                f"Value {dedup_id} for parameter MessageDeduplicationId is invalid. Reason: The "
                "request includes a parameter that is not valid for this queue type."
            )
        return NewMessage(
            message_id=new_message_id(),
            body=entry.body,
            attributes=entry.attributes,
            system_attributes=entry.system_attributes,
            md5_of_body=md5_of_body(body_bytes),
            md5_of_attributes=md5_of_attributes(entry.attributes),
            md5_of_system_attributes=md5_of_attributes(entry.system_attributes),
            sender_id=sender_id,
            delay_s=delay,
            group_id=group_id,
            dedup_id=dedup_id,
            dedup_key=dedup_key,
        )

    # --- receive ---------------------------------------------------------------------

    async def receive(self, queue_name: str, options: ReceiveOptions) -> list[ReceivedMessage]:
        queue = await self.queues.get(queue_name)
        _check_receive_options(options)
        settings = queue.settings
        visibility_s = (
            options.visibility_timeout_s
            if options.visibility_timeout_s is not None
            else settings.visibility_timeout_s
        )
        wait_s = options.wait_time_s if options.wait_time_s is not None else settings.wait_time_s
        dead_letter = await self._dead_letter_target(queue)
        loop = self.waiters.loop
        deadline = loop.time() + wait_s
        attempt_id = options.attempt_id if settings.is_fifo else None
        abandoned = options.abandoned
        while True:
            if abandoned is not None and abandoned.done():
                return []
            woken = self.waiters.watch(queue.queue_id)
            now_ms = self.clock.now_ms()
            result = await self.store.claim(
                ClaimRequest(
                    queue_id=queue.queue_id,
                    is_fifo=settings.is_fifo,
                    max_messages=options.max_messages,
                    visibility_ms=visibility_s * 1000,
                    now_ms=now_ms,
                    dead_letter=dead_letter,
                    attempt_id=attempt_id,
                )
            )
            for target in result.dead_lettered_to:
                self.waiters.notify(target)
            if result.dead_lettered_count:
                self.counters.add_dead_lettered(queue.queue_id, result.dead_lettered_count)
            if result.messages:
                self.counters.add_received(queue.queue_id, len(result.messages))
                wanted = _wanted_system_attributes(options.system_attribute_names)
                names = list(options.message_attribute_names)
                return [self._present(queue, m, wanted, names) for m in result.messages]
            remaining = deadline - loop.time()
            if remaining <= 0 or self.waiters.closed:
                return []
            if result.next_visible_at_ms is not None:
                remaining = min(remaining, max(result.next_visible_at_ms - now_ms, 1) / 1000)
            await QueueWaiters.wait(woken, remaining, abandoned)

    async def _dead_letter_target(self, queue: Queue) -> DeadLetterTarget | None:
        policy = queue.settings.redrive
        if policy is None:
            return None
        dlq = await self.queues.get_by_arn(policy.dead_letter_target_arn)
        if dlq is None:
            return None
        return DeadLetterTarget(
            dlq.queue_id,
            policy.max_receive_count,
            dlq.record.is_fifo,
            dlq.settings.retention_s * 1000,
        )

    def _present(
        self,
        queue: Queue,
        message: DeliveredMessage,
        wanted: frozenset[str],
        message_attribute_names: list[str],
    ) -> ReceivedMessage:
        system: dict[str, str] = {}
        if wanted:
            if "SenderId" in wanted:
                system["SenderId"] = message.sender_id
            if "SentTimestamp" in wanted:
                system["SentTimestamp"] = str(message.sent_ms)
            if "ApproximateReceiveCount" in wanted:
                system["ApproximateReceiveCount"] = str(message.receive_count)
            if "ApproximateFirstReceiveTimestamp" in wanted:
                system["ApproximateFirstReceiveTimestamp"] = str(message.first_receive_ms)
            if "AWSTraceHeader" in wanted and "AWSTraceHeader" in message.system_attributes:
                trace = message.system_attributes["AWSTraceHeader"].string_value
                if trace is not None:
                    system["AWSTraceHeader"] = trace
            if (
                message.dead_letter_source_queue_id is not None
                and "DeadLetterQueueSourceArn" in wanted
            ):
                source = self.queues.cached_by_id(message.dead_letter_source_queue_id)
                if source is not None:
                    system["DeadLetterQueueSourceArn"] = source.arn
            if queue.settings.is_fifo:
                if "SequenceNumber" in wanted and message.sequence_number is not None:
                    system["SequenceNumber"] = message.sequence_number
                if "MessageDeduplicationId" in wanted and message.dedup_id is not None:
                    system["MessageDeduplicationId"] = message.dedup_id
            if "MessageGroupId" in wanted and message.group_id is not None:
                system["MessageGroupId"] = message.group_id
        selected = select_attributes(message.attributes, message_attribute_names)
        if len(selected) == len(message.attributes):
            digest = message.md5_of_attributes if selected else None
        else:
            digest = md5_of_attributes(selected)
        return ReceivedMessage(
            message_id=message.message_id,
            receipt_handle=self.receipts.encode(message.receipt),
            body=message.body,
            md5_of_body=message.md5_of_body,
            attributes=system,
            message_attributes=selected,
            md5_of_message_attributes=digest,
        )

    # --- delete / visibility ---------------------------------------------------------

    async def delete(
        self, queue_name: str, receipt_handles: Sequence[str]
    ) -> list[EkidenError | None]:
        """Delete by receipt handle. A handle of a deleted message or of an earlier delivery
        succeeds without effect (as in SQS); a handle ekiden never issued fails, and so does
        a FIFO handle whose delivery is no longer in flight (it has expired)."""
        queue = await self.queues.get(queue_name)
        results: list[EkidenError | None] = []
        refs = []
        slots: list[int] = []
        for handle in receipt_handles:
            ref = self.receipts.decode(handle)
            if ref is None or ref.queue_id != queue.queue_id:
                results.append(_invalid_handle(handle, ref is not None))
            else:
                slots.append(len(results))
                results.append(None)
                refs.append(ref)
        if refs:
            outcomes = await self.store.delete_messages(queue.queue_id, refs, self.clock.now_ms())
            deleted = sum(1 for outcome in outcomes if outcome == DeleteOutcome.DELETED)
            if deleted:
                self.counters.add_deleted(queue.queue_id, deleted)
            for slot, outcome in zip(slots, outcomes, strict=True):
                if outcome == DeleteOutcome.EXPIRED:
                    results[slot] = InvalidParameterValue(
                        f"Value {receipt_handles[slot]} for parameter ReceiptHandle is invalid. "
                        "Reason: The receipt handle has expired."
                    )
            if queue.settings.is_fifo:
                self.waiters.notify(queue.queue_id)  # the group may be free again
        return results

    async def change_visibility(
        self, queue_name: str, changes: Sequence[tuple[str, int]]
    ) -> list[EkidenError | None]:
        queue = await self.queues.get(queue_name)
        results: list[EkidenError | None] = []
        valid: list[VisibilityChange] = []
        slots: list[int] = []
        for handle, visibility_s in changes:
            ref = self.receipts.decode(handle)
            if ref is None or ref.queue_id != queue.queue_id:
                results.append(_invalid_handle(handle, ref is not None))
                continue
            if (
                not limits.MIN_VISIBILITY_TIMEOUT_S
                <= visibility_s
                <= (limits.MAX_VISIBILITY_TIMEOUT_S)
            ):
                results.append(
                    InvalidParameterValue(
                        f"Value {visibility_s} for parameter VisibilityTimeout is invalid. "
                        "Reason: Must be between 0 and 43200, if provided."
                    )
                )
                continue
            slots.append(len(results))
            results.append(None)
            valid.append(VisibilityChange(ref, visibility_s))
        if valid:
            outcomes = await self.store.change_visibility(
                queue.queue_id, valid, self.clock.now_ms()
            )
            for slot, change, outcome in zip(slots, valid, outcomes, strict=True):
                if outcome == VisibilityOutcome.NOT_FOUND:
                    handle = changes[slot][0]
                    results[slot] = InvalidParameterValue(
                        f"Value {handle} for parameter ReceiptHandle is "
                        "invalid. Reason: Message does not exist or is not available for "
                        "visibility timeout change."
                    )
                elif outcome == VisibilityOutcome.TOO_LONG:
                    results[slot] = InvalidParameterValue(
                        f"Value {change.visibility_s} for parameter VisibilityTimeout is "
                        "invalid. Reason: Total VisibilityTimeout for the message is beyond "
                        "the limit [43200 seconds]"
                    )
            # A shortened timeout may have made a message visible sooner than a waiting
            # receive planned to look again: let it look now.
            self.waiters.notify(queue.queue_id)
        return results


_SYSTEM_ATTRIBUTES_SHOWN = SYSTEM_ATTRIBUTE_NAMES - {"All"}


def _wanted_system_attributes(names: Sequence[str]) -> frozenset[str]:
    """The system attributes a receive asked for, with ``All`` spelled out."""
    if not names:
        return frozenset()
    return _SYSTEM_ATTRIBUTES_SHOWN if "All" in names else frozenset(names)


def check_batch(ids: Sequence[str], entry_shape: str = "entry") -> None:
    """Raise the request-level batch errors SQS raises before looking at any entry.

    ``entry_shape`` names the entries in the empty-batch message, as SQS does
    (``SendMessageBatchRequestEntry``, ...).
    """
    if not ids:
        raise EmptyBatchRequest(f"There should be at least one {entry_shape} in the request.")
    if len(ids) > limits.MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {limits.MAX_BATCH_ENTRIES}. You have "
            f"sent {len(ids)}."
        )
    seen: set[str] = set()
    for entry_id in ids:
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)
        if not _BATCH_ID.match(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )


def check_batch_size(entries: Sequence[SendEntry]) -> None:
    total = sum(_utf8_length(e.body) + attributes_size(e.attributes) for e in entries)
    if total > limits.MAX_MESSAGE_BYTES:
        raise BatchRequestTooLong(
            f"Batch requests cannot be longer than {limits.MAX_MESSAGE_BYTES} bytes. You have "
            f"sent {total} bytes."
        )


def _utf8_length(text: str) -> int:
    """The UTF-8 length of ``text``; an ASCII string's is its length (``isascii`` reads a
    flag the string keeps, no encoding needed). ``surrogatepass``: a body may still hold
    a lone surrogate here (JSON "\\ud800"); the entry itself is rejected later, as
    InvalidMessageContents."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _check_receive_options(options: ReceiveOptions) -> None:
    if not 1 <= options.max_messages <= limits.MAX_RECEIVE_MESSAGES:
        raise InvalidParameterValue(
            f"Value {options.max_messages} for parameter MaxNumberOfMessages is invalid. "
            "Reason: Must be between 1 and 10, if provided."
        )
    vt = options.visibility_timeout_s
    if vt is not None and not limits.MIN_VISIBILITY_TIMEOUT_S <= vt <= (
        limits.MAX_VISIBILITY_TIMEOUT_S
    ):
        raise InvalidParameterValue(
            f"Value {vt} for parameter VisibilityTimeout is invalid. Reason: Must be between "
            "0 and 43200, if provided."
        )
    wait = options.wait_time_s
    if wait is not None and not limits.MIN_WAIT_TIME_S <= wait <= limits.MAX_WAIT_TIME_S:
        raise InvalidParameterValue(
            f"Value {wait} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and "
            "<= 20, if provided."
        )
    for name in options.system_attribute_names:
        if name not in SYSTEM_ATTRIBUTE_NAMES:
            raise InvalidParameterValue(f"Value {name} for parameter AttributeName is invalid.")
    if options.attempt_id is not None:
        _check_token("ReceiveRequestAttemptId", options.attempt_id)


def _check_fifo_entry(settings: QueueSettings, entry: SendEntry, *, batch: bool) -> None:
    """Raise unless a FIFO entry has a group id and a deduplication id (or the queue derives
    one from the body) and no per-message delay. An explicit ``DelaySeconds=0`` is accepted
    and the queue's delay still applies. SQS calls a missing group id MissingParameter in
    SendMessage but InvalidParameterValue in SendMessageBatch."""
    if entry.delay_s:
        raise InvalidParameterValue(
            f"Value {entry.delay_s} for parameter DelaySeconds is invalid. Reason: The "
            "request include parameter that is not valid for this queue type."
        )
    if entry.group_id is None:
        missing = InvalidParameterValue if batch else MissingParameter
        raise missing("The request must contain the parameter MessageGroupId.")
    if entry.dedup_id is None and not settings.content_based_dedup:
        raise InvalidParameterValue(
            "The queue should either have ContentBasedDeduplication enabled or "
            "MessageDeduplicationId provided explicitly"
        )


def _check_token(parameter: str, value: str) -> None:
    if not _DEDUP_ID.match(value):
        raise InvalidParameterValue(
            f"Value {value} for parameter {parameter} is invalid. Reason: {parameter} can only "
            "include alphanumeric and punctuation characters. 1 to 128 in length."
        )


def _invalid_handle(handle: str, other_queue: bool = False) -> ReceiptHandleIsInvalid:
    if other_queue:  # a real handle, but of another queue (SQS's wording)
        return ReceiptHandleIsInvalid(f'The receipt handle "{handle}" is not valid for this queue.')
    return ReceiptHandleIsInvalid(
        f'The input receipt handle "{handle}" is not a valid receipt handle.'
    )
