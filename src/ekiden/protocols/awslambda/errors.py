"""The Lambda error catalog: domain error -> how the Lambda API (REST-JSON) spells it.

Lambda answers an error with its HTTP status, the header ``x-amzn-ErrorType: <Code>``
(what botocore's REST-JSON parser reads first) and a body ``{"Type": "User" | "Service",
"message": "..."}``. The message member is spelled as the error shape in Lambda's
service model spells it: ``Message`` for ResourceNotFoundException and ServiceException,
``message`` for the rest. TooManyRequestsException also carries ``Reason`` (a
ThrottleReason) and a ``Retry-After`` header.

A meta test (``tests/meta/test_lambda_error_catalog.py``) checks that every error class
of ``ekiden.core.errors`` is here and that every code is one of the model's error shapes
(with its status) or one of the common errors every AWS API may answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ekiden.core import errors as e


@dataclass(frozen=True, slots=True)
class LambdaWireError:
    """One wire spelling.

    Attributes:
        code: the ``x-amzn-ErrorType`` header (the error shape name).
        status: the HTTP status.
        message_key: ``"message"`` or ``"Message"``, as the model's shape spells it.
        sender_fault: ``Type`` is ``"User"`` when true, else ``"Service"``.
        reason: the ``Reason`` member (TooManyRequestsException only).
    """

    code: str
    status: int
    message_key: str = "message"
    sender_fault: bool = True
    reason: str | None = None

    @property
    def fault_type(self) -> str:
        return "User" if self.sender_fault else "Service"


INVALID_PARAMETER = LambdaWireError("InvalidParameterValueException", 400)
INVALID_CONTENT = LambdaWireError("InvalidRequestContentException", 400)
NOT_FOUND = LambdaWireError("ResourceNotFoundException", 404, "Message")
CONFLICT = LambdaWireError("ResourceConflictException", 409)
TOO_LARGE = LambdaWireError("RequestTooLargeException", 413)
EVENT_TOO_LARGE = LambdaWireError("RequestEntityTooLargeException", 413)
"""An ``Event`` Invoke whose payload is over the asynchronous limit: Lambda answers this
code, which its model does not list (``An error occurred (RequestEntityTooLargeException)
when calling the Invoke operation: 264496 byte payload is too large for the Event
invocation type (limit 262144 bytes)``), so it is not in ``CATALOG``: the front end picks
it for ``MessageTooLong`` of an Event call."""
UNSUPPORTED_MEDIA_TYPE = LambdaWireError("UnsupportedMediaTypeException", 415)
THROTTLED = LambdaWireError(
    "TooManyRequestsException", 429, reason="ReservedFunctionConcurrentInvocationLimitExceeded"
)
CALLER_THROTTLED = LambdaWireError(
    "TooManyRequestsException", 429, reason="CallerRateLimitExceeded"
)
"""A caller over its ``[limits]`` request rate (not a function's concurrency)."""
QUOTA_EXCEEDED = LambdaWireError("ServiceQuotaExceededException", 402, "Message")
UNKNOWN_OPERATION = LambdaWireError("UnknownOperationException", 404)
ACCESS_DENIED = LambdaWireError("AccessDeniedException", 403, "Message")
SERVICE_ERROR = LambdaWireError("ServiceException", 500, "Message", sender_fault=False)
UNAVAILABLE = LambdaWireError("ServiceUnavailableException", 503, "Message", sender_fault=False)
# Authentication failures, as AWS's REST-JSON front door spells them.
MISSING_TOKEN = LambdaWireError("MissingAuthenticationTokenException", 403)
INCOMPLETE_SIGNATURE = LambdaWireError("IncompleteSignatureException", 400)
UNRECOGNIZED_CLIENT = LambdaWireError("UnrecognizedClientException", 403)
INVALID_SIGNATURE = LambdaWireError("InvalidSignatureException", 403)
REQUEST_EXPIRED = LambdaWireError("RequestExpired", 400)

RETRY_AFTER_S = "1"
"""The ``Retry-After`` of a throttled request: a worker frees up within a handler's run."""

CATALOG: dict[type[e.EkidenError], LambdaWireError] = {
    # request shape: Lambda words all of these as a bad parameter value
    e.InvalidParameterValue: INVALID_PARAMETER,
    e.MissingParameter: INVALID_PARAMETER,
    e.InvalidMessageAttribute: INVALID_PARAMETER,
    e.InvalidParameterCombination: INVALID_PARAMETER,
    e.InvalidAttributeName: INVALID_PARAMETER,
    e.InvalidAttributeValue: INVALID_PARAMETER,
    e.InvalidMessageContents: INVALID_PARAMETER,
    e.UnsupportedOperation: INVALID_PARAMETER,
    e.MalformedRequest: INVALID_CONTENT,
    e.UnknownOperation: UNKNOWN_OPERATION,
    e.MessageTooLong: TOO_LARGE,
    # queues: a mapping naming a missing queue is a bad EventSourceArn to Lambda
    # ("Error occurred while ReceiveMessage. SQS Error Code: ...NonExistentQueue")
    e.QueueDoesNotExist: INVALID_PARAMETER,
    e.QueueNameExists: CONFLICT,
    e.QueueDeletedRecently: CONFLICT,
    e.PurgeQueueInProgress: CONFLICT,
    e.OverLimit: QUOTA_EXCEEDED,
    e.TopicLimitExceeded: QUOTA_EXCEEDED,
    e.SubscriptionLimitExceeded: QUOTA_EXCEEDED,
    e.FilterPolicyLimitExceeded: QUOTA_EXCEEDED,
    e.TagLimitExceeded: QUOTA_EXCEEDED,
    # not-found of any resource
    e.ResourceNotFound: NOT_FOUND,
    e.TopicDoesNotExist: NOT_FOUND,
    e.SubscriptionDoesNotExist: NOT_FOUND,
    e.FunctionDoesNotExist: NOT_FOUND,
    e.MappingDoesNotExist: NOT_FOUND,
    # messages and batches (the Lambda API raises none of them; nearest spelling)
    e.ReceiptHandleIsInvalid: INVALID_PARAMETER,
    e.MessageNotInflight: INVALID_PARAMETER,
    e.EmptyBatchRequest: INVALID_PARAMETER,
    e.TooManyEntriesInBatchRequest: INVALID_PARAMETER,
    e.BatchEntryIdsNotDistinct: INVALID_PARAMETER,
    e.InvalidBatchEntryId: INVALID_PARAMETER,
    e.BatchRequestTooLong: TOO_LARGE,
    # functions
    e.ResourceConflict: CONFLICT,
    e.TooManyRequests: THROTTLED,
    e.Throttled: CALLER_THROTTLED,
    # the broker itself
    e.AccessDenied: ACCESS_DENIED,
    e.MissingAuthenticationToken: MISSING_TOKEN,
    e.IncompleteSignature: INCOMPLETE_SIGNATURE,
    e.InvalidClientTokenId: UNRECOGNIZED_CLIENT,
    e.SignatureDoesNotMatch: INVALID_SIGNATURE,
    e.RequestExpired: REQUEST_EXPIRED,
    e.ServiceUnavailable: UNAVAILABLE,
    e.InternalFailure: SERVICE_ERROR,
}


def wire_error(error: e.EkidenError) -> LambdaWireError:
    """The wire spelling of ``error`` (its nearest catalogued class; ServiceException for
    an error class no catalog knows)."""
    for cls in type(error).__mro__:
        found = CATALOG.get(cls)
        if found is not None:
            return found
    return SERVICE_ERROR


def error_body(spelled: LambdaWireError, message: str) -> bytes:
    """The JSON body Lambda sends with an error."""
    document: dict[str, str] = {"Type": spelled.fault_type, spelled.message_key: message}
    if spelled.reason is not None:
        document["Reason"] = spelled.reason
    return orjson.dumps(document)


def error_headers(spelled: LambdaWireError, request_id: str) -> list[tuple[str, str]]:
    """The response headers of an error (besides Content-Type)."""
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", spelled.code)]
    if spelled.status == THROTTLED.status:
        headers.append(("Retry-After", RETRY_AFTER_S))
    return headers
