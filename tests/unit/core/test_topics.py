"""SNS topics: names, ARNs, topic attributes, CreateTopic idempotency, attribute views."""

from __future__ import annotations

import json

import pytest

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.topics import (
    CREATE_PREFIX,
    TopicSettings,
    check_topic_exists_alike,
    check_topic_name,
    check_topic_tags_alike,
    create_topic_attributes,
    default_topic_policy,
    normalize_topic_attributes,
    parse_subscription_arn,
    parse_topic_arn,
    subscription_arn,
    topic_arn,
    topic_attributes_view,
)

ARN = "arn:aws:sns:us-east-1:123456789012:orders"
SUB_ID = "80289ba6-0fd4-4079-afb4-ce8c8260f0ca"
SHORT_SUBSCRIPTION_ARN = (
    "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 elements, not "
)


def create(attributes: dict[str, str]) -> dict[str, str]:
    return normalize_topic_attributes(attributes, fifo=False, creating=True)


def set_attr(name: str, value: str, *, fifo: bool = False) -> dict[str, str]:
    return normalize_topic_attributes({name: value}, fifo=fifo, creating=False)


def error_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(InvalidParameterValue) as caught:
        call()
    return caught.value.message


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "Topic_1-x", "0", "-", "a" * 256])
def test_a_valid_standard_topic_name_is_accepted(name: str) -> None:
    check_topic_name(name, fifo=False)


@pytest.mark.parametrize(
    "name", ["", "a" * 257, "a.b", "a b", "a:b", "caf\u00e9", "t.fifo", "abc\n"]
)
def test_an_invalid_standard_topic_name_is_refused_with_aws_words(name: str) -> None:
    assert error_of(lambda: check_topic_name(name, fifo=False)) == "Invalid parameter: Topic Name"


@pytest.mark.parametrize("name", ["a.fifo", "Topic_1-x.fifo", "a" * 251 + ".fifo"])
def test_a_valid_fifo_topic_name_is_accepted(name: str) -> None:
    check_topic_name(name, fifo=True)


@pytest.mark.parametrize(
    "name", ["a", ".fifo", "a" * 252 + ".fifo", "a.b.fifo", "a.FIFO", "a.fifo\n"]
)
def test_an_invalid_fifo_topic_name_is_refused(name: str) -> None:
    assert error_of(lambda: check_topic_name(name, fifo=True)).startswith(
        "Fifo Topic names must end with .fifo"
    )


# --- ARNs -------------------------------------------------------------------------------------


def test_topic_and_subscription_arns_have_aws_form() -> None:
    assert topic_arn("us-east-1", "123456789012", "orders") == ARN
    assert subscription_arn(ARN, SUB_ID) == f"{ARN}:{SUB_ID}"


def test_a_topic_arn_parses_into_its_parts() -> None:
    ref = parse_topic_arn("arn:aws-cn:sns:cn-north-1:123456789012:orders.fifo")
    assert (ref.partition, ref.region, ref.account_id, ref.name) == (
        "aws-cn",
        "cn-north-1",
        "123456789012",
        "orders.fifo",
    )
    assert ref.is_fifo
    assert ref.arn == "arn:aws-cn:sns:cn-north-1:123456789012:orders.fifo"


@pytest.mark.parametrize(
    ("arn", "count"), [("", 1), ("test-topic", 1), ("randomstring:1", 2), ("Invalid:Topic:Arn", 3)]
)
def test_a_topic_arn_with_too_few_elements_is_refused_with_aws_words(arn: str, count: int) -> None:
    # Captured from AWS.
    assert error_of(lambda: parse_topic_arn(arn)) == (
        f"Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not {count}"
    )


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sqs:us-east-1:123456789012:orders",
        "xrn:aws:sns:us-east-1:123456789012:orders",
        "arn:aws:sns:us-east-1:123456789012:",
        f"{ARN}:{SUB_ID}",
    ],
)
def test_an_arn_that_is_not_a_topic_arn_is_refused(arn: str) -> None:
    assert error_of(lambda: parse_topic_arn(arn)) == "Invalid parameter: TopicArn"


