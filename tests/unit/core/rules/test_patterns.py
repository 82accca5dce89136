"""SNS filter policies: every operator, in the MessageBody and MessageAttributes scopes.

Expected outcomes are those of the AWS SNS developer guide (string, numeric and IP value
matching, key matching, AND/OR logic) and of LocalStack's tests recorded against AWS.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from ekiden.core.messages import AttributeValue
from ekiden.core.rules.patterns import FilterPolicy, compile_filter_policy

Policy = dict[str, object]


def body_matches(policy: Policy, body: object) -> bool:
    text = body if isinstance(body, str) else json.dumps(body)
    return compile_filter_policy(policy, scope="MessageBody").matches_body(text)


def attributes_match(policy: Policy, attributes: dict[str, tuple[str, str]]) -> bool:
    compiled = compile_filter_policy(policy, scope="MessageAttributes")
    return compiled.matches_attributes(
        {name: AttributeValue(kind, value) for name, (kind, value) in attributes.items()}
    )


# --- exact values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "body", "expected"),
    [
        ({"a": ["rugby", "tennis"]}, {"a": "rugby"}, True),
        ({"a": ["rugby", "tennis"]}, {"a": "tennis"}, True),
        ({"a": ["rugby", "tennis"]}, {"a": "baseball"}, False),
        ({"a": ["rugby"]}, {"a": "Rugby"}, False),  # string matching is case-sensitive
        ({"a": [""]}, {"a": ""}, True),
        ({"a": [5]}, {"a": 5.0}, True),
        ({"a": [5.0]}, {"a": 5}, True),
        ({"a": [301.5]}, {"a": 3.015e2}, True),
        ({"a": [5]}, {"a": 5.0000001}, True),  # numbers agree to six decimal places
        ({"a": [5]}, {"a": 5.00001}, False),
        ({"a": [5]}, {"a": "5"}, False),  # a number never matches a string
        ({"a": ["5"]}, {"a": 5}, False),
        ({"a": [True]}, {"a": True}, True),
        ({"a": [True]}, {"a": 1}, False),
        ({"a": [1]}, {"a": True}, False),
        ({"a": [False]}, {"a": False}, True),
        ({"a": [None]}, {"a": None}, True),
        ({"a": [None]}, {}, False),
        ({"a": ["rugby"]}, {"a": ["baseball", "rugby"]}, True),  # any element of an array
        ({"a": ["rugby"]}, {"a": ["baseball"]}, False),
        ({"a": ["::1"]}, {"a": "0:0::1"}, True),  # an IP literal matches the same address
        ({"a": ["10.0.0.1"]}, {"a": "10.0.0.1"}, True),
        ({"a": ["10.0.0.1"]}, {"a": "10.0.0.2"}, False),
    ],
)
def test_exact_values_match_by_type_and_value(policy: Policy, body: object, expected: bool) -> None:
    assert body_matches(policy, body) is expected


def test_a_policy_ignores_message_properties_it_does_not_name() -> None:
    assert body_matches({"a": ["x"]}, {"a": "x", "b": "anything", "c": {"d": [1, 2]}})


def test_every_key_of_a_policy_must_match() -> None:
    policy: Policy = {"customer_interests": ["rugby"], "price_usd": [{"numeric": [">", 100]}]}
    assert body_matches(policy, {"customer_interests": "rugby", "price_usd": 101})
    assert not body_matches(policy, {"customer_interests": "rugby", "price_usd": 99})
    assert not body_matches(policy, {"customer_interests": "rugby"})


# --- prefix, suffix, equals-ignore-case -------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ({"prefix": "auto-"}, "auto-insurance", True),
        ({"prefix": "auto-"}, "home-auto-", False),
        ({"prefix": "1"}, 123, False),  # string operators never match numbers
        ({"prefix": ""}, "anything", True),
        ({"suffix": ".png"}, "image.png", True),
        ({"suffix": ".png"}, "image.PNG", False),
        ({"suffix": "3"}, 123, False),
        ({"equals-ignore-case": "EC2"}, "ec2", True),
        ({"equals-ignore-case": "EC2"}, "Ec2", True),
        ({"equals-ignore-case": "EC2"}, "ec3", False),
        ({"equals-ignore-case": "true"}, True, False),
    ],
)
def test_string_operators_match_only_strings(
    expression: Policy, value: object, expected: bool
) -> None:
    assert body_matches({"a": [expression]}, {"a": value}) is expected


# --- anything-but -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ({"anything-but": ["rugby", "tennis"]}, "baseball", True),
        ({"anything-but": ["rugby", "tennis"]}, "rugby", False),
        ({"anything-but": ["rugby", "tennis"]}, ["rugby", "baseball"], True),
        ({"anything-but": ["rugby", "tennis"]}, ["rugby", "tennis"], False),
        ({"anything-but": ["rugby"]}, 5, True),  # only strings of the list are excluded
        ({"anything-but": "rugby"}, "rugby", False),
        ({"anything-but": "rugby"}, "football", True),
        ({"anything-but": [100, 500]}, 101, True),
        ({"anything-but": [100, 500]}, 100.1, True),
        ({"anything-but": [100, 500]}, 100, False),
        ({"anything-but": [100, 500]}, 100.0, False),
        ({"anything-but": [100, 500]}, [100, 50], True),
        ({"anything-but": [100, 500]}, "100", True),  # only numbers of the list excluded
        ({"anything-but": 100}, 100, False),
        ({"anything-but": 100}, 99, True),
        ({"anything-but": {"prefix": "init"}}, "initializing", False),
        ({"anything-but": {"prefix": "init"}}, "running", True),
        ({"anything-but": {"prefix": "init"}}, 5, True),
    ],
)
def test_anything_but_matches_values_not_listed(
    expression: Policy, value: object, expected: bool
) -> None:
    assert body_matches({"a": [expression]}, {"a": value}) is expected


def test_anything_but_needs_the_key_to_be_present() -> None:
    assert not body_matches({"a": [{"anything-but": "x"}]}, {"b": "y"})


def test_anything_but_combined_with_exists_false_also_matches_a_missing_key() -> None:
    policy: Policy = {"a": [{"anything-but": "x"}, {"exists": False}]}
    assert body_matches(policy, {"b": "y"})
    assert body_matches(policy, {"a": "y"})
    assert not body_matches(policy, {"a": "x"})


# --- numeric ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "value", "expected"),
    [
        (["=", 301.5], 301.5, True),
        (["=", 301.5], 3.015e2, True),
        (["=", 301.5], "301.5", False),
        (["=", 5], 5.0, True),
        (["<", 0], -0.5, True),
        (["<", 0], 0, False),
        (["<=", 0], 0, True),
        ([">", 0, "<=", 150], 150, True),
        ([">", 0, "<=", 150], 150.5, False),
        ([">", 0, "<=", 150], 0, False),
        ([">", 0, "<=", 150], 0.5, True),
        ([">=", 10, "<", 20], 10, True),
        ([">=", 10, "<", 20], 20, False),
        ([">", 0], 0.0000001, False),  # equal to six decimal places, so not greater
        ([">", 0], 2e9, False),  # beyond ±1e9 a number takes part in no comparison
        ([">", 0], True, False),
        ([">", 0], [-1, 3], True),
    ],
)
def test_numeric_operators_compare_numbers(
    terms: list[object], value: object, expected: bool
) -> None:
    assert body_matches({"a": [{"numeric": terms}]}, {"a": value}) is expected


# --- exists -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exists", "body", "expected"),
    [
        (True, {"a": "x"}, True),
        (True, {"a": None}, True),  # null is a value
        (True, {"a": []}, False),  # an empty array holds no value
        (True, {"a": {"b": 1}}, False),  # exists looks at leaves only
        (True, {"b": "x"}, False),
        (False, {"b": "x"}, True),
        (False, {"a": "x"}, False),
        (False, {"a": {"b": 1}}, True),
    ],
)
def test_exists_tests_whether_a_leaf_is_present(exists: bool, body: Policy, expected: bool) -> None:
    assert body_matches({"a": [{"exists": exists}]}, body) is expected


# --- cidr -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "value", "expected"),
    [
        ("10.0.0.0/24", "10.0.0.0", True),
        ("10.0.0.0/24", "10.0.0.255", True),
        ("10.0.0.0/24", "10.0.1.0", False),
        ("10.0.0.0/8", "10.255.1.2", True),
        ("10.0.0.0/24", "::1", False),
        ("10.0.0.0/24", "not-an-address", False),
        ("10.0.0.0/24", 10, False),
        ("10.0.0.5/24", "10.0.0.4", False),  # the range starts at the address as written
        ("10.0.0.5/24", "10.0.0.6", True),
        ("2001:db8::/32", "2001:db8::1", True),
        ("2001:db8::/32", "2001:0db8:ffff::", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("2001:db8::/32", "10.0.0.1", False),
    ],
)
def test_cidr_matches_addresses_in_the_block(cidr: str, value: object, expected: bool) -> None:
    assert body_matches({"ip": [{"cidr": cidr}]}, {"ip": value}) is expected


# --- $or --------------------------------------------------------------------------------


OR_POLICY: Policy = {
    "$or": [
        {"metricName": ["CPUUtilization", "ReadLatency"]},
        {"namespace": ["AWS/EC2", "AWS/ES"]},
    ],
    "detail": {
        "scope": ["Service"],
        "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change"]}],
    },
}


def _metric(name: str, value: str, **detail: str) -> Policy:
    return {name: value, "detail": detail}


ALARM = "CloudWatch Alarm State Change"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_metric("metricName", "CPUUtilization", scope="Service", source="aws.cloudwatch"), True),
        (_metric("metricName", "ReadLatency", scope="Service", source="aws.cloudwatch"), True),
        (_metric("namespace", "AWS/EC2", scope="Service", source="aws.cloudwatch"), True),
        (_metric("namespace", "AWS/ES", scope="Service", type=ALARM), True),
        (_metric("metricName", "CPUUtilization", scope="aws.cloudwatch", type=ALARM), False),
        (_metric("metricName", "CPUUtilization", scope="Service", type="CPUUtilization"), False),
        (_metric("metricName", "CPUUtilization", type=ALARM), False),
        (_metric("metricName", "CPUUtilization", scope="Service"), False),
        ({"metricName": "CPUUtilization", "scope": "Service"}, False),
        (_metric("metricName", "AWS/EC2", scope="Service", type=ALARM), False),
    ],
)
def test_or_at_top_level_and_nested_picks_any_alternative(body: Policy, expected: bool) -> None:
    # The cases of LocalStack's test_filter_policy_on_message_body_or_attribute, recorded
    # against AWS: two parallel ORs, one of them under a nested key.
    assert body_matches(OR_POLICY, body) is expected


def test_or_works_in_the_attributes_scope() -> None:
    policy: Policy = {
        "source": ["aws.cloudwatch"],
        "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}],
    }
    source = ("String", "aws.cloudwatch")
    assert attributes_match(policy, {"source": source, "namespace": ("String", "AWS/EC2")})
    assert not attributes_match(policy, {"source": source, "namespace": ("String", "AWS/ES")})
    assert not attributes_match(policy, {"metricName": ("String", "CPUUtilization")})


def test_or_with_a_single_object_is_an_ordinary_key_named_dollar_or() -> None:
    assert body_matches({"$or": ["x", "y"]}, {"$or": "y"})
    assert not body_matches({"$or": ["x", "y"]}, {"x": "x"})


# --- nested keys (MessageBody) --------------------------------------------------------


NESTED_POLICY: Policy = {
    "object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": False}]},
    "test": [{"exists": False}],
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"object": {"key": "auto-test"}}, True),
        ({"object": {"key": "hardcodedvalue"}}, True),
        ({"object": {"key": "test-auto"}}, False),
        ({"object": {"key": "auto-test"}, "test": "just-exists"}, False),
        ({"object": {"key": "auto-test", "nested_key": "just-exists"}}, False),
        ({"object": {"test": "auto-test"}}, False),
        ({"test": "auto-test"}, False),
    ],
)
def test_nested_policy_keys_match_nested_message_properties(body: Policy, expected: bool) -> None:
    # LocalStack's test_filter_policy_on_message_body, recorded against AWS.
    assert body_matches(NESTED_POLICY, body) is expected


@pytest.mark.parametrize(
    "body",
    [
        {"object": {"nested": {"test": "string.value"}}},
        {"object.nested.test": "string.value"},
        {"object.nested": {"test": "string.value"}},
        {"object": {"nested.test": "string.value"}},
    ],
)
def test_dotted_keys_in_policy_and_body_name_the_same_path(body: Policy) -> None:
    assert body_matches({"object.nested.test": ["string.value"]}, body)
    assert body_matches({"object": {"nested": {"test": ["string.value"]}}}, body)


def test_arrays_in_the_body_match_when_any_element_matches() -> None:
    policy: Policy = {"headers": {"route-to": ["queue1"]}}
    assert body_matches(policy, {"headers": {"route-to": ["queue1", "queue2"]}})
    assert body_matches(policy, {"headers": [{"route-to": "queue2"}, {"route-to": "queue1"}]})
    assert not body_matches(policy, {"headers": {"route-to": ["queue3"]}})


@pytest.mark.parametrize("body", ["Regular string message", '"a JSON string"', "[1, 2]", "", "{"])
def test_a_body_that_is_not_a_json_object_matches_no_policy(body: str) -> None:
    assert not body_matches({"a": ["x"]}, body)
    assert not body_matches({"a": [{"exists": False}]}, body)


def test_an_empty_policy_matches_every_message() -> None:
    assert body_matches({}, "not json")
    assert attributes_match({}, {})


def test_a_body_may_be_given_already_parsed() -> None:
    policy = compile_filter_policy({"a": {"b": [1]}}, scope="MessageBody")
    assert policy.matches_body({"a": {"b": 1}})
    assert not policy.matches_body({"a": {"b": 2}})


# --- MessageAttributes scope ------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "attribute", "expected"),
    [
        ({"a": ["rugby"]}, ("String", "rugby"), True),
        ({"a": ["rugby"]}, ("String.custom", "rugby"), True),
        ({"a": ["rugby", "tennis"]}, ("String.Array", '["soccer", "rugby"]'), True),
        ({"a": ["rugby", "tennis"]}, ("String.Array", '["baseball"]'), False),
        ({"a": [{"prefix": "ru"}]}, ("String.Array", '["soccer", "rugby"]'), True),
        ({"a": [{"anything-but": ["rugby"]}]}, ("String.Array", '["rugby", "baseball"]'), True),
        ({"a": [{"anything-but": ["rugby"]}]}, ("String.Array", '["rugby"]'), False),
        ({"a": [5]}, ("String.Array", "[1, 5.0]"), True),
        ({"a": [True]}, ("String.Array", "[true, null]"), True),
        ({"a": [{"anything-but": [100, 500]}]}, ("Number.Array", "[100, 50]"), True),
        ({"a": [{"numeric": ["=", 301.5]}]}, ("Number", "301.5"), True),
        ({"a": [{"numeric": ["=", 301.5]}]}, ("Number", "3.015e2"), True),
        ({"a": [{"numeric": [">", 0, "<=", 100]}]}, ("Number", "99"), True),
        ({"a": [{"numeric": [">", 0, "<=", 100]}]}, ("Number", "111"), False),
        ({"a": [{"numeric": [">", 0]}]}, ("String", "5"), False),  # a String is no number
        ({"a": [5]}, ("Number", "5.0"), True),
        ({"a": ["5"]}, ("Number", "5"), False),
        ({"a": [{"anything-but": [100]}]}, ("Number", "100"), False),
        ({"a": [{"cidr": "10.0.0.0/24"}]}, ("String", "10.0.0.7"), True),
        ({"a": [{"exists": True}]}, ("Binary", "ignored"), False),  # Binary is ignored
        ({"a": [{"exists": False}]}, ("Binary", "ignored"), True),
        ({"a": ["x"]}, ("String.Array", "not an array"), False),
        ({"a": ["not an array"]}, ("String.Array", "not an array"), True),
    ],
)
def test_attribute_types_decide_how_a_value_is_matched(
    policy: Policy, attribute: tuple[str, str], expected: bool
) -> None:
    assert attributes_match(policy, {"a": attribute}) is expected


def test_a_binary_attribute_given_as_bytes_is_ignored() -> None:
    policy = compile_filter_policy({"a": [{"exists": True}]})
    binary = AttributeValue("Binary", binary_value=b"\x00\x01")
    assert not policy.matches_attributes({"a": binary})


def test_exists_in_the_attributes_scope_looks_at_attribute_names() -> None:
    # LocalStack's test_exists_filter_policy, recorded against AWS.
    present = {"store": ("Number", "99"), "def": ("Number", "99")}
    assert attributes_match({"store": [{"exists": True}]}, present)
    assert not attributes_match({"store": [{"exists": True}]}, {"attr1": ("Number", "111")})
    assert attributes_match({"store": [{"exists": False}]}, {"def": ("Number", "99")})
    assert not attributes_match({"store": [{"exists": False}]}, present)


def test_null_or_anything_but_does_not_match_a_message_without_the_attribute() -> None:
    # LocalStack's test_filter_policy, recorded against AWS.
    assert not attributes_match({"attr1": [None, {"anything-but": "whatever"}]}, {})


def test_attribute_names_with_dots_are_matched_whole() -> None:
    assert attributes_match({"a.b": ["x"]}, {"a.b": ("String", "x")})


# --- the compiled object ----------------------------------------------------------------


def test_matches_judges_the_part_of_the_message_the_scope_names() -> None:
    attributes = {"a": AttributeValue("String", "x")}
    by_attributes = compile_filter_policy({"a": ["x"]}, scope="MessageAttributes")
    by_body = compile_filter_policy({"a": ["x"]}, scope="MessageBody")
    assert by_attributes.matches(body='{"a": "y"}', attributes=attributes)
    assert not by_body.matches(body='{"a": "y"}', attributes=attributes)
    assert by_body.matches(body='{"a": "x"}', attributes={})


def test_a_policy_compiles_from_json_text_or_from_a_dict_alike() -> None:
    from_text = compile_filter_policy('{"a": ["x", {"prefix": "y"}]}')
    from_dict = compile_filter_policy({"a": ["x", {"prefix": "y"}]})
    assert from_text == from_dict
    assert from_text.scope == "MessageAttributes"


def test_a_compiled_policy_is_immutable() -> None:
    policy: FilterPolicy = compile_filter_policy({"a": ["x"]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.scope = "MessageBody"
