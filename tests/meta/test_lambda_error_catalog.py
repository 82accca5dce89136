"""Every domain error has a spelling in the Lambda error catalog, and the spellings are
Lambda's: codes are error shapes of botocore's Lambda model, with the model's status and
its spelling of the message member, or common errors of every AWS API."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.loaders import Loader

from ekiden.core import errors
from ekiden.core.errors import EkidenError, concrete_error_classes
from ekiden.protocols.awslambda.errors import CATALOG, LambdaWireError, wire_error

ERROR_CLASSES = concrete_error_classes()

# Errors any AWS API may answer with that Lambda's model does not list as shapes.
_COMMON_ERRORS = {
    "AccessDeniedException": 403,
    "UnknownOperationException": 404,
    "ServiceUnavailableException": 503,
    # authentication, answered before any operation
    "IncompleteSignatureException": 400,
    "InvalidSignatureException": 403,
    "MissingAuthenticationTokenException": 403,
    "RequestExpired": 400,
    "UnrecognizedClientException": 403,
}


def _model_errors() -> dict[str, dict[str, Any]]:
    shapes = Loader().load_service_model("lambda", "service-2", "2015-03-31")["shapes"]
    return {name: shape for name, shape in shapes.items() if shape.get("exception")}


MODEL_ERRORS = _model_errors()


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_concrete_error_class_has_its_own_lambda_catalog_entry(
    error_class: type[EkidenError],
) -> None:
    assert error_class in CATALOG, f"{error_class.__name__} is missing from the Lambda catalog"
    assert wire_error(error_class("any message")) is CATALOG[error_class]


def test_the_lambda_catalog_names_only_classes_of_the_error_tree() -> None:
    assert set(CATALOG) <= set(ERROR_CLASSES)


@pytest.mark.parametrize(
    ("error_class", "spelled"),
    sorted(CATALOG.items(), key=lambda item: item[0].__name__),
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_lambda_codes_are_modeled_errors_with_the_models_status_and_members(
    error_class: type[EkidenError], spelled: LambdaWireError
) -> None:
    assert (400 <= spelled.status < 500) == spelled.sender_fault, error_class.__name__
    shape = MODEL_ERRORS.get(spelled.code)
    if shape is None:
        assert _COMMON_ERRORS.get(spelled.code) == spelled.status, spelled.code
        return
    assert shape["error"]["httpStatusCode"] == spelled.status, spelled.code
    assert spelled.message_key in shape["members"], spelled.code
    if spelled.reason is not None:
        reasons = Loader().load_service_model("lambda", "service-2")["shapes"]["ThrottleReason"]
        assert spelled.reason in reasons["enum"]


def test_the_researched_lambda_spellings_of_common_errors_hold() -> None:
    expected = {
        errors.FunctionDoesNotExist: ("ResourceNotFoundException", 404),
        errors.MappingDoesNotExist: ("ResourceNotFoundException", 404),
        errors.InvalidParameterValue: ("InvalidParameterValueException", 400),
        errors.MalformedRequest: ("InvalidRequestContentException", 400),
        errors.ResourceConflict: ("ResourceConflictException", 409),
        errors.TooManyRequests: ("TooManyRequestsException", 429),
        errors.MessageTooLong: ("RequestTooLargeException", 413),
        errors.UnknownOperation: ("UnknownOperationException", 404),
        errors.InternalFailure: ("ServiceException", 500),
    }
    for error_class, spelling in expected.items():
        spelled = CATALOG[error_class]
        assert (spelled.code, spelled.status) == spelling, error_class.__name__
