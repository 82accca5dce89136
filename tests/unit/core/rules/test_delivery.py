"""SNS delivery policies: the retry schedule, DeliveryPolicy validation, effective policy."""

from __future__ import annotations

import json

import pytest

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.rules import delivery
from ekiden.core.rules.delivery import (
    DEFAULT_HTTP_POLICY,
    MANAGED_ENDPOINT_POLICY,
    RetryPolicy,
    effective_policy,
    parse_subscription_delivery_policy,
    parse_topic_delivery_policy,
    retry_delay_s,
    retry_policy_for,
    retry_schedule_s,
)

SET = "Invalid parameter: "
CREATE = "Invalid parameter: Attributes Reason: "

# The AWS guide's example ("Creating an HTTP/S delivery policy"): 3 immediate retries,
# 2 one second apart, 10 backing off exponentially from 1 to 60 s, 35 sixty seconds apart.
GUIDE_EXAMPLE = {
    "healthyRetryPolicy": {
        "minDelayTarget": 1,
        "maxDelayTarget": 60,
        "numRetries": 50,
        "numNoDelayRetries": 3,
        "numMinDelayRetries": 2,
        "numMaxDelayRetries": 35,
        "backoffFunction": "exponential",
    },
    "throttlePolicy": {"maxReceivesPerSecond": 10},
}

# GetTopicAttributes of a topic without a DeliveryPolicy (captured from AWS).
AWS_DEFAULT_EFFECTIVE = (
    '{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,'
    '"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,'
    '"backoffFunction":"linear"},"disableSubscriptionOverrides":false,'
    '"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}'
)


def sub_policy(body: dict[str, object], prefix: str = SET) -> delivery.SubscriptionDeliveryPolicy:
    return parse_subscription_delivery_policy(json.dumps(body), error_prefix=prefix)


def topic_policy(body: dict[str, object], prefix: str = SET) -> delivery.TopicDeliveryPolicy:
    return parse_topic_delivery_policy(json.dumps(body), error_prefix=prefix)


# --- the schedule ---------------------------------------------------------------------------


def test_the_guide_example_retries_fifty_times_through_the_four_phases() -> None:
    policy = sub_policy(GUIDE_EXAMPLE).healthy
    assert policy is not None
    schedule = retry_schedule_s(policy)
    assert len(schedule) == 50
    assert schedule[:3] == [0.0, 0.0, 0.0]  # immediate
    assert schedule[3:5] == [1.0, 1.0]  # pre-backoff, minDelayTarget apart
    backoff = schedule[5:15]
    assert backoff[0] == 1.0 and backoff[-1] == 60.0  # from minDelayTarget to maxDelayTarget
    assert backoff == sorted(backoff)
    assert schedule[15:] == [60.0] * 35  # post-backoff, maxDelayTarget apart
    assert retry_delay_s(policy, 51) is None


def test_the_default_http_policy_retries_three_times_twenty_seconds_apart() -> None:
    assert retry_schedule_s(DEFAULT_HTTP_POLICY) == [20.0, 20.0, 20.0]
    assert retry_delay_s(DEFAULT_HTTP_POLICY, 4) is None


@pytest.mark.parametrize(
    ("retries", "delay"),
    [
        ((1, 2, 3), 0.0),  # 3 times, without delay
        ((4, 5), 1.0),  # 2 times, 1 second apart
        ((6,), 1.0),  # backoff starts at 1 second ...
        ((15,), 20.0),  # ... and reaches 20 seconds on its 10th retry
        ((16, 50_000, 100_015), 20.0),  # 100,000 times, 20 seconds apart
    ],
)
def test_sqs_and_lambda_follow_the_managed_endpoint_policy_of_the_guide(
    retries: tuple[int, ...], delay: float
) -> None:
    for retry in retries:
        assert retry_delay_s(MANAGED_ENDPOINT_POLICY, retry) == delay


def test_the_managed_endpoint_policy_ends_after_100015_retries() -> None:
    assert MANAGED_ENDPOINT_POLICY.num_backoff_retries == 10
    assert retry_delay_s(MANAGED_ENDPOINT_POLICY, 100_016) is None


