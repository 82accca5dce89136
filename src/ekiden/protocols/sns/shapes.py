"""One typed request shape per SNS action, decoded from the Query protocol.

How to decode a request
-----------------------
::

    from ekiden.protocols.sns.shapes import decode_request
    from ekiden.protocols.wire.query import parse_form

    params = parse_form(body)  # the form body, or the URL query string of a GET
    request = decode_request(params.get("Action", ""), params)
    # Action=Publish -> PublishRequest(message=..., topic_arn=..., message_attributes=...)

``REQUEST_SHAPES`` maps every supported action to its class. Field names are the wire
names in snake_case, except ``PublishBatchRequest.entries`` (``PublishBatchRequestEntries``
on the wire). Absent optional members are ``None``; an empty list sent as the bare key
(``Tags=``, as botocore sends ``Tags=[]``) is ``[]``. Lists keep the order of their
``.N`` index. ``Tags`` stay a list of ``Tag`` so the service can reject duplicate keys as
SNS does; ``BinaryValue`` is decoded from base64 to ``bytes``.

What is checked here
--------------------
Only the shape of the request, which AWS checks before SNS itself looks at it:

* every member the model requires is present (an empty string counts as present), else
  ``MissingParameter`` worded as AWS's request validation words it, naming every absent
  member at once, nested ones by their path (``2 validation errors detected: Value null
  at 'topicArn' failed to satisfy constraint: Member must not be null; Value null at
  'publishBatchRequestEntries.1.member.message' failed to satisfy constraint: Member
  must not be null``); the SNS catalog spells it ``ValidationError``;
* a map entry has both its key and its value (``Attributes.entry.N.key``/``.value``,
  ``MessageAttributes.entry.N.Name``/``.Value``), else ``MissingParameter``;
* a boolean is ``true``/``false`` (any case) and a ``BinaryValue`` is base64, else
  ``InvalidParameterValue``.

Parameters the action does not define (``Version``, signature fields, misspellings) are
ignored, as SNS ignores them. Values are the service's business: ARN syntax, attribute
names and values, protocols, batch sizes and entry ids, tag limits, message sizes.

An action SNS does not have raises ``UnknownOperation``; an SNS action ekiden has no
request shape for (platform applications, SMS, data protection, permissions) raises
``UnsupportedOperation``.
"""

from __future__ import annotations

import base64
import binascii
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from ekiden.core.errors import (
    InvalidParameterValue,
    MissingParameter,
    UnknownOperation,
    UnsupportedOperation,
)
from ekiden.protocols.sns import sns_model
from ekiden.protocols.wire.query import decode_query

__all__ = [
    "REQUEST_SHAPES",
    "ConfirmSubscriptionRequest",
    "CreateTopicRequest",
    "DeleteTopicRequest",
    "GetSubscriptionAttributesRequest",
    "GetTopicAttributesRequest",
    "ListSubscriptionsByTopicRequest",
    "ListSubscriptionsRequest",
    "ListTagsForResourceRequest",
    "ListTopicsRequest",
    "MessageAttributeValue",
    "PublishBatchRequest",
    "PublishBatchRequestEntry",
    "PublishRequest",
    "SetSubscriptionAttributesRequest",
    "SetTopicAttributesRequest",
    "SnsRequest",
    "SubscribeRequest",
    "Tag",
    "TagResourceRequest",
    "UnsubscribeRequest",
    "UntagResourceRequest",
    "decode_request",
    "wire_name",
]

T = TypeVar("T")


# --- nested shapes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class MessageAttributeValue:
    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None


MessageAttributeMap = dict[str, MessageAttributeValue]


# --- topics -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateTopicRequest:
    name: str
    attributes: dict[str, str] | None = None
    tags: list[Tag] | None = None
    data_protection_policy: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteTopicRequest:
    topic_arn: str


@dataclass(frozen=True, slots=True)
class ListTopicsRequest:
    next_token: str | None = None


@dataclass(frozen=True, slots=True)
class GetTopicAttributesRequest:
    topic_arn: str


@dataclass(frozen=True, slots=True)
class SetTopicAttributesRequest:
    topic_arn: str
    attribute_name: str
    attribute_value: str | None = None


# --- subscriptions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscribeRequest:
    topic_arn: str
    protocol: str
    endpoint: str | None = None
    attributes: dict[str, str] | None = None
    return_subscription_arn: bool | None = None