def test_the_refusal_names_the_parameter_the_arn_came_in() -> None:
    assert error_of(lambda: parse_topic_arn("x", parameter="TargetArn")).startswith(
        "Invalid parameter: TargetArn Reason:"
    )


def test_a_subscription_arn_parses_into_its_topic_and_id() -> None:
    ref = parse_subscription_arn(f"{ARN}:{SUB_ID}")
    assert ref.topic.arn == ARN
    assert ref.subscription_id == SUB_ID
    assert ref.arn == f"{ARN}:{SUB_ID}"


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        (
            "pending confirmation",
            SHORT_SUBSCRIPTION_ARN + "1",
        ),
        (
            "arn:aws:sns:us-east-1:1",
            SHORT_SUBSCRIPTION_ARN + "5",
        ),
        (ARN, "Invalid parameter: SubscriptionId"),
        (f"{ARN}:not-a-uuid", "Invalid parameter: SubscriptionId"),
        (f"arn:aws:sqs:us-east-1:123456789012:q:{SUB_ID}", "Invalid parameter: SubscriptionId"),
    ],
)
def test_an_invalid_subscription_arn_is_refused_with_aws_words(arn: str, message: str) -> None:
    assert error_of(lambda: parse_subscription_arn(arn)) == message


# --- CreateTopic --------------------------------------------------------------------------------


def test_fifo_topic_true_makes_a_fifo_topic_with_fifo_defaults() -> None:
    fifo, stored = create_topic_attributes("t.fifo", {"FifoTopic": "TRUE"})
    assert fifo
    assert stored == {"FifoTopic": "true", "ContentBasedDeduplication": "false"}


def test_a_fifo_topic_name_without_fifo_topic_true_is_an_invalid_standard_name() -> None:
    assert (
        error_of(lambda: create_topic_attributes("t.fifo", {})) == "Invalid parameter: Topic Name"
    )


def test_fifo_topic_true_needs_a_fifo_name() -> None:
    assert "must end with .fifo" in error_of(
        lambda: create_topic_attributes("t", {"FifoTopic": "true"})
    )


def test_fifo_topic_false_is_not_recorded_on_a_standard_topic() -> None:
    assert create_topic_attributes("t", {"FifoTopic": "false"}) == (False, {})


def test_content_based_deduplication_on_a_standard_topic_is_refused_with_aws_words() -> None:
    # Captured from AWS (no "Invalid parameter" prefix).
    assert error_of(lambda: create({"ContentBasedDeduplication": "true"})) == (
        "If content-based deduplication is enabled, it must also be a FIFO topic."
    )


def test_content_based_deduplication_off_is_not_recorded_on_a_standard_topic() -> None:
    assert create({"ContentBasedDeduplication": "false"}) == {}


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("DisplayName", "My topic", "My topic"),
        ("DisplayName", "", ""),
        ("SignatureVersion", "2", "2"),
        ("TracingConfig", "Active", "Active"),
        ("MaximumMessageSize", "1048576", "1048576"),
        ("MaximumMessageSize", "01024", "1024"),
        ("KmsMasterKeyId", "alias/aws/sns", "alias/aws/sns"),
        ("KmsMasterKeyId", "", ""),
        ("SQSSuccessFeedbackSampleRate", "100", "100"),
        (
            "HTTPFailureFeedbackRoleArn",
            "arn:aws:iam::123456789012:role/f",
            "arn:aws:iam::123456789012:role/f",
        ),
        (
            "Policy",
            '{"Statement": [{"Action": ["SNS:Publish", "sns:Subscribe"]}]}',
            '{"Statement": [{"Action": ["SNS:Publish", "sns:Subscribe"]}]}',
        ),
        (
            "DeliveryPolicy",
            '{"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}}',
            '{"http":{"defaultHealthyRetryPolicy":{"numRetries":5},"disableSubscriptionOverrides":false}}',
        ),
    ],
)
def test_a_valid_settable_attribute_is_stored_normalised(
    name: str, value: str, stored: str
) -> None:
    assert set_attr(name, value) == {name: stored}
    assert create({name: value}) == {name: stored}


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("SignatureVersion", "3", "SignatureVersion: Invalid value [3]. Must be 1 or 2."),
        (
            "TracingConfig",
            "On",
            "TracingConfig: Invalid value [On]. Must be PassThrough or Active.",
        ),
        (
            "MaximumMessageSize",
            "1023",
            "MaximumMessageSize: Invalid value [1023]. Must be between 1024 and 1048576.",
        ),
        (
            "MaximumMessageSize",
            "1048577",
            "MaximumMessageSize: Invalid value [1048577]. Must be between 1024 and 1048576.",
        ),
        # Captured from AWS.
        (
            "SQSSuccessFeedbackSampleRate",
            "500",
            "SQSSuccessFeedbackSampleRate: 500 value provided is not an integer between 0-100",
        ),
        ("DisplayName", "x" * 101, "DisplayName: must be at most 100 valid characters long"),
        ("Policy", "{", "Policy: failed to parse JSON."),
        ("Policy", "[]", "Policy: Policy must be a JSON object"),
        ("Unknown", "x", "AttributeName"),
        ("TopicArn", ARN, "AttributeName"),
    ],
)
def test_an_invalid_attribute_is_refused_with_the_prefix_of_its_action(
    name: str, value: str, reason: str
) -> None:
    assert error_of(lambda: set_attr(name, value)) == f"Invalid parameter: {reason}"
    assert error_of(lambda: create({name: value})) == f"{CREATE_PREFIX}{reason}"


