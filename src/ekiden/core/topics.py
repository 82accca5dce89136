"""SNS topics: names, topic and subscription ARNs, topic attributes (validation,
normalisation, CreateTopic idempotency) and the attributes GetTopicAttributes returns.

Stored attributes are the settable ones, as strings, in the form GetTopicAttributes
returns them; computed ones (TopicArn, Owner, subscription counts, EffectiveDeliveryPolicy,
the default Policy) are added by ``topic_attributes_view``.

Error wording: SNS answers bad input with ``InvalidParameter`` and a message ``Invalid
parameter: <what>``; a bad attribute given to CreateTopic is reported as ``Invalid
parameter: Attributes Reason: <what>``, the same attribute given to SetTopicAttributes as
``Invalid parameter: <what>`` (both captured from AWS). ``error_prefix`` below is one of
``CREATE_PREFIX`` / ``SET_PREFIX``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.messages import first_invalid_character
from ekiden.core.rules.delivery import TopicDeliveryPolicy, parse_topic_delivery_policy

MAX_TOPIC_NAME_LENGTH = 256
FIFO_SUFFIX = ".fifo"
MAX_DISPLAY_NAME_LENGTH = 100
DEFAULT_MAX_MESSAGE_BYTES = 262_144  # 256 KiB; MaximumMessageSize raises it to 1 MiB
MIN_MAX_MESSAGE_BYTES = 1_024
MAX_MAX_MESSAGE_BYTES = 1_048_576

CREATE_PREFIX = "Invalid parameter: Attributes Reason: "
SET_PREFIX = "Invalid parameter: "

_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")  # \Z: "$" would allow a final newline
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]{1,12}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")

_FEEDBACK_PROTOCOLS = ("HTTP", "Lambda", "SQS", "Firehose", "Application")
FEEDBACK_ROLE_ATTRIBUTES = frozenset(
    f"{p}{kind}FeedbackRoleArn" for p in _FEEDBACK_PROTOCOLS for kind in ("Success", "Failure")
)
FEEDBACK_RATE_ATTRIBUTES = frozenset(f"{p}SuccessFeedbackSampleRate" for p in _FEEDBACK_PROTOCOLS)
SETTABLE_ATTRIBUTES = (
    frozenset(
        {
            "DeliveryPolicy",
            "DisplayName",
            "Policy",
            "KmsMasterKeyId",
            "SignatureVersion",
            "TracingConfig",
            "MaximumMessageSize",
        }
    )
    | FEEDBACK_ROLE_ATTRIBUTES
    | FEEDBACK_RATE_ATTRIBUTES
)
FIFO_ONLY_ATTRIBUTES = frozenset({"ContentBasedDeduplication", "FifoThroughputScope"})
CREATE_ONLY_ATTRIBUTES = frozenset({"FifoTopic"})
# Documented, but ekiden keeps no message archive (so nothing could be replayed).
UNSUPPORTED_ATTRIBUTES = frozenset({"ArchivePolicy"})
COMPUTED_ATTRIBUTES = frozenset(
    {
        "TopicArn",
        "Owner",
        "SubscriptionsConfirmed",
        "SubscriptionsPending",
        "SubscriptionsDeleted",
        "EffectiveDeliveryPolicy",
        "BeginningArchiveTime",
    }
)
_CHOICES: dict[str, tuple[str, ...]] = {
    "SignatureVersion": ("1", "2"),
    "TracingConfig": ("PassThrough", "Active"),
    "FifoThroughputScope": ("Topic", "MessageGroup"),
}
_DEFAULTS_FIFO = {"FifoTopic": "true", "ContentBasedDeduplication": "false"}
# Actions of AWS's default topic policy, in AWS's order (captured GetTopicAttributes).
_DEFAULT_POLICY_ACTIONS = (
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
)
_COMPACT = (",", ":")


# --- names and ARNs ---------------------------------------------------------------------


def is_fifo_name(name: str) -> bool:
    return name.endswith(FIFO_SUFFIX)


def check_topic_name(name: str, *, fifo: bool) -> None:
    """Raise unless ``name`` is a valid topic name for the topic type: 1-256 of
    ``[A-Za-z0-9_-]``; a FIFO topic's name ends in ``.fifo`` (counted in the 256)."""
    if fifo:
        base = name[: -len(FIFO_SUFFIX)] if is_fifo_name(name) else ""
        if not _TOPIC_NAME.match(base) or len(name) > MAX_TOPIC_NAME_LENGTH:
            raise InvalidParameterValue(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase "
                "and lowercase ASCII letters, numbers, underscores, and hyphens, and must be "
                "between 1 and 256 characters long."
            )
    elif not _TOPIC_NAME.match(name) or len(name) > MAX_TOPIC_NAME_LENGTH:
        raise InvalidParameterValue("Invalid parameter: Topic Name")  # AWS (captured)


