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
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, TypeVar, Union, cast, get_args, get_origin, get_type_hints

from ekiden.core.errors import InvalidParameterValue, MissingParameter

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
    queue_name: str
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
    """Build ``cls`` from a JSON-shaped dict, raising AWS-shaped errors for bad input."""
    if not isinstance(data, dict):
        raise InvalidParameterValue(f"Value for parameter {path or cls.__name__} is invalid.")
    values: dict[str, Any] = {}
    plan: list[tuple[str, str, Any, bool]] = _plan(cast(Any, cls))
    for py_name, wire, kind, required in plan:
        raw = data.get(wire)
        if raw is None:
            if required:
                raise MissingParameter(f"The request must contain the parameter {path}{wire}.")
            continue
        values[py_name] = _convert(kind, raw, f"{path}{wire}")
    return cls(**values)


def _convert(kind: Any, raw: Any, path: str) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(kind) if a is not type(None)]
        return _convert(inner[0], raw, path)
    if kind is str:
        if isinstance(raw, str):
            return raw
        raise _type_error(path, raw, "string")
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        raise _type_error(path, raw, "boolean")
    if kind is int:
        if isinstance(raw, bool):
            raise _type_error(path, raw, "integer")
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str):
            try:
                return int(raw)
            except ValueError:
                pass
        raise _type_error(path, raw, "integer")
    if kind is bytes:
        if not isinstance(raw, str):
            raise _type_error(path, raw, "base64 blob")
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValue(
                f"Value for parameter {path} is invalid. Reason: not valid base64."
            ) from None
    if origin is list:
        if not isinstance(raw, list):
            raise _type_error(path, raw, "list")
        (element,) = get_args(kind)
        return [_convert(element, item, f"{path}.{i + 1}") for i, item in enumerate(raw)]
    if origin is dict:
        if not isinstance(raw, dict):
            raise _type_error(path, raw, "map")
        _, value_kind = get_args(kind)
        return {
            str(key): _convert(value_kind, value, f"{path}.{key}.") for key, value in raw.items()
        }
    if isinstance(kind, type):
        return decode(kind, raw, f"{path}." if not path.endswith(".") else path)
    raise TypeError(f"unsupported shape member type {kind!r}")  # a bug in this module


def _type_error(path: str, raw: Any, expected: str) -> InvalidParameterValue:
    shown = raw if isinstance(raw, str | int | float | bool) else type(raw).__name__
    return InvalidParameterValue(
        f"Value {shown} for parameter {path.rstrip('.')} is invalid. Reason: must be {expected}."
    )


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
