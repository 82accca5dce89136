"""One handler per SNS action: typed request (``shapes``) -> ``TopicService`` call ->
typed result (``responses``).

Authorisation (when the request carries an identity) checks the identity's allow rules
against ``sns:<Action>`` on the topic ARN (a subscription's topic; ``arn:...:*`` for the
account-wide lists) before anything changes. Topic ``Policy`` documents are not
evaluated: SNS's default topic policy is all conditions, which ekiden does not evaluate.

The handlers know nothing of the wire format: ``frontend`` decodes the form into the
request and encodes what a handler returns. Wire-shaped values (tags as ``Tag`` lists,
message attributes as ``MessageAttributeValue``) become domain values here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ekiden.core.errors import EkidenError, InvalidParameterValue
from ekiden.core.messages import AttributeValue
from ekiden.core.services.topics import PublishReceipt, TopicService
from ekiden.core.sns_messages import BatchEntry, PublishInput
from ekiden.core.topic_storage import SubscriptionRecord
from ekiden.protocols.sns import shapes as s
from ekiden.protocols.sns.errors import wire_error
from ekiden.protocols.sns.responses import (
    BatchResultErrorEntry,
    ConfirmSubscriptionResult,
    CreateTopicResult,
    GetSubscriptionAttributesResult,
    GetTopicAttributesResult,
    ListSubscriptionsByTopicResult,
    ListSubscriptionsResult,
    ListTagsForResourceResult,
    ListTopicsResult,
    PublishBatchResult,
    PublishBatchResultEntry,
    PublishResult,
    SnsResult,
    SubscribeResult,
    SubscriptionSummary,
)
from ekiden.protocols.sqs.operations import RequestContext

Handler = Callable[[TopicService, RequestContext, Any], Awaitable[SnsResult | None]]


def _authorize(ctx: RequestContext, action: str, arn: str | None) -> None:
    """Check that the caller may perform the SNS ``action`` on the topic (or topic of the
    subscription) ``arn``; ``None`` or a name-only value is checked as the topic of that
    name. A no-op when the request carries no identity (auth mode none).

    Raises:
        AccessDenied: the caller's rules do not allow it; nothing has been changed.
    """
    identity, authorizer = ctx.identity, ctx.authorizer
    if identity is None or authorizer is None:
        return
    if arn is None or not arn.startswith("arn:"):
        resource = authorizer.topic_arn(arn or "*")
    else:
        parts = arn.split(":")
        # a subscription ARN is its topic's ARN plus ":<id>"
        resource = ":".join(parts[:6]) if parts[2:3] == ["sns"] else arn
    authorizer.require(identity, f"sns:{action}", resource)


def _tags(tags: list[s.Tag] | None) -> list[tuple[str, str]]:
    return [(tag.key, tag.value) for tag in tags or []]


def _attributes(
    attributes: Mapping[str, s.MessageAttributeValue] | None,
) -> dict[str, AttributeValue]:
    return {
        name: AttributeValue(value.data_type, value.string_value, value.binary_value)
        for name, value in (attributes or {}).items()
    }


def _summary(record: SubscriptionRecord) -> SubscriptionSummary:
    return SubscriptionSummary(
        # SNS lists a subscription awaiting confirmation under this word, not its ARN.
        subscription_arn="PendingConfirmation" if record.pending_confirmation else record.arn,
        owner=record.owner,
        protocol=record.protocol,
        endpoint=record.endpoint,
        topic_arn=record.topic_arn,
    )


# --- topics ---------------------------------------------------------------------------


async def create_topic(t: TopicService, ctx: RequestContext, r: s.CreateTopicRequest) -> SnsResult:
    _authorize(ctx, "CreateTopic", r.name)
    if r.data_protection_policy:
        raise InvalidParameterValue(
            "Invalid parameter: DataProtectionPolicy Reason: ekiden does not support message "
            "data protection policies"
        )
    arn = await t.create_topic(r.name, r.attributes or {}, _tags(r.tags))
    return CreateTopicResult(arn)


async def delete_topic(t: TopicService, ctx: RequestContext, r: s.DeleteTopicRequest) -> None:
    _authorize(ctx, "DeleteTopic", r.topic_arn)
    await t.delete_topic(r.topic_arn)


async def list_topics(t: TopicService, ctx: RequestContext, r: s.ListTopicsRequest) -> SnsResult:
    _authorize(ctx, "ListTopics", None)
    page = await t.list_topics(r.next_token)
    return ListTopicsResult(page.arns, page.next_token)


async def get_topic_attributes(
    t: TopicService, ctx: RequestContext, r: s.GetTopicAttributesRequest
) -> SnsResult:
    _authorize(ctx, "GetTopicAttributes", r.topic_arn)
    return GetTopicAttributesResult(t.get_topic_attributes(r.topic_arn))


async def set_topic_attributes(
    t: TopicService, ctx: RequestContext, r: s.SetTopicAttributesRequest
) -> None:
    _authorize(ctx, "SetTopicAttributes", r.topic_arn)
    await t.set_topic_attribute(r.topic_arn, r.attribute_name, r.attribute_value)


# --- subscriptions --------------------------------------------------------------------


async def subscribe(t: TopicService, ctx: RequestContext, r: s.SubscribeRequest) -> SnsResult:
    _authorize(ctx, "Subscribe", r.topic_arn)
    arn = await t.subscribe(
        r.topic_arn,
        r.protocol,
        r.endpoint,
        r.attributes or {},
        return_subscription_arn=bool(r.return_subscription_arn),
        base_url=ctx.base_url,
    )
    return SubscribeResult(arn)


async def confirm_subscription(
    t: TopicService, ctx: RequestContext, r: s.ConfirmSubscriptionRequest
) -> SnsResult:
    _authorize(ctx, "ConfirmSubscription", r.topic_arn)
    # AuthenticateOnUnsubscribe is honoured only on a signed request, as in SNS.
    protect = None if ctx.anonymous else r.authenticate_on_unsubscribe
    arn = await t.confirm_subscription(r.topic_arn, r.token, protect)
    return ConfirmSubscriptionResult(arn)


async def unsubscribe(t: TopicService, ctx: RequestContext, r: s.UnsubscribeRequest) -> None:
    _authorize(ctx, "Unsubscribe", r.subscription_arn)
    await t.unsubscribe(r.subscription_arn, anonymous=ctx.anonymous)


async def list_subscriptions(
    t: TopicService, ctx: RequestContext, r: s.ListSubscriptionsRequest
) -> SnsResult:
    _authorize(ctx, "ListSubscriptions", None)
    page = await t.list_subscriptions(r.next_token)
    return ListSubscriptionsResult([_summary(x) for x in page.subscriptions], page.next_token)


async def list_subscriptions_by_topic(
    t: TopicService, ctx: RequestContext, r: s.ListSubscriptionsByTopicRequest
) -> SnsResult:
    _authorize(ctx, "ListSubscriptionsByTopic", r.topic_arn)
    page = await t.list_subscriptions(r.next_token, r.topic_arn)
    return ListSubscriptionsByTopicResult(
        [_summary(x) for x in page.subscriptions], page.next_token
    )


async def get_subscription_attributes(
    t: TopicService, ctx: RequestContext, r: s.GetSubscriptionAttributesRequest
) -> SnsResult:
    _authorize(ctx, "GetSubscriptionAttributes", r.subscription_arn)
    return GetSubscriptionAttributesResult(t.get_subscription_attributes(r.subscription_arn))


async def set_subscription_attributes(
    t: TopicService, ctx: RequestContext, r: s.SetSubscriptionAttributesRequest
) -> None:
    _authorize(ctx, "SetSubscriptionAttributes", r.subscription_arn)
    await t.set_subscription_attribute(r.subscription_arn, r.attribute_name, r.attribute_value)


# --- publishing -----------------------------------------------------------------------


async def publish(t: TopicService, ctx: RequestContext, r: s.PublishRequest) -> SnsResult:
    _authorize(ctx, "Publish", r.topic_arn or r.target_arn)
    topic = t.publish_topic(r.topic_arn, r.target_arn, r.phone_number)
    receipt = await t.publish(
        topic,
        PublishInput(
            message=r.message,
            subject=r.subject,
            message_structure=r.message_structure,
            attributes=_attributes(r.message_attributes),
            group_id=r.message_group_id,
            dedup_id=r.message_deduplication_id,
        ),
        ctx.base_url,
    )
    return PublishResult(receipt.message_id, receipt.sequence_number)


async def publish_batch(
    t: TopicService, ctx: RequestContext, r: s.PublishBatchRequest
) -> SnsResult:
    _authorize(ctx, "Publish", r.topic_arn)
    entries = [
        BatchEntry(
            entry.id,
            PublishInput(
                message=entry.message,
                subject=entry.subject,
                message_structure=entry.message_structure,
                attributes=_attributes(entry.message_attributes),
                group_id=entry.message_group_id,
                dedup_id=entry.message_deduplication_id,
            ),
        )
        for entry in r.entries
    ]
    results = await t.publish_batch(r.topic_arn, entries, ctx.base_url)
    successful: list[PublishBatchResultEntry] = []
    failed: list[BatchResultErrorEntry] = []
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, PublishReceipt):
            successful.append(
                PublishBatchResultEntry(entry.id, result.message_id, result.sequence_number)
            )
        else:
            failed.append(_failed(entry.id, result))
    return PublishBatchResult(successful, failed)


def _failed(entry_id: str, error: EkidenError) -> BatchResultErrorEntry:
    spelled = wire_error(error)
    return BatchResultErrorEntry(entry_id, spelled.code, spelled.sender_fault, error.message)


# --- tags -----------------------------------------------------------------------------


async def tag_resource(t: TopicService, ctx: RequestContext, r: s.TagResourceRequest) -> None:
    _authorize(ctx, "TagResource", r.resource_arn)
    await t.tag(r.resource_arn, _tags(r.tags))


async def untag_resource(t: TopicService, ctx: RequestContext, r: s.UntagResourceRequest) -> None:
    _authorize(ctx, "UntagResource", r.resource_arn)
    await t.untag(r.resource_arn, r.tag_keys)


async def list_tags_for_resource(
    t: TopicService, ctx: RequestContext, r: s.ListTagsForResourceRequest
) -> SnsResult:
    _authorize(ctx, "ListTagsForResource", r.resource_arn)
    return ListTagsForResourceResult(t.list_tags(r.resource_arn))


HANDLERS: dict[str, Handler] = {
    "ConfirmSubscription": confirm_subscription,
    "CreateTopic": create_topic,
    "DeleteTopic": delete_topic,
    "GetSubscriptionAttributes": get_subscription_attributes,
    "GetTopicAttributes": get_topic_attributes,
    "ListSubscriptions": list_subscriptions,
    "ListSubscriptionsByTopic": list_subscriptions_by_topic,
    "ListTagsForResource": list_tags_for_resource,
    "ListTopics": list_topics,
    "Publish": publish,
    "PublishBatch": publish_batch,
    "SetSubscriptionAttributes": set_subscription_attributes,
    "SetTopicAttributes": set_topic_attributes,
    "Subscribe": subscribe,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "Unsubscribe": unsubscribe,
}
