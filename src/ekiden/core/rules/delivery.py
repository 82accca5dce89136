"""SNS delivery policies: validation of the DeliveryPolicy JSON, the effective policy, and
the retry schedule as a pure function of (policy, retry number).

A retry policy has four phases (AWS SNS developer guide, "Amazon SNS message delivery
retries"), taken in this order after the first failed attempt:

1. ``numNoDelayRetries`` immediate retries, no delay;
2. ``numMinDelayRetries`` pre-backoff retries, ``minDelayTarget`` seconds apart;
3. the backoff phase, ``numRetries - numNoDelayRetries - numMinDelayRetries -
   numMaxDelayRetries`` retries whose delays rise from ``minDelayTarget`` (the first) to
   ``maxDelayTarget`` (the last) along ``backoffFunction``;
4. ``numMaxDelayRetries`` post-backoff retries, ``maxDelayTarget`` seconds apart.

The guide gives the end points of the backoff phase but only a graph for the curve
between them (10 retries from 5 s to 260 s); the four curves here reproduce its ordering
(linear highest, then arithmetic, geometric, exponential) with the end points pinned:
with ``t = (j - 1) / (n - 1)`` for the ``j``-th of ``n`` backoff retries,

* ``linear``:      ``min + (max - min) * t``
* ``arithmetic``:  ``min + (max - min) * t**2`` (the increments grow arithmetically)
* ``geometric``:   ``min * (max / min) ** t`` (a constant ratio between retries)
* ``exponential``: ``min + (max - min) * (2**(j - 1) - 1) / (2**(n - 1) - 1)``

AWS adds jitter; these functions do not (the caller may), so schedules are repeatable.

HTTP/S policies are customer settable; a policy may not keep retrying for more than an hour
(the guide: "The total policy retry time for an HTTP/S endpoint cannot be greater than
3,600 seconds"), which ekiden applies by ending the schedule there rather than by refusing
the policy. SQS and Lambda subscriptions use the fixed policy AWS documents for AWS-managed
endpoints (``MANAGED_ENDPOINT_POLICY``: 100,015 retries over about 23 days); ekiden's
Lambda deliveries follow the same phase rules with those numbers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ekiden.core.errors import InvalidParameterValue

BACKOFF_FUNCTIONS = ("linear", "arithmetic", "geometric", "exponential")
MAX_RETRIES = 100
MIN_DELAY_TARGET_S = 1
MAX_DELAY_TARGET_S = 3_600
MAX_HTTP_RETRY_TIME_S = 3_600
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"
HTTP_PROTOCOLS = frozenset({"http", "https"})

# Key order of a full retry policy as AWS writes it in EffectiveDeliveryPolicy.
_RETRY_FIELDS = (
    "minDelayTarget",
    "maxDelayTarget",
    "numRetries",
    "numMaxDelayRetries",
    "numNoDelayRetries",
    "numMinDelayRetries",
    "backoffFunction",
)
_COUNT_FIELDS = ("numMaxDelayRetries", "numNoDelayRetries", "numMinDelayRetries")
_CONTENT_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;.*)?\Z")
_COMPACT = (",", ":")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A complete retry policy (every field filled; AWS's defaults where none was given)."""

    min_delay_s: int = 20
    max_delay_s: int = 20
    num_retries: int = 3
    num_no_delay_retries: int = 0
    num_min_delay_retries: int = 0
    num_max_delay_retries: int = 0
    backoff_function: str = "linear"
    max_total_s: int | None = MAX_HTTP_RETRY_TIME_S
    """Retries stop once their delays would add up to more than this (``None``: never)."""

    @property
    def num_backoff_retries(self) -> int:
        return (
            self.num_retries
            - self.num_no_delay_retries
            - self.num_min_delay_retries
            - self.num_max_delay_retries
        )

    def to_json_object(self) -> dict[str, Any]:
        """The policy as AWS writes it (``EffectiveDeliveryPolicy`` key order)."""
        return {
            "minDelayTarget": self.min_delay_s,
            "maxDelayTarget": self.max_delay_s,
            "numRetries": self.num_retries,
            "numMaxDelayRetries": self.num_max_delay_retries,
            "numNoDelayRetries": self.num_no_delay_retries,
            "numMinDelayRetries": self.num_min_delay_retries,
            "backoffFunction": self.backoff_function,
        }


DEFAULT_HTTP_POLICY = RetryPolicy()
"""AWS's default for HTTP/S: 3 retries, 20 seconds apart (linear from 20 to 20)."""

