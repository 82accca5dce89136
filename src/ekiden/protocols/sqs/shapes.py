"""One typed request shape per SQS action.

Both codecs (AWS JSON 1.0 and Query) first produce the same JSON-shaped dict; ``decode``
turns that dict into the action's dataclass, checking required members and member types
once, here. Field names are the wire names in snake_case unless ``wire`` metadata says
otherwise.
"""

from __future__ import annotations

import base64
import binascii
import re
import types
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, TypeVar, Union, cast, get_args, get_origin, get_type_hints

from ekiden.core.errors import InvalidParameterValue, MalformedRequest, MissingParameter

T = TypeVar("T")


def _wire(name: str) -> Any:
    return field(default=None, metadata={"wire": name})


@dataclass(slots=True)
class MessageAttributeValueShape:
    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None
    string_list_values: list[str] | None = None
    binary_list_values: list[bytes] | None = None


AttributeMap = dict[str, MessageAttributeValueShape]


@dataclass(slots=True)
class CreateQueueRequest:
    queue_name: str | None = None  # required; SQS words its absence specially (operations)
    attributes: dict[str, str] | None = None
    tags: dict[str, str] | None = field(default=None, metadata={"wire": "tags"})  # lowercase


@dataclass(slots=True)
class QueueUrlRequest:
    """The input of every action that names only a queue (DeleteQueue, PurgeQueue, ...)."""

    queue_url: str


@dataclass(slots=True)
class GetQueueUrlRequest:
    queue_name: str
    queue_owner_aws_account_id: str | None = _wire("QueueOwnerAWSAccountId")


@dataclass(slots=True)
class ListQueuesRequest:
    queue_name_prefix: str | None = None
    next_token: str | None = None
    max_results: int | None = None


@dataclass(slots=True)
class ListDeadLetterSourceQueuesRequest:
    queue_url: str
    next_token: str | None = None
    max_results: int | None = None


@dataclass(slots=True)
class GetQueueAttributesRequest:
    queue_url: str
    attribute_names: list[str] | None = None


@dataclass(slots=True)
class SetQueueAttributesRequest:
    queue_url: str
    attributes: dict[str, str]


@dataclass(slots=True)
class TagQueueRequest:
    queue_url: str
    tags: dict[str, str]


@dataclass(slots=True)
class UntagQueueRequest:
    queue_url: str
    tag_keys: list[str]


@dataclass(slots=True)
class AddPermissionRequest:
    queue_url: str
    label: str
    aws_account_ids: list[str] = field(metadata={"wire": "AWSAccountIds"})
    actions: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RemovePermissionRequest:
    queue_url: str
    label: str


@dataclass(slots=True)
class SendMessageRequest:
    queue_url: str
    message_body: str
    delay_seconds: int | None = None
    message_attributes: AttributeMap | None = None
    message_system_attributes: AttributeMap | None = None
    message_deduplication_id: str | None = None
    message_group_id: str | None = None


@dataclass(slots=True)
class SendMessageBatchRequestEntry:
    id: str
    message_body: str
    delay_seconds: int | None = None
    message_attributes: AttributeMap | None = None
    message_system_attributes: AttributeMap | None = None
    message_deduplication_id: str | None = None
    message_group_id: str | None = None


@dataclass(slots=True)
class SendMessageBatchRequest:
    queue_url: str
    entries: list[SendMessageBatchRequestEntry]


@dataclass(slots=True)
class ReceiveMessageRequest:
    queue_url: str
    attribute_names: list[str] | None = None
    message_system_attribute_names: list[str] | None = None
    message_attribute_names: list[str] | None = None
    max_number_of_messages: int | None = None
    visibility_timeout: int | None = None
    wait_time_seconds: int | None = None
    receive_request_attempt_id: str | None = None


@dataclass(slots=True)
class DeleteMessageRequest:
    queue_url: str
    receipt_handle: str


@dataclass(slots=True)
class DeleteMessageBatchRequestEntry:
    id: str
    receipt_handle: str


@dataclass(slots=True)
class DeleteMessageBatchRequest:
    queue_url: str
    entries: list[DeleteMessageBatchRequestEntry]


