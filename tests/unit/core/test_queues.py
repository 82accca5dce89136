"""Queue names and attributes: validation, normalisation and the parsed settings view."""

from __future__ import annotations

import json

import pytest

from ekiden.core import limits
from ekiden.core.errors import InvalidAttributeName, InvalidAttributeValue, InvalidParameterValue
from ekiden.core.queues import (
    COMPUTED_ATTRIBUTES,
    QueueSettings,
    RedriveAllowPolicy,
    check_queue_name,
    default_attributes,
    normalize_attributes,
    parse_redrive_allow_policy,
    parse_redrive_policy,
)

DLQ_ARN = "arn:aws:sqs:us-east-1:000000000000:dlq"
SOURCE_ARNS = [f"arn:aws:sqs:us-east-1:000000000000:src{i}" for i in range(11)]

# Every error about a queue attribute's value is one of these (AWS uses both, depending on
# the attribute and whether the policy parsed).
BAD_VALUE = (InvalidAttributeValue, InvalidParameterValue)


def standard(attributes: dict[str, str], *, creating: bool = True) -> dict[str, str]:
    return normalize_attributes(attributes, fifo=False, creating=creating)


def fifo(attributes: dict[str, str], *, creating: bool = True) -> dict[str, str]:
    return normalize_attributes(attributes, fifo=True, creating=creating)


def redrive(**policy: object) -> str:
    return json.dumps(policy)


# --- check_queue_name --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "Queue_1-x", "0", "-", "_", "a" * 80])
def test_a_valid_standard_queue_name_is_accepted(name: str) -> None:
    check_queue_name(name, fifo=False)


@pytest.mark.parametrize(
    "name",
    ["", "a" * 81, "a.b", "a b", "a/b", "a:b", "caf\u00e9", "a*", "q.fifo", "abc\n", "\nabc"],
)
def test_an_invalid_standard_queue_name_is_rejected(name: str) -> None:
    with pytest.raises(InvalidParameterValue):
        check_queue_name(name, fifo=False)


@pytest.mark.parametrize("name", ["a.fifo", "Queue_1-x.fifo", "a" * 75 + ".fifo"])
def test_a_valid_fifo_queue_name_is_accepted(name: str) -> None:
    assert len(name) <= 80
    check_queue_name(name, fifo=True)


@pytest.mark.parametrize(
    "name",
    [
        "a",  # no .fifo suffix
        ".fifo",  # nothing before the suffix
        "a" * 76 + ".fifo",  # 81 characters
        "a.b.fifo",
        "a b.fifo",
        "a.FIFO",
        "a.fifo.fifo",
        "a.fifo\n",
        "a\n.fifo",
    ],
)
def test_an_invalid_fifo_queue_name_is_rejected(name: str) -> None:
    with pytest.raises(InvalidParameterValue, match="FIFO"):
        check_queue_name(name, fifo=True)


def test_the_name_rule_is_eighty_characters_in_all_including_the_fifo_suffix() -> None:
    assert limits.MAX_QUEUE_NAME_LENGTH == 80
    check_queue_name("a" * 80, fifo=False)
    check_queue_name("a" * 75 + ".fifo", fifo=True)


# --- normalize_attributes: integers ------------------------------------------------------

INTEGER_RANGES = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, edge) for name, (low, high) in INTEGER_RANGES.items() for edge in (low, high)],
)
def test_an_integer_attribute_at_either_edge_of_its_range_is_accepted(
    name: str, value: int
) -> None:
    assert standard({name: str(value)}) == {name: str(value)}


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, edge) for name, (low, high) in INTEGER_RANGES.items() for edge in (low - 1, high + 1)],
)
def test_an_integer_attribute_just_outside_its_range_is_rejected(name: str, value: int) -> None:
    with pytest.raises(InvalidAttributeValue, match=name):
        standard({name: str(value)})


@pytest.mark.parametrize("name", sorted(INTEGER_RANGES))
@pytest.mark.parametrize("value", ["", "abc", "1.5", "30s", "1e3", "0x10"])
def test_an_integer_attribute_that_is_not_an_integer_is_rejected(name: str, value: str) -> None:
    with pytest.raises(InvalidAttributeValue, match=name):
        standard({name: value})


def test_integer_attributes_are_stored_in_canonical_form() -> None:
    assert standard({"VisibilityTimeout": "007"}) == {"VisibilityTimeout": "7"}


# Python int() alone would take all of these.
@pytest.mark.parametrize("value", ["1_0", "\uff13\uff10", " 7", "7 ", "\t7"])
def test_an_integer_attribute_written_with_python_only_syntax_is_rejected(value: str) -> None:
    with pytest.raises(InvalidAttributeValue):
        standard({"VisibilityTimeout": value})