MANAGED_ENDPOINT_POLICY = RetryPolicy(
    min_delay_s=1,
    max_delay_s=20,
    num_retries=100_015,
    num_no_delay_retries=3,
    num_min_delay_retries=2,
    num_max_delay_retries=100_000,
    backoff_function="exponential",
    max_total_s=None,
)
"""AWS's fixed policy for SQS and Lambda: 3 immediate, 2 one second apart, 10 backing off
exponentially from 1 to 20 seconds, then 100,000 twenty seconds apart."""


def _backoff_delay_s(policy: RetryPolicy, j: int) -> float:
    """The delay of the ``j``-th (1-based) retry of the backoff phase."""
    n = policy.num_backoff_retries
    low, high = float(policy.min_delay_s), float(policy.max_delay_s)
    if n == 1 or low == high:
        return low
    t = (j - 1) / (n - 1)
    function = policy.backoff_function
    if function == "arithmetic":
        return low + (high - low) * t * t
    if function == "geometric":
        return low * math.pow(high / low, t)
    if function == "exponential":
        return low + (high - low) * (2.0 ** (j - 1) - 1) / (2.0 ** (n - 1) - 1)
    return low + (high - low) * t


def _phase_delay_s(policy: RetryPolicy, retry: int) -> float:
    no_delay_end = policy.num_no_delay_retries
    pre_backoff_end = no_delay_end + policy.num_min_delay_retries
    backoff_end = pre_backoff_end + policy.num_backoff_retries
    if retry <= no_delay_end:
        return 0.0
    if retry <= pre_backoff_end:
        return float(policy.min_delay_s)
    if retry <= backoff_end:
        return _backoff_delay_s(policy, retry - pre_backoff_end)
    return float(policy.max_delay_s)


def retry_delay_s(policy: RetryPolicy, retry: int) -> float | None:
    """Seconds to wait before retry number ``retry`` (1 is the retry after the first
    failed attempt), or ``None`` when the policy allows no such retry: past
    ``numRetries``, or when the delays so far would exceed ``max_total_s``.

    Delays are rounded to milliseconds."""
    if retry < 1 or retry > policy.num_retries:
        return None
    delay = _phase_delay_s(policy, retry)
    if policy.max_total_s is not None:
        # Only the backoff phase varies; summing all retries keeps this exact and the
        # cap applies at most 100 retries deep (the HTTP/S limit).
        total = sum(_phase_delay_s(policy, k) for k in range(1, retry + 1))
        if total > policy.max_total_s:
            return None
    return round(delay, 3)


def retry_schedule_s(policy: RetryPolicy) -> list[float]:
    """Every retry delay of a (finite, HTTP/S-sized) policy, in order."""
    schedule: list[float] = []
    for retry in range(1, policy.num_retries + 1):
        delay = retry_delay_s(policy, retry)
        if delay is None:
            break
        schedule.append(delay)
    return schedule


# --- parsing and validation -------------------------------------------------------------


class _Invalid:
    """Builds the errors of one DeliveryPolicy value. AWS's wording (captured):
    ``Invalid parameter: DeliveryPolicy: http.defaultHealthyRetryPolicy.numRetries must be
    less than or equal to 100``, prefixed ``Invalid parameter: Attributes Reason:`` when
    the policy came with CreateTopic/Subscribe instead of a Set*Attributes call."""

    def __init__(self, error_prefix: str) -> None:
        self.prefix = f"{error_prefix}DeliveryPolicy: "

    def __call__(self, reason: str) -> InvalidParameterValue:
        return InvalidParameterValue(self.prefix + reason)


def _load_object(text: str, invalid: _Invalid) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        # AWS appends its JSON parser's own message, which ekiden cannot reproduce.
        raise invalid("failed to parse JSON.") from None
    if not isinstance(raw, dict):
        raise invalid("Delivery policy must be a JSON object")
    return raw


def _members(raw: Any, path: str, allowed: tuple[str, ...], invalid: _Invalid) -> dict[str, Any]:
    """The object at ``path`` without null members (AWS treats ``null`` as absent)."""
    if not isinstance(raw, dict):
        raise invalid(f"{path} must be a JSON object")
    for key in raw:
        if key not in allowed:
            raise invalid(f"Unexpected JSON member: {key}")  # AWS's wording (captured)
    return {k: v for k, v in raw.items() if v is not None}


def _integer(value: Any, name: str, invalid: _Invalid) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise invalid(f"{name} must be an integer")  # docs silent on this wording
    return int(value)


