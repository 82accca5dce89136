"""The SQS message a published SNS message becomes in one subscribed queue, and the POST
it becomes for one HTTP/S subscription (or the envelope a Lambda subscription's event is
made of).

Pure functions of (published message, subscription, queue, time): ``TopicService`` picks
the subscriptions (confirmed SQS and HTTP/S ones) and resolves their queues, this module
applies their filter policies and writes each queue's message and each endpoint's POST
(``http_delivery``), and the store inserts them all in one transaction
(``TopicStore.publish_to_queues``; the POSTs into the outbox that
``ekiden.core.services.http_delivery`` empties). A Lambda subscription is an
``HttpEndpoint`` of protocol ``lambda``: its outbox entry is the envelope it would be
POSTed (its text the ``lambda`` key of a MessageStructure=json message, signed as such),
from which ``ekiden.core.sns_lambda_event`` builds the function's event.

What a queue receives (AWS developer guide, "Fanout to Amazon SQS queues"):

* without RawMessageDelivery, the JSON ``Notification`` envelope as the body and no
  message attributes (they are inside the envelope);
* with RawMessageDelivery, the message itself (the ``sqs`` key of a MessageStructure=json
  message, else its ``default``) as the body and the SNS message attributes as SQS
  message attributes; more than SQS's 10 attributes and the delivery is dropped;
* a FIFO queue gets the MessageGroupId and the topic's deduplication id, a standard
  queue the MessageGroupId alone (fair queues); the queue's DelaySeconds applies;
* MD5OfMessageBody and MD5OfMessageAttributes as a send computes them; SenderId is the
  SNS service's own (see ``SNS_SENDER_ID``).

A delivery that cannot be made is what AWS counts as a client-side error: the queue was
deleted, the message is larger than the queue's MaximumMessageSize, or a raw delivery has
more than 10 attributes. Such a message goes, in the publish's own transaction, to the
subscription's RedrivePolicy dead-letter queue (the body the delivery would have had; a
raw delivery's attributes as message attributes, or the body alone when there are more
than 10), as AWS's guide ("Amazon SNS dead-letter queues") says; without one (or when the
dead-letter queue cannot take it either) it is dropped with a log line.

Envelopes of standard topics are signed, as AWS signs them (SignatureVersion, Signature,
SigningCertURL): by the ``EnvelopeSigner`` handed to ``TopicService``, once per message
and protocol. FIFO topics' envelopes are unsigned on AWS, and so here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ekiden.core.ids import format_sequence_number, new_message_id
from ekiden.core.messages import (
    MessageAttributes,
    attributes_size,
    md5_of_attributes,
    md5_of_body,
)
from ekiden.core.rules import dedup
from ekiden.core.rules.patterns import FilterPolicy
from ekiden.core.sns_envelopes import (
    MAX_RAW_SQS_ATTRIBUTES,
    EnvelopeSignature,
    notification_for,
    raw_sqs_attributes,
    sqs_ordering_fields,
    unsubscribe_url,
)
from ekiden.core.sns_messages import ValidatedPublish
from ekiden.core.storage import NewMessage
from ekiden.core.topic_storage import HttpDelivery, QueueDelivery, QueueTarget, TopicMessage

log = logging.getLogger("ekiden.sns")

# The SenderId Amazon SQS reports for messages SNS delivered (the SNS service's own
# principal, as seen on deliveries in us-east-1), instead of the publisher's key.
SNS_SENDER_ID = "AIDAIT2UOQQY3AUEKVGXU"


class EnvelopeSigner(Protocol):
    """Signs envelopes: the RSA signature of ``string_to_sign`` (base64) with the hash
    of ``signature_version`` (``"1"`` SHA1withRSA, ``"2"`` SHA256withRSA), and the URL
    of the certificate that verifies it, under ``base_url`` (how the caller addressed
    ekiden, so that the receiver can fetch it the same way)."""

    def sign(
        self, string_to_sign: bytes, signature_version: str, base_url: str
    ) -> EnvelopeSignature: ...


@dataclass(frozen=True, slots=True)
class DeadLetterQueue:
    """A subscription's RedrivePolicy queue, as a message put into it needs to know it."""

    target: QueueTarget
    delay_s: int
    max_message_bytes: int
    dedup_scope_group: bool = False


