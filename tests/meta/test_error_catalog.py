"""Every domain error has a wire spelling in the SQS and the SNS error catalogs, and the
spellings are sane: the fault side matches the status class, codes and ``__type``s have
SQS's forms, and SNS codes are those of the SNS model's error shapes (with the model's
status and fault) or common errors of the AWS Query protocol."""

from __future__ import annotations

import re

import pytest

from ekiden.core import errors
from ekiden.core.errors import EkidenError, concrete_error_classes
from ekiden.protocols.sns import sns_model
from ekiden.protocols.sns.errors import CATALOG as SNS_CATALOG
from ekiden.protocols.sns.errors import SnsWireError
from ekiden.protocols.sns.errors import wire_error as sns_wire_error
from ekiden.protocols.sqs.errors import CATALOG, WireError, wire_error

ERROR_CLASSES = concrete_error_classes()
_JSON_TYPE = re.compile(r"(com\.amazonaws\.sqs|com\.amazon\.coral\.service)#[A-Z][A-Za-z]+\Z")
_CODE = re.compile(r"[A-Z][A-Za-z]+(\.[A-Z][A-Za-z]+)*\Z")


def test_the_error_tree_is_found_in_full() -> None:
    # concrete_error_classes walks subclasses; make sure it misses none defined in the module.
    defined = {
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, EkidenError) and value is not EkidenError
    }
    assert defined <= set(ERROR_CLASSES)
    assert len(ERROR_CLASSES) == len(set(ERROR_CLASSES))


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_concrete_error_class_has_its_own_catalog_entry(
    error_class: type[EkidenError],
) -> None:
    assert error_class in CATALOG, f"{error_class.__name__} is missing from the SQS catalog"


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_wire_error_finds_the_entry_of_the_class_itself(error_class: type[EkidenError]) -> None:
    assert wire_error(error_class("any message")) is CATALOG[error_class]


def test_the_catalog_names_only_classes_of_the_error_tree() -> None:
    assert set(CATALOG) <= set(ERROR_CLASSES)


@pytest.mark.parametrize(
    ("error_class", "spelled"), list(CATALOG.items()), ids=lambda x: getattr(x, "__name__", "")
)
def test_sender_faults_are_4xx_and_receiver_faults_are_5xx(
    error_class: type[EkidenError], spelled: WireError
) -> None:
    if spelled.sender_fault:
        assert 400 <= spelled.status < 500, error_class.__name__
        assert spelled.query_error_header == f"{spelled.code};Sender"
    else:
        assert 500 <= spelled.status < 600, error_class.__name__
        assert spelled.query_error_header == f"{spelled.code};Receiver"


@pytest.mark.parametrize(
    ("error_class", "spelled"), list(CATALOG.items()), ids=lambda x: getattr(x, "__name__", "")
)
def test_codes_and_json_types_have_the_forms_sqs_uses(
    error_class: type[EkidenError], spelled: WireError
) -> None:
    assert _JSON_TYPE.match(spelled.json_type), spelled.json_type
    assert _CODE.match(spelled.code), spelled.code
    if spelled.code.startswith("AWS.SimpleQueueService."):
        # modeled SQS errors: __type is the shape name in the SQS namespace
        assert spelled.json_type.startswith("com.amazonaws.sqs#")
    if spelled.query_message is not None:
        assert spelled.query_message.strip() == spelled.query_message != ""


def test_an_unknown_error_subclass_is_spelled_as_its_nearest_catalogued_ancestor() -> None:
    class Narrower(errors.InvalidParameterValue):
        pass

    assert wire_error(Narrower("x")) is CATALOG[errors.InvalidParameterValue]


def test_the_researched_spellings_of_common_errors_hold() -> None:
    expected = {
        errors.QueueDoesNotExist: (
            "com.amazonaws.sqs#QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
            400,
        ),
        errors.InvalidParameterValue: (
            "com.amazon.coral.service#InvalidParameterValueException",
            "InvalidParameterValue",
            400,
        ),
        errors.MissingParameter: (
            "com.amazon.coral.service#MissingRequiredParameterException",
            "MissingParameter",
            400,
        ),
        errors.ReceiptHandleIsInvalid: (
            "com.amazonaws.sqs#ReceiptHandleIsInvalid",
            "ReceiptHandleIsInvalid",
            404,
        ),
        errors.PurgeQueueInProgress: (
            "com.amazonaws.sqs#PurgeQueueInProgress",
            "AWS.SimpleQueueService.PurgeQueueInProgress",
            403,
        ),
        errors.QueueNameExists: ("com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists", 400),
        errors.InvalidAttributeValue: (
            "com.amazonaws.sqs#InvalidAttributeValue",
            "InvalidAttributeValue",
            400,
        ),
        errors.InvalidMessageContents: (
            "com.amazonaws.sqs#InvalidMessageContents",
            "InvalidMessageContents",
            400,
        ),
        errors.TooManyEntriesInBatchRequest: (
            "com.amazonaws.sqs#TooManyEntriesInBatchRequest",
            "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            400,
        ),
        errors.ResourceNotFound: (
            "com.amazonaws.sqs#ResourceNotFoundException",
            "ResourceNotFoundException",
            404,
        ),
    }
    for error_class, (json_type, code, status) in expected.items():
        spelled = CATALOG[error_class]
        assert (spelled.json_type, spelled.code, spelled.status) == (json_type, code, status)


