"""The in-memory catalog of topics and subscriptions ``TopicService`` works from.

This process owns the store, so the catalog is loaded once at startup and changed only
after the store has made each change durable. It resolves ARNs the way SNS does (AWS's
errors for a malformed ARN, an ARN of another region, a missing topic or subscription),
and keeps each subscription's filter policy compiled, so a publish needs no store
round trip to choose its deliveries.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from ekiden.core.errors import (
    InvalidParameterValue,
    SubscriptionDoesNotExist,
    TopicDoesNotExist,
)
from ekiden.core.ids import parse_sqs_arn
from ekiden.core.rules.delivery import TopicDeliveryPolicy
from ekiden.core.rules.patterns import FilterPolicy, compile_filter_policy
from ekiden.core.services.fanout import DeadLetterQueue, SqsEndpoint
from ekiden.core.services.queues import Queue, QueueService
from ekiden.core.subscriptions import SubscriptionSettings
from ekiden.core.topic_storage import QueueTarget, SubscriptionRecord, TopicRecord, TopicStore
from ekiden.core.topics import (
    TopicRef,
    TopicSettings,
    parse_subscription_arn,
    parse_topic_arn,
    topic_arn,
)

_LOAD_PAGE = 1_000


@dataclass(slots=True)
class Subscription:
    """A subscription record with its parsed settings and compiled filter policy."""

    record: SubscriptionRecord
    settings: SubscriptionSettings
    filter: FilterPolicy | None

    @property
    def arn(self) -> str:
        return self.record.arn


@dataclass(slots=True)
class Topic:
    """A topic record with its parsed settings, its subscriptions (in subscription
    order) and the last SequenceNumber it handed out (FIFO topics)."""

    record: TopicRecord
    settings: TopicSettings
    ref: TopicRef
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    last_sequence: int = 0

    @property
    def arn(self) -> str:
        return self.ref.arn

    @property
    def topic_id(self) -> int:
        return self.record.row_id


class TopicCatalog:
    """Topics by name and id, subscriptions by ARN, as the store holds them."""

    def __init__(self, store: TopicStore, account_id: str, region: str) -> None:
        self.store = store
        self.account_id = account_id
        self.region = region
        self._topics: dict[str, Topic] = {}  # by name
        self._by_id: dict[int, Topic] = {}
        self._subscriptions: dict[str, Subscription] = {}  # by ARN

    async def load(self) -> None:
        """Fill the catalog from the store (at startup)."""
        after = 0
        while topics := await self.store.list_topics(after, _LOAD_PAGE):
            for record in topics:
                self._wrap_topic(record)
            after = topics[-1].row_id
        after = 0
        while subscriptions := await self.store.list_subscriptions(after, _LOAD_PAGE):
            for subscription in subscriptions:
                self._wrap_subscription(subscription)
            after = subscriptions[-1].row_id

    def arn_of(self, name: str) -> str:
        return topic_arn(self.region, self.account_id, name)

    def _wrap_topic(self, record: TopicRecord) -> Topic:
        """Catalog ``record`` (new, or changed: its subscriptions and sequence stay)."""
        old = self._by_id.get(record.row_id)
        topic = Topic(
            record,
            TopicSettings.from_attributes(record.attributes, fifo=record.is_fifo),
            TopicRef("aws", self.region, self.account_id, record.name),
            old.subscriptions if old is not None else {},
            old.last_sequence if old is not None else record.last_sequence,
        )
        self._topics[record.name] = topic
        self._by_id[record.row_id] = topic
        return topic

    def _forget_topic(self, topic: Topic) -> None:
        for arn in topic.subscriptions:
            self._subscriptions.pop(arn, None)
        self._topics.pop(topic.record.name, None)
        self._by_id.pop(topic.topic_id, None)

    def _wrap_subscription(self, record: SubscriptionRecord) -> Subscription:
        """Catalog ``record`` (new, or with changed attributes)."""
        settings = SubscriptionSettings.from_attributes(record.attributes)
        policy = (
            compile_filter_policy(settings.filter_policy, scope=settings.filter_scope)
            if settings.filter_policy
            else None
        )
        subscription = Subscription(record, settings, policy)
        self._subscriptions[record.arn] = subscription
        topic = self._by_id.get(record.topic_id)
        if topic is not None:
            topic.subscriptions[record.arn] = subscription
        return subscription

    def _forget_subscription(self, subscription: Subscription) -> None:
        self._subscriptions.pop(subscription.arn, None)
        topic = self._by_id.get(subscription.record.topic_id)
        if topic is not None:
            topic.subscriptions.pop(subscription.arn, None)

    def _topic(self, arn: str, parameter: str = "TopicArn") -> Topic:
        """The topic ``arn`` names; raises AWS's errors for a malformed ARN, an ARN of
        another region (``Invalid parameter: TopicArn``) and a missing topic (NotFound).
        ``parameter`` names the request member in the errors."""
        topic = self._find_topic(arn, parameter)
        if topic is None:
            raise TopicDoesNotExist()
        return topic

    def _find_topic(self, arn: str, parameter: str) -> Topic | None:
        """As ``_topic``, but ``None`` for a well-formed ARN naming no topic."""
        ref = parse_topic_arn(arn, parameter=parameter)
        if ref.region != self.region or ref.partition != "aws":
            raise InvalidParameterValue(f"Invalid parameter: {parameter}")
        if ref.account_id != self.account_id:
            return None
        return self._topics.get(ref.name)

    def delivery_target(self, arn: str) -> tuple[Subscription, TopicDeliveryPolicy | None] | None:
        """A subscription that still exists, with its topic's DeliveryPolicy (what an
        HTTP/S delivery to it follows, with the subscription's own); ``None`` if gone."""
        subscription = self._subscriptions.get(arn)
        if subscription is None:
            return None
        topic = self._by_id.get(subscription.record.topic_id)
        if topic is None:
            return None
        return subscription, topic.settings.delivery_policy

    def _subscription(self, arn: str) -> Subscription:
        """The subscription ``arn`` names; raises for a malformed ARN and a missing one."""
        parse_subscription_arn(arn)
        subscription = self._subscriptions.get(arn)
        if subscription is None:
            raise SubscriptionDoesNotExist()
        return subscription