@dataclass(frozen=True, slots=True)
class SqsEndpoint:
    """A confirmed SQS subscription together with the queue its endpoint names
    (``target`` ``None``: the queue no longer exists) and its dead-letter queue."""

    subscription_arn: str
    raw: bool
    target: QueueTarget | None
    delay_s: int
    max_message_bytes: int
    dedup_scope_group: bool
    dead_letter: DeadLetterQueue | None = None


@dataclass(frozen=True, slots=True)
class HttpEndpoint:
    """A confirmed HTTP/S (or Lambda) subscription: what its POST (or event) carries
    depends on these alone."""

    subscription_arn: str
    protocol: str  # "http", "https" or "lambda"
    raw: bool


@dataclass(frozen=True, slots=True)
class Publication:
    """One published message as every delivery of it shares it."""

    published: ValidatedPublish
    message_id: str
    topic_arn: str
    topic_fifo: bool
    sequence_number: str | None
    timestamp_ms: int
    base_url: str  # scheme://host[:port] the publisher used, for UnsubscribeURL


def envelope_signature(
    publication: Publication,
    signer: EnvelopeSigner | None,
    signature_version: str,
    protocol: str = "sqs",
) -> EnvelopeSignature | None:
    """The signature of the ``protocol`` envelope of ``publication`` (the signed fields
    do not depend on the subscription, so one serves every subscription of the
    protocol); ``None`` for FIFO topics and without a signer."""
    if publication.topic_fifo or signer is None:
        return None
    envelope = notification_for(
        publication.published,
        protocol=protocol,
        message_id=publication.message_id,
        topic_arn=publication.topic_arn,
        timestamp_ms=publication.timestamp_ms,
        unsubscribe_url="",  # not signed
        sequence_number=publication.sequence_number,
    )
    return signer.sign(envelope.string_to_sign(), signature_version, publication.base_url)


def queue_message(
    body: str,
    attributes: MessageAttributes,
    *,
    is_fifo: bool,
    delay_s: int,
    max_message_bytes: int,
    dedup_scope_group: bool = False,
    group_id: str | None = None,
    dedup_id: str | None = None,
) -> NewMessage | None:
    """The SQS message SNS puts into a queue (a subscribed one or a dead-letter queue):
    ``None`` when the queue cannot take it (more than 10 attributes, larger than the
    queue's MaximumMessageSize, a FIFO queue without group and deduplication ids)."""
    if len(attributes) > MAX_RAW_SQS_ATTRIBUTES:
        return None
    body_bytes = body.encode("utf-8")
    if len(body_bytes) + attributes_size(attributes) > max_message_bytes:
        return None
    dedup_key = None
    if is_fifo:
        if group_id is None or dedup_id is None:
            return None  # only FIFO topics reach FIFO queues, and they always have both
        dedup_key = dedup.dedup_key(dedup_id, group_id, scope_is_message_group=dedup_scope_group)
    return NewMessage(
        message_id=new_message_id(),
        body=body,
        attributes=dict(attributes),
        system_attributes={},
        md5_of_body=md5_of_body(body_bytes),
        md5_of_attributes=md5_of_attributes(attributes),
        md5_of_system_attributes=None,
        sender_id=SNS_SENDER_ID,
        delay_s=delay_s,
        group_id=group_id,
        dedup_id=dedup_id if is_fifo else None,
        dedup_key=dedup_key,
    )


