"""SNS use cases: topics, subscriptions, tags, and Publish with its fan-out to SQS queues.

``TopicService`` keeps every topic and subscription in memory (this process owns the
store), so a publish picks its subscriptions, evaluates their filter policies and writes
each queue's message without a store round trip, then hands the lot to the store as one
transaction (``TopicStore.publish_to_queues``): when Publish answers, the message is
durable in every subscribed queue. Receivers long polling those queues are woken after.

Which subscriptions deliver: confirmed ``sqs`` ones, in the publish's transaction, and
confirmed ``http``/``https`` ones, through the outbox that the same transaction fills and
``HttpDeliveryService`` empties (``outbox_changed`` wakes it). An HTTP/S subscription
starts pending: Subscribe puts its SubscriptionConfirmation into the outbox with it.
``lambda`` subscriptions are confirmed at once and deliver through the same outbox: their
entry is the notification envelope (protocol ``lambda``), which the loop turns into
Lambda's SNS event when it invokes the function (``lambda_delivery``). SQS
subscriptions of this account are confirmed at once, as on AWS. Subscribing a pending
HTTP/S endpoint again sends its confirmation again (same token); Unsubscribe of an HTTP/S
subscription sends it an UnsubscribeConfirmation, through the outbox too.

An SQS delivery that cannot be made (its queue is gone, the message is too large for it,
a raw delivery has more than 10 attributes) goes to the subscription's RedrivePolicy
dead-letter queue in the publish's transaction (``fanout``), else it is dropped.

Configuration changes are serialised (one at a time), like queue changes: each reads the
cached record and writes a whole map back. Listings page through the store, 100 at a
time, by an opaque token.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ekiden.core.clock import Clock
from ekiden.core.errors import (
    AccessDenied,
    EkidenError,
    InvalidParameterValue,
    ResourceNotFound,
    SubscriptionLimitExceeded,
    TopicLimitExceeded,
)
from ekiden.core.rules.delivery import HTTP_PROTOCOLS, effective_policy
from ekiden.core.rules.patterns import FilterPolicy
from ekiden.core.services.confirmation import (
    confirmation_delivery,
    unsubscribe_confirmation_delivery,
)
from ekiden.core.services.counters import QueueCounters
from ekiden.core.services.fanout import (
    EnvelopeSigner,
    HttpEndpoint,
    TopicFacts,
    prepare_messages,
)
from ekiden.core.services.lambda_delivery import LAMBDA_PROTOCOL
from ekiden.core.services.queues import QueueService
from ekiden.core.services.topic_catalog import (
    Topic,
    TopicCatalog,
    page_start,
    page_token,
    sqs_endpoint,
)
from ekiden.core.services.waiters import QueueWaiters
from ekiden.core.sns_messages import (
    BatchEntry,
    PublishInput,
    ValidatedPublish,
    validate_publish,
    validate_publish_batch,
)
from ekiden.core.subscriptions import (
    check_large_message_topic,
    check_subscribe,
    check_subscription_exists_alike,
    normalize_subscription_attributes,
    requires_confirmation,
    subscription_attributes_view,
)
from ekiden.core.topic_storage import (
    HttpDelivery,
    PublishOutcome,
    SubscriptionRecord,
    TopicStore,
)
from ekiden.core.topic_tags import check_new_tags, merge_tags
from ekiden.core.topics import (
    DEFAULT_MAX_MESSAGE_BYTES,
    TopicSettings,
    check_topic_exists_alike,
    check_topic_tags_alike,
    create_topic_attributes,
    normalize_topic_attributes,
    parse_subscription_arn,
    topic_attributes_view,
)

PAGE_SIZE = 100  # ListTopics, ListSubscriptions, ListSubscriptionsByTopic
MAX_STANDARD_TOPICS = 100_000  # per account (AWS quota)
MAX_FIFO_TOPICS = 1_000
MAX_FIFO_TOPIC_SUBSCRIPTIONS = 100
MAX_STANDARD_TOPIC_SUBSCRIPTIONS = 12_500_000
_TOKEN_HEX_BYTES = 144  # AWS's confirmation tokens are 288 hex digits
_OUTBOX_PROTOCOLS = HTTP_PROTOCOLS | {LAMBDA_PROTOCOL}  # delivered through the outbox


@dataclass(frozen=True, slots=True)
class PublishReceipt:
    """What Publish answers: the message id, and the SequenceNumber on FIFO topics."""

    message_id: str
    sequence_number: str | None


@dataclass(frozen=True, slots=True)
class TopicPage:
    arns: list[str]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class SubscriptionPage:
    subscriptions: list[SubscriptionRecord]
    next_token: str | None


class TopicService(TopicCatalog):
    """Every SNS action on topics and subscriptions, over a ``TopicStore``."""

    def __init__(
        self,
        store: TopicStore,
        clock: Clock,
        queues: QueueService,
        waiters: QueueWaiters,
        account_id: str,
        region: str,
        signer: EnvelopeSigner | None = None,
    ) -> None:
        super().__init__(store, account_id, region)
        self.clock = clock
        self.queues = queues
        self.waiters = waiters
        self.signer = signer
        self.counters: QueueCounters | None = None  # the broker's, to count fan-out sends
        self.outbox_changed: Callable[[], None] = _nothing
        """Called after new HTTP/S deliveries are durable in the outbox."""
        self.base_url = "http://localhost"
        """Where ekiden is reached, for URLs in messages no request addresses
        (the UnsubscribeConfirmation's); the server sets it."""
        self._config_lock = asyncio.Lock()

    # --- topics ------------------------------------------------------------------------

    async def create_topic(
        self, name: str, attributes: Mapping[str, str], tags: Sequence[tuple[str, str]]
    ) -> str:
        """CreateTopic: the new topic's ARN, or the ARN of the existing topic of that
        name when the request repeats its attributes and tags (or a part of them)."""
        fifo, normalized = create_topic_attributes(name, attributes)
        check_new_tags(tags)
        async with self._config_lock:
            existing = self._topics.get(name)
            if existing is not None:
                check_topic_exists_alike(existing.record.attributes, normalized, fifo=fifo)
                check_topic_tags_alike(existing.record.tags.items(), tags)
                return existing.arn
            same_kind = sum(1 for t in self._topics.values() if t.record.is_fifo == fifo)
            if same_kind >= (MAX_FIFO_TOPICS if fifo else MAX_STANDARD_TOPICS):
                raise TopicLimitExceeded("Topic limit exceeded")
            record = await self.store.create_topic(
                name, fifo, normalized, dict(tags), self.clock.now_ms()
            )
            return self._wrap_topic(record).arn

    async def delete_topic(self, arn: str) -> None:
        """DeleteTopic, with every subscription of the topic; idempotent (deleting a
        topic that does not exist is not an error, as on AWS)."""
        async with self._config_lock:
            topic = self._find_topic(arn, "TopicArn")
            if topic is None:
                return
            await self.store.delete_topic(topic.topic_id)
            self._forget_topic(topic)

    async def list_topics(self, next_token: str | None) -> TopicPage:
        after = page_start(next_token, "topics")
        records = await self.store.list_topics(after, PAGE_SIZE + 1)
        more = len(records) > PAGE_SIZE
        records = records[:PAGE_SIZE]
        token = page_token("topics", records[-1].row_id) if more else None
        return TopicPage([self.arn_of(record.name) for record in records], token)

    def get_topic_attributes(self, arn: str) -> dict[str, str]:
        topic = self._topic(arn)
        subscriptions = topic.subscriptions.values()
        pending = sum(1 for s in subscriptions if s.record.pending_confirmation)
        return topic_attributes_view(
            topic.arn,
            self.account_id,
            topic.record.attributes,
            confirmed=len(topic.subscriptions) - pending,
            pending=pending,
            deleted=0,  # ekiden deletes subscriptions at once; AWS counts them a while
        )

    async def set_topic_attribute(self, arn: str, name: str, value: str | None) -> None:
        """SetTopicAttributes; an empty (or absent) value removes the attribute."""
        async with self._config_lock:
            topic = self._topic(arn)
            normalized = normalize_topic_attributes(
                {name: value or ""}, fifo=topic.record.is_fifo, creating=False
            )
            merged = dict(topic.record.attributes)
            for key, text in normalized.items():
                if text == "":
                    merged.pop(key, None)
                else:
                    merged[key] = text
            settings = TopicSettings.from_attributes(merged, fifo=topic.record.is_fifo)
            if settings.max_message_bytes > DEFAULT_MAX_MESSAGE_BYTES:
                check_large_message_topic(s.record.protocol for s in topic.subscriptions.values())
            await self.store.update_topic_attributes(topic.topic_id, merged)
            topic.record.attributes = merged
            self._wrap_topic(topic.record)

    # --- tags --------------------------------------------------------------------------

    def _tagged(self, arn: str) -> Topic:
        topic = self._find_topic(arn, "ResourceArn")
        if topic is None:
            raise ResourceNotFound("Resource does not exist")
        return topic

    def list_tags(self, arn: str) -> dict[str, str]:
        return dict(self._tagged(arn).record.tags)

    async def tag(self, arn: str, tags: Sequence[tuple[str, str]]) -> None:
        check_new_tags(tags)
        async with self._config_lock:
            topic = self._tagged(arn)
            merged = merge_tags(topic.record.tags, tags)
            await self.store.update_topic_tags(topic.topic_id, merged)
            topic.record.tags = merged

    async def untag(self, arn: str, keys: Sequence[str]) -> None:
        async with self._config_lock:
            topic = self._tagged(arn)
            removed = set(keys)
            remaining = {k: v for k, v in topic.record.tags.items() if k not in removed}
            await self.store.update_topic_tags(topic.topic_id, remaining)
            topic.record.tags = remaining

    # --- subscriptions -----------------------------------------------------------------

    async def subscribe(
        self,
        arn: str,
        protocol: str,
        endpoint: str | None,
        attributes: Mapping[str, str],
        return_subscription_arn: bool = False,
        base_url: str = "http://localhost",
    ) -> str:
        """Subscribe: the subscription's ARN, or ``pending confirmation`` for one that
        awaits confirmation (unless ``return_subscription_arn``). Subscribing an
        endpoint again returns its subscription, unless an attribute differs. A new
        HTTP/S subscription is sent its SubscriptionConfirmation, whose SubscribeURL
        is under ``base_url`` (how the subscriber addressed ekiden)."""
        async with self._config_lock:
            topic = self._topic(arn)
            checked = check_subscribe(
                topic.ref,
                protocol,
                endpoint,
                topic_max_message_bytes=topic.settings.max_message_bytes,
            )
            normalized = normalize_subscription_attributes(
                attributes,
                protocol=protocol,
                endpoint=checked,
                topic_fifo=topic.record.is_fifo,
                region=self.region,
                account_id=self.account_id,
            )
            for existing in topic.subscriptions.values():
                if existing.record.protocol == protocol and existing.record.endpoint == checked:
                    check_subscription_exists_alike(existing.record.attributes, normalized)
                    await self._confirm_again(topic, existing.record, base_url)
                    return _subscribe_answer(existing.record, return_subscription_arn)
            if topic.settings.max_message_bytes > DEFAULT_MAX_MESSAGE_BYTES:
                check_large_message_topic(
                    [*(s.record.protocol for s in topic.subscriptions.values()), protocol]
                )
            limit = (
                MAX_FIFO_TOPIC_SUBSCRIPTIONS
                if topic.record.is_fifo
                else MAX_STANDARD_TOPIC_SUBSCRIPTIONS
            )
            if len(topic.subscriptions) >= limit:
                raise SubscriptionLimitExceeded("Subscription limit exceeded")
            pending = requires_confirmation(protocol, topic.ref, checked)
            now_ms = self.clock.now_ms()
            record = SubscriptionRecord(
                row_id=0,
                arn=f"{topic.arn}:{uuid.uuid4()}",
                topic_id=topic.topic_id,
                protocol=protocol,
                endpoint=checked,
                attributes={k: v for k, v in normalized.items() if v != ""},
                pending_confirmation=pending,
                authenticated=not pending,
                token=secrets.token_hex(_TOKEN_HEX_BYTES) if pending else None,
                owner=self.account_id,
                created_ms=now_ms,
            )
            confirmation = None
            if pending and protocol in HTTP_PROTOCOLS and record.token is not None:
                confirmation = self._confirmation(topic, record, base_url, now_ms)
            record = await self.store.subscribe(record, confirmation, now_ms)
            if confirmation is not None:
                self.outbox_changed()
            return _subscribe_answer(
                self._wrap_subscription(record).record, return_subscription_arn
            )

    async def _confirm_again(self, topic: Topic, record: SubscriptionRecord, base_url: str) -> None:
        """Subscribing a pending HTTP/S endpoint again sends its confirmation again (the
        same token), so that one whose retries ran out can still be confirmed."""
        if not record.pending_confirmation or record.protocol not in HTTP_PROTOCOLS:
            return
        if record.token is None:
            return
        now_ms = self.clock.now_ms()
        await self.store.add_deliveries(
            [self._confirmation(topic, record, base_url, now_ms)], now_ms
        )
        self.outbox_changed()

    def _confirmation(
        self, topic: Topic, record: SubscriptionRecord, base_url: str, now_ms: int
    ) -> HttpDelivery:
        """The SubscriptionConfirmation POST of a pending HTTP/S subscription."""
        assert record.token is not None  # pending HTTP/S subscriptions have one
        return confirmation_delivery(
            subscription_arn=record.arn,
            topic_arn=topic.arn,
            token=record.token,
            base_url=base_url,
            now_ms=now_ms,
            signer=self.signer,
            signature_version=topic.settings.signature_version,
        )

    async def confirm_subscription(
        self, arn: str, token: str, authenticate_on_unsubscribe: str | None
    ) -> str:
        """ConfirmSubscription: the ARN of the topic's subscription that ``token`` was
        issued to; idempotent."""
        async with self._config_lock:
            topic = self._topic(arn)
            found = next((s for s in topic.subscriptions.values() if s.record.token == token), None)
            if found is None:
                raise InvalidParameterValue("Invalid parameter: Token")
            if found.record.pending_confirmation:
                authenticated = (authenticate_on_unsubscribe or "").lower() in ("true", "1")
                await self.store.confirm_subscription(found.arn, authenticated)
                found.record.pending_confirmation = False
                found.record.authenticated = authenticated
            return found.arn

    async def unsubscribe(
        self, arn: str, base_url: str | None = None, *, anonymous: bool = False
    ) -> None:
        """Unsubscribe; idempotent (a subscription already gone is not an error). A
        confirmed HTTP/S subscription is sent an UnsubscribeConfirmation (its SubscribeURL under
        ``base_url``, or ``self.base_url``), in the transaction that deletes it. An
        ``anonymous`` (unsigned, auth on) request may remove only a subscription whose
        confirmation did not ask for authentication, as in SNS."""
        async with self._config_lock:
            parse_subscription_arn(arn)
            subscription = self._subscriptions.get(arn)
            if subscription is None:
                return
            if anonymous and subscription.record.authenticated:
                raise AccessDenied("This subscription requires an authenticated Unsubscribe.")
            now_ms = self.clock.now_ms()
            farewell = None
            topic = self._by_id.get(subscription.record.topic_id)
            record = subscription.record
            # A subscription never confirmed has no endpoint that agreed to hear from us.
            confirmed = not record.pending_confirmation
            if record.protocol in HTTP_PROTOCOLS and confirmed and topic is not None:
                policy = effective_policy(
                    topic.settings.delivery_policy, subscription.settings.delivery_policy
                )
                farewell = unsubscribe_confirmation_delivery(
                    subscription_arn=arn,
                    topic_arn=topic.arn,
                    token=record.token or secrets.token_hex(_TOKEN_HEX_BYTES),
                    endpoint=record.endpoint,
                    delivery_policy=policy.to_json(),
                    base_url=base_url or self.base_url,
                    now_ms=now_ms,
                    signer=self.signer,
                    signature_version=topic.settings.signature_version,
                )
            await self.store.unsubscribe(arn, farewell, now_ms)
            self._forget_subscription(subscription)
            if farewell is not None:
                self.outbox_changed()

    async def list_subscriptions(
        self, next_token: str | None, topic_arn: str | None = None
    ) -> SubscriptionPage:
        """ListSubscriptions, or ListSubscriptionsByTopic when ``topic_arn`` is given."""
        kind = "subscriptions"
        topic_id = None
        if topic_arn is not None:
            topic = self._topic(topic_arn)
            kind, topic_id = f"subscriptions-{topic.topic_id}", topic.topic_id
        after = page_start(next_token, kind)
        records = await self.store.list_subscriptions(after, PAGE_SIZE + 1, topic_id)
        more = len(records) > PAGE_SIZE
        records = records[:PAGE_SIZE]
        return SubscriptionPage(records, page_token(kind, records[-1].row_id) if more else None)

    def get_subscription_attributes(self, arn: str) -> dict[str, str]:
        subscription = self._subscription(arn)
        record = subscription.record
        topic = self._by_id.get(record.topic_id)
        return subscription_attributes_view(
            arn=record.arn,
            topic_arn=record.topic_arn,
            protocol=record.protocol,
            endpoint=record.endpoint,
            owner=record.owner,
            stored=record.attributes,
            pending_confirmation=record.pending_confirmation,
            confirmation_was_authenticated=record.authenticated,
            topic_delivery_policy=topic.settings.delivery_policy if topic else None,
        )

    async def set_subscription_attribute(self, arn: str, name: str, value: str | None) -> None:
        """SetSubscriptionAttributes; an empty (or absent) value removes the attribute."""
        async with self._config_lock:
            subscription = self._subscription(arn)
            record = subscription.record
            topic = self._by_id.get(record.topic_id)
            normalized = normalize_subscription_attributes(
                {name: value or ""},
                protocol=record.protocol,
                endpoint=record.endpoint,
                topic_fifo=topic.record.is_fifo if topic else False,
                current=record.attributes,
                region=self.region,
                account_id=self.account_id,
            )
            merged = dict(record.attributes)
            for key, text in normalized.items():
                if text == "":
                    merged.pop(key, None)
                else:
                    merged[key] = text
            await self.store.set_subscription_attributes(arn, merged)
            record.attributes = merged
            self._wrap_subscription(record)

    # --- publishing --------------------------------------------------------------------

    def publish_topic(
        self, topic_arn: str | None, target_arn: str | None, phone_number: str | None
    ) -> Topic:
        """The topic a Publish goes to: its TopicArn, or a TargetArn naming a topic.
        Phone numbers (SMS) and mobile push endpoints are not supported."""
        given = [
            (name, value)
            for name, value in (
                ("TopicArn", topic_arn),
                ("TargetArn", target_arn),
                ("PhoneNumber", phone_number),
            )
            if value is not None
        ]
        if not given:
            raise InvalidParameterValue(  # AWS's wording (captured)
                "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
            )
        if len(given) > 1:
            raise InvalidParameterValue(
                "Invalid parameter: Only one of TopicArn, TargetArn or PhoneNumber may be given"
            )
        parameter, value = given[0]
        if parameter == "PhoneNumber":
            raise InvalidParameterValue(
                "Invalid parameter: PhoneNumber Reason: ekiden does not send SMS messages"
            )
        if parameter == "TargetArn" and ":endpoint/" in value:
            raise InvalidParameterValue(
                "Invalid parameter: TargetArn Reason: ekiden has no mobile push endpoints"
            )
        return self._topic(value, parameter)

    async def publish(self, topic: Topic, message: PublishInput, base_url: str) -> PublishReceipt:
        """Publish one message to ``topic`` (see ``publish_topic``): validated, then
        durable in every subscribed queue that takes it, and in the outbox for every
        HTTP/S subscription that takes it, before this returns.
        ``base_url`` is how the publisher addressed ekiden (for UnsubscribeURL)."""
        validated = validate_publish(message, topic.settings)
        (receipt,) = await self._fan_out(topic, [validated], base_url)
        return receipt

    async def publish_batch(
        self, arn: str, entries: Sequence[BatchEntry], base_url: str
    ) -> list[PublishReceipt | EkidenError]:
        """PublishBatch: per entry, in order, its receipt or the error it failed with.
        Every published entry is delivered in one transaction."""
        topic = self._topic(arn)
        results = validate_publish_batch(entries, topic.settings)
        valid = [r for r in results if isinstance(r, ValidatedPublish)]
        receipts = iter(await self._fan_out(topic, valid, base_url) if valid else [])
        return [next(receipts) if isinstance(r, ValidatedPublish) else r for r in results]

    async def _fan_out(
        self, topic: Topic, messages: Sequence[ValidatedPublish], base_url: str
    ) -> list[PublishReceipt]:
        endpoints = [
            (subscription.filter, endpoint)
            for subscription in topic.subscriptions.values()
            if (endpoint := sqs_endpoint(subscription, self.queues, self.account_id, self.region))
            is not None
        ]
        # Lambda subscriptions ride with HTTP/S ones: an outbox entry holding the envelope
        # (never raw: Subscribe refuses RawMessageDelivery for them).
        http_endpoints: list[tuple[FilterPolicy | None, HttpEndpoint]] = [
            (s.filter, HttpEndpoint(s.arn, s.record.protocol, s.settings.raw_message_delivery))
            for s in topic.subscriptions.values()
            if s.record.protocol in _OUTBOX_PROTOCOLS and not s.record.pending_confirmation
        ]

        def next_sequence() -> int:
            topic.last_sequence += 1
            return topic.last_sequence

        now_ms = self.clock.now_ms()
        prepared = prepare_messages(
            TopicFacts(
                topic.arn,
                topic.record.is_fifo,
                topic.settings.dedup_scope_group,
                topic.settings.signature_version,
            ),
            messages,
            endpoints,
            next_sequence=next_sequence,
            now_ms=now_ms,
            base_url=base_url,
            signer=self.signer,
            http_endpoints=http_endpoints,
        )
        outcomes: list[PublishOutcome]
        posts = any(m.http_deliveries for m in prepared)
        if topic.record.is_fifo or posts or any(m.deliveries for m in prepared):
            # Sequence numbers were taken above and nothing awaited since: the topic's
            # publishes reach the store (one transaction each) in sequence order.
            outcomes = await self.store.publish_to_queues(
                topic.topic_id,
                prepared,
                topic.last_sequence if topic.record.is_fifo else None,
                now_ms,
            )
        else:  # a standard topic without a delivery has nothing to make durable
            outcomes = [PublishOutcome(m.message_id, None, False, ()) for m in prepared]
        woken: set[int] = set()
        for outcome in outcomes:
            woken.update(outcome.queue_ids)
            if self.counters is not None:
                for queue_id in outcome.queue_ids:
                    self.counters.add_sent(queue_id)
        for queue_id in woken:
            self.waiters.notify(queue_id)
        if posts:
            self.outbox_changed()
        return [PublishReceipt(o.message_id, o.sequence_number) for o in outcomes]


def _nothing() -> None:
    pass


def _subscribe_answer(record: SubscriptionRecord, return_arn: bool) -> str:
    if record.pending_confirmation and not return_arn:
        return "pending confirmation"  # AWS's answer (API reference)
    return record.arn