def own_queue(arn: str, queues: QueueService, account_id: str, region: str) -> Queue | None:
    """The queue of ``region`` and ``account_id`` (the broker's) that ``arn`` names, if
    it exists: SNS delivers to, and dead-letters into, no other."""
    parsed = parse_sqs_arn(arn)
    if parsed is None or parsed.account_id != account_id or parsed.region != region:
        return None
    return queues.cached(parsed.resource)


def _target(queue: Queue) -> QueueTarget:
    settings = queue.settings
    return QueueTarget(queue.queue_id, settings.is_fifo, settings.retention_s * 1000)


def sqs_endpoint(
    subscription: Subscription, queues: QueueService, account_id: str, region: str
) -> SqsEndpoint | None:
    """The queue a confirmed SQS subscription delivers to, with its dead-letter queue;
    ``None`` when neither exists (a deleted queue's deliveries go to the dead-letter
    queue, or are dropped, as AWS drops them)."""
    record = subscription.record
    if record.protocol != "sqs" or record.pending_confirmation:
        return None
    queue = own_queue(record.endpoint, queues, account_id, region)
    dlq_arn = subscription.settings.dead_letter_target_arn
    dlq = own_queue(dlq_arn, queues, account_id, region) if dlq_arn is not None else None
    dead_letter = None
    if dlq is not None:
        dead_letter = DeadLetterQueue(
            _target(dlq),
            dlq.settings.delay_s,
            dlq.settings.max_message_bytes,
            dlq.settings.dedup_scope_group,
        )
    if queue is None:
        if dead_letter is None:
            return None
        return SqsEndpoint(
            record.arn, subscription.settings.raw_message_delivery, None, 0, 0, False, dead_letter
        )
    return SqsEndpoint(
        subscription_arn=record.arn,
        raw=subscription.settings.raw_message_delivery,
        target=_target(queue),
        delay_s=queue.settings.delay_s,
        max_message_bytes=queue.settings.max_message_bytes,
        dedup_scope_group=queue.settings.dedup_scope_group,
        dead_letter=dead_letter,
    )


def page_token(kind: str, row_id: int) -> str:
    """The NextToken of a page of listing ``kind`` whose last record is ``row_id``."""
    return base64.urlsafe_b64encode(f"{kind}:{row_id}".encode()).decode("ascii")


def page_start(token: str | None, kind: str) -> int:
    """The row id a NextToken of listing ``kind`` continues after (0: from the start);
    raises ``Invalid parameter: NextToken`` for a token of anything else."""
    if token is None:
        return 0
    try:
        found_kind, _, row_id = base64.urlsafe_b64decode(token.encode()).decode().rpartition(":")
        if found_kind == kind and row_id.isdigit():
            return int(row_id)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise InvalidParameterValue("Invalid parameter: NextToken")