def sqs_body(
    publication: Publication, endpoint: SqsEndpoint, signature: EnvelopeSignature | None
) -> tuple[str, MessageAttributes | None]:
    """The body an SQS subscription receives and its message attributes (raw delivery:
    ``None`` when there are more than SQS's 10)."""
    published = publication.published
    if endpoint.raw:
        return published.message_for("sqs"), raw_sqs_attributes(published)
    envelope = notification_for(
        published,
        protocol="sqs",
        message_id=publication.message_id,
        topic_arn=publication.topic_arn,
        timestamp_ms=publication.timestamp_ms,
        unsubscribe_url=unsubscribe_url(publication.base_url, endpoint.subscription_arn),
        sequence_number=publication.sequence_number,
    )
    return envelope.to_json(signature), {}


def sqs_message(
    publication: Publication,
    endpoint: SqsEndpoint,
    signature: EnvelopeSignature | None,
) -> NewMessage | None:
    """The message ``endpoint``'s queue receives, or ``None`` when the delivery cannot be
    made (the queue is gone, raw delivery of more than 10 attributes, too large)."""
    if endpoint.target is None:
        return None
    body, attributes = sqs_body(publication, endpoint, signature)
    if attributes is None:
        return None
    group_id, dedup_id = sqs_ordering_fields(
        publication.published, queue_fifo=endpoint.target.is_fifo
    )
    return queue_message(
        body,
        attributes,
        is_fifo=endpoint.target.is_fifo,
        delay_s=endpoint.delay_s,
        max_message_bytes=endpoint.max_message_bytes,
        dedup_scope_group=endpoint.dedup_scope_group,
        group_id=group_id,
        dedup_id=dedup_id,
    )


def dead_letter_delivery(
    publication: Publication, endpoint: SqsEndpoint, signature: EnvelopeSignature | None
) -> QueueDelivery | None:
    """What the subscription's dead-letter queue gets when the delivery to
    ``endpoint`` cannot be made: the body the delivery would have had, with a raw
    delivery's attributes (the body alone when SQS cannot take that many); ``None``
    without a dead-letter queue or when it cannot take the message either."""
    dead = endpoint.dead_letter
    if dead is None:
        return None
    body, attributes = sqs_body(publication, endpoint, signature)
    group_id, dedup_id = sqs_ordering_fields(publication.published, queue_fifo=dead.target.is_fifo)
    message = queue_message(
        body,
        attributes or {},
        is_fifo=dead.target.is_fifo,
        delay_s=dead.delay_s,
        max_message_bytes=dead.max_message_bytes,
        dedup_scope_group=dead.dedup_scope_group,
        group_id=group_id,
        dedup_id=dedup_id,
    )
    return None if message is None else QueueDelivery(dead.target, message)


def http_delivery(
    publication: Publication, endpoint: HttpEndpoint, signature: EnvelopeSignature | None
) -> HttpDelivery:
    """The POST an HTTP/S subscription gets (guide, "Amazon SNS raw message delivery"):
    the envelope (with the subscription's UnsubscribeURL), or with RawMessageDelivery the
    message itself, whose attributes are not sent (they are kept for a dead-letter
    queue)."""
    published = publication.published
    if endpoint.raw:
        return HttpDelivery(
            endpoint.subscription_arn,
            "Notification",
            publication.message_id,
            publication.topic_arn,
            published.message_for(endpoint.protocol),
            raw=True,
            attributes=published.delivered_attributes,
        )
    envelope = notification_for(
        published,
        protocol=endpoint.protocol,
        message_id=publication.message_id,
        topic_arn=publication.topic_arn,
        timestamp_ms=publication.timestamp_ms,
        unsubscribe_url=unsubscribe_url(publication.base_url, endpoint.subscription_arn),
        sequence_number=publication.sequence_number,
    )
    return HttpDelivery(
        endpoint.subscription_arn,
        "Notification",
        publication.message_id,
        publication.topic_arn,
        envelope.to_json(signature),
    )


@dataclass(frozen=True, slots=True)
class TopicFacts:
    """What the fan-out needs to know of the topic a message is published to."""

    arn: str
    is_fifo: bool
    dedup_scope_group: bool
    signature_version: str


