"""Lambda REST-JSON requests: the route of a request line and the typed requests of its
URI, query string, headers and JSON body.

The operations served (paths of Lambda's 2015-03-31 API; each with or without a trailing
slash, path segments percent-decoded, so function ARNs may be given encoded):

==========================  ======  =================================================
ListFunctions               GET     /2015-03-31/functions
GetFunction                 GET     /2015-03-31/functions/{FunctionName}
GetFunctionConfiguration    GET     /2015-03-31/functions/{FunctionName}/configuration
Invoke                      POST    /2015-03-31/functions/{FunctionName}/invocations
CreateEventSourceMapping    POST    /2015-03-31/event-source-mappings
ListEventSourceMappings     GET     /2015-03-31/event-source-mappings
GetEventSourceMapping       GET     /2015-03-31/event-source-mappings/{UUID}
UpdateEventSourceMapping    PUT     /2015-03-31/event-source-mappings/{UUID}
DeleteEventSourceMapping    DELETE  /2015-03-31/event-source-mappings/{UUID}
==========================  ======  =================================================

JSON bodies are checked member by member against the model's types: a malformed body or
a member of the wrong type is ``MalformedRequest`` (InvalidRequestContentException), as
Lambda rejects what its deserializer cannot read. Members the model does not know are
ignored, as every REST-JSON service does; members it knows but SQS mappings do not
support (StartingPosition, DestinationConfig, ...) are passed on as
``MappingChanges.unsupported`` so the service rejects them with Lambda's words.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qs, unquote

import orjson

from ekiden.core.errors import (
    InvalidParameterValue,
    MalformedRequest,
    UnknownOperation,
)
from ekiden.core.functions import InvocationType
from ekiden.core.rules.mappings import CLEAR, SQS_UNSUPPORTED_PARAMETERS, Clear, MappingChanges

API_PREFIX: Final = "/2015-03-31/"

MAX_LIST_ITEMS: Final = 10_000
DEFAULT_FUNCTIONS_PAGE: Final = 50
"""ListFunctions answers at most 50 functions a page, even when MaxItems asks for more."""
DEFAULT_MAPPINGS_PAGE: Final = 100
"""ListEventSourceMappings answers at most 100 mappings a page, even when MaxItems asks for
more (the model's documentation of both MaxItems members)."""
MAX_CLIENT_CONTEXT_BYTES: Final = 3583
"""Lambda's limit of the base64 ``X-Amz-Client-Context`` header."""

Operation = Literal[
    "ListFunctions",
    "GetFunction",
    "GetFunctionConfiguration",
    "Invoke",
    "CreateEventSourceMapping",
    "ListEventSourceMappings",
    "GetEventSourceMapping",
    "UpdateEventSourceMapping",
    "DeleteEventSourceMapping",
]

_MAPPING_METHODS: Final[dict[str, Operation]] = {
    "GET": "GetEventSourceMapping",
    "PUT": "UpdateEventSourceMapping",
    "DELETE": "DeleteEventSourceMapping",
}
_FUNCTION_SUBRESOURCES: Final[dict[tuple[str, str], Operation]] = {
    ("GET", ""): "GetFunction",
    ("GET", "configuration"): "GetFunctionConfiguration",
    ("POST", "invocations"): "Invoke",
}

# Members of Create/UpdateEventSourceMappingRequest that SQS mappings in ekiden do not take
# (Tags too: ekiden keeps no tags of mappings, and refuses rather than drop them).
_UNSUPPORTED_MAPPING_MEMBERS: Final = frozenset((*SQS_UNSUPPORTED_PARAMETERS, "Tags"))
_INVOCATION_TYPES: Final[dict[str, InvocationType]] = {
    "RequestResponse": "RequestResponse",
    "Event": "Event",
    "DryRun": "DryRun",
}


@dataclass(frozen=True, slots=True)
class Route:
    """Which operation a request line names, with its URI parameters (decoded)."""

    operation: Operation
    function_name: str | None = None
    uuid: str | None = None


def route(method: str, path: str) -> Route:
    """The operation of ``method`` + ``path`` (the raw, still percent-encoded path).

    Raises ``UnknownOperation`` for any other path or method, as Lambda answers 404
    UnknownOperationException.
    """
    if not path.startswith(API_PREFIX):
        raise _unknown(method, path)
    raw = path[len(API_PREFIX) :]
    if raw.endswith("/"):
        raw = raw[:-1]
    segments = [unquote(s) for s in raw.split("/")]
    head, rest = segments[0], segments[1:]
    if head == "functions":
        if not rest:
            if method == "GET":
                return Route("ListFunctions")
        elif len(rest) <= 2 and rest[0]:
            found = _FUNCTION_SUBRESOURCES.get((method, rest[1] if len(rest) == 2 else ""))
            if found is not None:
                return Route(found, function_name=rest[0])
    elif head == "event-source-mappings":
        if not rest:
            if method == "POST":
                return Route("CreateEventSourceMapping")
            if method == "GET":
                return Route("ListEventSourceMappings")
        elif len(rest) == 1 and rest[0] and method in _MAPPING_METHODS:
            return Route(_MAPPING_METHODS[method], uuid=rest[0])
    raise _unknown(method, path)


def _unknown(method: str, path: str) -> UnknownOperation:
    return UnknownOperation(f"Unknown operation: {method} {path}")


def parse_query(query: str) -> dict[str, str]:
    """The query string's parameters (the first value of a repeated one)."""
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError as error:
        raise MalformedRequest("The query string is not valid UTF-8.") from error
    return {name: values[0] for name, values in parsed.items()}


def max_items(params: dict[str, str], default: int) -> int:
    """The ``MaxItems`` query parameter (1-10,000), ``default`` when absent. (The caller
    caps it to the operation's largest page: a valid MaxItems above it is not an error.)"""
    raw = params.get("MaxItems")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameterValue(f"Invalid value for MaxItems: {raw!r}") from None
    if not 1 <= value <= MAX_LIST_ITEMS:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at 'maxItems' failed to satisfy "
            f"constraint: Member must have value between 1 and {MAX_LIST_ITEMS}"
        )
    return value