def topic_arn(region: str, account_id: str, name: str, *, partition: str = "aws") -> str:
    return f"arn:{partition}:sns:{region}:{account_id}:{name}"


def subscription_arn(topic_arn: str, subscription_id: str) -> str:
    """A subscription's ARN: its topic's ARN, a colon, and a UUID the caller mints."""
    return f"{topic_arn}:{subscription_id}"


@dataclass(frozen=True, slots=True)
class TopicRef:
    partition: str
    region: str
    account_id: str
    name: str

    @property
    def arn(self) -> str:
        return topic_arn(self.region, self.account_id, self.name, partition=self.partition)

    @property
    def is_fifo(self) -> bool:
        return is_fifo_name(self.name)


@dataclass(frozen=True, slots=True)
class SubscriptionRef:
    topic: TopicRef
    subscription_id: str

    @property
    def arn(self) -> str:
        return subscription_arn(self.topic.arn, self.subscription_id)


def _too_short(arn: str, parameter: str) -> InvalidParameterValue | None:
    # AWS counts the ':'-separated elements of whatever it was given (captured:
    # "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1").
    count = len(arn.split(":"))
    if count >= 6:
        return None
    return InvalidParameterValue(
        f"Invalid parameter: {parameter} Reason: An ARN must have at least 6 elements, not {count}"
    )


def parse_topic_arn(arn: str, *, parameter: str = "TopicArn") -> TopicRef:
    """The parts of ``arn:<partition>:sns:<region>:<account>:<name>``. ``parameter`` names
    the request member in the error (TopicArn, TargetArn, ResourceArn)."""
    short = _too_short(arn, parameter)
    if short is not None:
        raise short
    parts = arn.split(":")
    if (
        len(parts) != 6
        or parts[0] != "arn"
        or not parts[1]
        or parts[2] != "sns"
        or not parts[3]
        or not parts[4]
        or not parts[5]
    ):
        # AWS's answer to an ARN of the wrong service or shape (captured for a topic ARN
        # of another region: "Invalid parameter: TopicArn").
        raise InvalidParameterValue(f"Invalid parameter: {parameter}")
    return TopicRef(partition=parts[1], region=parts[3], account_id=parts[4], name=parts[5])


def parse_subscription_arn(arn: str) -> SubscriptionRef:
    """The topic and id of ``<topic ARN>:<uuid>``; AWS's errors for the two ways of getting
    it wrong (captured: too few elements, and a topic ARN where a subscription's belongs,
    answered ``Invalid parameter: SubscriptionId``)."""
    short = _too_short(arn, "SubscriptionArn")
    if short is not None:
        raise short
    head, _, subscription_id = arn.rpartition(":")
    if len(arn.split(":")) != 7 or _UUID.match(subscription_id) is None:
        raise InvalidParameterValue("Invalid parameter: SubscriptionId")
    try:
        topic = parse_topic_arn(head)
    except InvalidParameterValue:
        raise InvalidParameterValue("Invalid parameter: SubscriptionId") from None
    return SubscriptionRef(topic=topic, subscription_id=subscription_id)


# --- topic attributes -------------------------------------------------------------------


def _value_error(prefix: str, name: str, reason: str) -> InvalidParameterValue:
    # The "<Name>: Invalid value [<v>]. Must be ..." shape is AWS's for subscription
    # attributes (captured for RawMessageDelivery); AWS's words for these topic attributes
    # are not documented.
    return InvalidParameterValue(f"{prefix}{name}: {reason}")