def prepare_messages(
    topic: TopicFacts,
    messages: Sequence[ValidatedPublish],
    endpoints: Sequence[tuple[FilterPolicy | None, SqsEndpoint]],
    *,
    next_sequence: Callable[[], int],
    now_ms: int,
    base_url: str,
    signer: EnvelopeSigner | None,
    http_endpoints: Sequence[tuple[FilterPolicy | None, HttpEndpoint]] = (),
) -> list[TopicMessage]:
    """Every queue and HTTP/S delivery of ``messages``, in order, ready for
    ``TopicStore.publish_to_queues``.

    ``endpoints`` are the topic's confirmed SQS subscriptions with their filter policies,
    ``http_endpoints`` its confirmed HTTP/S ones: a message goes to those whose policy
    passes (judged on the text the subscription's protocol receives and on the published
    attributes, also those a structured message does not deliver). On a FIFO topic each
    message takes the next number of ``next_sequence`` and is deduplicated by its
    deduplication id (within its group when the topic's FifoThroughputScope is
    MessageGroup).
    """
    prepared: list[TopicMessage] = []
    for published in messages:
        sequence_number = format_sequence_number(next_sequence()) if topic.is_fifo else None
        publication = Publication(
            published,
            new_message_id(),
            topic.arn,
            topic.is_fifo,
            sequence_number,
            now_ms,
            base_url,
        )
        text = published.message_for("sqs")
        signature: EnvelopeSignature | None = None
        signed = False
        deliveries: list[QueueDelivery] = []
        for policy, endpoint in endpoints:
            if policy is not None and not policy.matches(
                body=text, attributes=published.attributes
            ):
                continue
            if not endpoint.raw and not signed:
                signature = envelope_signature(publication, signer, topic.signature_version)
                signed = True
            message = sqs_message(publication, endpoint, signature)
            dead = (
                dead_letter_delivery(publication, endpoint, signature)
                if endpoint.dead_letter is not None
                else None
            )
            if message is not None and endpoint.target is not None:
                # ``fallback``: where it goes if the queue is deleted before the commit.
                deliveries.append(QueueDelivery(endpoint.target, message, fallback=dead))
            elif dead is not None:
                log.warning(
                    "moved %s to the dead-letter queue of %s: its queue does not exist, the "
                    "message is too large for it, or a raw delivery has more than 10 attributes",
                    publication.message_id,
                    endpoint.subscription_arn,
                )
                deliveries.append(dead)
            else:
                log.warning(
                    "dropped the delivery of %s to %s: its queue does not exist, the message "
                    "is too large for it, or a raw delivery has more than 10 attributes",
                    publication.message_id,
                    endpoint.subscription_arn,
                )
        posts = _http_deliveries(publication, http_endpoints, signer, topic.signature_version)
        dedup_key = None
        if topic.is_fifo and published.dedup_id is not None and published.group_id is not None:
            dedup_key = dedup.dedup_key(
                published.dedup_id,
                published.group_id,
                scope_is_message_group=topic.dedup_scope_group,
            )
        prepared.append(
            TopicMessage(publication.message_id, deliveries, dedup_key, sequence_number, posts)
        )
    return prepared


def _http_deliveries(
    publication: Publication,
    endpoints: Sequence[tuple[FilterPolicy | None, HttpEndpoint]],
    signer: EnvelopeSigner | None,
    signature_version: str,
) -> list[HttpDelivery]:
    published = publication.published
    signatures: dict[str, EnvelopeSignature | None] = {}  # per protocol: its own text
    posts: list[HttpDelivery] = []
    for policy, endpoint in endpoints:
        text = published.message_for(endpoint.protocol)
        if policy is not None and not policy.matches(body=text, attributes=published.attributes):
            continue
        if not endpoint.raw and endpoint.protocol not in signatures:
            signatures[endpoint.protocol] = envelope_signature(
                publication, signer, signature_version, endpoint.protocol
            )
        posts.append(http_delivery(publication, endpoint, signatures.get(endpoint.protocol)))
    return posts