@dataclass(slots=True)
class ChangeMessageVisibilityRequest:
    queue_url: str
    receipt_handle: str
    visibility_timeout: int


@dataclass(slots=True)
class ChangeMessageVisibilityBatchRequestEntry:
    id: str
    receipt_handle: str
    visibility_timeout: int | None = None


@dataclass(slots=True)
class ChangeMessageVisibilityBatchRequest:
    queue_url: str
    entries: list[ChangeMessageVisibilityBatchRequestEntry]


@dataclass(slots=True)
class StartMessageMoveTaskRequest:
    source_arn: str
    destination_arn: str | None = None
    max_number_of_messages_per_second: int | None = None


@dataclass(slots=True)
class CancelMessageMoveTaskRequest:
    task_handle: str


@dataclass(slots=True)
class ListMessageMoveTasksRequest:
    source_arn: str
    max_results: int | None = None


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _wire_name(py_name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in py_name.split("_"))


Converter = Callable[[Any, str], Any]


@cache
def _plan(cls: Any) -> list[tuple[str, str, Any, bool]]:
    """(python name, wire name, type, required) for each field of a shape class."""
    hints = get_type_hints(cls)
    plan = []
    for f in fields(cls):
        wire = f.metadata.get("wire") or _wire_name(f.name)
        required = f.default is MISSING and f.default_factory is MISSING
        plan.append((f.name, wire, hints[f.name], required))
    return plan


def decode(cls: type[T], data: Any, path: str = "") -> T:
    """Build ``cls`` from a JSON-shaped dict, raising AWS-shaped errors for bad input.

    A member of the wrong JSON type is a ``MalformedRequest`` worded as SQS's JSON
    deserializer words it (``STRING_VALUE can not be converted to an Integer``); SQS does
    not coerce, so ``"5"`` is no integer. A ``null`` member counts as absent.
    """
    result: T = _structure_decoder(cast(Any, cls))(data, path)
    return result


@cache
def _structure_decoder(cls: Any) -> Converter:
    """A decoder written for ``cls`` alone, compiled once.

    Decoding is on every request's path (ten entries per batch), so instead of looping
    over a field plan per member, each shape gets straight-line code: one dict lookup
    per member, an exact type test for the common string case, and error paths
    (member paths such as ``Entries.3.Id``) built only when something is wrong.
    """
    namespace: dict[str, Any] = {
        "cls": cls,
        "type_error": type_error,
        "MissingParameter": MissingParameter,
    }
    lines = [
        "def decode_structure(data, path):",
        "    if data.__class__ is not dict and not isinstance(data, dict):",
        '        raise type_error(data, "Structure")',
        "    get = data.get",
    ]
    arguments = []
    for index, (f, (py_name, wire, kind, required)) in enumerate(
        zip(fields(cls), _plan(cls), strict=True)
    ):
        var, convert = f"v{index}", f"convert{index}"
        converter = _converter(kind)
        namespace[convert] = converter
        lines.append(f"    {var} = get({wire!r})")
        if required:
            lines += [
                f"    if {var} is None:",
                "        raise MissingParameter(",
                f'            f"The request must contain the parameter {{path}}{wire}."',
                "        )",
            ]
            indent = "    "
        else:
            lines.append(f"    if {var} is not None:")
            indent = "        "
        if converter is _string:  # the common case: no call when it is a string already
            lines.append(f"{indent}if {var}.__class__ is not str:")
            indent += "    "
        lines.append(f"{indent}{var} = {convert}({var}, path + {wire!r})")
        if not required and f.default is MISSING:  # a default factory (an empty list)
            namespace[f"default{index}"] = f.default_factory
            lines += [f"    if {var} is None:", f"        {var} = default{index}()"]
        arguments.append(f"{py_name}={var}")
    lines.append(f"    return cls({', '.join(arguments)})")
    exec("\n".join(lines), namespace)  # the source is built above from the shape alone
    decoder: Converter = namespace["decode_structure"]
    return decoder


_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _string(raw: Any, path: str) -> Any:
    if isinstance(raw, str):
        return raw
    raise type_error(raw, "String")


def _boolean(raw: Any, path: str) -> Any:
    if isinstance(raw, bool):
        return raw
    raise type_error(raw, "Boolean")