def _normalize_policy(value: str, prefix: str) -> str:
    try:
        policy = json.loads(value)
    except (ValueError, RecursionError):
        raise _value_error(prefix, "Policy", "failed to parse JSON.") from None
    if not isinstance(policy, dict):
        raise _value_error(prefix, "Policy", "Policy must be a JSON object")
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", []) if isinstance(statement, dict) else []
        for action in actions if isinstance(actions, list) else [actions]:
            if not (
                isinstance(action, str) and (action == "*" or action.lower().startswith("sns:"))
            ):
                # AWS's wording (captured from CreateTopic).
                raise InvalidParameterValue(
                    f"{prefix}Policy statement action out of service scope!"
                )
    return value


def _normalize_topic_attribute(name: str, value: str, prefix: str) -> str:
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            choices = " or ".join(_CHOICES[name])
            raise _value_error(prefix, name, f"Invalid value [{value}]. Must be {choices}.")
        return value
    if name == "ContentBasedDeduplication":
        if value.lower() not in ("true", "false"):
            raise _value_error(prefix, name, f"Invalid value [{value}]. Must be true or false.")
        return value.lower()
    if name == "MaximumMessageSize":
        if _INTEGER_TEXT.fullmatch(value) is None or not (
            MIN_MAX_MESSAGE_BYTES <= int(value) <= MAX_MAX_MESSAGE_BYTES
        ):
            raise _value_error(
                prefix,
                name,
                f"Invalid value [{value}]. Must be between {MIN_MAX_MESSAGE_BYTES} and "
                f"{MAX_MAX_MESSAGE_BYTES}.",
            )
        return str(int(value))
    if name in FEEDBACK_RATE_ATTRIBUTES:
        if _INTEGER_TEXT.fullmatch(value) is None or not 0 <= int(value) <= 100:
            # AWS's wording (captured from CreateTopic).
            raise _value_error(
                prefix, name, f"{value} value provided is not an integer between 0-100"
            )
        return str(int(value))
    if name == "DisplayName":
        if len(value) > MAX_DISPLAY_NAME_LENGTH or first_invalid_character(value) is not None:
            raise _value_error(prefix, name, "must be at most 100 valid characters long")
        return value
    if value == "":
        return ""  # DeliveryPolicy, Policy, KmsMasterKeyId, feedback roles: removed
    if name == "DeliveryPolicy":
        return parse_topic_delivery_policy(value, error_prefix=prefix).to_json()
    if name == "Policy":
        return _normalize_policy(value, prefix)
    if first_invalid_character(value) is not None:
        raise _value_error(prefix, name, "contains invalid characters")
    return value


def normalize_topic_attributes(
    attributes: Mapping[str, str], *, fifo: bool, creating: bool
) -> dict[str, str]:
    """Validate CreateTopic/SetTopicAttributes attributes; return them normalised.

    ``""`` for DeliveryPolicy, Policy, KmsMasterKeyId, DisplayName and the feedback roles
    means "remove" (the caller drops the stored value; Policy falls back to the default).
    """
    prefix = CREATE_PREFIX if creating else SET_PREFIX
    result: dict[str, str] = {}
    for name, value in attributes.items():
        if name in UNSUPPORTED_ATTRIBUTES:
            raise InvalidParameterValue(
                f"{prefix}{name}: ekiden keeps no message archive, so {name} is not supported"
            )
        if name == "FifoTopic":
            if not creating:
                raise InvalidParameterValue(f"{prefix}AttributeName")  # not settable
            if value.lower() not in ("true", "false"):
                raise _value_error(prefix, name, f"Invalid value [{value}]. Must be true or false.")
            if fifo:
                result[name] = "true"
            continue  # AWS does not record an explicit "false" on a standard topic
        if name not in SETTABLE_ATTRIBUTES and name not in FIFO_ONLY_ATTRIBUTES:
            raise InvalidParameterValue(f"{prefix}AttributeName")
        normalized = _normalize_topic_attribute(name, value, prefix)
        if name in FIFO_ONLY_ATTRIBUTES and not fifo:
            if name == "ContentBasedDeduplication" and normalized == "false":
                continue  # the default; AWS does not record it on a standard topic
            if name == "ContentBasedDeduplication":
                # AWS's wording (captured), without the usual prefix.
                raise InvalidParameterValue(
                    "If content-based deduplication is enabled, it must also be a FIFO topic."
                )
            raise InvalidParameterValue(f"{prefix}{name}: only FIFO topics support {name}")
        result[name] = normalized
    return result