def split_qualifier(name_or_arn: str) -> tuple[str, str | None]:
    """A function name, partial ARN (``acct:function:name``) or ARN without its qualifier
    (``name:$LATEST``, ``arn:...:function:name:3``), and the qualifier (``None`` if none).

    Function names cannot contain ``:``, so a trailing part after the name is a qualifier.
    """
    parts = name_or_arn.split(":")
    if "function" in parts:
        index = parts.index("function")
        if len(parts) == index + 3:
            return ":".join(parts[:-1]), parts[-1]
        return name_or_arn, None
    if len(parts) == 2:
        return parts[0], parts[1]
    return name_or_arn, None


def qualified_name(name_or_arn: str, qualifier: str | None) -> str:
    """The function a path names together with a ``Qualifier`` query parameter, as one
    (possibly qualified) name or ARN for the service, which accepts only ``$LATEST``
    (ekiden publishes no versions or aliases) and words the rest as Lambda does.

    Raises ``InvalidParameterValue`` when the name carries a qualifier that differs from
    the parameter, as Lambda does.
    """
    base, derived = split_qualifier(name_or_arn)
    if qualifier is None or qualifier == derived:
        return name_or_arn
    if derived is not None:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return f"{base}:{qualifier}"


# --- event source mappings -------------------------------------------------------------


def decode_mapping_body(body: bytes, *, create: bool) -> MappingChanges:
    """The changes a Create (``create``) or Update EventSourceMapping body asks for.

    ``FilterCriteria`` with no filters (``{}`` or ``{"Filters": []}``) removes the
    filters; an empty ``ScalingConfig`` removes MaximumConcurrency.
    """
    document = _load_object(body)
    unsupported = tuple(
        name
        for name, value in document.items()
        if name in _UNSUPPORTED_MAPPING_MEMBERS and value is not None
    )
    function_name = _optional(document, "FunctionName", str)
    event_source_arn = _optional(document, "EventSourceArn", str) if create else None
    enabled = _optional(document, "Enabled", bool)
    batch_size = _optional_int(document, "BatchSize")
    window = _optional_int(document, "MaximumBatchingWindowInSeconds")
    response_types: tuple[str, ...] | None = None
    raw_types = _optional(document, "FunctionResponseTypes", list)
    if raw_types is not None:
        response_types = tuple(_item(value, "FunctionResponseTypes", str) for value in raw_types)
    filter_patterns: tuple[str, ...] | None = None
    criteria = _optional(document, "FilterCriteria", dict)
    if criteria is not None:
        filters = _optional(criteria, "Filters", list) or []
        filter_patterns = tuple(
            _optional(_item(f, "Filters", dict), "Pattern", str) or "" for f in filters
        )
    maximum_concurrency: int | Clear | None = None
    scaling = _optional(document, "ScalingConfig", dict)
    if scaling is not None:
        maximum_concurrency = _optional_int(scaling, "MaximumConcurrency")
        if maximum_concurrency is None:
            maximum_concurrency = CLEAR
    return MappingChanges(
        function_name=function_name,
        event_source_arn=event_source_arn,
        enabled=enabled,
        batch_size=batch_size,
        maximum_batching_window_s=window,
        function_response_types=response_types,
        filter_patterns=filter_patterns,
        maximum_concurrency=maximum_concurrency,
        unsupported=unsupported,
    )


