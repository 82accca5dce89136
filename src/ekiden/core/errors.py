"""The one error tree of ekiden.

Domain errors carry a human message and nothing about any wire format: each protocol
front end owns a catalog that maps an error class to its wire code, HTTP status and
fault side (see ``ekiden.protocols.sqs.errors`` and ``ekiden.protocols.sns.errors``).
A meta test checks that every concrete class here appears in every catalog.

Expected outcomes (an empty receive, a deduplicated send, a stale receipt handle on
delete) are *not* errors; they are return values of the services.
"""

from __future__ import annotations


class EkidenError(Exception):
    """Base of every error ekiden raises on purpose; ``message`` is shown to clients."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- request shape -------------------------------------------------------------------


class InvalidParameterValue(EkidenError):
    """A parameter has a value outside what the API accepts."""


class MissingParameter(EkidenError):
    """A required parameter is absent."""


class InvalidMessageAttribute(InvalidParameterValue):
    """A message attribute's name, data type or value is not valid (SNS words this apart
    from other bad parameters; SQS does not)."""


class InvalidParameterCombination(EkidenError):
    """Two parameters that are valid alone may not be used together."""


class MalformedRequest(EkidenError):
    """The request cannot be decoded: bad JSON or form encoding, or a JSON member of the
    wrong type."""


class UnknownOperation(EkidenError):
    """The request names an action that does not exist."""


class InvalidAttributeName(EkidenError):
    """An attribute name (queue or message attribute) is unknown or not allowed."""


class InvalidAttributeValue(EkidenError):
    """A queue attribute value is outside its allowed range or form."""


class InvalidMessageContents(EkidenError):
    """A message body holds characters outside the allowed set."""


class MessageTooLong(EkidenError):
    """A message (body plus attributes) exceeds the maximum message size."""


class UnsupportedOperation(EkidenError):
    """The operation is valid but not supported for this resource."""


# --- queues --------------------------------------------------------------------------


class QueueDoesNotExist(EkidenError):
    """The named queue does not exist."""

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(EkidenError):
    """A queue of that name exists with different attributes."""


class QueueDeletedRecently(EkidenError):
    """A queue of that name was deleted less than 60 seconds ago."""


class PurgeQueueInProgress(EkidenError):
    """The queue was purged less than 60 seconds ago."""


class OverLimit(EkidenError):
    """A hard limit was reached (in-flight messages, permissions, tags)."""


# --- topics and subscriptions --------------------------------------------------------


class TopicDoesNotExist(EkidenError):
    """The named topic does not exist."""

    def __init__(self, message: str = "Topic does not exist") -> None:
        super().__init__(message)


class SubscriptionDoesNotExist(EkidenError):
    """The named subscription does not exist."""

    def __init__(self, message: str = "Subscription does not exist") -> None:
        super().__init__(message)


class TopicLimitExceeded(OverLimit):
    """The account already owns the maximum number of topics."""


class SubscriptionLimitExceeded(OverLimit):
    """The topic already has the maximum number of subscriptions."""


class FilterPolicyLimitExceeded(OverLimit):
    """The account already has the maximum number of subscription filter policies."""


class TagLimitExceeded(OverLimit):
    """A resource would carry more tags than allowed."""


# --- messages ------------------------------------------------------------------------


class ReceiptHandleIsInvalid(EkidenError):
    """The receipt handle is not one ekiden issued (forged or mangled)."""


class MessageNotInflight(EkidenError):
    """The message is not in flight, so its visibility cannot change."""


# --- batches -------------------------------------------------------------------------


class EmptyBatchRequest(EkidenError):
    """A batch request has no entries."""


class TooManyEntriesInBatchRequest(EkidenError):
    """A batch request has more entries than allowed."""


class BatchEntryIdsNotDistinct(EkidenError):
    """Two entries of a batch share an Id."""


class InvalidBatchEntryId(EkidenError):
    """A batch entry Id is not of the allowed form."""


class BatchRequestTooLong(EkidenError):
    """The sum of a batch's message sizes exceeds the maximum."""


# --- move tasks ----------------------------------------------------------------------


class ResourceNotFound(EkidenError):
    """A referenced resource (move task, source ARN, resource to tag) does not exist."""


# --- functions and event source mappings ---------------------------------------------


class FunctionDoesNotExist(ResourceNotFound):
    """A function name (or ARN) names no declared function."""


class MappingDoesNotExist(ResourceNotFound):
    """An event source mapping UUID names no mapping."""


class ResourceConflict(EkidenError):
    """The resource already exists or is in a state that forbids the change (a mapping
    of the same function and queue exists)."""


class TooManyRequests(EkidenError):
    """A function is at its concurrency limit and the caller asked not to wait."""


class Throttled(EkidenError):
    """The caller sent more requests than its configured rate limit allows; it may
    retry after a while (the ``[limits]`` section)."""


# --- authentication (SigV4) ----------------------------------------------------------


class MissingAuthenticationToken(EkidenError):
    """The request carries no signature at all (no ``Authorization`` header and no
    presigned ``X-Amz-*`` query parameters) where one is required."""


class IncompleteSignature(EkidenError):
    """The signature is malformed: a missing part, an unknown algorithm, no date."""


class InvalidClientTokenId(EkidenError):
    """The access key id of the signature is not a configured key."""


class SignatureDoesNotMatch(EkidenError):
    """The signature is not the one the key's secret gives for this request, or its
    date is outside the allowed clock skew."""


class RequestExpired(EkidenError):
    """A presigned request is used after its ``X-Amz-Expires`` ran out."""


# --- the broker itself ---------------------------------------------------------------


class AccessDenied(EkidenError):
    """The caller may not perform this action."""


class ServiceUnavailable(EkidenError):
    """The broker cannot serve right now (shutting down, store failed)."""


class InternalFailure(EkidenError):
    """An unexpected failure inside ekiden; logged with its traceback."""


def concrete_error_classes() -> list[type[EkidenError]]:
    """Every error class a catalog must map (used by the catalog completeness test)."""
    found: list[type[EkidenError]] = []
    pending: list[type[EkidenError]] = [EkidenError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            pending.append(sub)
    return sorted(found, key=lambda c: c.__name__)