@pytest.mark.parametrize("function", delivery.BACKOFF_FUNCTIONS)
def test_every_backoff_function_runs_from_the_minimum_to_the_maximum_delay(function: str) -> None:
    # The guide's graph: 10 retries, minimum delay 5 s, maximum delay 260 s.
    policy = RetryPolicy(min_delay_s=5, max_delay_s=260, num_retries=10, backoff_function=function)
    schedule = retry_schedule_s(policy)
    assert schedule[0] == 5.0 and schedule[-1] == 260.0
    assert schedule == sorted(schedule)


def test_the_backoff_curves_rank_as_in_the_guide_graph() -> None:
    schedules = {
        f: retry_schedule_s(
            RetryPolicy(min_delay_s=5, max_delay_s=260, num_retries=10, backoff_function=f)
        )
        for f in ("linear", "arithmetic", "geometric", "exponential")
    }
    for i in range(1, 9):
        assert (
            schedules["linear"][i]
            > schedules["arithmetic"][i]
            > schedules["geometric"][i]
            > schedules["exponential"][i]
        )


def test_a_linear_backoff_climbs_in_equal_steps() -> None:
    policy = RetryPolicy(min_delay_s=10, max_delay_s=100, num_retries=10)
    assert retry_schedule_s(policy) == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]


def test_a_single_backoff_retry_waits_the_minimum_delay() -> None:
    policy = RetryPolicy(min_delay_s=3, max_delay_s=9, num_retries=1)
    assert retry_schedule_s(policy) == [3.0]


def test_a_policy_without_retries_never_retries() -> None:
    assert retry_delay_s(RetryPolicy(num_retries=0), 1) is None


@pytest.mark.parametrize("retry", [0, -1])
def test_a_retry_number_below_one_has_no_delay(retry: int) -> None:
    assert retry_delay_s(DEFAULT_HTTP_POLICY, retry) is None


def test_http_retries_stop_once_they_would_take_more_than_an_hour() -> None:
    policy = RetryPolicy(min_delay_s=1800, max_delay_s=1800, num_retries=5)
    assert retry_schedule_s(policy) == [1800.0, 1800.0]
    assert retry_delay_s(policy, 3) is None


# --- validation -----------------------------------------------------------------------------


def test_a_topic_policy_retrying_too_often_is_refused_with_aws_words() -> None:
    # Captured from AWS (SetTopicAttributes, numRetries 300).
    body = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 300}}}
    with pytest.raises(InvalidParameterValue) as caught:
        topic_policy(body)
    assert caught.value.message == (
        "Invalid parameter: DeliveryPolicy: http.defaultHealthyRetryPolicy.numRetries must be "
        "less than or equal to 100"
    )


def test_a_policy_given_to_create_topic_is_refused_with_the_attributes_prefix() -> None:
    body = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 300}}}
    with pytest.raises(InvalidParameterValue) as caught:
        topic_policy(body, CREATE)
    assert caught.value.message.startswith(
        "Invalid parameter: Attributes Reason: DeliveryPolicy: http.defaultHealthyRetryPolicy."
    )