def _integer(raw: Any, path: str) -> Any:
    if isinstance(raw, int) and not isinstance(raw, bool) and _INT32_MIN <= raw <= _INT32_MAX:
        return raw
    raise type_error(raw, "Integer")


def _blob(raw: Any, path: str) -> Any:
    if not isinstance(raw, str):
        raise type_error(raw, "Blob")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterValue(
            f"Value for parameter {path} is invalid. Reason: not valid base64."
        ) from None


_SCALARS: dict[Any, Converter] = {str: _string, bool: _boolean, int: _integer, bytes: _blob}


@cache
def _converter(kind: Any) -> Converter:
    """The function that checks and converts one JSON value of type ``kind``."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(kind) if a is not type(None)]
        return _converter(inner[0])
    scalar = _SCALARS.get(kind)
    if scalar is not None:
        return scalar
    if origin is list:
        (element_kind,) = get_args(kind)
        element = _converter(element_kind)

        def convert_list(raw: Any, path: str) -> Any:
            if not isinstance(raw, list):
                raise type_error(raw, "List")
            return [element(item, f"{path}.{i + 1}") for i, item in enumerate(raw)]

        return convert_list
    if origin is dict:
        _, value_kind = get_args(kind)
        value_converter = _converter(value_kind)

        def convert_map(raw: Any, path: str) -> Any:
            if not isinstance(raw, dict):
                raise type_error(raw, "Map")
            return {str(k): value_converter(v, f"{path}.{k}.") for k, v in raw.items()}

        return convert_map
    if isinstance(kind, type):
        decode_structure = _structure_decoder(kind)

        def convert_structure(raw: Any, path: str) -> Any:
            return decode_structure(raw, path if path.endswith(".") else f"{path}.")

        return convert_structure
    raise TypeError(f"unsupported shape member type {kind!r}")  # a bug in this module


def type_error(raw: Any, expected: str) -> MalformedRequest:
    """A JSON value of the wrong type, in the words of SQS's JSON deserializer."""
    if isinstance(raw, dict):
        return MalformedRequest("Start of structure or map found where not expected.")
    if isinstance(raw, list):
        return MalformedRequest("Start of list found where not expected")
    if raw is None:
        token = "NULL_VALUE"
    elif isinstance(raw, bool):
        token = "TRUE_VALUE" if raw else "FALSE_VALUE"
    elif isinstance(raw, str):
        token = "STRING_VALUE"
    else:
        token = "NUMBER_VALUE"
    article = "an" if expected[0] in "AEIOU" else "a"
    return MalformedRequest(f"{token} can not be converted to {article} {expected}")


REQUEST_SHAPES: dict[str, type] = {
    "AddPermission": AddPermissionRequest,
    "CancelMessageMoveTask": CancelMessageMoveTaskRequest,
    "ChangeMessageVisibility": ChangeMessageVisibilityRequest,
    "ChangeMessageVisibilityBatch": ChangeMessageVisibilityBatchRequest,
    "CreateQueue": CreateQueueRequest,
    "DeleteMessage": DeleteMessageRequest,
    "DeleteMessageBatch": DeleteMessageBatchRequest,
    "DeleteQueue": QueueUrlRequest,
    "GetQueueAttributes": GetQueueAttributesRequest,
    "GetQueueUrl": GetQueueUrlRequest,
    "ListDeadLetterSourceQueues": ListDeadLetterSourceQueuesRequest,
    "ListMessageMoveTasks": ListMessageMoveTasksRequest,
    "ListQueueTags": QueueUrlRequest,
    "ListQueues": ListQueuesRequest,
    "PurgeQueue": QueueUrlRequest,
    "ReceiveMessage": ReceiveMessageRequest,
    "RemovePermission": RemovePermissionRequest,
    "SendMessage": SendMessageRequest,
    "SendMessageBatch": SendMessageBatchRequest,
    "SetQueueAttributes": SetQueueAttributesRequest,
    "StartMessageMoveTask": StartMessageMoveTaskRequest,
    "TagQueue": TagQueueRequest,
    "UntagQueue": UntagQueueRequest,
}