def test_the_range_limits_agree_with_the_limits_module() -> None:
    assert INTEGER_RANGES["VisibilityTimeout"] == (
        limits.MIN_VISIBILITY_TIMEOUT_S,
        limits.MAX_VISIBILITY_TIMEOUT_S,
    )
    assert INTEGER_RANGES["MessageRetentionPeriod"] == (
        limits.MIN_RETENTION_S,
        limits.MAX_RETENTION_S,
    )
    assert INTEGER_RANGES["MaximumMessageSize"] == (
        limits.MIN_MAX_MESSAGE_BYTES,
        limits.MAX_MESSAGE_BYTES,
    )
    assert INTEGER_RANGES["DelaySeconds"] == (limits.MIN_DELAY_S, limits.MAX_DELAY_S)


# --- normalize_attributes: booleans, choices, names --------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"), [("true", "true"), ("TRUE", "true"), ("False", "false")]
)
def test_boolean_attributes_accept_true_or_false_in_any_case(value: str, stored: str) -> None:
    assert standard({"SqsManagedSseEnabled": value}) == {"SqsManagedSseEnabled": stored}
    assert fifo({"ContentBasedDeduplication": value}) == {"ContentBasedDeduplication": stored}


@pytest.mark.parametrize("value", ["", "yes", "1", "0", "truee", "on"])
def test_boolean_attributes_reject_anything_else(value: str) -> None:
    with pytest.raises(InvalidAttributeValue, match="SqsManagedSseEnabled"):
        standard({"SqsManagedSseEnabled": value})
    with pytest.raises(InvalidAttributeValue, match="ContentBasedDeduplication"):
        fifo({"ContentBasedDeduplication": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DeduplicationScope", "messageGroup"),
        ("DeduplicationScope", "queue"),
        ("FifoThroughputLimit", "perQueue"),
        ("FifoThroughputLimit", "perMessageGroupId"),
    ],
)
def test_a_fifo_choice_attribute_accepts_its_choices(name: str, value: str) -> None:
    given = {name: value}
    if value == "perMessageGroupId":  # only valid with per-group deduplication
        given["DeduplicationScope"] = "messageGroup"
    assert fifo(given) == given


def test_per_message_group_throughput_with_the_default_queue_scope_is_rejected() -> None:
    with pytest.raises(InvalidAttributeValue, match="perMessageGroupId"):
        fifo({"FifoThroughputLimit": "perMessageGroupId"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DeduplicationScope", "MessageGroup"),
        ("DeduplicationScope", "Queue"),
        ("DeduplicationScope", ""),
        ("FifoThroughputLimit", "perqueue"),
        ("FifoThroughputLimit", "perMessageGroup"),
        ("FifoThroughputLimit", ""),
    ],
)
def test_a_fifo_choice_attribute_rejects_other_values(name: str, value: str) -> None:
    with pytest.raises(InvalidAttributeValue, match=name):
        fifo({name: value})


def test_per_message_group_throughput_with_queue_dedup_scope_is_rejected() -> None:
    with pytest.raises(InvalidAttributeValue, match="perMessageGroupId"):
        fifo({"DeduplicationScope": "queue", "FifoThroughputLimit": "perMessageGroupId"})


