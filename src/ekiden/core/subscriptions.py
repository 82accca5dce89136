"""SNS subscriptions: protocols and endpoints, subscription attributes (validation,
normalisation, Subscribe idempotency) and the attributes GetSubscriptionAttributes returns.

ekiden delivers to ``sqs``, ``http``, ``https`` and ``lambda``; every other protocol is
refused with the error AWS gives for a protocol it does not know. Error prefixes follow
``ekiden.core.topics``: ``Invalid parameter: Attributes Reason:`` for attributes given to
Subscribe, ``Invalid parameter:`` for SetSubscriptionAttributes (both captured from AWS).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.ids import parse_sqs_arn
from ekiden.core.rules.delivery import (
    HTTP_PROTOCOLS,
    SubscriptionDeliveryPolicy,
    TopicDeliveryPolicy,
    effective_policy,
    parse_subscription_delivery_policy,
)
from ekiden.core.rules.patterns import SNS_LIMITS, compile_filter_policy
from ekiden.core.topics import (
    CREATE_PREFIX,
    DEFAULT_MAX_MESSAGE_BYTES,
    SET_PREFIX,
    TopicRef,
    is_fifo_name,
)

SUPPORTED_PROTOCOLS = ("sqs", "http", "https", "lambda")
RAW_DELIVERY_PROTOCOLS = frozenset({"sqs", "http", "https"})
# Topics whose MaximumMessageSize exceeds 256 KiB deliver only to these (and Firehose).
LARGE_MESSAGE_PROTOCOLS = frozenset({"sqs", "lambda"})
MAX_LARGE_MESSAGE_TOPIC_SUBSCRIPTIONS = 100
FILTER_POLICY_SCOPES = ("MessageAttributes", "MessageBody")

SUBSCRIPTION_ATTRIBUTES = frozenset(
    {
        "DeliveryPolicy",
        "FilterPolicy",
        "FilterPolicyScope",
        "RawMessageDelivery",
        "RedrivePolicy",
        "SubscriptionRoleArn",
    }
)
# Documented for FIFO topics, but ekiden keeps no message archive to replay from.
UNSUPPORTED_ATTRIBUTES = frozenset({"ReplayPolicy"})
_DEFAULTS = {"RawMessageDelivery": "false", "FilterPolicyScope": "MessageAttributes"}

_LAMBDA_ARN = re.compile(
    r"arn:[^:\s]+:lambda:[^:\s]+:[^:\s]+:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?\Z"
)
_URL_HOST = re.compile(r"[^/?#\s]+")
# Whitespace or a control character in an endpoint URL would break the request line of
# the POST (and no valid URL carries them unescaped).
_URL_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")
# Attributes whose values are JSON documents: Subscribe repeats compare them parsed.
_JSON_ATTRIBUTES = frozenset({"DeliveryPolicy", "FilterPolicy", "RedrivePolicy"})
_COMPACT = (",", ":")


def _validate_filter_policy(policy: str, *, scope: str, error_prefix: str) -> None:
    """Raise unless ``policy`` is an acceptable FilterPolicy for ``scope``: the pattern
    language, the key and combination limits and the MessageBody nesting rules are the
    matcher's (``ekiden.core.rules.patterns``), worded with this action's prefix."""
    compile_filter_policy(
        policy, scope=scope, limits=dataclasses.replace(SNS_LIMITS, error_prefix=error_prefix)
    )


# --- Subscribe ----------------------------------------------------------------------------


def _protocol_error(protocol: str) -> InvalidParameterValue:
    # AWS's wording (captured) for a protocol it does not know; ekiden uses it for the
    # AWS protocols it does not deliver to as well (email, sms, application, firehose).
    return InvalidParameterValue(
        f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
    )


def check_endpoint(protocol: str, endpoint: str | None, region: str | None = None) -> str:
    """Raise unless ``endpoint`` has the shape ``protocol`` needs: an SQS queue ARN (of
    ``region``, when given: ekiden delivers only to its own region's queues), a Lambda
    function ARN (optionally qualified), or a URL of the protocol's scheme without
    whitespace or control characters."""
    if protocol not in SUPPORTED_PROTOCOLS:
        raise _protocol_error(protocol)
    if not endpoint:
        raise InvalidParameterValue("Invalid parameter: Endpoint")  # docs silent on wording
    if protocol == "sqs":
        parsed = parse_sqs_arn(endpoint)
        if parsed is None or not (parsed.region and parsed.account_id and parsed.resource):
            raise InvalidParameterValue("Invalid parameter: SQS endpoint ARN")  # AWS (captured)
        if region is not None and parsed.region != region:
            # AWS delivers across regions; ekiden is one region, so such a queue cannot
            # exist here (the docs give no wording for it).
            raise InvalidParameterValue(
                f"Invalid parameter: SQS endpoint ARN Reason: the queue must be in region {region}"
            )
    elif protocol == "lambda":
        if _LAMBDA_ARN.match(endpoint) is None:
            raise InvalidParameterValue("Invalid parameter: Lambda endpoint ARN")
    else:
        scheme = f"{protocol}://"
        if not endpoint.startswith(scheme) or _URL_HOST.match(endpoint, len(scheme)) is None:
            raise InvalidParameterValue(
                "Invalid parameter: Endpoint must match the specified protocol"
            )
        if _URL_UNSAFE.search(endpoint) is not None:
            raise InvalidParameterValue(  # docs silent on the wording
                "Invalid parameter: Endpoint Reason: a URL may not contain whitespace or "
                "control characters"
            )
    return endpoint


def check_subscribe(
    topic: TopicRef,
    protocol: str,
    endpoint: str | None,
    *,
    topic_max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> str:
    """Validate a Subscribe request's protocol and endpoint against its topic; return the
    endpoint.

    FIFO topics deliver only to SQS queues, FIFO or standard (AWS now allows standard
    queues); a FIFO queue cannot subscribe to a standard topic. Topics allowing messages
    over 256 KiB deliver only to SQS and Lambda among ekiden's protocols.
    """
    if protocol not in SUPPORTED_PROTOCOLS:
        raise _protocol_error(protocol)
    if topic.is_fifo and protocol != "sqs":
        # AWS's wording (captured: "Invalid parameter: Invalid protocol type: email").
        raise InvalidParameterValue(f"Invalid parameter: Invalid protocol type: {protocol}")
    endpoint = check_endpoint(protocol, endpoint, topic.region)
    if protocol == "sqs" and is_fifo_name(endpoint) and not topic.is_fifo:
        # AWS's wording (captured), "Invalid parameter" twice included.
        raise InvalidParameterValue(
            "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
            "subscribed to standard SNS topics"
        )
    if topic_max_message_bytes > DEFAULT_MAX_MESSAGE_BYTES and protocol not in (
        LARGE_MESSAGE_PROTOCOLS
    ):
        # The guide documents the rule (an InvalidParameter error), not its words.
        raise InvalidParameterValue(
            f"Invalid parameter: Protocol Reason: {protocol} subscriptions are not supported "
            "on topics whose MaximumMessageSize is above 262144"
        )
    return endpoint


def check_large_message_topic(protocols: Iterable[str]) -> None:
    """Raise unless a topic whose subscriptions use ``protocols`` may take a
    MaximumMessageSize above 256 KiB (at most 100 subscriptions, all SQS or Lambda)."""
    listed = list(protocols)
    if len(listed) > MAX_LARGE_MESSAGE_TOPIC_SUBSCRIPTIONS or any(
        p not in LARGE_MESSAGE_PROTOCOLS for p in listed
    ):
        raise InvalidParameterValue(
            "Invalid parameter: MaximumMessageSize Reason: a topic above 262144 bytes may have "
            "at most 100 subscriptions, all of them Amazon SQS or AWS Lambda"
        )


def requires_confirmation(protocol: str, topic: TopicRef, endpoint: str) -> bool:
    """HTTP/S subscriptions are confirmed by their endpoint; SQS and Lambda ones only
    when the endpoint belongs to another account than the topic."""
    if protocol in HTTP_PROTOCOLS:
        return True
    parts = endpoint.split(":")
    return len(parts) > 4 and parts[4] != topic.account_id


# --- subscription attributes ------------------------------------------------------------


def _normalize_redrive(
    value: str,
    prefix: str,
    *,
    topic_fifo: bool,
    endpoint: str,
    region: str | None,
    account_id: str | None,
) -> str:
    try:
        raw = json.loads(value)
    except (ValueError, RecursionError):
        raise InvalidParameterValue(f"{prefix}RedrivePolicy: failed to parse JSON.") from None
    target = raw.get("deadLetterTargetArn") if isinstance(raw, dict) else None
    parsed = parse_sqs_arn(target) if isinstance(target, str) else None
    if target is None or parsed is None or not parsed.resource:
        # AWS's wording (captured).
        raise InvalidParameterValue(f"{prefix}RedrivePolicy: deadLetterTargetArn is an invalid arn")
    if (region is not None and parsed.region != region) or (
        account_id is not None and parsed.account_id != account_id
    ):
        # The guide: "The Amazon SNS subscription and Amazon SQS queue must be under the
        # same AWS account and Region" (it gives no error wording).
        raise InvalidParameterValue(
            f"{prefix}RedrivePolicy: deadLetterTargetArn must be a queue in the same account "
            "and region as the subscription"
        )
    fifo_subscription = topic_fifo and is_fifo_name(endpoint)
    if fifo_subscription and not is_fifo_name(parsed.resource):
        raise InvalidParameterValue(  # AWS's wording (captured)
            f"{prefix}RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription to a "
            "FIFO Topic."
        )
    if not fifo_subscription and is_fifo_name(parsed.resource):
        # A FIFO DLQ would need a message group SNS does not have for these messages;
        # the docs state the rule, not AWS's words.
        raise InvalidParameterValue(
            f"{prefix}RedrivePolicy: must use a standard queue as DLQ for a standard subscription."
        )
    return json.dumps({"deadLetterTargetArn": target}, separators=_COMPACT)


def normalize_subscription_attributes(
    attributes: Mapping[str, str],
    *,
    protocol: str,
    endpoint: str,
    topic_fifo: bool,
    current: Mapping[str, str] | None = None,
    region: str | None = None,
    account_id: str | None = None,
) -> dict[str, str]:
    """Validate Subscribe (``current is None``) or SetSubscriptionAttributes attributes
    (``current``: the subscription's stored ones) and return them normalised. A
    RedrivePolicy's queue must be of ``region`` and ``account_id`` (the topic's), when
    given.

    ``""`` for DeliveryPolicy, FilterPolicy, RedrivePolicy and SubscriptionRoleArn means
    "remove". A new FilterPolicyScope re-checks the stored FilterPolicy under it.
    """
    prefix = CREATE_PREFIX if current is None else SET_PREFIX
    stored = current or {}
    result: dict[str, str] = {}
    for name, value in attributes.items():
        if name in UNSUPPORTED_ATTRIBUTES:
            raise InvalidParameterValue(
                f"{prefix}{name}: ekiden keeps no message archive, so message replay is not "
                "supported"
            )
        if name not in SUBSCRIPTION_ATTRIBUTES:
            raise InvalidParameterValue(f"{prefix}AttributeName")  # AWS (captured, Set)
        if name == "RawMessageDelivery":
            lowered = value.lower()
            if lowered not in ("true", "false"):
                raise InvalidParameterValue(  # AWS's wording (captured)
                    f"{prefix}RawMessageDelivery: Invalid value [{value}]. Must be true or false."
                )
            if lowered == "true" and protocol not in RAW_DELIVERY_PROTOCOLS:
                raise InvalidParameterValue(  # AWS's wording (captured)
                    f"{prefix}Delivery protocol [{protocol}] does not support raw message delivery."
                )
            result[name] = lowered
        elif name == "FilterPolicyScope":
            if value not in FILTER_POLICY_SCOPES:
                raise InvalidParameterValue(
                    f"{prefix}FilterPolicyScope: Invalid value [{value}]. Please use either "
                    "MessageBody or MessageAttributes"
                )
            result[name] = value
        elif value == "":
            result[name] = ""
        elif name == "FilterPolicy":
            result[name] = value  # checked below, once the scope is known
        elif name == "RedrivePolicy":
            result[name] = _normalize_redrive(
                value,
                prefix,
                topic_fifo=topic_fifo,
                endpoint=endpoint,
                region=region,
                account_id=account_id,
            )
        elif name == "DeliveryPolicy":
            result[name] = parse_subscription_delivery_policy(value, error_prefix=prefix).to_json()
        else:  # SubscriptionRoleArn: meaningful for Firehose only; kept as AWS keeps it
            result[name] = value
    policy = result.get("FilterPolicy", stored.get("FilterPolicy", ""))
    if policy and ("FilterPolicy" in result or "FilterPolicyScope" in result):
        scope = result.get("FilterPolicyScope", stored.get("FilterPolicyScope", ""))
        _validate_filter_policy(
            policy, scope=scope or _DEFAULTS["FilterPolicyScope"], error_prefix=prefix
        )
    return result


def check_subscription_exists_alike(
    stored: Mapping[str, str], requested: Mapping[str, str]
) -> None:
    """Subscribing an endpoint already subscribed to the topic returns the existing
    subscription, unless an attribute requested differs from the subscription's
    (captured: repeating all, some or none of them is fine). ``requested`` is the
    normalised result of ``normalize_subscription_attributes``. JSON-valued attributes
    (FilterPolicy, DeliveryPolicy, RedrivePolicy) are compared as parsed JSON, so the
    same policy written with other whitespace or key order is the same."""
    for name, value in requested.items():
        if value and not _same_value(name, stored.get(name, _DEFAULTS.get(name, "")), value):
            raise InvalidParameterValue(
                f"{CREATE_PREFIX}Subscription already exists with different attributes"
            )


def _same_value(name: str, stored: str, requested: str) -> bool:
    if stored == requested:
        return True
    if name not in _JSON_ATTRIBUTES or not stored:
        return False
    try:
        return bool(json.loads(stored) == json.loads(requested))
    except (ValueError, RecursionError):
        return False


@dataclass(frozen=True, slots=True)
class SubscriptionSettings:
    """The parsed, typed view of a subscription's stored attributes."""

    raw_message_delivery: bool
    filter_policy: str | None
    filter_scope: str
    dead_letter_target_arn: str | None
    delivery_policy: SubscriptionDeliveryPolicy | None

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, str]) -> SubscriptionSettings:
        redrive = attributes.get("RedrivePolicy", "")
        delivery = attributes.get("DeliveryPolicy", "")
        return cls(
            raw_message_delivery=attributes.get("RawMessageDelivery") == "true",
            filter_policy=attributes.get("FilterPolicy") or None,
            filter_scope=attributes.get("FilterPolicyScope") or _DEFAULTS["FilterPolicyScope"],
            dead_letter_target_arn=(
                json.loads(redrive)["deadLetterTargetArn"] if redrive else None
            ),
            delivery_policy=(
                parse_subscription_delivery_policy(delivery, error_prefix=SET_PREFIX)
                if delivery
                else None
            ),
        )