@dataclass(frozen=True, slots=True)
class ConfirmSubscriptionRequest:
    topic_arn: str
    token: str
    authenticate_on_unsubscribe: str | None = None


@dataclass(frozen=True, slots=True)
class UnsubscribeRequest:
    subscription_arn: str


@dataclass(frozen=True, slots=True)
class ListSubscriptionsRequest:
    next_token: str | None = None


@dataclass(frozen=True, slots=True)
class ListSubscriptionsByTopicRequest:
    topic_arn: str
    next_token: str | None = None


@dataclass(frozen=True, slots=True)
class GetSubscriptionAttributesRequest:
    subscription_arn: str


@dataclass(frozen=True, slots=True)
class SetSubscriptionAttributesRequest:
    subscription_arn: str
    attribute_name: str
    attribute_value: str | None = None


# --- publishing -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """``topic_arn``, ``target_arn`` and ``phone_number`` are all optional to the model;
    which one must be given is the service's check (SNS: ``Invalid parameter: TopicArn or
    TargetArn Reason: no value for required parameter``)."""

    message: str
    topic_arn: str | None = None
    target_arn: str | None = None
    phone_number: str | None = None
    subject: str | None = None
    message_structure: str | None = None
    message_attributes: MessageAttributeMap | None = None
    message_deduplication_id: str | None = None
    message_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class PublishBatchRequestEntry:
    id: str
    message: str
    subject: str | None = None
    message_structure: str | None = None
    message_attributes: MessageAttributeMap | None = None
    message_deduplication_id: str | None = None
    message_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class PublishBatchRequest:
    topic_arn: str
    entries: list[PublishBatchRequestEntry] = field(metadata={"wire": "PublishBatchRequestEntries"})


# --- tags -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagResourceRequest:
    resource_arn: str
    tags: list[Tag]


@dataclass(frozen=True, slots=True)
class UntagResourceRequest:
    resource_arn: str
    tag_keys: list[str]


@dataclass(frozen=True, slots=True)
class ListTagsForResourceRequest:
    resource_arn: str


SnsRequest = (
    CreateTopicRequest
    | DeleteTopicRequest
    | ListTopicsRequest
    | GetTopicAttributesRequest
    | SetTopicAttributesRequest
    | SubscribeRequest
    | ConfirmSubscriptionRequest
    | UnsubscribeRequest
    | ListSubscriptionsRequest
    | ListSubscriptionsByTopicRequest
    | GetSubscriptionAttributesRequest
    | SetSubscriptionAttributesRequest
    | PublishRequest
    | PublishBatchRequest
    | TagResourceRequest
    | UntagResourceRequest
    | ListTagsForResourceRequest
)

REQUEST_SHAPES: Mapping[str, type[SnsRequest]] = {
    "ConfirmSubscription": ConfirmSubscriptionRequest,
    "CreateTopic": CreateTopicRequest,
    "DeleteTopic": DeleteTopicRequest,
    "GetSubscriptionAttributes": GetSubscriptionAttributesRequest,
    "GetTopicAttributes": GetTopicAttributesRequest,
    "ListSubscriptions": ListSubscriptionsRequest,
    "ListSubscriptionsByTopic": ListSubscriptionsByTopicRequest,
    "ListTagsForResource": ListTagsForResourceRequest,
    "ListTopics": ListTopicsRequest,
    "Publish": PublishRequest,
    "PublishBatch": PublishBatchRequest,
    "SetSubscriptionAttributes": SetSubscriptionAttributesRequest,
    "SetTopicAttributes": SetTopicAttributesRequest,
    "Subscribe": SubscribeRequest,
    "TagResource": TagResourceRequest,
    "UntagResource": UntagResourceRequest,
    "Unsubscribe": UnsubscribeRequest,
}


# --- decoding ---------------------------------------------------------------------------


def decode_request(action: str, params: Mapping[str, str]) -> SnsRequest:
    """Decode the Query parameters of ``action`` into its request shape.

    See the module docstring for what is checked. Raises ``UnknownOperation`` (not an SNS
    action; also an empty ``action``), ``UnsupportedOperation``, ``MissingParameter``
    or ``InvalidParameterValue``.
    """
    if not action:
        raise UnknownOperation("The request must contain the parameter Action.")
    model = sns_model()
    model.operation(action)  # UnknownOperation unless SNS has this action
    cls = REQUEST_SHAPES.get(action)
    if cls is None:
        raise UnsupportedOperation(f"ekiden does not support the SNS action {action}.")
    return build(cls, decode_query(model, action, params))


def build(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build ``cls`` from the JSON-shaped dict that ``decode_query`` makes of a request.

    Raises ``MissingParameter`` naming every absent required member (see the module
    docstring) and ``InvalidParameterValue`` for a ``BinaryValue`` that is not base64.
    """
    missing: list[str] = []
    built = _build(cls, data, "", missing)
    if missing:
        raise MissingParameter(_validation_message(missing))
    result: T = built
    return result


