"""The console API's JSON shapes: reading request bodies into typed values (rejecting
wrong types with ``InvalidParameterValue``) and writing domain objects out as the
documented JSON (see the console API contract), plus the error-status table.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from ekiden.core import errors as e
from ekiden.core.messages import AttributeValue
from ekiden.core.services.messages import ReceivedMessage
from ekiden.core.services.topic_catalog import Topic
from ekiden.core.storage import MessageState, PeekedMessage
from ekiden.core.subscriptions import SubscriptionSettings

JsonObject = dict[str, Any]

# HTTP statuses of the domain errors (the SQS catalog's, except that *DoesNotExist is a
# 404 and conflicts a 409, as a JSON API says them). Looked up along the class's MRO.
_STATUS: dict[type[e.EkidenError], int] = {
    e.QueueDoesNotExist: 404,
    e.TopicDoesNotExist: 404,
    e.SubscriptionDoesNotExist: 404,
    e.ResourceNotFound: 404,  # FunctionDoesNotExist, MappingDoesNotExist
    e.ReceiptHandleIsInvalid: 404,
    e.QueueNameExists: 409,
    e.QueueDeletedRecently: 409,
    e.ResourceConflict: 409,
    e.PurgeQueueInProgress: 403,
    e.OverLimit: 403,
    e.AccessDenied: 403,
    e.TooManyRequests: 429,
    e.ServiceUnavailable: 503,
    e.InternalFailure: 500,
}


def error_status(error: e.EkidenError) -> int:
    """The HTTP status of ``error``: its nearest listed class's, else 400 (a client
    error: every other domain error is about the request)."""
    for cls in type(error).__mro__:
        status = _STATUS.get(cls)
        if status is not None:
            return status
    return 400


def error_code(error: e.EkidenError) -> str:
    """The error's AWS-like code: its class name (QueueDoesNotExist, ...)."""
    return type(error).__name__


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


# --- reading request bodies --------------------------------------------------------------