def subscription_attributes_view(
    *,
    arn: str,
    topic_arn: str,
    protocol: str,
    endpoint: str,
    owner: str,
    stored: Mapping[str, str],
    pending_confirmation: bool,
    confirmation_was_authenticated: bool,
    principal: str | None = None,
    topic_delivery_policy: TopicDeliveryPolicy | None = None,
) -> dict[str, str]:
    """What GetSubscriptionAttributes returns (captured from AWS): the stored attributes
    with RawMessageDelivery defaulting to ``false``; FilterPolicyScope only alongside a
    FilterPolicy; EffectiveDeliveryPolicy for HTTP/S subscriptions only."""
    view = {k: v for k, v in stored.items() if v != ""}
    view.setdefault("RawMessageDelivery", "false")
    if "FilterPolicy" in view:
        view.setdefault("FilterPolicyScope", _DEFAULTS["FilterPolicyScope"])
    else:
        view.pop("FilterPolicyScope", None)
    if protocol in HTTP_PROTOCOLS:
        own = SubscriptionSettings.from_attributes(stored).delivery_policy
        view["EffectiveDeliveryPolicy"] = effective_policy(topic_delivery_policy, own).to_json()
    view.update(
        {
            "ConfirmationWasAuthenticated": "true" if confirmation_was_authenticated else "false",
            "Endpoint": endpoint,
            "Owner": owner,
            "PendingConfirmation": "true" if pending_confirmation else "false",
            "Protocol": protocol,
            "SubscriptionArn": arn,
            "TopicArn": topic_arn,
        }
    )
    if principal is not None:
        view["SubscriptionPrincipal"] = principal
    return dict(sorted(view.items()))
