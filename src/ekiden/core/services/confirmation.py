"""The SubscriptionConfirmation an HTTP/S subscription is sent when it is created.

AWS POSTs it to the endpoint at Subscribe (guide, "Fanout to HTTP/S endpoints", step 1):
a signed envelope with the confirmation ``Token`` and a ``SubscribeURL`` that confirms
the subscription when fetched (a GET of ``?Action=ConfirmSubscription&TopicArn=..
&Token=..``, which ekiden answers on its own port). It goes through the same outbox and
retries as notifications ("This applies to all messages, including the subscription
confirmation message").
"""

from __future__ import annotations

from ekiden.core.ids import new_message_id
from ekiden.core.services.fanout import EnvelopeSigner
from ekiden.core.sns_envelopes import confirmation, subscribe_url
from ekiden.core.topic_storage import HttpDelivery

SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"


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
    envelope = confirmation(
        SUBSCRIPTION_CONFIRMATION,
        message_id=new_message_id(),
        token=token,
        topic_arn=topic_arn,
        subscribe_url=subscribe_url(base_url, topic_arn, token),
        timestamp_ms=now_ms,
    )
    signature = (
        signer.sign(envelope.string_to_sign(), signature_version, base_url)
        if signer is not None
        else None
    )
    return HttpDelivery(
        subscription_arn,
        SUBSCRIPTION_CONFIRMATION,
        envelope.message_id,
        topic_arn,
        envelope.to_json(signature),
    )