@pytest.mark.parametrize(
    ("retry_policy", "reason"),
    [
        (
            {"minDelayTarget": 0},
            "healthyRetryPolicy.minDelayTarget must be greater than or equal to 1",
        ),
        (
            {"maxDelayTarget": 3601},
            "healthyRetryPolicy.maxDelayTarget must be less than or equal to 3600",
        ),
        (
            {"minDelayTarget": 5, "maxDelayTarget": 3},
            "healthyRetryPolicy.maxDelayTarget must be greater than or equal to minDelayTarget",
        ),
        (
            {"maxDelayTarget": 10},
            "healthyRetryPolicy.maxDelayTarget must be greater than or equal to minDelayTarget",
        ),
        ({"numRetries": -1}, "healthyRetryPolicy.numRetries must be greater than or equal to 0"),
        ({"numRetries": 101}, "healthyRetryPolicy.numRetries must be less than or equal to 100"),
        (
            {"numNoDelayRetries": -1},
            "healthyRetryPolicy.numNoDelayRetries must be greater than or equal to 0",
        ),
        (
            {
                "numRetries": 20,
                "numNoDelayRetries": 7,
                "numMinDelayRetries": 7,
                "numMaxDelayRetries": 7,
            },
            "healthyRetryPolicy.numRetries must be greater than or equal to total of "
            "numMinDelayRetries, numNoDelayRetries and numMaxDelayRetries",
        ),
        (
            {"backoffFunction": "cubic"},
            "healthyRetryPolicy.backoffFunction must be one of: "
            "linear, arithmetic, geometric, exponential",
        ),
        ({"numRetries": "5"}, "healthyRetryPolicy.numRetries must be an integer"),
        ({"numRetries": 2.5}, "healthyRetryPolicy.numRetries must be an integer"),
        ({"numRetries": True}, "healthyRetryPolicy.numRetries must be an integer"),
        ({"numRetrys": 5}, "Unexpected JSON member: numRetrys"),
    ],
)
def test_an_invalid_retry_policy_is_refused_with_its_path_and_limit(
    retry_policy: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        sub_policy({"healthyRetryPolicy": retry_policy})
    assert caught.value.message == f"Invalid parameter: DeliveryPolicy: {reason}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "failed to parse JSON."),
        ("[1]", "Delivery policy must be a JSON object"),
        (
            '{"throttlePolicy": {"maxReceivesPerSecond": 0}}',
            "throttlePolicy.maxReceivesPerSecond must be greater than or equal to 1",
        ),
        ('{"throttlePolicy": 5}', "throttlePolicy must be a JSON object"),
        (
            '{"requestPolicy": {"headerContentType": "not a type"}}',
            "requestPolicy.headerContentType must be a valid content type",
        ),
        ('{"guaranteed": "yes"}', "guaranteed must be a boolean"),
        ('{"http": {}}', "Unexpected JSON member: http"),
    ],
)
def test_an_invalid_subscription_policy_is_refused(text: str, reason: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_subscription_delivery_policy(text, error_prefix=SET)
    assert caught.value.message == f"Invalid parameter: DeliveryPolicy: {reason}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"http": {"throttlePolicy": {"maxReceivesPerSecond": 1}}},
            "Unexpected JSON member: throttlePolicy",
        ),
        ({"https": {}}, "Unexpected JSON member: https"),
        (
            {"http": {"disableSubscriptionOverrides": "true"}},
            "http.disableSubscriptionOverrides must be a boolean",
        ),
        (
            {"http": {"defaultSicklyRetryPolicy": {"numRetries": 500}}},
            "http.defaultSicklyRetryPolicy.numRetries must be less than or equal to 100",
        ),
    ],
)
def test_an_invalid_topic_policy_is_refused(body: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        topic_policy(body)
    assert caught.value.message == f"Invalid parameter: DeliveryPolicy: {reason}"


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/csv", "text/plain; charset=UTF-8"]
)
def test_any_media_type_is_a_valid_request_content_type(content_type: str) -> None:
    policy = sub_policy({"requestPolicy": {"headerContentType": content_type}})
    assert policy.content_type == content_type


# --- stored forms ---------------------------------------------------------------------------


def test_a_topic_policy_is_stored_as_given_with_the_override_switch_added() -> None:
    # Captured from AWS: SetTopicAttributes with three retry fields, then GetTopicAttributes.
    policy = topic_policy(
        {
            "http": {
                "defaultHealthyRetryPolicy": {
                    "minDelayTarget": 5,
                    "maxDelayTarget": 6,
                    "numRetries": 1,
                }
            }
        }
    )
    assert json.loads(policy.to_json()) == {
        "http": {
            "defaultHealthyRetryPolicy": {
                "minDelayTarget": 5,
                "maxDelayTarget": 6,
                "numRetries": 1,
            },
            "disableSubscriptionOverrides": False,
        }
    }
    effective = json.loads(policy.effective_json())["http"]
    assert effective["defaultHealthyRetryPolicy"] == {
        "minDelayTarget": 5,
        "maxDelayTarget": 6,
        "numRetries": 1,
        "numMaxDelayRetries": 0,
        "numNoDelayRetries": 0,
        "numMinDelayRetries": 0,
        "backoffFunction": "linear",
    }


def test_null_members_of_a_topic_policy_count_as_absent() -> None:
    policy = topic_policy(
        {"http": {"defaultHealthyRetryPolicy": None, "defaultRequestPolicy": None}}
    )
    assert policy.to_json() == '{"http":{"disableSubscriptionOverrides":false}}'
    assert policy.effective_json() == AWS_DEFAULT_EFFECTIVE


def test_the_default_effective_topic_policy_is_aws_text_exactly() -> None:
    assert delivery.DEFAULT_TOPIC_POLICY.effective_json() == AWS_DEFAULT_EFFECTIVE