# --- SNS -------------------------------------------------------------------------------

# Errors every AWS Query API may answer with (the "common errors" of the API references),
# which the SNS model does not list as error shapes.
_QUERY_COMMON_ERRORS = {
    "IncompleteSignature": 400,
    "InvalidAction": 400,
    "InvalidClientTokenId": 403,
    "MalformedQueryString": 400,  # documented as 404; sent as 400, as for SQS
    "MissingAuthenticationToken": 403,
    "RequestExpired": 400,
    "ServiceUnavailable": 503,
    "SignatureDoesNotMatch": 403,
    "ValidationError": 400,
}


def _sns_modeled_errors() -> dict[str, tuple[int, bool]]:
    return {
        s.error.code: (s.error.http_status, s.error.sender_fault)
        for s in sns_model().error_shapes()
        if s.error is not None
    }


def _sns_entries() -> list[tuple[type[EkidenError], SnsWireError]]:
    return sorted(SNS_CATALOG.items(), key=lambda item: item[0].__name__)


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_concrete_error_class_has_its_own_sns_catalog_entry(
    error_class: type[EkidenError],
) -> None:
    assert error_class in SNS_CATALOG, f"{error_class.__name__} is missing from the SNS catalog"


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_sns_wire_error_finds_the_entry_of_the_class_itself(
    error_class: type[EkidenError],
) -> None:
    assert sns_wire_error(error_class("any message")) is SNS_CATALOG[error_class]


def test_the_sns_catalog_names_only_classes_of_the_error_tree() -> None:
    assert set(SNS_CATALOG) <= set(ERROR_CLASSES)


@pytest.mark.parametrize(
    ("error_class", "spelled"), _sns_entries(), ids=lambda x: getattr(x, "__name__", "")
)
def test_sns_sender_faults_are_4xx_and_receiver_faults_are_5xx(
    error_class: type[EkidenError], spelled: SnsWireError
) -> None:
    if spelled.sender_fault:
        assert 400 <= spelled.status < 500, error_class.__name__
        assert spelled.fault == "Sender"
    else:
        assert 500 <= spelled.status < 600, error_class.__name__
        assert spelled.fault == "Receiver"


@pytest.mark.parametrize(
    ("error_class", "spelled"), _sns_entries(), ids=lambda x: getattr(x, "__name__", "")
)
def test_sns_codes_are_modeled_with_the_model_status_or_common_query_errors(
    error_class: type[EkidenError], spelled: SnsWireError
) -> None:
    assert _CODE.match(spelled.code), spelled.code
    modeled = _sns_modeled_errors()
    if spelled.code in modeled:
        assert (spelled.status, spelled.sender_fault) == modeled[spelled.code], spelled.code
    else:
        assert _QUERY_COMMON_ERRORS.get(spelled.code) == spelled.status, spelled.code


def test_an_unknown_error_subclass_is_spelled_by_sns_as_its_nearest_catalogued_ancestor() -> None:
    class Narrower(errors.TopicDoesNotExist):
        pass

    assert sns_wire_error(Narrower()) is SNS_CATALOG[errors.TopicDoesNotExist]


def test_the_researched_sns_spellings_of_common_errors_hold() -> None:
    expected = {
        errors.TopicDoesNotExist: ("NotFound", 404, True),
        errors.SubscriptionDoesNotExist: ("NotFound", 404, True),
        errors.InvalidParameterValue: ("InvalidParameter", 400, True),
        errors.InvalidMessageAttribute: ("ParameterValueInvalid", 400, True),
        errors.MessageTooLong: ("InvalidParameter", 400, True),
        errors.MissingParameter: ("ValidationError", 400, True),
        errors.AccessDenied: ("AuthorizationError", 403, True),
        errors.ResourceNotFound: ("ResourceNotFound", 404, True),
        errors.TopicLimitExceeded: ("TopicLimitExceeded", 403, True),
        errors.SubscriptionLimitExceeded: ("SubscriptionLimitExceeded", 403, True),
        errors.FilterPolicyLimitExceeded: ("FilterPolicyLimitExceeded", 403, True),
        errors.TagLimitExceeded: ("TagLimitExceeded", 400, True),
        errors.TooManyEntriesInBatchRequest: ("TooManyEntriesInBatchRequest", 400, True),
        errors.BatchEntryIdsNotDistinct: ("BatchEntryIdsNotDistinct", 400, True),
        errors.InternalFailure: ("InternalError", 500, False),
    }
    for error_class, spelling in expected.items():
        spelled = SNS_CATALOG[error_class]
        assert (spelled.code, spelled.status, spelled.sender_fault) == spelling