def _validation_message(paths: list[str]) -> str:
    """AWS's request-validation wording for absent members (by their member paths)."""
    count = len(paths)
    head = (
        "1 validation error detected: " if count == 1 else f"{count} validation errors detected: "
    )
    return head + "; ".join(
        f"Value null at '{path}' failed to satisfy constraint: Member must not be null"
        for path in paths
    )


def wire_name(py_name: str) -> str:
    """The wire name of a field without ``wire`` metadata: ``topic_arn`` -> ``TopicArn``."""
    return "".join(part[:1].upper() + part[1:] for part in py_name.split("_"))


def _path_name(wire: str) -> str:
    # AWS's validation messages name members as the Java field of the generated model:
    # ``TopicArn`` -> ``topicArn``.
    return wire[:1].lower() + wire[1:]


# Converts one decoded member value: (value, its validation path, missing paths so far).
_Converter = Callable[[Any, str, list[str]], Any]


@cache
def _plan(cls: Any) -> tuple[tuple[str, str, str, _Converter | None, bool], ...]:
    """(field, wire name, validation path name, converter, required) per field of ``cls``.

    A converter of ``None`` means the value decoded from the form is used as it is.
    """
    hints = get_type_hints(cls)
    plan = []
    for f in fields(cls):
        wire = f.metadata.get("wire") or wire_name(f.name)
        required = f.default is MISSING and f.default_factory is MISSING
        plan.append((f.name, wire, _path_name(wire), _converter(hints[f.name]), required))
    return tuple(plan)


def _build(cls: Any, data: Mapping[str, Any], path: str, missing: list[str]) -> Any:
    """``cls`` built from ``data``, or ``None`` when a required member is absent (its
    path is appended to ``missing``; the caller raises once everything was seen)."""
    values: dict[str, Any] = {}
    complete = True
    for py_name, wire, path_name, convert, required in _plan(cls):
        raw = data.get(wire)
        if raw is None:
            if required:
                missing.append(path + path_name)
                complete = False
            continue
        values[py_name] = raw if convert is None else convert(raw, path + path_name, missing)
    return cls(**values) if complete else None


def _blob(raw: Any, path: str, missing: list[str]) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        # ``path`` is the validation path; the client knows the member by its name.
        name = path.rsplit(".", 1)[-1]
        raise InvalidParameterValue(
            f"Invalid parameter: {name[:1].upper() + name[1:]} Reason: not valid base64"
        ) from None


@cache
def _converter(kind: Any) -> _Converter | None:
    """The converter of one member of type ``kind`` (``None``: keep the value as is).

    ``decode_query`` already typed every scalar by the model (a test checks that the
    field types here are the model's), so only blobs and nested shapes need work.
    """
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(kind) if a is not type(None)]
        return _converter(inner[0])
    if kind is bytes:
        return _blob
    if origin is list:
        (element_kind,) = get_args(kind)
        element = _converter(element_kind)
        if element is None:
            return None

        def convert_list(raw: Any, path: str, missing: list[str]) -> Any:
            return [element(item, f"{path}.{i}.member", missing) for i, item in enumerate(raw, 1)]

        return convert_list
    if origin is dict:
        value = _converter(get_args(kind)[1])
        if value is None:
            return None

        def convert_map(raw: Any, path: str, missing: list[str]) -> Any:
            return {key: value(item, f"{path}.{key}.member", missing) for key, item in raw.items()}

        return convert_map
    if isinstance(kind, type) and hasattr(kind, "__dataclass_fields__"):
        shape = kind

        def convert_structure(raw: Any, path: str, missing: list[str]) -> Any:
            return _build(shape, raw, path + ".", missing)

        return convert_structure
    if kind in (str, bool, int):
        return None
    raise TypeError(f"unsupported shape member type {kind!r}")  # a bug in this module
