"""SNS subscriptions: protocols, endpoints, FIFO rules, attributes, attribute views."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from ekiden.core import subscriptions
from ekiden.core.errors import InvalidParameterValue
from ekiden.core.rules.delivery import parse_topic_delivery_policy
from ekiden.core.subscriptions import (
    SubscriptionSettings,
    check_endpoint,
    check_large_message_topic,
    check_subscribe,
    check_subscription_exists_alike,
    normalize_subscription_attributes,
    requires_confirmation,
    subscription_attributes_view,
)
from ekiden.core.topics import parse_topic_arn

STANDARD = parse_topic_arn("arn:aws:sns:us-east-1:123456789012:orders")
FIFO = parse_topic_arn("arn:aws:sns:us-east-1:123456789012:orders.fifo")
QUEUE = "arn:aws:sqs:us-east-1:123456789012:q"
FIFO_QUEUE = "arn:aws:sqs:us-east-1:123456789012:q.fifo"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:handler"
SUB_ARN = f"{STANDARD.arn}:80289ba6-0fd4-4079-afb4-ce8c8260f0ca"


def error_of(call: Callable[[], object]) -> str:
    with pytest.raises(InvalidParameterValue) as caught:
        call()
    return caught.value.message


def subscribe_attrs(
    attributes: dict[str, str], *, protocol: str = "sqs", endpoint: str = QUEUE, fifo: bool = False
) -> dict[str, str]:
    return normalize_subscription_attributes(
        attributes, protocol=protocol, endpoint=endpoint, topic_fifo=fifo
    )


def set_attr(
    name: str,
    value: str,
    *,
    protocol: str = "sqs",
    endpoint: str = QUEUE,
    fifo: bool = False,
    current: dict[str, str] | None = None,
) -> dict[str, str]:
    return normalize_subscription_attributes(
        {name: value}, protocol=protocol, endpoint=endpoint, topic_fifo=fifo, current=current or {}
    )


# --- protocols and endpoints ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("sqs", QUEUE),
        ("http", "http://example.com/hook"),
        ("https", "https://example.com:8443/hook?x=1"),
        ("lambda", FUNCTION),
        ("lambda", FUNCTION + ":live"),
        ("lambda", FUNCTION + ":$LATEST"),
    ],
)
def test_a_supported_protocol_with_a_matching_endpoint_is_accepted(
    protocol: str, endpoint: str
) -> None:
    assert check_subscribe(STANDARD, protocol, endpoint) == endpoint


@pytest.mark.parametrize(
    "protocol", ["email", "email-json", "sms", "application", "firehose", "test-protocol", "SQS"]
)
def test_any_other_protocol_is_refused_with_aws_words(protocol: str) -> None:
    # Captured from AWS for "test-protocol".
    assert error_of(lambda: check_subscribe(STANDARD, protocol, "x")) == (
        f"Invalid parameter: Amazon SNS does not support this protocol string: {protocol}"
    )


@pytest.mark.parametrize(
    ("protocol", "endpoint", "message"),
    [
        # Captured from AWS: a queue URL where the queue ARN belongs.
        (
            "sqs",
            "https://sqs.us-east-1.amazonaws.com/123456789012/q",
            "Invalid parameter: SQS endpoint ARN",
        ),
        ("sqs", FUNCTION, "Invalid parameter: SQS endpoint ARN"),
        ("sqs", "arn:aws:sqs:us-east-1:123456789012:", "Invalid parameter: SQS endpoint ARN"),
        ("lambda", QUEUE, "Invalid parameter: Lambda endpoint ARN"),
        ("lambda", "handler", "Invalid parameter: Lambda endpoint ARN"),
        (
            "http",
            "https://example.com",
            "Invalid parameter: Endpoint must match the specified protocol",
        ),
        (
            "https",
            "http://example.com",
            "Invalid parameter: Endpoint must match the specified protocol",
        ),
        ("http", "http://", "Invalid parameter: Endpoint must match the specified protocol"),
        ("http", "example.com", "Invalid parameter: Endpoint must match the specified protocol"),
        ("sqs", "", "Invalid parameter: Endpoint"),
        ("sqs", None, "Invalid parameter: Endpoint"),
    ],
)
def test_an_endpoint_not_matching_its_protocol_is_refused(
    protocol: str, endpoint: str | None, message: str
) -> None:
    assert error_of(lambda: check_endpoint(protocol, endpoint)) == message


def test_a_fifo_queue_cannot_subscribe_to_a_standard_topic() -> None:
    # Captured from AWS, "Invalid parameter" twice included.
    assert error_of(lambda: check_subscribe(STANDARD, "sqs", FIFO_QUEUE)) == (
        "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
        "subscribed to standard SNS topics"
    )


@pytest.mark.parametrize("endpoint", [FIFO_QUEUE, QUEUE])
def test_a_fifo_topic_delivers_to_fifo_and_standard_queues(endpoint: str) -> None:
    assert check_subscribe(FIFO, "sqs", endpoint) == endpoint


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [("http", "http://example.com"), ("https", "https://example.com"), ("lambda", FUNCTION)],
)
def test_a_fifo_topic_refuses_every_protocol_but_sqs(protocol: str, endpoint: str) -> None:
    assert error_of(lambda: check_subscribe(FIFO, protocol, endpoint)) == (
        f"Invalid parameter: Invalid protocol type: {protocol}"
    )


def test_a_large_message_topic_refuses_http_subscriptions() -> None:
    with pytest.raises(InvalidParameterValue):
        check_subscribe(STANDARD, "https", "https://x", topic_max_message_bytes=262_145)
    assert check_subscribe(STANDARD, "lambda", FUNCTION, topic_max_message_bytes=1_048_576)


def test_a_topic_may_grow_past_256_kib_only_with_sqs_and_lambda_subscriptions() -> None:
    check_large_message_topic(["sqs", "lambda"] * 50)
    with pytest.raises(InvalidParameterValue):
        check_large_message_topic(["sqs"] * 101)
    with pytest.raises(InvalidParameterValue):
        check_large_message_topic(["sqs", "http"])


@pytest.mark.parametrize(
    ("protocol", "endpoint", "needed"),
    [
        ("http", "http://x", True),
        ("https", "https://x", True),
        ("sqs", QUEUE, False),
        ("lambda", FUNCTION, False),
        ("sqs", "arn:aws:sqs:us-east-1:210987654321:q", True),
    ],
)
def test_http_and_cross_account_subscriptions_need_confirmation(
    protocol: str, endpoint: str, needed: bool
) -> None:
    assert requires_confirmation(protocol, STANDARD, endpoint) is needed


# --- attributes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"), [("true", "true"), ("TRUE", "true"), ("False", "false")]
)
def test_raw_message_delivery_is_stored_lower_case(value: str, stored: str) -> None:
    assert subscribe_attrs({"RawMessageDelivery": value}) == {"RawMessageDelivery": stored}


def test_an_invalid_raw_message_delivery_is_refused_with_aws_words() -> None:
    # Captured from AWS, Subscribe and SetSubscriptionAttributes.
    assert error_of(lambda: subscribe_attrs({"RawMessageDelivery": "wrongvalue"})) == (
        "Invalid parameter: Attributes Reason: RawMessageDelivery: Invalid value [wrongvalue]. "
        "Must be true or false."
    )
    assert error_of(lambda: set_attr("RawMessageDelivery", "")) == (
        "Invalid parameter: RawMessageDelivery: Invalid value []. Must be true or false."
    )


def test_raw_message_delivery_is_refused_for_lambda_with_aws_words() -> None:
    assert error_of(
        lambda: subscribe_attrs(
            {"RawMessageDelivery": "true"}, protocol="lambda", endpoint=FUNCTION
        )
    ) == (
        "Invalid parameter: Attributes Reason: Delivery protocol [lambda] does not support raw "
        "message delivery."
    )
    assert subscribe_attrs(
        {"RawMessageDelivery": "false"}, protocol="lambda", endpoint=FUNCTION
    ) == {"RawMessageDelivery": "false"}


@pytest.mark.parametrize("name", ["Unknown", "PendingConfirmation", "SubscriptionArn"])
def test_an_unknown_attribute_is_refused_with_aws_words(name: str) -> None:
    assert error_of(lambda: set_attr(name, "x")) == "Invalid parameter: AttributeName"
    assert error_of(lambda: subscribe_attrs({name: "x"})) == (
        "Invalid parameter: Attributes Reason: AttributeName"
    )


def test_a_replay_policy_is_refused_because_ekiden_keeps_no_archive() -> None:
    assert "not supported" in error_of(
        lambda: subscribe_attrs({"ReplayPolicy": "{}"}, endpoint=FIFO_QUEUE, fifo=True)
    )


@pytest.mark.parametrize("scope", ["MessageAttributes", "MessageBody"])
def test_a_filter_policy_scope_is_stored(scope: str) -> None:
    assert set_attr("FilterPolicyScope", scope) == {"FilterPolicyScope": scope}


def test_an_invalid_filter_policy_scope_is_refused() -> None:
    assert error_of(lambda: set_attr("FilterPolicyScope", "Body")) == (
        "Invalid parameter: FilterPolicyScope: Invalid value [Body]. Please use either "
        "MessageBody or MessageAttributes"
    )


def test_a_filter_policy_is_stored_as_given() -> None:
    policy = '{"store": ["example_corp"]}'
    assert set_attr("FilterPolicy", policy) == {"FilterPolicy": policy}
    assert set_attr("FilterPolicy", "") == {"FilterPolicy": ""}  # removes it


@pytest.mark.parametrize(
    ("policy", "reason"),
    [("{invalidjson}", "failed to parse JSON."), ("[1]", "Filter is not an object")],
)
def test_a_filter_policy_that_is_not_a_json_object_is_refused(policy: str, reason: str) -> None:
    assert error_of(lambda: set_attr("FilterPolicy", policy)) == (
        f"Invalid parameter: FilterPolicy: {reason}"
    )


def test_a_new_scope_rechecks_the_stored_filter_policy_under_that_scope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str]] = []

    def record(policy: str, *, scope: str, error_prefix: str) -> None:
        seen.append((policy, scope))

    monkeypatch.setattr(subscriptions, "_validate_filter_policy", record)
    set_attr("FilterPolicyScope", "MessageBody", current={"FilterPolicy": '{"a": [1]}'})
    subscribe_attrs({"FilterPolicy": '{"b": [2]}'})
    assert seen == [('{"a": [1]}', "MessageBody"), ('{"b": [2]}', "MessageAttributes")]


def test_a_redrive_policy_is_stored_compact() -> None:
    stored = set_attr("RedrivePolicy", json.dumps({"deadLetterTargetArn": QUEUE}))
    assert stored == {"RedrivePolicy": f'{{"deadLetterTargetArn":"{QUEUE}"}}'}


@pytest.mark.parametrize(
    ("policy", "endpoint", "fifo", "reason"),
    [
        ('{"deadLetterTargetArn": "fake"}', QUEUE, False, "deadLetterTargetArn is an invalid arn"),
        ("{}", QUEUE, False, "deadLetterTargetArn is an invalid arn"),
        (
            json.dumps({"deadLetterTargetArn": FUNCTION}),
            QUEUE,
            False,
            "deadLetterTargetArn is an invalid arn",
        ),
        ("{invalid", QUEUE, False, "failed to parse JSON."),
        # Captured from AWS.
        (
            json.dumps({"deadLetterTargetArn": QUEUE}),
            FIFO_QUEUE,
            True,
            "must use a FIFO queue as DLQ for a FIFO Subscription to a FIFO Topic.",
        ),
        (
            json.dumps({"deadLetterTargetArn": FIFO_QUEUE}),
            QUEUE,
            False,
            "must use a standard queue as DLQ for a standard subscription.",
        ),
    ],
)
def test_an_invalid_redrive_policy_is_refused(
    policy: str, endpoint: str, fifo: bool, reason: str
) -> None:
    assert error_of(lambda: set_attr("RedrivePolicy", policy, endpoint=endpoint, fifo=fifo)) == (
        f"Invalid parameter: RedrivePolicy: {reason}"
    )


def test_a_fifo_subscription_takes_a_fifo_dead_letter_queue() -> None:
    policy = json.dumps({"deadLetterTargetArn": FIFO_QUEUE})
    assert set_attr("RedrivePolicy", policy, endpoint=FIFO_QUEUE, fifo=True)


def test_a_subscription_delivery_policy_is_stored_normalised() -> None:
    stored = subscribe_attrs(
        {
            "DeliveryPolicy": json.dumps(
                {"healthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 5}}
            )
        },
        protocol="http",
        endpoint="http://x",
    )
    assert json.loads(stored["DeliveryPolicy"])["healthyRetryPolicy"]["backoffFunction"] == "linear"


def test_a_subscription_delivery_policy_error_carries_the_subscribe_prefix() -> None:
    assert error_of(
        lambda: subscribe_attrs({"DeliveryPolicy": '{"healthyRetryPolicy": {"numRetries": 101}}'})
    ).startswith("Invalid parameter: Attributes Reason: DeliveryPolicy: healthyRetryPolicy.")


# --- idempotency -------------------------------------------------------------------------------


def test_subscribing_again_with_all_some_or_no_attributes_returns_the_subscription() -> None:
    stored = {"RawMessageDelivery": "true", "FilterPolicy": '{"a": [1]}'}
    check_subscription_exists_alike(stored, {"RawMessageDelivery": "true"})
    check_subscription_exists_alike(stored, {})
    check_subscription_exists_alike({}, {"RawMessageDelivery": "false"})  # the default


def test_subscribing_again_with_different_attributes_is_refused_with_aws_words() -> None:
    # Captured from AWS.
    assert (
        error_of(
            lambda: check_subscription_exists_alike(
                {"RawMessageDelivery": "true"}, {"RawMessageDelivery": "false"}
            )
        )
        == "Invalid parameter: Attributes Reason: Subscription already exists with different "
        "attributes"
    )


# --- GetSubscriptionAttributes -----------------------------------------------------------------


def test_an_sqs_subscription_shows_the_attributes_aws_shows() -> None:
    view = subscription_attributes_view(
        arn=SUB_ARN,
        topic_arn=STANDARD.arn,
        protocol="sqs",
        endpoint=QUEUE,
        owner="123456789012",
        stored={},
        pending_confirmation=False,
        confirmation_was_authenticated=True,
        principal="arn:aws:iam::123456789012:user/alice",
    )
    # Captured from AWS (a fresh SQS subscription).
    assert view == {
        "ConfirmationWasAuthenticated": "true",
        "Endpoint": QUEUE,
        "Owner": "123456789012",
        "PendingConfirmation": "false",
        "Protocol": "sqs",
        "RawMessageDelivery": "false",
        "SubscriptionArn": SUB_ARN,
        "SubscriptionPrincipal": "arn:aws:iam::123456789012:user/alice",
        "TopicArn": STANDARD.arn,
    }


def test_the_filter_policy_scope_shows_only_with_a_filter_policy() -> None:
    common = {
        "arn": SUB_ARN,
        "topic_arn": STANDARD.arn,
        "protocol": "sqs",
        "endpoint": QUEUE,
        "owner": "1",
        "pending_confirmation": False,
        "confirmation_was_authenticated": True,
    }
    with_policy = subscription_attributes_view(stored={"FilterPolicy": '{"a": [1]}'}, **common)
    assert with_policy["FilterPolicyScope"] == "MessageAttributes"
    without = subscription_attributes_view(stored={"FilterPolicyScope": "MessageBody"}, **common)
    assert "FilterPolicyScope" not in without


def test_an_http_subscription_shows_its_effective_delivery_policy() -> None:
    topic_policy = parse_topic_delivery_policy(
        '{"http": {"defaultRequestPolicy": {"headerContentType": "application/json"}}}',
        error_prefix="",
    )
    view = subscription_attributes_view(
        arn=SUB_ARN,
        topic_arn=STANDARD.arn,
        protocol="http",
        endpoint="http://x",
        owner="1",
        stored=subscribe_attrs(
            {"DeliveryPolicy": json.dumps({"healthyRetryPolicy": {"numRetries": 0}})},
            protocol="http",
            endpoint="http://x",
        ),
        pending_confirmation=True,
        confirmation_was_authenticated=False,
        topic_delivery_policy=topic_policy,
    )
    effective = json.loads(view["EffectiveDeliveryPolicy"])
    assert effective["healthyRetryPolicy"]["numRetries"] == 0
    assert effective["requestPolicy"] == {"headerContentType": "application/json"}
    assert view["PendingConfirmation"] == "true"
    assert list(view) == sorted(view)


def test_subscription_settings_parse_the_stored_attributes() -> None:
    stored = subscribe_attrs(
        {
            "RawMessageDelivery": "true",
            "FilterPolicy": '{"a": [1]}',
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": QUEUE}),
        }
    )
    settings = SubscriptionSettings.from_attributes(stored)
    assert settings.raw_message_delivery
    assert settings.filter_policy == '{"a": [1]}'
    assert settings.filter_scope == "MessageAttributes"
    assert settings.dead_letter_target_arn == QUEUE
    assert settings.delivery_policy is None


# --- review fixes: JSON attributes compared parsed, regions, unsafe URLs -----------------------


def test_subscribing_again_with_the_same_json_policies_written_otherwise_is_the_same() -> None:
    stored = subscribe_attrs(
        {
            "FilterPolicy": '{"kind": ["paid"], "n": [{"numeric": [">", 1]}]}',
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": QUEUE}),
        }
    )
    again = subscribe_attrs(
        {
            "FilterPolicy": '{ "n":[{"numeric":[">",1]}],\n  "kind" : [ "paid" ] }',
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": QUEUE}, indent=4),
        }
    )
    check_subscription_exists_alike(stored, again)
    with pytest.raises(InvalidParameterValue):
        check_subscription_exists_alike(
            stored, subscribe_attrs({"FilterPolicy": '{"kind": ["x"]}'})
        )


def test_an_sqs_endpoint_of_another_region_than_the_topics_is_refused() -> None:
    other = "arn:aws:sqs:eu-west-1:123456789012:q"
    assert error_of(lambda: check_subscribe(STANDARD, "sqs", other)) == (
        "Invalid parameter: SQS endpoint ARN Reason: the queue must be in region us-east-1"
    )
    # Another account of the same region is fine (it confirms the subscription itself).
    assert check_subscribe(STANDARD, "sqs", "arn:aws:sqs:us-east-1:210987654321:q")


@pytest.mark.parametrize(
    "dlq",
    ["arn:aws:sqs:eu-west-1:123456789012:dlq", "arn:aws:sqs:us-east-1:210987654321:dlq"],
)
def test_a_dead_letter_queue_must_be_in_the_subscriptions_account_and_region(dlq: str) -> None:
    message = error_of(
        lambda: normalize_subscription_attributes(
            {"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq})},
            protocol="sqs",
            endpoint=QUEUE,
            topic_fifo=False,
            region="us-east-1",
            account_id="123456789012",
        )
    )
    assert message == (
        "Invalid parameter: Attributes Reason: RedrivePolicy: deadLetterTargetArn must be a "
        "queue in the same account and region as the subscription"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a b",
        "http://example.com/a\tb",
        "http://example.com/hook\r\nX-Injected: 1",
        "http://example.com/\x00",
        "http://example.com/hook ",
    ],
)
def test_an_http_endpoint_with_whitespace_or_control_characters_is_refused(url: str) -> None:
    assert error_of(lambda: check_endpoint("http", url)) == (
        "Invalid parameter: Endpoint Reason: a URL may not contain whitespace or control characters"
    )