def create_topic_attributes(
    name: str, attributes: Mapping[str, str]
) -> tuple[bool, dict[str, str]]:
    """Validate a CreateTopic request: whether it makes a FIFO topic (``FifoTopic=true``),
    and the attributes to store (FIFO defaults included)."""
    fifo = attributes.get("FifoTopic", "").lower() == "true"
    check_topic_name(name, fifo=fifo)
    normalized = normalize_topic_attributes(attributes, fifo=fifo, creating=True)
    if fifo:
        normalized = _DEFAULTS_FIFO | normalized
    return fifo, {k: v for k, v in normalized.items() if v != ""}


def check_topic_exists_alike(
    stored: Mapping[str, str], requested: Mapping[str, str], *, fifo: bool
) -> None:
    """CreateTopic of an existing name returns the existing topic's ARN when every
    attribute requested equals the topic's (unset ones compare as their defaults);
    attributes not requested are not compared. ``requested`` is the normalised result of
    ``create_topic_attributes``."""
    defaults = _DEFAULTS_FIFO if fifo else {}
    for name, value in requested.items():
        if stored.get(name, defaults.get(name, "")) != value:
            raise InvalidParameterValue(
                f"{CREATE_PREFIX}Topic already exists with different attributes"
            )


def check_topic_tags_alike(
    stored: Iterable[tuple[str, str]], requested: Iterable[tuple[str, str]]
) -> None:
    """CreateTopic of an existing name may repeat all, some or none of its tags, never a
    tag it does not have (captured from AWS)."""
    if not set(requested) <= set(stored):
        raise InvalidParameterValue(
            "Invalid parameter: Tags Reason: Topic already exists with different tags"
        )


def default_topic_policy(topic_arn: str, owner: str) -> str:
    """The access policy AWS gives every new topic (captured GetTopicAttributes)."""
    policy = {
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": list(_DEFAULT_POLICY_ACTIONS),
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": owner}},
            }
        ],
    }
    return json.dumps(policy, separators=_COMPACT)


@dataclass(frozen=True, slots=True)
class TopicSettings:
    """The parsed, typed view of a topic's stored attributes."""

    is_fifo: bool
    content_based_dedup: bool
    signature_version: str
    max_message_bytes: int
    delivery_policy: TopicDeliveryPolicy | None
    dedup_scope_group: bool

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, str], *, fifo: bool) -> TopicSettings:
        delivery_text = attributes.get("DeliveryPolicy", "")
        return cls(
            is_fifo=fifo,
            content_based_dedup=attributes.get("ContentBasedDeduplication") == "true",
            signature_version=attributes.get("SignatureVersion", "1"),
            max_message_bytes=int(
                attributes.get("MaximumMessageSize", str(DEFAULT_MAX_MESSAGE_BYTES))
            ),
            delivery_policy=(
                parse_topic_delivery_policy(delivery_text, error_prefix=SET_PREFIX)
                if delivery_text
                else None
            ),
            dedup_scope_group=attributes.get("FifoThroughputScope") == "MessageGroup",
        )


def topic_attributes_view(
    arn: str,
    owner: str,
    stored: Mapping[str, str],
    *,
    confirmed: int,
    pending: int,
    deleted: int,
) -> dict[str, str]:
    """What GetTopicAttributes returns: the stored attributes, the default Policy and
    DisplayName when none is set, the counts, and EffectiveDeliveryPolicy (AWS's defaults
    merged with the topic's DeliveryPolicy). Optional attributes (SignatureVersion,
    MaximumMessageSize, TracingConfig, ...) appear only once set, as on AWS."""
    delivery_text = stored.get("DeliveryPolicy", "")
    delivery = (
        parse_topic_delivery_policy(delivery_text, error_prefix=SET_PREFIX)
        if delivery_text
        else TopicDeliveryPolicy()
    )
    view = {"DisplayName": "", "Policy": default_topic_policy(arn, owner)}
    view.update({k: v for k, v in stored.items() if v != ""})
    view.update(
        {
            "EffectiveDeliveryPolicy": delivery.effective_json(),
            "Owner": owner,
            "SubscriptionsConfirmed": str(confirmed),
            "SubscriptionsDeleted": str(deleted),
            "SubscriptionsPending": str(pending),
            "TopicArn": arn,
        }
    )
    return view
