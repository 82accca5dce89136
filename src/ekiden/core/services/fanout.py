"""The SQS message a published SNS message becomes in one subscribed queue, and the POST
it becomes for one HTTP/S subscription.

Pure functions of (published message, subscription, queue, time): ``TopicService`` picks
the subscriptions (confirmed SQS and HTTP/S ones) and resolves their queues, this module
applies their filter policies and writes each queue's message and each endpoint's POST
(``http_delivery``), and the store inserts them all in one transaction
(``TopicStore.publish_to_queues``; the POSTs into the outbox that
``ekiden.core.services.http_delivery`` empties).

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

A message larger than the queue's MaximumMessageSize cannot be delivered; AWS counts that
as a client-side failure, so it is dropped too (without a dead-letter queue: ekiden
dead-letters only the HTTP/S deliveries that run out of retries).

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
from ekiden.core.messages import attributes_size, md5_of_attributes, md5_of_body
from ekiden.core.rules import dedup
from ekiden.core.rules.patterns import FilterPolicy
from ekiden.core.sns_envelopes import (
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
class SqsEndpoint:
    """A confirmed SQS subscription together with the queue its endpoint names."""

    subscription_arn: str
    raw: bool
    target: QueueTarget
    delay_s: int
    max_message_bytes: int
    dedup_scope_group: bool


@dataclass(frozen=True, slots=True)
class HttpEndpoint:
    """A confirmed HTTP/S subscription: what its POST carries depends on these alone."""

    subscription_arn: str
    protocol: str  # "http" or "https"
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


def sqs_message(
    publication: Publication,
    endpoint: SqsEndpoint,
    signature: EnvelopeSignature | None,
) -> NewMessage | None:
    """The message ``endpoint``'s queue receives, or ``None`` when the delivery must be
    dropped (raw delivery of more than 10 attributes, too large for the queue)."""
    published = publication.published
    if endpoint.raw:
        body = published.message_for("sqs")
        attributes = raw_sqs_attributes(published)
        if attributes is None:
            return None
    else:
        envelope = notification_for(
            published,
            protocol="sqs",
            message_id=publication.message_id,
            topic_arn=publication.topic_arn,
            timestamp_ms=publication.timestamp_ms,
            unsubscribe_url=unsubscribe_url(publication.base_url, endpoint.subscription_arn),
            sequence_number=publication.sequence_number,
        )
        body = envelope.to_json(signature)
        attributes = {}
    body_bytes = body.encode("utf-8")
    if len(body_bytes) + attributes_size(attributes) > endpoint.max_message_bytes:
        return None
    group_id, dedup_id = sqs_ordering_fields(published, queue_fifo=endpoint.target.is_fifo)
    dedup_key = None
    if endpoint.target.is_fifo:
        if group_id is None or dedup_id is None:
            return None  # only FIFO topics reach FIFO queues, and they always have both
        dedup_key = dedup.dedup_key(
            dedup_id, group_id, scope_is_message_group=endpoint.dedup_scope_group
        )
    return NewMessage(
        message_id=new_message_id(),
        body=body,
        attributes=attributes,
        system_attributes={},
        md5_of_body=md5_of_body(body_bytes),
        md5_of_attributes=md5_of_attributes(attributes),
        md5_of_system_attributes=None,
        sender_id=SNS_SENDER_ID,
        delay_s=endpoint.delay_s,
        group_id=group_id,
        dedup_id=dedup_id,
        dedup_key=dedup_key,
    )


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
            if message is None:
                log.warning(
                    "dropped the delivery of %s to %s: too large for the queue, or a raw "
                    "delivery of more than 10 attributes",
                    publication.message_id,
                    endpoint.subscription_arn,
                )
                continue
            deliveries.append(QueueDelivery(endpoint.target, message))
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