def test_a_policy_action_of_another_service_is_refused_with_aws_words() -> None:
    policy = json.dumps({"Statement": [{"Action": ["SNS:Publishx", "sqs:SendMessage"]}]})
    # Captured from AWS (CreateTopic).
    assert error_of(lambda: create({"Policy": policy})) == (
        "Invalid parameter: Attributes Reason: Policy statement action out of service scope!"
    )


def test_a_delivery_policy_error_carries_the_prefix_of_its_action() -> None:
    policy = json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 300}}})
    # Captured from AWS (CreateTopic).
    assert error_of(lambda: create({"DeliveryPolicy": policy})) == (
        "Invalid parameter: Attributes Reason: DeliveryPolicy: "
        "http.defaultHealthyRetryPolicy.numRetries must be less than or equal to 100"
    )


def test_fifo_topic_cannot_be_changed_after_creation() -> None:
    assert (
        error_of(lambda: set_attr("FifoTopic", "true", fifo=True))
        == "Invalid parameter: AttributeName"
    )


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("ContentBasedDeduplication", "True", "true"),
        ("FifoThroughputScope", "MessageGroup", "MessageGroup"),
    ],
)
def test_fifo_attributes_are_settable_on_a_fifo_topic(name: str, value: str, stored: str) -> None:
    assert set_attr(name, value, fifo=True) == {name: stored}


def test_fifo_throughput_scope_is_refused_on_a_standard_topic() -> None:
    assert error_of(lambda: set_attr("FifoThroughputScope", "Topic")) == (
        "Invalid parameter: FifoThroughputScope: only FIFO topics support FifoThroughputScope"
    )


def test_an_archive_policy_is_refused_because_ekiden_keeps_no_archive() -> None:
    message = error_of(
        lambda: set_attr("ArchivePolicy", '{"MessageRetentionPeriod": "30"}', fifo=True)
    )
    assert message.startswith("Invalid parameter: ArchivePolicy:")
    assert "not supported" in message


# --- idempotency ----------------------------------------------------------------------------


def test_create_topic_with_the_same_attributes_returns_the_existing_topic() -> None:
    stored = {"DisplayName": "Orders", "SignatureVersion": "2"}
    check_topic_exists_alike(stored, {"DisplayName": "Orders"}, fifo=False)
    check_topic_exists_alike(stored, {}, fifo=False)
    check_topic_exists_alike({}, {"DisplayName": ""}, fifo=False)  # equal to the default