def test_per_message_group_throughput_with_message_group_dedup_scope_is_accepted() -> None:
    attributes = {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    assert fifo(attributes) == attributes


def test_per_queue_throughput_is_accepted_with_either_dedup_scope() -> None:
    fifo({"DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"})
    fifo({"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perQueue"})


@pytest.mark.parametrize(
    "name", ["ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"]
)
def test_a_fifo_only_attribute_on_a_standard_queue_is_an_unknown_attribute(name: str) -> None:
    value = {"ContentBasedDeduplication": "true"}.get(name, "queue")
    with pytest.raises(InvalidAttributeName, match=name):
        standard({name: value})


def test_fifo_queue_true_on_a_standard_queue_is_an_unknown_attribute() -> None:
    with pytest.raises(InvalidAttributeName, match="FifoQueue"):
        standard({"FifoQueue": "true"})


@pytest.mark.parametrize("value", ["false", "False", "FALSE"])
def test_fifo_queue_false_on_a_standard_queue_is_accepted_and_not_stored(value: str) -> None:
    assert standard({"FifoQueue": value}) == {}
    assert standard({"FifoQueue": value}, creating=False) == {}


def test_fifo_queue_true_when_creating_a_fifo_queue_is_accepted() -> None:
    assert fifo({"FifoQueue": "true"}) == {"FifoQueue": "true"}


@pytest.mark.parametrize("value", ["true", "false"])
def test_fifo_queue_cannot_be_set_on_an_existing_fifo_queue(value: str) -> None:
    with pytest.raises(InvalidAttributeValue, match="Modifying queue type"):
        fifo({"FifoQueue": value}, creating=False)


@pytest.mark.parametrize("name", sorted(COMPUTED_ATTRIBUTES))
def test_a_computed_attribute_cannot_be_set(name: str) -> None:
    with pytest.raises(InvalidAttributeName, match=name):
        standard({name: "1"})


@pytest.mark.parametrize("name", ["Bogus", "visibilitytimeout", "All", ""])
def test_an_unknown_attribute_is_rejected(name: str) -> None:
    with pytest.raises(InvalidAttributeName):
        standard({name: "1"})


def test_no_attributes_normalise_to_none() -> None:
    assert standard({}) == {}
    assert fifo({}) == {}


def test_several_attributes_are_normalised_together() -> None:
    assert standard({"DelaySeconds": "5", "VisibilityTimeout": "60"}) == {
        "DelaySeconds": "5",
        "VisibilityTimeout": "60",
    }


# --- normalize_attributes: Policy, KMS ---------------------------------------------------


def test_a_policy_that_is_a_json_object_is_kept_verbatim() -> None:
    policy = '{"Version": "2012-10-17",  "Statement": []}'
    assert standard({"Policy": policy}) == {"Policy": policy}


@pytest.mark.parametrize("policy", ["not json", "[]", '"text"', "{"])
def test_a_policy_that_is_not_a_json_object_is_rejected(policy: str) -> None:
    with pytest.raises(InvalidAttributeValue, match="Policy"):
        standard({"Policy": policy})


@pytest.mark.parametrize("name", ["Policy", "RedrivePolicy", "RedriveAllowPolicy"])
def test_an_empty_policy_means_remove_and_is_kept_empty(name: str) -> None:
    assert standard({name: ""}) == {name: ""}


def test_a_kms_key_turns_sse_sqs_off() -> None:
    assert standard({"KmsMasterKeyId": "alias/aws/sqs"}) == {
        "KmsMasterKeyId": "alias/aws/sqs",
        "SqsManagedSseEnabled": "false",
    }


def test_a_kms_key_together_with_sse_sqs_enabled_is_rejected() -> None:
    with pytest.raises(InvalidAttributeName, match="server-side encryption"):
        standard({"KmsMasterKeyId": "alias/aws/sqs", "SqsManagedSseEnabled": "true"})


# --- RedrivePolicy -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, "1", 5, "5", 1000, "1000"])
def test_a_redrive_policy_accepts_max_receive_count_as_number_or_string(
    count: int | str,
) -> None:
    stored = standard(
        {"RedrivePolicy": redrive(deadLetterTargetArn=DLQ_ARN, maxReceiveCount=count)}
    )
    assert json.loads(stored["RedrivePolicy"]) == {
        "deadLetterTargetArn": DLQ_ARN,
        "maxReceiveCount": int(count),
    }


@pytest.mark.parametrize("count", [0, "0", 1001, "1001", -1, "abc", "", 2.5, True, [], {}])
def test_a_redrive_policy_with_a_max_receive_count_out_of_range_is_rejected(count: object) -> None:
    with pytest.raises(BAD_VALUE, match="maxReceiveCount"):
        parse_redrive_policy(redrive(deadLetterTargetArn=DLQ_ARN, maxReceiveCount=count))


@pytest.mark.parametrize("count", ["1_0", "\uff15", " 5"])
def test_a_max_receive_count_written_with_python_only_syntax_is_rejected(count: str) -> None:
    with pytest.raises(BAD_VALUE, match="maxReceiveCount"):
        parse_redrive_policy(redrive(deadLetterTargetArn=DLQ_ARN, maxReceiveCount=count))


def test_a_redrive_policy_without_a_target_arn_is_rejected() -> None:
    with pytest.raises(BAD_VALUE, match="deadLetterTargetArn"):
        parse_redrive_policy(redrive(maxReceiveCount=5))


def test_a_redrive_policy_without_a_max_receive_count_is_rejected() -> None:
    with pytest.raises(BAD_VALUE, match="maxReceiveCount"):
        parse_redrive_policy(redrive(deadLetterTargetArn=DLQ_ARN))


def test_a_redrive_policy_with_a_null_max_receive_count_is_rejected() -> None:
    with pytest.raises(BAD_VALUE, match="maxReceiveCount"):
        parse_redrive_policy(redrive(deadLetterTargetArn=DLQ_ARN, maxReceiveCount=None))


def test_a_redrive_policy_with_an_unknown_key_is_rejected() -> None:
    with pytest.raises(BAD_VALUE, match="Only following attributes are supported"):
        parse_redrive_policy(
            redrive(deadLetterTargetArn=DLQ_ARN, maxReceiveCount=5, somethingElse=1)
        )


@pytest.mark.parametrize("text", ["not json", "{", "[]", '"text"', "5", "null"])
def test_a_redrive_policy_that_is_not_a_json_object_is_rejected(text: str) -> None:
    with pytest.raises(BAD_VALUE, match="RedrivePolicy"):
        parse_redrive_policy(text)


@pytest.mark.parametrize(
    "arn",
    [
        "dlq",
        "arn:aws:sns:us-east-1:000000000000:dlq",
        "arn::sqs:us-east-1:000000000000:dlq",
        "arn:aws:sqs:us-east-1:dlq",
        "arn:aws:sqs:us-east-1:000000000000:dlq:extra",
        "http://localhost/000000000000/dlq",
    ],
)
def test_a_redrive_policy_with_a_bad_target_arn_is_rejected(arn: str) -> None:
    with pytest.raises(BAD_VALUE, match="deadLetterTargetArn"):
        parse_redrive_policy(redrive(deadLetterTargetArn=arn, maxReceiveCount=5))


def test_a_non_string_target_arn_counts_as_missing() -> None:
    with pytest.raises(BAD_VALUE, match="deadLetterTargetArn"):
        parse_redrive_policy(redrive(deadLetterTargetArn=5, maxReceiveCount=5))


def test_a_redrive_policy_round_trips_through_its_json_form() -> None:
    policy = parse_redrive_policy(redrive(maxReceiveCount="7", deadLetterTargetArn=DLQ_ARN))
    assert policy.dead_letter_target_arn == DLQ_ARN
    assert policy.max_receive_count == 7
    assert parse_redrive_policy(policy.to_json()) == policy


def test_an_invalid_redrive_policy_is_rejected_by_normalize_attributes() -> None:
    with pytest.raises(BAD_VALUE):
        standard({"RedrivePolicy": redrive(deadLetterTargetArn=DLQ_ARN, maxReceiveCount=0)})


# --- RedriveAllowPolicy ------------------------------------------------------------------


def allow(**policy: object) -> str:
    return json.dumps(policy)


@pytest.mark.parametrize("permission", ["allowAll", "denyAll"])
def test_allow_all_and_deny_all_need_no_source_arns(permission: str) -> None:
    stored = standard({"RedriveAllowPolicy": allow(redrivePermission=permission)})
    assert json.loads(stored["RedriveAllowPolicy"]) == {"redrivePermission": permission}


@pytest.mark.parametrize("count", [1, 10])
def test_by_queue_accepts_one_to_ten_source_arns(count: int) -> None:
    arns = SOURCE_ARNS[:count]
    policy = parse_redrive_allow_policy(allow(redrivePermission="byQueue", sourceQueueArns=arns))
    assert policy.source_queue_arns == tuple(arns)
    assert json.loads(policy.to_json()) == {"redrivePermission": "byQueue", "sourceQueueArns": arns}


@pytest.mark.parametrize("count", [0, 11])
def test_by_queue_with_no_or_more_than_ten_source_arns_is_rejected(count: int) -> None:
    with pytest.raises(BAD_VALUE, match="RedriveAllowPolicy"):
        parse_redrive_allow_policy(
            allow(redrivePermission="byQueue", sourceQueueArns=SOURCE_ARNS[:count])
        )


def test_by_queue_without_source_arns_is_rejected() -> None:
    with pytest.raises(BAD_VALUE, match="sourceQueueArns"):
        parse_redrive_allow_policy(allow(redrivePermission="byQueue"))


@pytest.mark.parametrize("permission", ["allowAll", "denyAll"])
def test_source_arns_without_by_queue_are_rejected(permission: str) -> None:
    with pytest.raises(BAD_VALUE, match="byQueue"):
        parse_redrive_allow_policy(
            allow(redrivePermission=permission, sourceQueueArns=SOURCE_ARNS[:1])
        )


@pytest.mark.parametrize("permission", ["AllowAll", "byqueue", "", None, 1])
def test_an_unknown_redrive_permission_is_rejected(permission: object) -> None:
    with pytest.raises(BAD_VALUE, match="RedriveAllowPolicy"):
        parse_redrive_allow_policy(allow(redrivePermission=permission))


def test_a_redrive_allow_policy_without_a_permission_is_rejected() -> None:
    with pytest.raises(BAD_VALUE, match="RedriveAllowPolicy"):
        parse_redrive_allow_policy(allow(sourceQueueArns=SOURCE_ARNS[:1]))


@pytest.mark.parametrize("sources", ["arn", [1], {"a": 1}, [None]])
def test_source_arns_must_be_a_list_of_strings(sources: object) -> None:
    with pytest.raises(BAD_VALUE, match="RedriveAllowPolicy"):
        parse_redrive_allow_policy(allow(redrivePermission="byQueue", sourceQueueArns=sources))


@pytest.mark.parametrize("text", ["not json", "{", "[]", '"allowAll"'])
def test_a_redrive_allow_policy_that_is_not_a_json_object_is_rejected(text: str) -> None:
    with pytest.raises(BAD_VALUE, match="RedriveAllowPolicy"):
        parse_redrive_allow_policy(text)


def test_a_redrive_allow_policy_decides_which_sources_may_use_the_queue() -> None:
    source, other = SOURCE_ARNS[0], SOURCE_ARNS[1]
    assert RedriveAllowPolicy("allowAll", ()).allows(source)
    assert not RedriveAllowPolicy("denyAll", ()).allows(source)
    by_queue = RedriveAllowPolicy("byQueue", (source,))
    assert by_queue.allows(source)
    assert not by_queue.allows(other)


# --- defaults and QueueSettings ----------------------------------------------------------


def test_a_standard_queue_has_the_sqs_defaults() -> None:
    assert default_attributes(fifo=False) == {
        "DelaySeconds": "0",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "ReceiveMessageWaitTimeSeconds": "0",
        "VisibilityTimeout": "30",
        "SqsManagedSseEnabled": "true",
    }


def test_a_fifo_queue_adds_the_fifo_defaults() -> None:
    defaults = default_attributes(fifo=True)
    assert defaults.items() >= default_attributes(fifo=False).items()
    assert defaults["FifoQueue"] == "true"
    assert defaults["ContentBasedDeduplication"] == "false"
    assert defaults["DeduplicationScope"] == "queue"
    assert defaults["FifoThroughputLimit"] == "perQueue"


def test_settings_of_a_standard_queue_without_attributes_are_the_defaults() -> None:
    settings = QueueSettings.from_attributes({}, fifo=False)
    assert settings == QueueSettings(
        is_fifo=False,
        visibility_timeout_s=30,
        delay_s=0,
        retention_s=345_600,
        max_message_bytes=1_048_576,
        wait_time_s=0,
        content_based_dedup=False,
        dedup_scope_group=False,
        redrive=None,
        redrive_allow=None,
    )


def test_settings_of_a_fifo_queue_without_attributes_are_the_defaults() -> None:
    settings = QueueSettings.from_attributes({}, fifo=True)
    assert settings.is_fifo
    assert not settings.content_based_dedup
    assert not settings.dedup_scope_group
    assert settings.visibility_timeout_s == 30


def test_settings_reflect_stored_attributes() -> None:
    stored = standard(
        {
            "VisibilityTimeout": "60",
            "DelaySeconds": "5",
            "MessageRetentionPeriod": "120",
            "MaximumMessageSize": "2048",
            "ReceiveMessageWaitTimeSeconds": "20",
            "RedrivePolicy": redrive(deadLetterTargetArn=DLQ_ARN, maxReceiveCount="3"),
            "RedriveAllowPolicy": allow(redrivePermission="denyAll"),
        }
    )
    settings = QueueSettings.from_attributes(stored, fifo=False)
    assert settings.visibility_timeout_s == 60
    assert settings.delay_s == 5
    assert settings.retention_s == 120
    assert settings.max_message_bytes == 2048
    assert settings.wait_time_s == 20
    assert settings.redrive is not None
    assert settings.redrive.max_receive_count == 3
    assert settings.redrive.dead_letter_target_arn == DLQ_ARN
    assert settings.redrive_allow == RedriveAllowPolicy("denyAll", ())


def test_fifo_settings_reflect_dedup_attributes() -> None:
    stored = fifo({"ContentBasedDeduplication": "true", "DeduplicationScope": "messageGroup"})
    settings = QueueSettings.from_attributes(stored, fifo=True)
    assert settings.content_based_dedup
    assert settings.dedup_scope_group


def test_an_empty_redrive_policy_means_no_redrive() -> None:
    settings = QueueSettings.from_attributes(
        {"RedrivePolicy": "", "RedriveAllowPolicy": ""}, fifo=False
    )
    assert settings.redrive is None
    assert settings.redrive_allow is None