def _retry_policy(raw: Any, path: str, invalid: _Invalid) -> tuple[dict[str, Any], RetryPolicy]:
    """The given members (as given, in canonical order) and the completed policy."""
    members = _members(raw, path, _RETRY_FIELDS, invalid)
    given: dict[str, Any] = {}
    for key in _RETRY_FIELDS:
        if key not in members:
            continue
        if key == "backoffFunction":
            function = members[key]
            if function not in BACKOFF_FUNCTIONS:
                raise invalid(
                    f"{path}.backoffFunction must be one of: " + ", ".join(BACKOFF_FUNCTIONS)
                )
            given[key] = function
        else:
            given[key] = _integer(members[key], f"{path}.{key}", invalid)
    policy = RetryPolicy(
        min_delay_s=given.get("minDelayTarget", DEFAULT_HTTP_POLICY.min_delay_s),
        max_delay_s=given.get("maxDelayTarget", DEFAULT_HTTP_POLICY.max_delay_s),
        num_retries=given.get("numRetries", DEFAULT_HTTP_POLICY.num_retries),
        num_no_delay_retries=given.get("numNoDelayRetries", 0),
        num_min_delay_retries=given.get("numMinDelayRetries", 0),
        num_max_delay_retries=given.get("numMaxDelayRetries", 0),
        backoff_function=given.get("backoffFunction", "linear"),
    )
    _check_retry_policy(policy, path, invalid)
    return given, policy


def _check_retry_policy(policy: RetryPolicy, path: str, invalid: _Invalid) -> None:
    # Limits from the guide's table; the wording follows AWS's captured numRetries error.
    if policy.min_delay_s < MIN_DELAY_TARGET_S:
        raise invalid(f"{path}.minDelayTarget must be greater than or equal to 1")
    if policy.max_delay_s > MAX_DELAY_TARGET_S:
        raise invalid(f"{path}.maxDelayTarget must be less than or equal to 3600")
    if policy.max_delay_s < policy.min_delay_s:
        raise invalid(f"{path}.maxDelayTarget must be greater than or equal to minDelayTarget")
    if policy.num_retries < 0:
        raise invalid(f"{path}.numRetries must be greater than or equal to 0")
    if policy.num_retries > MAX_RETRIES:
        raise invalid(f"{path}.numRetries must be less than or equal to {MAX_RETRIES}")
    for key, count in zip(
        _COUNT_FIELDS,
        (policy.num_max_delay_retries, policy.num_no_delay_retries, policy.num_min_delay_retries),
        strict=True,
    ):
        if count < 0:
            raise invalid(f"{path}.{key} must be greater than or equal to 0")
    if policy.num_backoff_retries < 0:
        raise invalid(
            f"{path}.numRetries must be greater than or equal to total of numMinDelayRetries, "
            "numNoDelayRetries and numMaxDelayRetries"
        )


def _throttle(raw: Any, path: str, invalid: _Invalid) -> int | None:
    members = _members(raw, path, ("maxReceivesPerSecond",), invalid)
    if "maxReceivesPerSecond" not in members:
        return None
    rate = _integer(members["maxReceivesPerSecond"], f"{path}.maxReceivesPerSecond", invalid)
    if rate < 1:
        raise invalid(f"{path}.maxReceivesPerSecond must be greater than or equal to 1")
    return rate


def _content_type(raw: Any, path: str, invalid: _Invalid) -> str | None:
    members = _members(raw, path, ("headerContentType",), invalid)
    value = members.get("headerContentType")
    if value is None:
        return None
    # AWS accepts more than the three types its JSON examples name (a captured
    # subscription used text/csv); the docs list no closed set, so any media type passes.
    if not isinstance(value, str) or _CONTENT_TYPE.match(value) is None:
        raise invalid(f"{path}.headerContentType must be a valid content type")
    return value


def _boolean(value: Any, name: str, invalid: _Invalid) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"{name} must be a boolean")
    return value


# --- topic policies -----------------------------------------------------------------------

_TOPIC_HTTP_FIELDS = (
    "defaultHealthyRetryPolicy",
    "defaultSicklyRetryPolicy",
    "disableSubscriptionOverrides",
    "defaultThrottlePolicy",
    "defaultRequestPolicy",
)


