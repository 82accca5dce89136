"""The SQS error catalog: domain error -> how SQS spells it on each wire protocol.

``json_type`` is the JSON protocol's ``__type``; ``code`` is the Query protocol's
``<Code>`` and, joined with the fault side, the JSON protocol's ``x-amzn-query-error``
header (which current SDKs read as the error code). A meta test checks that every error
class of ``ekiden.core.errors`` is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ekiden.core import errors as e

_SQS = "com.amazonaws.sqs#"
_CORAL = "com.amazon.coral.service#"


@dataclass(frozen=True, slots=True)
class WireError:
    json_type: str
    code: str
    status: int
    sender_fault: bool = True
    query_message: str | None = None  # where the Query protocol words it differently

    @property
    def query_error_header(self) -> str:
        return f"{self.code};{'Sender' if self.sender_fault else 'Receiver'}"


CATALOG: dict[type[e.EkidenError], WireError] = {
    e.InvalidParameterValue: WireError(
        _CORAL + "InvalidParameterValueException", "InvalidParameterValue", 400
    ),
    e.MessageTooLong: WireError(
        _CORAL + "InvalidParameterValueException", "InvalidParameterValue", 400
    ),
    e.InvalidMessageAttribute: WireError(
        _CORAL + "InvalidParameterValueException", "InvalidParameterValue", 400
    ),
    e.MissingParameter: WireError(
        _CORAL + "MissingRequiredParameterException", "MissingParameter", 400
    ),
    e.InvalidParameterCombination: WireError(
        _CORAL + "InvalidParameterCombination", "InvalidParameterCombination", 400
    ),
    e.MalformedRequest: WireError(_CORAL + "SerializationException", "MalformedQueryString", 400),
    e.UnknownOperation: WireError(_CORAL + "UnknownOperationException", "InvalidAction", 400),
    e.InvalidAttributeName: WireError(_SQS + "InvalidAttributeName", "InvalidAttributeName", 400),
    e.InvalidAttributeValue: WireError(
        _SQS + "InvalidAttributeValue", "InvalidAttributeValue", 400
    ),
    e.InvalidMessageContents: WireError(
        _SQS + "InvalidMessageContents", "InvalidMessageContents", 400
    ),
    e.UnsupportedOperation: WireError(
        _SQS + "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400
    ),
    e.QueueDoesNotExist: WireError(
        _SQS + "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
        query_message="The specified queue does not exist for this wsdl version.",
    ),
    e.QueueNameExists: WireError(_SQS + "QueueNameExists", "QueueAlreadyExists", 400),
    e.QueueDeletedRecently: WireError(
        _SQS + "QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400
    ),
    e.PurgeQueueInProgress: WireError(
        _SQS + "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403
    ),
    e.OverLimit: WireError(_SQS + "OverLimit", "OverLimit", 403),
    # SNS-only errors, in the nearest SQS spelling (SQS raises none of them itself).
    e.TopicDoesNotExist: WireError(
        _SQS + "ResourceNotFoundException", "ResourceNotFoundException", 404
    ),
    e.SubscriptionDoesNotExist: WireError(
        _SQS + "ResourceNotFoundException", "ResourceNotFoundException", 404
    ),
    e.TopicLimitExceeded: WireError(_SQS + "OverLimit", "OverLimit", 403),
    e.SubscriptionLimitExceeded: WireError(_SQS + "OverLimit", "OverLimit", 403),
    e.FilterPolicyLimitExceeded: WireError(_SQS + "OverLimit", "OverLimit", 403),
    e.TagLimitExceeded: WireError(_SQS + "OverLimit", "OverLimit", 403),
    e.ReceiptHandleIsInvalid: WireError(
        _SQS + "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404
    ),
    e.MessageNotInflight: WireError(
        _SQS + "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400
    ),
    e.EmptyBatchRequest: WireError(
        _SQS + "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400
    ),
    e.TooManyEntriesInBatchRequest: WireError(
        _SQS + "TooManyEntriesInBatchRequest",
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        400,
    ),
    e.BatchEntryIdsNotDistinct: WireError(
        _SQS + "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400
    ),
    e.InvalidBatchEntryId: WireError(
        _SQS + "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400
    ),
    e.BatchRequestTooLong: WireError(
        _SQS + "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400
    ),
    e.ResourceNotFound: WireError(
        _SQS + "ResourceNotFoundException", "ResourceNotFoundException", 404
    ),
    # Lambda-only errors, in the nearest SQS spelling (SQS raises none of them itself).
    e.FunctionDoesNotExist: WireError(
        _SQS + "ResourceNotFoundException", "ResourceNotFoundException", 404
    ),
    e.MappingDoesNotExist: WireError(
        _SQS + "ResourceNotFoundException", "ResourceNotFoundException", 404
    ),
    e.ResourceConflict: WireError(
        _CORAL + "InvalidParameterValueException", "InvalidParameterValue", 400
    ),
    e.TooManyRequests: WireError(_CORAL + "ThrottlingException", "Throttling", 400),
    # The SQS model's RequestThrottled shape (every operation lists it); SDKs retry it.
    e.Throttled: WireError(_SQS + "RequestThrottled", "RequestThrottled", 400),
    e.AccessDenied: WireError(_CORAL + "AccessDeniedException", "AccessDenied", 403),
    # Authentication: SQS's common errors; the JSON __type names the same code, so an SDK
    # that ignores x-amzn-query-error still sees it.
    e.MissingAuthenticationToken: WireError(
        _CORAL + "MissingAuthenticationToken", "MissingAuthenticationToken", 403
    ),
    e.IncompleteSignature: WireError(_CORAL + "IncompleteSignature", "IncompleteSignature", 400),
    e.InvalidClientTokenId: WireError(_CORAL + "InvalidClientTokenId", "InvalidClientTokenId", 403),
    e.SignatureDoesNotMatch: WireError(
        _CORAL + "SignatureDoesNotMatch", "SignatureDoesNotMatch", 403
    ),
    e.RequestExpired: WireError(_CORAL + "RequestExpired", "RequestExpired", 400),
    e.ServiceUnavailable: WireError(
        _CORAL + "ServiceUnavailableException", "ServiceUnavailable", 503, sender_fault=False
    ),
    e.InternalFailure: WireError(
        _CORAL + "InternalFailure", "InternalFailure", 500, sender_fault=False
    ),
}

_INTERNAL = CATALOG[e.InternalFailure]


def wire_error(error: e.EkidenError) -> WireError:
    """The wire spelling of ``error`` (its nearest catalogued class)."""
    for cls in type(error).__mro__:
        found = CATALOG.get(cls)
        if found is not None:
            return found
    return _INTERNAL
