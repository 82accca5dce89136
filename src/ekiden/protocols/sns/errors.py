"""The SNS error catalog: domain error -> how SNS spells it on the Query protocol.

SNS speaks only the Query protocol, so an error is a ``code`` (the ``<Code>`` of the
``<ErrorResponse>`` document), an HTTP status and a fault side (``<Type>Sender</Type>``
or ``Receiver``). Codes and statuses of SNS's own errors are those of the error shapes
of the SNS service model (``model.json``: ``InvalidParameterException`` is
``InvalidParameter`` 400, ``NotFoundException`` is ``NotFound`` 404, ...); the others are
the common errors of every AWS Query API (``ValidationError``, ``InvalidAction``,
``MalformedQueryString``, ``ServiceUnavailable``). SNS answers most bad input with
``InvalidParameter`` and a message of the form ``Invalid parameter: <Name> Reason:
<why>``; the message is the domain error's own. A meta test checks that every error
class of ``ekiden.core.errors`` is here, and that modeled codes carry the model's status.

How to encode an error
----------------------
::

    status, body = encode_error(error, request_id)  # body: the <ErrorResponse> XML
    # answer with HTTP ``status``, Content-Type text/xml, header x-amzn-RequestId
"""

from __future__ import annotations

from dataclasses import dataclass

from ekiden.core import errors as e
from ekiden.protocols.sns import XML_NAMESPACE
from ekiden.protocols.wire.xml import encode_query_error

__all__ = ["CATALOG", "SnsWireError", "encode_error", "wire_error"]


@dataclass(frozen=True, slots=True)
class SnsWireError:
    """The wire spelling of one domain error class."""

    code: str
    status: int
    sender_fault: bool = True

    @property
    def fault(self) -> str:
        """``Sender`` or ``Receiver``: the ``<Type>`` of the error document."""
        return "Sender" if self.sender_fault else "Receiver"


_INVALID_PARAMETER = SnsWireError("InvalidParameter", 400)

CATALOG: dict[type[e.EkidenError], SnsWireError] = {
    # --- request shape: SNS words almost all bad input as InvalidParameter
    e.InvalidParameterValue: _INVALID_PARAMETER,
    e.InvalidMessageAttribute: SnsWireError("ParameterValueInvalid", 400),
    # Absent required members, reported as AWS's request validation reports them.
    e.MissingParameter: SnsWireError("ValidationError", 400),
    e.InvalidParameterCombination: _INVALID_PARAMETER,
    e.MalformedRequest: SnsWireError("MalformedQueryString", 400),
    e.UnknownOperation: SnsWireError("InvalidAction", 400),
    e.UnsupportedOperation: SnsWireError("InvalidAction", 400),
    e.InvalidAttributeName: _INVALID_PARAMETER,
    e.InvalidAttributeValue: _INVALID_PARAMETER,
    e.InvalidMessageContents: _INVALID_PARAMETER,
    e.MessageTooLong: _INVALID_PARAMETER,  # "Invalid parameter: Message too long"
    # --- topics and subscriptions
    e.TopicDoesNotExist: SnsWireError("NotFound", 404),
    e.SubscriptionDoesNotExist: SnsWireError("NotFound", 404),
    e.TopicLimitExceeded: SnsWireError("TopicLimitExceeded", 403),
    e.SubscriptionLimitExceeded: SnsWireError("SubscriptionLimitExceeded", 403),
    e.FilterPolicyLimitExceeded: SnsWireError("FilterPolicyLimitExceeded", 403),
    e.TagLimitExceeded: SnsWireError("TagLimitExceeded", 400),
    e.OverLimit: _INVALID_PARAMETER,  # any other limit (SNS has no generic limit code)
    # --- queues and messages: SQS-only errors, should one reach SNS (e.g. a delivery)
    e.QueueDoesNotExist: SnsWireError("NotFound", 404),
    e.QueueNameExists: _INVALID_PARAMETER,
    e.QueueDeletedRecently: _INVALID_PARAMETER,
    e.PurgeQueueInProgress: _INVALID_PARAMETER,
    e.ReceiptHandleIsInvalid: _INVALID_PARAMETER,
    e.MessageNotInflight: _INVALID_PARAMETER,
    # --- batches (PublishBatch)
    e.EmptyBatchRequest: SnsWireError("EmptyBatchRequest", 400),
    e.TooManyEntriesInBatchRequest: SnsWireError("TooManyEntriesInBatchRequest", 400),
    e.BatchEntryIdsNotDistinct: SnsWireError("BatchEntryIdsNotDistinct", 400),
    e.InvalidBatchEntryId: SnsWireError("InvalidBatchEntryId", 400),
    e.BatchRequestTooLong: SnsWireError("BatchRequestTooLong", 400),
    # --- resources (tags)
    e.ResourceNotFound: SnsWireError("ResourceNotFound", 404),
    # --- functions (a lambda subscription's delivery)
    e.FunctionDoesNotExist: SnsWireError("NotFound", 404),
    e.MappingDoesNotExist: SnsWireError("NotFound", 404),
    e.ResourceConflict: _INVALID_PARAMETER,
    e.TooManyRequests: SnsWireError("Throttled", 429),
    e.Throttled: SnsWireError("Throttled", 429),
    # --- the broker itself
    e.AccessDenied: SnsWireError("AuthorizationError", 403),
    # authentication: the common errors of every AWS Query API
    e.MissingAuthenticationToken: SnsWireError("MissingAuthenticationToken", 403),
    e.IncompleteSignature: SnsWireError("IncompleteSignature", 400),
    e.InvalidClientTokenId: SnsWireError("InvalidClientTokenId", 403),
    e.SignatureDoesNotMatch: SnsWireError("SignatureDoesNotMatch", 403),
    e.RequestExpired: SnsWireError("RequestExpired", 400),
    e.ServiceUnavailable: SnsWireError("ServiceUnavailable", 503, sender_fault=False),
    e.InternalFailure: SnsWireError("InternalError", 500, sender_fault=False),
}

_INTERNAL = CATALOG[e.InternalFailure]


def wire_error(error: e.EkidenError) -> SnsWireError:
    """The SNS spelling of ``error``: its class's entry, else its nearest catalogued
    ancestor's (``InternalError`` for an uncatalogued direct subclass of the root)."""
    for cls in type(error).__mro__:
        found = CATALOG.get(cls)
        if found is not None:
            return found
    return _INTERNAL


def encode_error(error: e.EkidenError, request_id: str) -> tuple[int, bytes]:
    """The HTTP status and the ``<ErrorResponse>`` XML document of ``error``.

    The document is ``<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
    <Error><Type>Sender</Type><Code>{code}</Code><Message>{error.message}</Message>
    </Error><RequestId>{request_id}</RequestId></ErrorResponse>`` (no ``<Detail/>``, see
    ``ekiden.protocols.wire.xml.encode_query_error``; characters XML cannot carry become
    U+FFFD). The message is sent as it is: hide internals before raising, or pass an
    ``InternalFailure`` with a generic message for unexpected exceptions.
    """
    spelled = wire_error(error)
    body = encode_query_error(
        spelled.code,
        error.message,
        spelled.sender_fault,
        request_id,
        namespace=XML_NAMESPACE,
        detail=False,
    )
    return spelled.status, body
