"""Queue names and attributes: validation, normalisation and the parsed view the rules use.

Stored attributes are the *settable* ones, as strings, exactly as GetQueueAttributes
returns them; computed ones (counts, timestamps, QueueArn) are added by the service.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ekiden.core import limits
from ekiden.core.errors import InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue
from ekiden.core.ids import parse_sqs_arn
from ekiden.core.messages import first_invalid_character

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\Z")  # \Z: "$" would allow a final newline
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,12}")

STANDARD_ATTRIBUTES = frozenset(
    {
        "DelaySeconds",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "Policy",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
        "RedrivePolicy",
        "RedriveAllowPolicy",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "SqsManagedSseEnabled",
    }
)
FIFO_ONLY_ATTRIBUTES = frozenset(
    {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
)
COMPUTED_ATTRIBUTES = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
        "CreatedTimestamp",
        "LastModifiedTimestamp",
        "QueueArn",
    }
)
READABLE_ATTRIBUTES = STANDARD_ATTRIBUTES | FIFO_ONLY_ATTRIBUTES | COMPUTED_ATTRIBUTES

_DEFAULTS_STANDARD = {
    "DelaySeconds": str(limits.DEFAULT_DELAY_S),
    "MaximumMessageSize": str(limits.MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": str(limits.DEFAULT_RETENTION_S),
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": str(limits.DEFAULT_VISIBILITY_TIMEOUT_S),
    "SqsManagedSseEnabled": "true",
}
_DEFAULTS_FIFO = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}

_INT_RANGES: dict[str, tuple[int, int]] = {
    "DelaySeconds": (limits.MIN_DELAY_S, limits.MAX_DELAY_S),
    "MaximumMessageSize": (limits.MIN_MAX_MESSAGE_BYTES, limits.MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": (limits.MIN_RETENTION_S, limits.MAX_RETENTION_S),
    "ReceiveMessageWaitTimeSeconds": (limits.MIN_WAIT_TIME_S, limits.MAX_WAIT_TIME_S),
    "VisibilityTimeout": (limits.MIN_VISIBILITY_TIMEOUT_S, limits.MAX_VISIBILITY_TIMEOUT_S),
    "KmsDataKeyReusePeriodSeconds": (limits.KMS_MIN_REUSE_S, limits.KMS_MAX_REUSE_S),
}
_BOOLEAN_ATTRIBUTES = frozenset({"SqsManagedSseEnabled", "ContentBasedDeduplication", "FifoQueue"})
_CHOICES = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}


def is_fifo_name(name: str) -> bool:
    return name.endswith(limits.FIFO_SUFFIX)


def check_queue_name(name: str, *, fifo: bool) -> None:
    """Raise unless ``name`` is a valid queue name for the queue type."""
    base = name[: -len(limits.FIFO_SUFFIX)] if fifo and is_fifo_name(name) else name
    if fifo and not is_fifo_name(name):
        raise InvalidParameterValue(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
            "underscores, must end with .fifo suffix and be 1 to 80 in length."
        )
    if not _QUEUE_NAME.match(base) or len(name) > limits.MAX_QUEUE_NAME_LENGTH:
        if fifo:
            raise InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                "or underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )


def _invalid(name: str, reason: str) -> InvalidAttributeValue:
    return InvalidAttributeValue(f"Invalid value for the parameter {name}. Reason: {reason}")


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    dead_letter_target_arn: str
    max_receive_count: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "deadLetterTargetArn": self.dead_letter_target_arn,
                "maxReceiveCount": self.max_receive_count,
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class RedriveAllowPolicy:
    permission: str  # allowAll | denyAll | byQueue
    source_queue_arns: tuple[str, ...]

    def allows(self, source_arn: str) -> bool:
        if self.permission == "allowAll":
            return True
        if self.permission == "denyAll":
            return False
        return source_arn in self.source_queue_arns

    def to_json(self) -> str:
        body: dict[str, object] = {"redrivePermission": self.permission}
        if self.permission == "byQueue":
            body["sourceQueueArns"] = list(self.source_queue_arns)
        return json.dumps(body, separators=(",", ":"))


def invalid_redrive_policy(text: str, reason: str) -> InvalidParameterValue:
    """The error for a well-formed but unusable RedrivePolicy: SQS reports it as
    InvalidParameterValue and echoes the policy text (AWS capture: a bad
    deadLetterTargetArn)."""
    return InvalidParameterValue(
        f"Value {text} for parameter RedrivePolicy is invalid. Reason: {reason}"
    )


def parse_redrive_policy(text: str) -> RedrivePolicy:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise _invalid("RedrivePolicy", "Invalid JSON.") from None
    if not isinstance(raw, dict):
        raise _invalid("RedrivePolicy", "Redrive policy is not a dictionary.")
    unknown = set(raw) - {"deadLetterTargetArn", "maxReceiveCount"}
    if unknown:
        raise invalid_redrive_policy(
            text,
            "Only following attributes are supported: [maxReceiveCount, deadLetterTargetArn].",
        )
    arn = raw.get("deadLetterTargetArn")
    count = raw.get("maxReceiveCount")
    if not isinstance(arn, str) or count is None:
        raise invalid_redrive_policy(
            text,
            "Redrive policy does not contain mandatory attribute: "
            + ("deadLetterTargetArn." if not isinstance(arn, str) else "maxReceiveCount."),
        )
    if parse_sqs_arn(arn) is None:
        raise invalid_redrive_policy(text, "Invalid value for deadLetterTargetArn.")
    bad_count = invalid_redrive_policy(
        text,
        f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both "
        "inclusive.",
    )
    if isinstance(count, bool) or not isinstance(count, int | str):
        raise bad_count
    if isinstance(count, str) and _INTEGER_TEXT.fullmatch(count) is None:
        raise bad_count
    max_count = int(count)
    if not (limits.MIN_MAX_RECEIVE_COUNT <= max_count <= limits.MAX_MAX_RECEIVE_COUNT):
        raise bad_count
    return RedrivePolicy(arn, max_count)


def parse_redrive_allow_policy(text: str) -> RedriveAllowPolicy:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise _invalid("RedriveAllowPolicy", "Invalid JSON.") from None
    if not isinstance(raw, dict):
        raise _invalid("RedriveAllowPolicy", "Redrive allow policy is not a dictionary.")
    permission = raw.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise _invalid(
            "RedriveAllowPolicy",
            "Amazon SQS can't create the redrive allow policy, as it's in an unsupported format.",
        )
    sources = raw.get("sourceQueueArns", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise _invalid("RedriveAllowPolicy", "sourceQueueArns must be a list of queue ARNs.")
    if permission == "byQueue":
        if not sources:
            raise _invalid(
                "RedriveAllowPolicy",
                "Amazon SQS can't create the redrive allow policy. When you specify the "
                "byQueue permission type, you must also specify one or more sourceQueueArns "
                "values.",
            )
        if len(sources) > limits.MAX_SOURCE_QUEUES_IN_ALLOW_POLICY:
            raise _invalid(
                "RedriveAllowPolicy",
                "Amazon SQS can't create the redrive allow policy. The maximum number of "
                "source queue ARNs you can specify is 10.",
            )
    elif sources:
        raise _invalid(
            "RedriveAllowPolicy",
            "Amazon SQS can't create the redrive allow policy. To specify one or more source "
            "queue ARNs, you must set redrivePermission to byQueue.",
        )
    return RedriveAllowPolicy(permission, tuple(sources))


def normalize_attributes(
    attributes: Mapping[str, str], *, fifo: bool, creating: bool
) -> dict[str, str]:
    """Validate settable attributes and return them in their stored (normalised) form.

    An empty ``RedrivePolicy``/``RedriveAllowPolicy``/``Policy``/``KmsMasterKeyId`` value
    means "remove" and is kept as ``""`` so the caller can drop it.
    """
    result: dict[str, str] = {}
    for name, value in attributes.items():
        if name in COMPUTED_ATTRIBUTES or (
            name not in STANDARD_ATTRIBUTES and name not in FIFO_ONLY_ATTRIBUTES
        ):
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        if name in FIFO_ONLY_ATTRIBUTES and not fifo:
            if name == "FifoQueue" and value.lower() == "false":
                continue
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        if name == "FifoQueue" and not creating:
            raise InvalidAttributeValue(
                "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is "
                "not supported."
            )
        result[name] = _normalize_one(name, value)
    if result.get("KmsMasterKeyId"):
        # SSE-KMS and SSE-SQS exclude each other; a KMS key turns SSE-SQS off.
        if result.get("SqsManagedSseEnabled") == "true":
            raise InvalidAttributeName(
                "You can use one type of server-side encryption (SSE) at one time. You can "
                "either enable KMS SSE or SQS SSE."
            )
        result["SqsManagedSseEnabled"] = "false"
    if fifo:
        check_fifo_throughput(result)
    return result


def check_fifo_throughput(attributes: Mapping[str, str]) -> None:
    """High-throughput FIFO (perMessageGroupId) needs per-group deduplication; checked on
    the attributes given, and on the merged result of a change."""
    scope = attributes.get("DeduplicationScope", "queue")  # the defaults count too
    limit = attributes.get("FifoThroughputLimit", "perQueue")
    if scope == "queue" and limit == "perMessageGroupId":
        raise _invalid(
            "FifoThroughputLimit",
            "The perMessageGroupId value is allowed only when the value for "
            "DeduplicationScope is messageGroup.",
        )


def _bad_value(name: str) -> InvalidAttributeValue:
    # SQS gives no reason for a malformed or out-of-range simple attribute (AWS capture:
    # "Invalid value for the parameter VisibilityTimeout.").
    return InvalidAttributeValue(f"Invalid value for the parameter {name}.")


def _normalize_one(name: str, value: str) -> str:
    if first_invalid_character(value) is not None:
        raise _bad_value(name)  # it could not even be returned in a Query (XML) response
    if name in _INT_RANGES:
        low, high = _INT_RANGES[name]
        # Not int(value) alone: that also takes " 7", "7_0" and non-ASCII digits.
        if _INTEGER_TEXT.fullmatch(value) is None or not low <= int(value) <= high:
            raise _bad_value(name)
        return str(int(value))
    if name in _BOOLEAN_ATTRIBUTES:
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise _bad_value(name)
        return lowered
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            raise _bad_value(name)
        return value
    if value == "":
        return ""
    if name == "RedrivePolicy":
        return parse_redrive_policy(value).to_json()
    if name == "RedriveAllowPolicy":
        return parse_redrive_allow_policy(value).to_json()
    if name == "Policy":
        try:
            policy = json.loads(value)
        except (ValueError, RecursionError):
            raise _bad_value("Policy") from None
        if not isinstance(policy, dict):
            raise _bad_value("Policy")
        return value
    return value


def default_attributes(*, fifo: bool) -> dict[str, str]:
    result = dict(_DEFAULTS_STANDARD)
    if fifo:
        result.update(_DEFAULTS_FIFO)
    return result


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """The parsed, typed view of a queue's stored attributes."""

    is_fifo: bool
    visibility_timeout_s: int
    delay_s: int
    retention_s: int
    max_message_bytes: int
    wait_time_s: int
    content_based_dedup: bool
    dedup_scope_group: bool
    redrive: RedrivePolicy | None
    redrive_allow: RedriveAllowPolicy | None

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, str], *, fifo: bool) -> QueueSettings:
        merged = default_attributes(fifo=fifo) | dict(attributes)
        redrive_text = merged.get("RedrivePolicy", "")
        allow_text = merged.get("RedriveAllowPolicy", "")
        return cls(
            is_fifo=fifo,
            visibility_timeout_s=int(merged["VisibilityTimeout"]),
            delay_s=int(merged["DelaySeconds"]),
            retention_s=int(merged["MessageRetentionPeriod"]),
            max_message_bytes=int(merged["MaximumMessageSize"]),
            wait_time_s=int(merged["ReceiveMessageWaitTimeSeconds"]),
            content_based_dedup=merged.get("ContentBasedDeduplication") == "true",
            dedup_scope_group=merged.get("DeduplicationScope") == "messageGroup",
            redrive=parse_redrive_policy(redrive_text) if redrive_text else None,
            redrive_allow=parse_redrive_allow_policy(allow_text) if allow_text else None,
        )
