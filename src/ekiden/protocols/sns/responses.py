"""One typed result shape per SNS action, and its encoding as SNS's XML answer.

How to encode a result
----------------------
::

    body = encode_result("CreateTopic", CreateTopicResult(topic_arn=arn), request_id)
    body = encode_result("DeleteTopic", None, request_id)  # actions without a result
    # answer with HTTP 200, Content-Type text/xml, header x-amzn-RequestId

The document is the one SNS writes, for example::

    <?xml version="1.0"?><CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
    <CreateTopicResult><TopicArn>arn:aws:sns:...</TopicArn></CreateTopicResult>
    <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata></CreateTopicResponse>

(without the line breaks). What each action takes, by ``RESULT_SHAPES``:

* ``None``: DeleteTopic, SetTopicAttributes, Unsubscribe, SetSubscriptionAttributes (no
  ``<XResult>`` element at all), TagResource and UntagResource (an empty
  ``<TagResourceResult/>``, as their model output is an empty structure);
* ``CreateTopicResult``, ``SubscribeResult``, ``ConfirmSubscriptionResult``: one ARN.
  ``SubscribeResult.subscription_arn`` is ``"pending confirmation"`` for a subscription
  that awaits confirmation (unless the request set ``ReturnSubscriptionArn``);
* ``ListTopicsResult(topic_arns, next_token)``: ``<Topics><member><TopicArn>``;
* ``ListSubscriptionsResult`` / ``ListSubscriptionsByTopicResult(subscriptions,
  next_token)``: ``<Subscriptions><member>`` of ``SubscriptionSummary``;
* ``GetTopicAttributesResult`` / ``GetSubscriptionAttributesResult(attributes)``: a map
  of strings, ``<Attributes><entry><key>k</key><value>v</value></entry>``;
* ``PublishResult(message_id, sequence_number)`` (the sequence number for FIFO topics);
* ``PublishBatchResult(successful, failed)``: ``PublishBatchResultEntry`` and
  ``BatchResultErrorEntry`` members; a failed entry carries the entry's ``Code`` (the
  same spelling as a whole-request error: see ``errors.wire_error``) and ``SenderFault``;
* ``ListTagsForResourceResult(tags)``: a mapping of key to value, written as
  ``<Tags><member><Key>k</Key><Value>v</Value></member>`` in the mapping's order.

``None`` members are left out of the document, as SNS leaves them out; text is escaped
by ``ekiden.protocols.wire.xml``, which also writes the document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ekiden.protocols.sns import sns_model
from ekiden.protocols.wire.xml import encode_query_response

__all__ = [
    "RESULT_SHAPES",
    "BatchResultErrorEntry",
    "ConfirmSubscriptionResult",
    "CreateTopicResult",
    "GetSubscriptionAttributesResult",
    "GetTopicAttributesResult",
    "ListSubscriptionsByTopicResult",
    "ListSubscriptionsResult",
    "ListTagsForResourceResult",
    "ListTopicsResult",
    "PublishBatchResult",
    "PublishBatchResultEntry",
    "PublishResult",
    "SnsResult",
    "SubscribeResult",
    "SubscriptionSummary",
    "encode_result",
]

Wire = dict[str, Any]  # the JSON-shaped dict ``encode_query_response`` writes


# --- topics -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateTopicResult:
    topic_arn: str

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {"TopicArn": self.topic_arn}


@dataclass(frozen=True, slots=True)
class ListTopicsResult:
    topic_arns: Sequence[str]
    next_token: str | None = None

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {
            "Topics": [{"TopicArn": arn} for arn in self.topic_arns],
            "NextToken": self.next_token,
        }


@dataclass(frozen=True, slots=True)
class GetTopicAttributesResult:
    attributes: Mapping[str, str]

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {"Attributes": self.attributes}


# --- subscriptions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    subscription_arn: str

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {"SubscriptionArn": self.subscription_arn}


@dataclass(frozen=True, slots=True)
class ConfirmSubscriptionResult:
    subscription_arn: str

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {"SubscriptionArn": self.subscription_arn}


@dataclass(frozen=True, slots=True)
class SubscriptionSummary:
    """One subscription of a listing. ``subscription_arn`` is ``"PendingConfirmation"``
    for one not yet confirmed (SNS's listing spelling, unlike Subscribe's)."""

    subscription_arn: str
    owner: str
    protocol: str
    endpoint: str
    topic_arn: str

    def to_wire(self) -> Wire:
        """The summary as model member names -> values."""
        return {
            "SubscriptionArn": self.subscription_arn,
            "Owner": self.owner,
            "Protocol": self.protocol,
            "Endpoint": self.endpoint,
            "TopicArn": self.topic_arn,
        }


@dataclass(frozen=True, slots=True)
class ListSubscriptionsResult:
    subscriptions: Sequence[SubscriptionSummary]
    next_token: str | None = None

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {
            "Subscriptions": [s.to_wire() for s in self.subscriptions],
            "NextToken": self.next_token,
        }


@dataclass(frozen=True, slots=True)
class ListSubscriptionsByTopicResult:
    subscriptions: Sequence[SubscriptionSummary]
    next_token: str | None = None

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {
            "Subscriptions": [s.to_wire() for s in self.subscriptions],
            "NextToken": self.next_token,
        }


@dataclass(frozen=True, slots=True)
class GetSubscriptionAttributesResult:
    attributes: Mapping[str, str]

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {"Attributes": self.attributes}


# --- publishing -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishResult:
    message_id: str
    sequence_number: str | None = None

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {"MessageId": self.message_id, "SequenceNumber": self.sequence_number}


@dataclass(frozen=True, slots=True)
class PublishBatchResultEntry:
    id: str
    message_id: str
    sequence_number: str | None = None

    def to_wire(self) -> Wire:
        """The entry as model member names -> values."""
        return {"Id": self.id, "MessageId": self.message_id, "SequenceNumber": self.sequence_number}


@dataclass(frozen=True, slots=True)
class BatchResultErrorEntry:
    id: str
    code: str
    sender_fault: bool
    message: str | None = None

    def to_wire(self) -> Wire:
        """The entry as model member names -> values."""
        return {
            "Id": self.id,
            "Code": self.code,
            "Message": self.message,
            "SenderFault": self.sender_fault,
        }


@dataclass(frozen=True, slots=True)
class PublishBatchResult:
    successful: Sequence[PublishBatchResultEntry] = ()
    failed: Sequence[BatchResultErrorEntry] = ()

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {
            "Successful": [entry.to_wire() for entry in self.successful],
            "Failed": [entry.to_wire() for entry in self.failed],
        }


# --- tags -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListTagsForResourceResult:
    tags: Mapping[str, str]

    def to_wire(self) -> Wire:
        """The result as model member names -> values."""
        return {"Tags": [{"Key": key, "Value": value} for key, value in self.tags.items()]}


SnsResult = (
    CreateTopicResult
    | ListTopicsResult
    | GetTopicAttributesResult
    | SubscribeResult
    | ConfirmSubscriptionResult
    | ListSubscriptionsResult
    | ListSubscriptionsByTopicResult
    | GetSubscriptionAttributesResult
    | PublishResult
    | PublishBatchResult
    | ListTagsForResourceResult
)

# The result class of each action; None for actions that answer with no result.
RESULT_SHAPES: Mapping[str, type[SnsResult] | None] = {
    "ConfirmSubscription": ConfirmSubscriptionResult,
    "CreateTopic": CreateTopicResult,
    "DeleteTopic": None,
    "GetSubscriptionAttributes": GetSubscriptionAttributesResult,
    "GetTopicAttributes": GetTopicAttributesResult,
    "ListSubscriptions": ListSubscriptionsResult,
    "ListSubscriptionsByTopic": ListSubscriptionsByTopicResult,
    "ListTagsForResource": ListTagsForResourceResult,
    "ListTopics": ListTopicsResult,
    "Publish": PublishResult,
    "PublishBatch": PublishBatchResult,
    "SetSubscriptionAttributes": None,
    "SetTopicAttributes": None,
    "Subscribe": SubscribeResult,
    "TagResource": None,
    "UntagResource": None,
    "Unsubscribe": None,
}


def encode_result(action: str, result: SnsResult | None, request_id: str) -> bytes:
    """The XML document answering ``action`` with ``result`` (see the module docstring).

    Raises ``TypeError`` when ``result`` is not of the action's result class (a bug of
    the caller), ``UnknownOperation`` for an action SNS does not have and
    ``InternalFailure`` for text that cannot be encoded (lone surrogates).
    """
    expected = RESULT_SHAPES.get(action)
    if type(result) is not expected and not (result is None and expected is None):
        wanted = "None" if expected is None else expected.__name__
        raise TypeError(f"{action} answers with {wanted}, not {type(result).__name__}")
    wire = None if result is None else result.to_wire()
    return encode_query_response(sns_model(), action, wire, request_id)