@dataclass(frozen=True, slots=True)
class TopicDeliveryPolicy:
    """A topic's ``DeliveryPolicy``: ``{"http": {...}}``. Retry policies keep the members
    given (AWS echoes them unfilled); ``healthy`` is the completed policy."""

    healthy_given: Mapping[str, Any] | None = None
    healthy: RetryPolicy = DEFAULT_HTTP_POLICY
    sickly_given: Mapping[str, Any] | None = None
    disable_subscription_overrides: bool = False
    max_receives_per_s: int | None = None
    content_type: str | None = None

    def to_json(self) -> str:
        """The stored, normalised form AWS returns as ``DeliveryPolicy`` (captured: AWS
        adds ``disableSubscriptionOverrides`` and drops null members)."""
        http: dict[str, Any] = {}
        if self.healthy_given is not None:
            http["defaultHealthyRetryPolicy"] = dict(self.healthy_given)
        if self.sickly_given is not None:
            http["defaultSicklyRetryPolicy"] = dict(self.sickly_given)
        http["disableSubscriptionOverrides"] = self.disable_subscription_overrides
        if self.max_receives_per_s is not None:
            http["defaultThrottlePolicy"] = {"maxReceivesPerSecond": self.max_receives_per_s}
        if self.content_type is not None:
            http["defaultRequestPolicy"] = {"headerContentType": self.content_type}
        return json.dumps({"http": http}, separators=_COMPACT)

    def effective_json(self) -> str:
        """The topic's ``EffectiveDeliveryPolicy``: the policy with AWS's defaults filled."""
        http: dict[str, Any] = {"defaultHealthyRetryPolicy": self.healthy.to_json_object()}
        http["disableSubscriptionOverrides"] = self.disable_subscription_overrides
        if self.max_receives_per_s is not None:
            http["defaultThrottlePolicy"] = {"maxReceivesPerSecond": self.max_receives_per_s}
        http["defaultRequestPolicy"] = {
            "headerContentType": self.content_type or DEFAULT_CONTENT_TYPE
        }
        return json.dumps({"http": http}, separators=_COMPACT)


DEFAULT_TOPIC_POLICY = TopicDeliveryPolicy()


def parse_topic_delivery_policy(text: str, *, error_prefix: str) -> TopicDeliveryPolicy:
    """Validate a topic ``DeliveryPolicy`` value; raise ``InvalidParameterValue`` worded as
    AWS words it, after ``error_prefix`` (``"Invalid parameter: "`` for SetTopicAttributes,
    ``"Invalid parameter: Attributes Reason: "`` for CreateTopic)."""
    invalid = _Invalid(error_prefix)
    top = _members(_load_object(text, invalid), "DeliveryPolicy", ("http",), invalid)
    http = _members(top.get("http", {}), "http", _TOPIC_HTTP_FIELDS, invalid)
    healthy_given: dict[str, Any] | None = None
    healthy = DEFAULT_HTTP_POLICY
    if "defaultHealthyRetryPolicy" in http:
        path = "http.defaultHealthyRetryPolicy"
        healthy_given, healthy = _retry_policy(http["defaultHealthyRetryPolicy"], path, invalid)
    sickly_given: dict[str, Any] | None = None
    if "defaultSicklyRetryPolicy" in http:
        path = "http.defaultSicklyRetryPolicy"
        sickly_given, _ = _retry_policy(http["defaultSicklyRetryPolicy"], path, invalid)
    disable = http.get("disableSubscriptionOverrides", False)
    return TopicDeliveryPolicy(
        healthy_given=healthy_given,
        healthy=healthy,
        sickly_given=sickly_given,
        disable_subscription_overrides=_boolean(
            disable, "http.disableSubscriptionOverrides", invalid
        ),
        max_receives_per_s=_throttle(
            http.get("defaultThrottlePolicy", {}), "http.defaultThrottlePolicy", invalid
        ),
        content_type=_content_type(
            http.get("defaultRequestPolicy", {}), "http.defaultRequestPolicy", invalid
        ),
    )


# --- subscription policies ------------------------------------------------------------------

_SUBSCRIPTION_FIELDS = (
    "healthyRetryPolicy",
    "sicklyRetryPolicy",
    "throttlePolicy",
    "requestPolicy",
    "guaranteed",
)