def _load_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedRequest(
            f"Could not parse request body into json: Could not parse payload into json: {error}"
        ) from None
    if not isinstance(document, dict):
        raise _wrong_type("the request body", document, "an object")
    return document


def _optional(document: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = document.get(name)
    if value is None:
        return None
    return _item(value, name, kind)


def _item(value: Any, name: str, kind: type[Any]) -> Any:
    # bool is an int to Python, not to JSON: BatchSize true is a type error
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise _wrong_type(name, value, _KIND_NAMES[kind])
    return value


def _optional_int(document: dict[str, Any], name: str) -> int | None:
    value = _optional(document, name, int)
    return None if value is None else int(value)


_KIND_NAMES: Final[dict[type[Any], str]] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    list: "a list",
    dict: "an object",
}


def _wrong_type(name: str, value: Any, expected: str) -> MalformedRequest:
    found = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )
    return MalformedRequest(
        "Could not parse request body into json: Could not parse payload into json: "
        f"{name} must be {expected}, not {found}"
    )


# --- Invoke ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvokeRequest:
    """One Invoke call.

    Attributes:
        function_name: name or ARN, possibly qualified (see ``qualified_name``).
        invocation_type: ``X-Amz-Invocation-Type`` (default RequestResponse).
        log_tail: ``X-Amz-Log-Type: Tail`` (only a RequestResponse call returns logs).
        client_context: ``X-Amz-Client-Context`` as sent (base64 of a JSON object).
        payload: the body as sent (the service checks its size and that it is JSON).
    """

    function_name: str
    invocation_type: InvocationType
    log_tail: bool
    client_context: str | None
    payload: bytes


def decode_invoke(
    path_name: str, params: dict[str, str], headers: dict[str, str], body: bytes
) -> InvokeRequest:
    """The Invoke request of a function path segment, query, (lower-cased) headers and body."""
    name = qualified_name(path_name, params.get("Qualifier"))
    given_type = headers.get("x-amz-invocation-type", "RequestResponse")
    invocation_type = _INVOCATION_TYPES.get(given_type)
    if invocation_type is None:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{given_type}' at 'invocationType' "
            "failed to satisfy constraint: Member must satisfy enum value set: "
            "[Event, RequestResponse, DryRun]"
        )
    log_type = headers.get("x-amz-log-type", "None")
    if log_type not in ("None", "Tail"):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{log_type}' at 'logType' failed to "
            "satisfy constraint: Member must satisfy enum value set: [None, Tail]"
        )
    client_context = headers.get("x-amz-client-context")
    if client_context is not None:
        _check_client_context(client_context)
    return InvokeRequest(
        function_name=name,
        invocation_type=invocation_type,
        log_tail=log_type == "Tail" and invocation_type == "RequestResponse",
        client_context=client_context,
        payload=body,
    )


def _check_client_context(value: str) -> None:
    if len(value) > MAX_CLIENT_CONTEXT_BYTES:
        raise InvalidParameterValue(
            f"Client context must be at most {MAX_CLIENT_CONTEXT_BYTES} bytes, base64-encoded."
        )
    try:
        document = orjson.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        document = None
    if not isinstance(document, dict):
        raise MalformedRequest("Client context must be a valid Base64-encoded JSON object.")
