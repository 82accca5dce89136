"""Queue management use cases: create, look up, configure, tag, permit, purge, delete."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

from ekiden.core import limits
from ekiden.core.clock import Clock
from ekiden.core.errors import (
    InvalidAttributeName,
    InvalidParameterValue,
    MissingParameter,
    OverLimit,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
)
from ekiden.core.ids import parse_sqs_arn, queue_arn
from ekiden.core.messages import first_invalid_character
from ekiden.core.queues import (
    COMPUTED_ATTRIBUTES,
    READABLE_ATTRIBUTES,
    QueueSettings,
    check_fifo_throughput,
    check_queue_name,
    default_attributes,
    invalid_redrive_policy,
    normalize_attributes,
)
from ekiden.core.storage import QueueRecord, Store


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue record together with its parsed settings (what every use case needs)."""

    record: QueueRecord
    settings: QueueSettings
    arn: str

    @property
    def queue_id(self) -> int:
        return self.record.queue_id

    @property
    def name(self) -> str:
        return self.record.name


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    next_token: str | None


P = ParamSpec("P")
R = TypeVar("R")


def _one_config_change_at_a_time(
    method: Callable[Concatenate[QueueService, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[QueueService, P], Coroutine[Any, Any, R]]:
    async def serialized(service: QueueService, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with service._config_lock:
            return await method(service, *args, **kwargs)

    serialized.__doc__ = method.__doc__
    serialized.__name__ = method.__name__
    return serialized


class QueueService:
    """Queue-level operations. Holds a cache of queue records (this process owns the store)."""

    def __init__(self, store: Store, clock: Clock, account_id: str, region: str) -> None:
        self.store = store
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self._by_name: dict[str, Queue] = {}
        self._by_id: dict[int, Queue] = {}
        # Configuration changes read the cached record, then write whole attribute and tag
        # maps back: one at a time, or two concurrent changes would undo each other (and
        # two CreateQueue calls of one name would both try to insert it).
        self._config_lock = asyncio.Lock()

    def arn_of(self, name: str) -> str:
        return queue_arn(self.region, self.account_id, name)

    def _wrap(self, record: QueueRecord) -> Queue:
        queue = Queue(
            record,
            QueueSettings.from_attributes(record.attributes, fifo=record.is_fifo),
            self.arn_of(record.name),
        )
        self._by_name[record.name] = queue
        self._by_id[record.queue_id] = queue
        return queue

    def _forget(self, queue: Queue) -> None:
        self._by_name.pop(queue.name, None)
        self._by_id.pop(queue.queue_id, None)

    async def load(self) -> None:
        """Fill the cache from the store (at startup)."""
        for record in await self.store.list_queues():
            self._wrap(record)

    async def get(self, name: str) -> Queue:
        """The queue named ``name``; raises ``QueueDoesNotExist``."""
        queue = self._by_name.get(name)
        if queue is not None:
            return queue
        record = await self.store.get_queue(name)
        if record is None:
            raise QueueDoesNotExist()
        return self._wrap(record)

    def cached_by_id(self, queue_id: int) -> Queue | None:
        return self._by_id.get(queue_id)

    def cached_names(self) -> list[str]:
        return sorted(self._by_name)

    def cached(self, name: str) -> Queue | None:
        return self._by_name.get(name)

    def all_cached(self) -> list[Queue]:
        return list(self._by_name.values())

    async def get_by_arn(self, arn: str) -> Queue | None:
        parsed = parse_sqs_arn(arn)
        if parsed is None or parsed.account_id != self.account_id:
            return None
        try:
            return await self.get(parsed.resource)
        except QueueDoesNotExist:
            return None

    # --- create / delete -------------------------------------------------------------

    @_one_config_change_at_a_time
    async def create(
        self, name: str, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> Queue:
        # FifoQueue=true makes a FIFO queue (whose name must end in .fifo); without it the
        # name rules of standard queues apply, which do not allow the "." of ".fifo".
        fifo = attributes.get("FifoQueue", "").lower() == "true"
        check_queue_name(name, fifo=fifo)
        normalized = normalize_attributes(attributes, fifo=fifo, creating=True)
        _check_tags(tags)
        try:
            existing = await self.get(name)
        except QueueDoesNotExist:
            existing = None
        if existing is not None:
            current = default_attributes(fifo=existing.record.is_fifo) | existing.record.attributes
            for key, value in normalized.items():
                if current.get(key, "") != value:
                    raise QueueNameExists(
                        "A queue already exists with the same name and a different value for "
                        f"attribute {key}"
                    )
            return existing
        stored = {k: v for k, v in normalized.items() if v != "" and k != "FifoQueue"}
        await self._check_redrive(name, fifo, stored)
        record = await self.store.create_queue(name, fifo, stored, dict(tags), self.clock.now_ms())
        return self._wrap(record)

    @_one_config_change_at_a_time
    async def delete(self, name: str) -> None:
        queue = await self.get(name)
        await self.store.delete_queue(queue.queue_id)
        self._forget(queue)

    # --- listing ---------------------------------------------------------------------

    async def list_names(
        self, prefix: str | None, max_results: int | None, next_token: str | None
    ) -> Page:
        if max_results is not None and not 1 <= max_results <= limits.MAX_LIST_QUEUES_RESULTS:
            raise InvalidParameterValue(
                f"Value {max_results} for parameter MaxResults is invalid. Reason: MaxResults "
                "must be an integer between 1 and 1000."
            )
        if next_token is not None and max_results is None:
            raise InvalidParameterValue(
                "MaxResults is a mandatory parameter when you provide a value for NextToken."
            )
        names = sorted(self._by_name)
        if prefix:
            names = [n for n in names if n.startswith(prefix)]
        return _paginate(names, max_results, next_token)

    async def dead_letter_sources(
        self, name: str, max_results: int | None, next_token: str | None
    ) -> Page:
        target = await self.get(name)
        if max_results is not None and not 1 <= max_results <= limits.MAX_LIST_QUEUES_RESULTS:
            raise InvalidParameterValue(
                f"Value {max_results} for parameter MaxResults is invalid. Reason: MaxResults "
                "must be an integer between 1 and 1000."
            )
        sources = sorted(
            queue.name
            for queue in self._by_name.values()
            if queue.settings.redrive is not None
            and queue.settings.redrive.dead_letter_target_arn == target.arn
        )
        return _paginate(sources, max_results, next_token)

    # --- attributes ------------------------------------------------------------------

    async def get_attributes(self, name: str, requested: Sequence[str]) -> dict[str, str]:
        queue = await self.get(name)
        wanted: set[str] = set()
        for item in requested:
            if item == "All":
                wanted |= READABLE_ATTRIBUTES
            elif item in READABLE_ATTRIBUTES:
                wanted.add(item)
            else:
                raise InvalidAttributeName(f"Unknown Attribute {item}.")
        if not wanted:
            return {}
        record = queue.record
        values = default_attributes(fifo=record.is_fifo) | record.attributes
        values["QueueArn"] = queue.arn
        values["CreatedTimestamp"] = str(record.created_ms // 1000)
        values["LastModifiedTimestamp"] = str(record.modified_ms // 1000)
        if wanted & COMPUTED_ATTRIBUTES - {"QueueArn", "CreatedTimestamp", "LastModifiedTimestamp"}:
            counts = await self.store.counts(queue.queue_id, self.clock.now_ms())
            values["ApproximateNumberOfMessages"] = str(counts.visible)
            values["ApproximateNumberOfMessagesNotVisible"] = str(counts.in_flight)
            values["ApproximateNumberOfMessagesDelayed"] = str(counts.delayed)
        return {key: values[key] for key in sorted(wanted) if key in values}

    @_one_config_change_at_a_time
    async def set_attributes(self, name: str, attributes: Mapping[str, str]) -> None:
        queue = await self.get(name)
        if not attributes:
            raise MissingParameter("The request must contain the parameter Attribute.Name.")
        normalized = normalize_attributes(attributes, fifo=queue.record.is_fifo, creating=False)
        merged = dict(queue.record.attributes)
        for key, value in normalized.items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
        merged.pop("FifoQueue", None)
        if queue.record.is_fifo:
            check_fifo_throughput(merged)
        await self._check_redrive(name, queue.record.is_fifo, merged)
        await self.store.update_queue(
            queue.queue_id, merged, queue.record.tags, self.clock.now_ms()
        )
        updated = await self._reload(queue)
        if updated.settings.retention_s != queue.settings.retention_s:
            # A new retention period applies to the messages already in the queue.
            await self.store.reset_retention(queue.queue_id, updated.settings.retention_s * 1000)

    async def _check_redrive(self, name: str, fifo: bool, attributes: Mapping[str, str]) -> None:
        text = attributes.get("RedrivePolicy")
        if not text:
            return
        policy = QueueSettings.from_attributes({"RedrivePolicy": text}, fifo=False).redrive
        assert policy is not None
        dlq = await self.get_by_arn(policy.dead_letter_target_arn)
        # Same error family as a malformed deadLetterTargetArn (InvalidParameterValue).
        if dlq is None:
            raise invalid_redrive_policy(text, "Dead letter target does not exist.")
        if dlq.record.is_fifo != fifo:
            raise invalid_redrive_policy(
                text, "Dead-letter queue must be same type of queue as the source."
            )
        allow = dlq.settings.redrive_allow
        if allow is not None and not allow.allows(self.arn_of(name)):
            raise invalid_redrive_policy(
                text,
                f"Queue {self.arn_of(name)} is not allowed to use {dlq.arn} as a "
                "dead-letter queue.",
            )

    async def _reload(self, queue: Queue) -> Queue:
        record = await self.store.get_queue_by_id(queue.queue_id)
        if record is None:
            self._forget(queue)
            raise QueueDoesNotExist()
        return self._wrap(record)

    # --- tags ------------------------------------------------------------------------

    async def list_tags(self, name: str) -> dict[str, str]:
        return dict((await self.get(name)).record.tags)

    @_one_config_change_at_a_time
    async def tag(self, name: str, tags: Mapping[str, str]) -> None:
        queue = await self.get(name)
        if not tags:
            raise MissingParameter("The request must contain the parameter Tags.")
        merged = dict(queue.record.tags) | dict(tags)
        _check_tags(merged)
        await self.store.update_queue(
            queue.queue_id, queue.record.attributes, merged, queue.record.modified_ms
        )
        await self._reload(queue)

    @_one_config_change_at_a_time
    async def untag(self, name: str, keys: Sequence[str]) -> None:
        queue = await self.get(name)
        if not keys:
            raise MissingParameter("The request must contain the parameter TagKeys.")
        remaining = {k: v for k, v in queue.record.tags.items() if k not in set(keys)}
        await self.store.update_queue(
            queue.queue_id, queue.record.attributes, remaining, queue.record.modified_ms
        )
        await self._reload(queue)

    # --- permissions -----------------------------------------------------------------

    @_one_config_change_at_a_time
    async def add_permission(
        self, name: str, label: str, account_ids: Sequence[str], actions: Sequence[str]
    ) -> None:
        queue = await self.get(name)
        _check_label(label)
        if not account_ids:
            raise MissingParameter("The request must contain the parameter AWSAccountIds.")
        if not actions:
            raise MissingParameter("The request must contain the parameter Actions.")
        for action in actions:
            if action not in _PERMISSION_ACTIONS:
                raise InvalidParameterValue(
                    f"Value SQS:{action} for parameter ActionName is invalid. Reason: Only the "
                    "queue owner is allowed to invoke this action."
                    if action in _OWNER_ONLY_ACTIONS
                    else f"Value SQS:{action} for parameter ActionName is invalid. Reason: "
                    "Please refer to the appropriate WSDL for a list of valid actions."
                )
        policy = _load_policy(queue)
        statements: list[dict[str, object]] = policy["Statement"]  # type: ignore[assignment]
        if any(s.get("Sid") == label for s in statements):
            raise InvalidParameterValue(
                f"Value {label} for parameter Label is invalid. Reason: Already exists."
            )
        if len(statements) >= limits.MAX_PERMISSIONS_PER_QUEUE:
            raise OverLimit(f"{len(statements)} Actions were found, maximum allowed is 7.")
        principals = [f"arn:aws:iam::{account}:root" for account in account_ids]
        sqs_actions = [f"SQS:{action}" for action in actions]
        statements.append(
            {
                "Sid": label,
                "Effect": "Allow",
                "Principal": {"AWS": principals[0] if len(principals) == 1 else principals},
                "Action": sqs_actions[0] if len(sqs_actions) == 1 else sqs_actions,
                "Resource": queue.arn,
            }
        )
        await self._store_policy(queue, policy)

    @_one_config_change_at_a_time
    async def remove_permission(self, name: str, label: str) -> None:
        queue = await self.get(name)
        policy = _load_policy(queue)
        statements: list[dict[str, object]] = policy["Statement"]  # type: ignore[assignment]
        kept = [s for s in statements if s.get("Sid") != label]
        if len(kept) == len(statements):
            raise InvalidParameterValue(
                f"Value {label} for parameter Label is invalid. Reason: can't find label."
            )
        policy["Statement"] = kept
        await self._store_policy(queue, policy if kept else None)

    async def _store_policy(self, queue: Queue, policy: dict[str, object] | None) -> None:
        attributes = dict(queue.record.attributes)
        if policy is None:
            attributes.pop("Policy", None)
        else:
            attributes["Policy"] = json.dumps(policy, separators=(",", ":"))
        await self.store.update_queue(
            queue.queue_id, attributes, queue.record.tags, self.clock.now_ms()
        )
        await self._reload(queue)

    # --- purge -----------------------------------------------------------------------

    @_one_config_change_at_a_time
    async def purge(self, name: str) -> None:
        queue = await self.get(name)
        now = self.clock.now_ms()
        purged = queue.record.purged_at_ms
        if purged is not None and now - purged < limits.PURGE_COOLDOWN_MS:
            raise PurgeQueueInProgress(
                f"Only one PurgeQueue operation on {name} is allowed every 60 seconds."
            )
        await self.store.purge(queue.queue_id, now)
        await self._reload(queue)


_PERMISSION_ACTIONS = frozenset(
    {
        "*",
        "SendMessage",
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
        "ListQueueTags",
        "SendMessageBatch",
        "DeleteMessageBatch",
        "ChangeMessageVisibilityBatch",
    }
)
_OWNER_ONLY_ACTIONS = frozenset(
    {
        "AddPermission",
        "RemovePermission",
        "CreateQueue",
        "DeleteQueue",
        "SetQueueAttributes",
        "TagQueue",
        "UntagQueue",
    }
)


def _load_policy(queue: Queue) -> dict[str, object]:
    text = queue.record.attributes.get("Policy")
    if text:
        policy = json.loads(text)
        if isinstance(policy, dict) and isinstance(policy.get("Statement"), list):
            return policy
    return {
        "Version": "2008-10-17",  # what SQS writes for AddPermission policies
        "Id": f"{queue.arn}/SQSDefaultPolicy",
        "Statement": [],
    }


def _check_label(label: str) -> None:
    if not label:
        raise MissingParameter("The request must contain the parameter Label.")
    if len(label) > limits.MAX_PERMISSION_LABEL_LENGTH or not all(
        c.isascii() and (c.isalnum() or c in "-_") for c in label
    ):
        raise InvalidParameterValue(
            f"Value {label} for parameter Label is invalid. Reason: Can only include "
            "alphanumeric characters, hyphens, or underscores. 1 to 80 in length."
        )


def _check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > limits.MAX_TAGS_PER_QUEUE:
        raise InvalidParameterValue(
            f"Too many tags added for queue. Maximum number of tags is {limits.MAX_TAGS_PER_QUEUE}."
        )
    for key, value in tags.items():
        if not key or len(key) > limits.MAX_TAG_KEY_LENGTH:
            raise InvalidParameterValue(
                f"Tag key must be between 1 and {limits.MAX_TAG_KEY_LENGTH} characters."
            )
        if len(value) > limits.MAX_TAG_VALUE_LENGTH:
            raise InvalidParameterValue(
                f"Tag value must be at most {limits.MAX_TAG_VALUE_LENGTH} characters."
            )
        if first_invalid_character(key) is not None or first_invalid_character(value) is not None:
            raise InvalidParameterValue("Tag keys and values must be valid Unicode text.")


def _paginate(names: list[str], max_results: int | None, next_token: str | None) -> Page:
    start = 0
    if next_token:
        try:
            after = base64.urlsafe_b64decode(next_token.encode()).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidParameterValue("Invalid NextToken value.") from None
        start = next((i for i, n in enumerate(names) if n > after), len(names))
    limit = max_results if max_results is not None else limits.DEFAULT_LIST_QUEUES_RESULTS
    page = names[start : start + limit]
    token = None
    if max_results is not None and start + limit < len(names):
        token = base64.urlsafe_b64encode(page[-1].encode()).decode()
    return Page(page, token)