@dataclass(frozen=True, slots=True)
class SubscriptionDeliveryPolicy:
    """A subscription's ``DeliveryPolicy``; retry policies are stored completed (AWS
    returns a subscription's ``healthyRetryPolicy`` with every field filled)."""

    healthy: RetryPolicy | None = None
    sickly: RetryPolicy | None = None
    max_receives_per_s: int | None = None
    content_type: str | None = None
    guaranteed: bool = False

    def to_json(self) -> str:
        """The stored form AWS returns (captured: every member present, null if unset)."""
        return json.dumps(self._json_object(), separators=_COMPACT)

    def _json_object(self) -> dict[str, Any]:
        return {
            "healthyRetryPolicy": self.healthy.to_json_object() if self.healthy else None,
            "sicklyRetryPolicy": self.sickly.to_json_object() if self.sickly else None,
            "throttlePolicy": (
                {"maxReceivesPerSecond": self.max_receives_per_s}
                if self.max_receives_per_s is not None
                else None
            ),
            "requestPolicy": (
                {"headerContentType": self.content_type} if self.content_type else None
            ),
            "guaranteed": self.guaranteed,
        }


def parse_subscription_delivery_policy(
    text: str, *, error_prefix: str
) -> SubscriptionDeliveryPolicy:
    """Validate a subscription ``DeliveryPolicy`` value (see
    ``parse_topic_delivery_policy`` for ``error_prefix``)."""
    invalid = _Invalid(error_prefix)
    raw = _members(_load_object(text, invalid), "DeliveryPolicy", _SUBSCRIPTION_FIELDS, invalid)
    healthy = sickly = None
    if "healthyRetryPolicy" in raw:
        _, healthy = _retry_policy(raw["healthyRetryPolicy"], "healthyRetryPolicy", invalid)
    if "sicklyRetryPolicy" in raw:
        _, sickly = _retry_policy(raw["sicklyRetryPolicy"], "sicklyRetryPolicy", invalid)
    return SubscriptionDeliveryPolicy(
        healthy=healthy,
        sickly=sickly,
        max_receives_per_s=_throttle(raw.get("throttlePolicy", {}), "throttlePolicy", invalid),
        content_type=_content_type(raw.get("requestPolicy", {}), "requestPolicy", invalid),
        guaranteed=_boolean(raw.get("guaranteed", False), "guaranteed", invalid),
    )


# --- the effective policy ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EffectiveDeliveryPolicy:
    """What an HTTP/S delivery actually uses."""

    retry: RetryPolicy
    max_receives_per_s: int | None
    content_type: str
    sickly: RetryPolicy | None = None
    guaranteed: bool = False

    def to_json(self) -> str:
        """A subscription's ``EffectiveDeliveryPolicy`` as AWS writes it (captured)."""
        return json.dumps(
            {
                "healthyRetryPolicy": self.retry.to_json_object(),
                "sicklyRetryPolicy": self.sickly.to_json_object() if self.sickly else None,
                "throttlePolicy": (
                    {"maxReceivesPerSecond": self.max_receives_per_s}
                    if self.max_receives_per_s is not None
                    else None
                ),
                "requestPolicy": {"headerContentType": self.content_type},
                "guaranteed": self.guaranteed,
            },
            separators=_COMPACT,
        )


def effective_policy(
    topic: TopicDeliveryPolicy | None, subscription: SubscriptionDeliveryPolicy | None
) -> EffectiveDeliveryPolicy:
    """The policy of an HTTP/S subscription: the subscription's own settings override the
    topic's unless the topic sets ``disableSubscriptionOverrides``; AWS's defaults fill the
    rest. (A subscription's request policy still sets the content type then; the guide
    ties the override switch to the retry and throttle policies.)"""
    topic = topic or DEFAULT_TOPIC_POLICY
    own = subscription or SubscriptionDeliveryPolicy()
    overrides = not topic.disable_subscription_overrides
    retry = own.healthy if overrides and own.healthy is not None else topic.healthy
    throttle = topic.max_receives_per_s
    if overrides and own.max_receives_per_s is not None:
        throttle = own.max_receives_per_s
    return EffectiveDeliveryPolicy(
        retry=replace(retry, max_total_s=MAX_HTTP_RETRY_TIME_S),
        max_receives_per_s=throttle,
        content_type=own.content_type or topic.content_type or DEFAULT_CONTENT_TYPE,
        sickly=own.sickly,
        guaranteed=own.guaranteed,
    )


def retry_policy_for(
    protocol: str,
    topic: TopicDeliveryPolicy | None = None,
    subscription: SubscriptionDeliveryPolicy | None = None,
) -> RetryPolicy:
    """The retry policy a delivery over ``protocol`` follows: the effective policy for
    HTTP/S, AWS's fixed managed-endpoint policy for everything else (SQS, Lambda)."""
    if protocol in HTTP_PROTOCOLS:
        return effective_policy(topic, subscription).retry
    return MANAGED_ENDPOINT_POLICY