def test_create_topic_with_different_attributes_is_refused_with_aws_words() -> None:
    # Captured from AWS.
    assert (
        error_of(
            lambda: check_topic_exists_alike(
                {"DisplayName": "Orders"}, {"DisplayName": "Other"}, fifo=False
            )
        )
        == "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    )


def test_create_fifo_topic_again_compares_against_the_fifo_defaults() -> None:
    _, requested = create_topic_attributes("t.fifo", {"FifoTopic": "true"})
    check_topic_exists_alike({"FifoTopic": "true"}, requested, fifo=True)
    _, cbd = create_topic_attributes(
        "t.fifo", {"FifoTopic": "true", "ContentBasedDeduplication": "true"}
    )
    with pytest.raises(InvalidParameterValue):
        check_topic_exists_alike(requested, cbd, fifo=True)


def test_create_topic_again_may_repeat_some_or_none_of_its_tags() -> None:
    stored = [("a", "1"), ("b", "2")]
    check_topic_tags_alike(stored, stored)
    check_topic_tags_alike(stored, [("a", "1")])
    check_topic_tags_alike(stored, [])


def test_create_topic_again_with_a_new_tag_is_refused_with_aws_words() -> None:
    # Captured from AWS.
    assert error_of(lambda: check_topic_tags_alike([], [("key1", "value1")])) == (
        "Invalid parameter: Tags Reason: Topic already exists with different tags"
    )


# --- GetTopicAttributes ---------------------------------------------------------------------


def test_the_default_policy_is_aws_default_policy() -> None:
    assert default_topic_policy(ARN, "123456789012") == (
        '{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{'
        '"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},'
        '"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission",'
        '"SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe",'
        '"SNS:ListSubscriptionsByTopic","SNS:Publish"],'
        f'"Resource":"{ARN}",'
        '"Condition":{"StringEquals":{"AWS:SourceOwner":"123456789012"}}}]}'
    )


def test_a_new_standard_topic_shows_the_attributes_aws_shows() -> None:
    view = topic_attributes_view(ARN, "123456789012", {}, confirmed=2, pending=1, deleted=0)
    assert set(view) == {
        "DisplayName",
        "EffectiveDeliveryPolicy",
        "Owner",
        "Policy",
        "SubscriptionsConfirmed",
        "SubscriptionsDeleted",
        "SubscriptionsPending",
        "TopicArn",
    }
    assert view["DisplayName"] == ""
    assert (view["SubscriptionsConfirmed"], view["SubscriptionsPending"]) == ("2", "1")
    assert view["Policy"] == default_topic_policy(ARN, "123456789012")
    assert (
        json.loads(view["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"][
            "numRetries"
        ]
        == 3
    )


def test_a_fifo_topic_shows_its_fifo_attributes_and_what_was_set() -> None:
    _, stored = create_topic_attributes(
        "t.fifo", {"FifoTopic": "true", "SignatureVersion": "2", "DisplayName": "TestTopic"}
    )
    view = topic_attributes_view(ARN + ".fifo", "1", stored, confirmed=0, pending=0, deleted=0)
    assert view["FifoTopic"] == "true"
    assert view["ContentBasedDeduplication"] == "false"
    assert view["SignatureVersion"] == "2"
    assert view["DisplayName"] == "TestTopic"
    assert "MaximumMessageSize" not in view  # only once explicitly set, as AWS


def test_a_topic_delivery_policy_shows_in_both_policy_attributes() -> None:
    stored = set_attr(
        "DeliveryPolicy", '{"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}}'
    )
    view = topic_attributes_view(ARN, "1", stored, confirmed=0, pending=0, deleted=0)
    assert view["DeliveryPolicy"] == stored["DeliveryPolicy"]
    effective = json.loads(view["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]
    assert effective["numRetries"] == 5


def test_topic_settings_parse_the_stored_attributes() -> None:
    _, stored = create_topic_attributes(
        "t.fifo",
        {
            "FifoTopic": "true",
            "ContentBasedDeduplication": "true",
            "MaximumMessageSize": "2048",
            "FifoThroughputScope": "MessageGroup",
        },
    )
    settings = TopicSettings.from_attributes(stored, fifo=True)
    assert settings.is_fifo and settings.content_based_dedup and settings.dedup_scope_group
    assert settings.max_message_bytes == 2048
    assert settings.signature_version == "1"
    assert settings.delivery_policy is None


def test_a_standard_topic_defaults_to_256_kib_messages() -> None:
    settings = TopicSettings.from_attributes({}, fifo=False)
    assert settings.max_message_bytes == 262_144
    assert not settings.content_based_dedup