def test_a_topic_request_policy_sets_the_effective_content_type() -> None:
    policy = topic_policy(
        {"http": {"defaultRequestPolicy": {"headerContentType": "application/json"}}}
    )
    assert policy.to_json() == (
        '{"http":{"disableSubscriptionOverrides":false,'
        '"defaultRequestPolicy":{"headerContentType":"application/json"}}}'
    )
    assert json.loads(policy.effective_json())["http"]["defaultRequestPolicy"] == {
        "headerContentType": "application/json"
    }


def test_a_subscription_policy_is_stored_with_every_member_and_the_retry_policy_filled() -> None:
    # Captured from AWS: the stored DeliveryPolicy of an HTTP subscription.
    policy = sub_policy(
        {
            "healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 0},
            "throttlePolicy": {"maxReceivesPerSecond": 1000},
        }
    )
    assert json.loads(policy.to_json()) == {
        "healthyRetryPolicy": {
            "minDelayTarget": 1,
            "maxDelayTarget": 1,
            "numRetries": 0,
            "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "backoffFunction": "linear",
        },
        "sicklyRetryPolicy": None,
        "throttlePolicy": {"maxReceivesPerSecond": 1000},
        "requestPolicy": None,
        "guaranteed": False,
    }


# --- the effective policy ---------------------------------------------------------------------


def test_a_subscription_content_type_overrides_the_default_one() -> None:
    # Captured from AWS: subscription requestPolicy text/csv on a topic without a policy.
    effective = effective_policy(
        None, sub_policy({"requestPolicy": {"headerContentType": "text/csv"}})
    )
    assert json.loads(effective.to_json()) == {
        "healthyRetryPolicy": json.loads(AWS_DEFAULT_EFFECTIVE)["http"][
            "defaultHealthyRetryPolicy"
        ],
        "sicklyRetryPolicy": None,
        "throttlePolicy": None,
        "requestPolicy": {"headerContentType": "text/csv"},
        "guaranteed": False,
    }


def test_a_subscription_without_request_policy_takes_the_topic_content_type() -> None:
    topic = topic_policy(
        {"http": {"defaultRequestPolicy": {"headerContentType": "application/json"}}}
    )
    own = sub_policy(
        {"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 0}}
    )
    effective = effective_policy(topic, own)
    assert effective.content_type == "application/json"
    assert effective.retry.num_retries == 0


def test_a_subscription_retry_policy_overrides_the_topic_one() -> None:
    topic = topic_policy({"http": {"defaultHealthyRetryPolicy": {"numRetries": 7}}})
    own = sub_policy(
        {"healthyRetryPolicy": {"numRetries": 2}, "throttlePolicy": {"maxReceivesPerSecond": 5}}
    )
    effective = effective_policy(topic, own)
    assert effective.retry.num_retries == 2
    assert effective.max_receives_per_s == 5


def test_disabling_subscription_overrides_keeps_the_topic_retry_and_throttle() -> None:
    topic = topic_policy(
        {
            "http": {
                "defaultHealthyRetryPolicy": {"numRetries": 7},
                "disableSubscriptionOverrides": True,
                "defaultThrottlePolicy": {"maxReceivesPerSecond": 3},
            }
        }
    )
    own = sub_policy(
        {"healthyRetryPolicy": {"numRetries": 2}, "throttlePolicy": {"maxReceivesPerSecond": 5}}
    )
    effective = effective_policy(topic, own)
    assert effective.retry.num_retries == 7
    assert effective.max_receives_per_s == 3


@pytest.mark.parametrize("protocol", ["http", "https"])
def test_http_deliveries_use_the_effective_policy(protocol: str) -> None:
    own = sub_policy({"healthyRetryPolicy": {"numRetries": 9}})
    assert retry_policy_for(protocol, None, own).num_retries == 9
    assert retry_policy_for(protocol) == DEFAULT_HTTP_POLICY


@pytest.mark.parametrize("protocol", ["sqs", "lambda"])
def test_sqs_and_lambda_deliveries_ignore_custom_policies(protocol: str) -> None:
    own = sub_policy({"healthyRetryPolicy": {"numRetries": 9}})
    assert retry_policy_for(protocol, None, own) == MANAGED_ENDPOINT_POLICY
