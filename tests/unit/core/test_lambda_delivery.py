"""The pure parts of deliveries to Lambda subscriptions: which endpoint ARNs can name a
function here, how one outbox row counts SNS-side and function failures, the request id
every retry shares, and the route (policy, no throttle) the delivery loop gives such an
entry. Subscribe refuses Lambda endpoints on FIFO topics, as AWS does."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ekiden.core.clock import FakeClock
from ekiden.core.errors import InvalidParameterValue
from ekiden.core.functions import InvokeResult
from ekiden.core.rules.delivery import (
    MANAGED_ENDPOINT_POLICY,
    parse_topic_delivery_policy,
    retry_delay_s,
)
from ekiden.core.services.http_delivery import HttpDeliveryService
from ekiden.core.services.lambda_delivery import (
    FUNCTION_FAILURE,
    attempts_of,
    error_message,
    function_failures,
    function_name_of,
    invocation_request_id,
    sns_failures,
)
from ekiden.core.services.topic_catalog import Subscription
from ekiden.core.subscriptions import SubscriptionSettings, check_subscribe
from ekiden.core.topic_storage import HttpDelivery, SubscriptionRecord
from ekiden.core.topics import TopicRef

REGION, ACCOUNT = "us-east-1", "000000000000"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:t"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker"


def test_a_function_arn_of_this_region_and_account_names_its_function() -> None:
    assert function_name_of(FUNCTION, REGION, ACCOUNT) == "worker"
    assert function_name_of(f"{FUNCTION}:$LATEST", REGION, ACCOUNT) == "worker"


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:worker",  # another region
        f"arn:aws:lambda:{REGION}:111111111111:function:worker",  # another account
        f"{FUNCTION}:live",  # an alias: ekiden has none
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:worker",
        "worker",
    ],
)
def test_an_arn_naming_no_function_that_can_exist_here_names_none(arn: str) -> None:
    assert function_name_of(arn, REGION, ACCOUNT) is None


def test_one_attempts_value_carries_both_counts_without_overlap() -> None:
    most_sns = MANAGED_ENDPOINT_POLICY.num_retries + 1
    assert most_sns < FUNCTION_FAILURE
    packed = attempts_of(most_sns, 2)
    assert (sns_failures(packed), function_failures(packed)) == (most_sns, 2)
    assert (sns_failures(0), function_failures(0)) == (0, 0)
    assert retry_delay_s(MANAGED_ENDPOINT_POLICY, most_sns) is None


def test_every_retry_of_a_notification_shares_one_request_id() -> None:
    first = invocation_request_id(f"{TOPIC}:a", "m1")
    assert first == invocation_request_id(f"{TOPIC}:a", "m1")
    assert first != invocation_request_id(f"{TOPIC}:b", "m1")
    assert first != invocation_request_id(f"{TOPIC}:a", "m2")
    assert len(first) == 36  # a UUID, as Lambda's request ids


def test_the_error_message_comes_from_the_error_document() -> None:
    document = b'{"errorMessage": "boom", "errorType": "ValueError"}'
    assert error_message(InvokeResult("r", document, "Unhandled")) == "boom"
    assert error_message(InvokeResult("r", b"not json", "Unhandled")) == "Unhandled"


def test_the_managed_policy_retries_three_times_at_once_then_a_second_apart() -> None:
    delays = [retry_delay_s(MANAGED_ENDPOINT_POLICY, n) for n in range(1, 7)]
    assert delays == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert retry_delay_s(MANAGED_ENDPOINT_POLICY, 16) == 20.0


class Catalog:
    region = REGION

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription

    def delivery_target(self, arn: str) -> tuple[Subscription, Any] | None:
        if arn != self.subscription.arn:
            return None
        # A topic policy that throttles and retries HTTP/S: Lambda ignores it.
        policy = parse_topic_delivery_policy(
            '{"http": {"defaultHealthyRetryPolicy": {"numRetries": 1},'
            ' "defaultThrottlePolicy": {"maxReceivesPerSecond": 1}}}',
            error_prefix="",
        )
        return self.subscription, policy


def test_a_lambda_entry_is_routed_to_its_function_by_the_managed_policy_unthrottled() -> None:
    record = SubscriptionRecord(
        0, f"{TOPIC}:s", 1, "lambda", FUNCTION, {}, False, True, None, ACCOUNT, 0
    )
    dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
    settings = SubscriptionSettings.from_attributes(
        {"RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq}"}}'}
    )
    service = HttpDeliveryService(
        cast(Any, None),
        cast(Any, Catalog(Subscription(record, settings, None))),
        cast(Any, None),
        cast(Any, None),
        FakeClock(),
        cast(Any, None),
    )
    route = service.route(HttpDelivery(record.arn, "Notification", "m", TOPIC, "{}"))
    assert route is not None
    assert (route.protocol, route.url, route.dead_letter_target_arn) == ("lambda", FUNCTION, dlq)
    assert route.policy.retry == MANAGED_ENDPOINT_POLICY
    assert route.policy.max_receives_per_s is None


def test_a_fifo_topic_refuses_a_lambda_subscription_as_aws_does() -> None:
    fifo = TopicRef("aws", REGION, ACCOUNT, "t.fifo")
    with pytest.raises(InvalidParameterValue, match="Invalid protocol type: lambda"):
        check_subscribe(fifo, "lambda", FUNCTION)
    standard = TopicRef("aws", REGION, ACCOUNT, "t")
    assert check_subscribe(standard, "lambda", FUNCTION) == FUNCTION