def parse_body(body: bytes) -> JsonObject:
    """The request body as a JSON object (an empty body is ``{}``)."""
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise e.MalformedRequest(f"The request body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise e.MalformedRequest("The request body must be a JSON object.")
    return value


def _invalid(name: str, wanted: str) -> e.InvalidParameterValue:
    return e.InvalidParameterValue(f"Value for parameter {name} is invalid. Reason: {wanted}.")


def required_str(data: JsonObject, name: str) -> str:
    if name not in data:
        raise e.MissingParameter(f"The request must contain the parameter {name}.")
    value = data[name]
    if not isinstance(value, str):
        raise _invalid(name, "Must be a string")
    return value


def optional_str(data: JsonObject, name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise _invalid(name, "Must be a string")
    return value


def optional_int(data: JsonObject, name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, "Must be an integer")
    return value


def optional_bool(data: JsonObject, name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise _invalid(name, "Must be true or false")
    return value


def string_map(data: JsonObject, name: str) -> dict[str, str]:
    """An optional object of string values (queue attributes, tags)."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _invalid(name, "Must be an object of strings")
    return dict(value)


def message_attributes(data: JsonObject, name: str = "attributes") -> dict[str, AttributeValue]:
    """Message attributes in the console's shape, as ``AttributeValue``s; their content
    is validated later by the service, exactly as SQS's and SNS's are."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(name, "Must be an object of message attributes")
    result: dict[str, AttributeValue] = {}
    for key, item in value.items():
        if not isinstance(item, dict):
            raise _invalid(f"{name}.{key}", "Must be an object")
        data_type = item.get("data_type")
        if not isinstance(data_type, str):
            raise e.InvalidParameterValue(
                f"The message attribute '{key}' must contain a non-empty attribute type."
            )
        string_value = item.get("string_value")
        binary_text = item.get("binary_value")
        if string_value is not None and not isinstance(string_value, str):
            raise _invalid(f"{name}.{key}.string_value", "Must be a string")
        binary: bytes | None = None
        if binary_text is not None:
            if not isinstance(binary_text, str):
                raise _invalid(f"{name}.{key}.binary_value", "Must be base64 text")
            try:
                binary = base64.b64decode(binary_text, validate=True)
            except (binascii.Error, ValueError):
                raise _invalid(f"{name}.{key}.binary_value", "Must be base64 text") from None
        result[key] = AttributeValue(data_type, string_value=string_value, binary_value=binary)
    return result


# --- writing responses ---------------------------------------------------------------------


def attributes_json(attributes: Mapping[str, AttributeValue]) -> JsonObject:
    out: JsonObject = {}
    for key, value in attributes.items():
        if value.binary_value is not None:
            out[key] = {
                "data_type": value.data_type,
                "binary_value": base64.b64encode(value.binary_value).decode(),
            }
        else:
            out[key] = {"data_type": value.data_type, "string_value": value.string_value or ""}
    return out


def peeked_json(message: PeekedMessage, dead_letter_source_arn: str | None) -> JsonObject:
    """A peeked message with its system attributes as SQS names them."""
    system: dict[str, str] = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(message.sent_ms),
        "ApproximateReceiveCount": str(message.receive_count),
    }
    if message.first_receive_ms is not None and message.receive_count > 0:
        system["ApproximateFirstReceiveTimestamp"] = str(message.first_receive_ms)
    trace = message.system_attributes.get("AWSTraceHeader")
    if trace is not None and trace.string_value is not None:
        system["AWSTraceHeader"] = trace.string_value
    if dead_letter_source_arn is not None:
        system["DeadLetterQueueSourceArn"] = dead_letter_source_arn
    if message.sequence_number is not None:
        system["SequenceNumber"] = message.sequence_number
        if message.dedup_id is not None:
            system["MessageDeduplicationId"] = message.dedup_id
    if message.group_id is not None:
        system["MessageGroupId"] = message.group_id
    return {
        "message_id": message.message_id,
        "body": message.body,
        "md5_of_body": message.md5_of_body,
        "md5_of_message_attributes": message.md5_of_attributes,
        "sent_ms": message.sent_ms,
        "receive_count": message.receive_count,
        "state": message.state,
        "group_id": message.group_id,
        "attributes": system,
        "message_attributes": attributes_json(message.attributes),
    }


def received_json(message: ReceivedMessage) -> JsonObject:
    """A received message in the peek shape (it is in flight now), with its handle."""
    system = message.attributes
    sent = system.get("SentTimestamp")
    count = system.get("ApproximateReceiveCount")
    return {
        "message_id": message.message_id,
        "body": message.body,
        "md5_of_body": message.md5_of_body,
        "md5_of_message_attributes": message.md5_of_message_attributes,
        "sent_ms": int(sent) if sent is not None else None,
        "receive_count": int(count) if count is not None else None,
        "state": MessageState.IN_FLIGHT,
        "group_id": system.get("MessageGroupId"),
        "attributes": dict(system),
        "message_attributes": attributes_json(message.message_attributes),
        "receipt_handle": message.receipt_handle,
    }


def topic_json(topic: Topic) -> JsonObject:
    subscriptions = []
    for subscription in topic.subscriptions.values():
        record = subscription.record
        settings: SubscriptionSettings = subscription.settings
        subscriptions.append(
            {
                "arn": record.arn,
                "protocol": record.protocol,
                "endpoint": record.endpoint,
                "pending_confirmation": record.pending_confirmation,
                "raw_message_delivery": settings.raw_message_delivery,
                "filter_policy": settings.filter_policy,
            }
        )
    return {
        "name": topic.record.name,
        "arn": topic.arn,
        "fifo": topic.record.is_fifo,
        "subscriptions": subscriptions,
    }


def json_response_body(value: Any) -> bytes:
    return orjson.dumps(value)
