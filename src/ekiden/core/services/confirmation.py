"""The SubscriptionConfirmation an HTTP/S subscription is sent when it is created (and
again when its endpoint is subscribed again before confirming), and the
UnsubscribeConfirmation it is sent when it is deleted.

AWS POSTs it to the endpoint at Subscribe (guide, "Fanout to HTTP/S endpoints", step 1):
a signed envelope with the confirmation ``Token`` and a ``SubscribeURL`` that confirms
the subscription when fetched (a GET of ``?Action=ConfirmSubscription&TopicArn=..
&Token=..``, which ekiden answers on its own port). It goes through the same outbox and
retries as notifications ("This applies to all messages, including the subscription
confirmation message"). The UnsubscribeConfirmation (AWS sends one to an HTTP/S endpoint
at Unsubscribe) is signed the same way; its SubscribeURL is the confirmation link of the
deleted subscription, which ekiden no longer honours (AWS's would subscribe again).
"""

from __future__ import annotations

from ekiden.core.ids import new_message_id
from ekiden.core.services.fanout import EnvelopeSigner
from ekiden.core.sns_envelopes import confirmation, subscribe_url
from ekiden.core.topic_storage import HttpDelivery

SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
CONFIRMATION_TYPES = frozenset({SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION})


def confirmation_delivery(
    *,
    subscription_arn: str,
    topic_arn: str,
    token: str,
    base_url: str,
    now_ms: int,
    signer: EnvelopeSigner | None,
    signature_version: str,
) -> HttpDelivery:
    """The confirmation POST of a new HTTP/S subscription; ``base_url`` is how the
    subscriber addressed ekiden, so its SubscribeURL (and SigningCertURL) lead back."""
    return _signed(
        SUBSCRIPTION_CONFIRMATION,
        subscription_arn=subscription_arn,
        topic_arn=topic_arn,
        token=token,
        base_url=base_url,
        now_ms=now_ms,
        signer=signer,
        signature_version=signature_version,
    )


def unsubscribe_confirmation_delivery(
    *,
    subscription_arn: str,
    topic_arn: str,
    token: str,
    endpoint: str,
    delivery_policy: str,
    base_url: str,
    now_ms: int,
    signer: EnvelopeSigner | None,
    signature_version: str,
) -> HttpDelivery:
    """The UnsubscribeConfirmation POST of a deleted HTTP/S subscription: it names its
    ``endpoint`` and ``delivery_policy`` (the subscription's effective DeliveryPolicy,
    JSON) itself, since the subscription is gone when it is sent."""
    return _signed(
        UNSUBSCRIBE_CONFIRMATION,
        subscription_arn=subscription_arn,
        topic_arn=topic_arn,
        token=token,
        base_url=base_url,
        now_ms=now_ms,
        signer=signer,
        signature_version=signature_version,
        endpoint=endpoint,
        delivery_policy=delivery_policy,
    )


def _signed(
    kind: str,
    *,
    subscription_arn: str,
    topic_arn: str,
    token: str,
    base_url: str,
    now_ms: int,
    signer: EnvelopeSigner | None,
    signature_version: str,
    endpoint: str | None = None,
    delivery_policy: str | None = None,
) -> HttpDelivery:
    """A signed confirmation envelope of ``kind``, as the outbox delivers it."""
    envelope = confirmation(
        kind,
        message_id=new_message_id(),
        token=token,
        topic_arn=topic_arn,
        subscribe_url=subscribe_url(base_url, topic_arn, token),
        timestamp_ms=now_ms,
        # Only the UnsubscribeConfirmation names its subscription.
        subscription_arn=subscription_arn if kind == UNSUBSCRIBE_CONFIRMATION else "",
    )
    signature = (
        signer.sign(envelope.string_to_sign(), signature_version, base_url)
        if signer is not None
        else None
    )
    return HttpDelivery(
        subscription_arn,
        kind,
        envelope.message_id,
        topic_arn,
        envelope.to_json(signature),
        endpoint=endpoint,
        delivery_policy=delivery_policy,
    )
