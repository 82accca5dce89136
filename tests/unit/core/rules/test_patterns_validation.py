"""Pattern validation: SNS limits, complexity counting, and every refusal with its wording.

Messages marked AWS were recorded against AWS (LocalStack's snapshot tests, moto's tests,
an aws-cdk issue); the others are aws/event-ruler's reasons behind the SNS prefix.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from ekiden.core.errors import InvalidParameterValue
from ekiden.core.rules.patterns import (
    EVENTBRIDGE_LIMITS,
    LAMBDA_LIMITS,
    SNS_LIMITS,
    compile_event_pattern,
    compile_filter_policy,
)

PREFIX = "Invalid parameter: FilterPolicy: "
OUT_OF_RANGE = "Value must be between -1.0E9 and 1.0E9, inclusive"
MIXED = (
    "Inside anything but list, either all values are number or string, mixed type is not supported"
)
TOO_MANY_ELEMENTS = "Too many elements in numeric expression"
ONE_KEY = "Only one key allowed in match expression"


def refusal(policy: object, scope: str = "MessageAttributes") -> str:
    source = policy if isinstance(policy, str) else json.dumps(policy)
    with pytest.raises(InvalidParameterValue) as raised:
        compile_filter_policy(source, scope=scope)
    return raised.value.message


RECORDED_REFUSALS = [
    ({"key": [["value"]]}, "Match value must be String, number, true, false, or null"),
    ({"key": [{"wrong-operator": True}]}, "Unrecognized match type wrong-operator"),
    ({"key": [{"suffix": "value", "prefix": "value2"}]}, ONE_KEY),
    ({"key": [{"suffix": 100}]}, "suffix match pattern must be a string"),
    ({"key": [{"suffix": None}]}, "suffix match pattern must be a string"),
    ({"key": [{"suffix": []}]}, "suffix match pattern must be a string"),
    ({"key": [{"suffix": ["test", "test2"]}]}, "suffix match pattern must be a string"),
    ({"key": {"suffix": "value"}}, '"suffix" must be an object or an array'),
    ({"key": {"suffix": "value", "prefix": "value"}}, '"suffix" must be an object or an array'),
    ({"key": {"not-an-operator": "value"}}, '"not-an-operator" must be an object or an array'),
    ({"key_a": "value_one"}, '"key_a" must be an object or an array'),
    ({"Amount": []}, "Empty arrays are not allowed"),
    ({"key": [{"numeric": []}]}, "Invalid member in numeric match: ]"),
    ({"key": [{"numeric": ["operator"]}]}, "Unrecognized numeric range operator: operator"),
    ({"key": [{"numeric": [1, "<="]}]}, "Invalid member in numeric match: 1"),
    ({"key": [{"numeric": ["0"]}]}, "Unrecognized numeric range operator: 0"),
    ({"key": [{"numeric": ["=", "000"]}]}, "Value of equals must be numeric"),
    ({"key": [{"numeric": [">="]}]}, "Value of >= must be numeric"),
    ({"key": [{"numeric": ["<"]}]}, "Value of < must be numeric"),
    ({"key": [{"numeric": ["<", "100"]}]}, "Value of < must be numeric"),
    ({"key": [{"numeric": ["<", 100, ">", 10]}]}, TOO_MANY_ELEMENTS),
    ({"key": [{"numeric": ["<", 20, ">", 1]}]}, TOO_MANY_ELEMENTS),
    ({"key": [{"numeric": [">=", 1, ">", 2]}]}, "Bad numeric range operator: >"),
    ({"key": [{"numeric": [">", 3, "<", 1]}]}, "Bottom must be less than top"),
    ({"key": [{"numeric": [">", 20, "<="]}]}, "Value of <= must be numeric"),
    ({"key": [{"numeric": [">", 50, "<=", "100"]}]}, "Value of <= must be numeric"),
    ({"key": [{"numeric": [">", 20, 30]}]}, "Bad value in numeric range: 30"),
    ({"key": [{"numeric": [">", 20, "test"]}]}, "Bad numeric range operator: test"),
    ({"key": [{"numeric": [">", "20", "<", "30"]}]}, "Value of > must be numeric"),
    ({"key": [{"numeric": [">", 20, "<", "30"]}]}, "Value of < must be numeric"),
    (
        {"key": [{"numeric": [">", 20, "<", 30, "<", 50]}]},
        "Too many terms in numeric range expression",
    ),
    ({"key": [{"exists": None}]}, "exists match pattern must be either true or false."),
    ({"key": [{"exists": "no"}]}, "exists match pattern must be either true or false."),
    (
        {"key": [{"anything-but": {"wrong-operator": None}}]},
        "Unsupported anything-but pattern: wrong-operator",
    ),
    ({"key": [{"anything-but": {"suffix": "test"}}]}, "Unsupported anything-but pattern: suffix"),
    ({"key": [{"anything-but": {"exists": False}}]}, "Unsupported anything-but pattern: exists"),
    ({"key": [{"anything-but": {"prefix": False}}]}, "prefix match pattern must be a string"),
    ({"key": [f"value{i}" for i in range(151)]}, "Filter policy is too complex"),
    (
        {"k1": [f"v{i}" for i in range(100)], "k2": [f"v{i}" for i in range(51)]},
        "Filter policy is too complex",
    ),
    (
        {f"key{i}": [f"value{i}"] for i in range(1, 7)},
        "Filter policy can not have more than 5 keys",
    ),
]


@pytest.mark.parametrize(("policy", "reason"), RECORDED_REFUSALS)
def test_sns_refuses_invalid_policies_with_the_reason_aws_gives(
    policy: object, reason: str
) -> None:
    assert refusal(policy) == PREFIX + reason


EVENT_RULER_REFUSALS = [
    ('{"a": ["x"]', "failed to parse JSON."),
    ('{"a": [NaN]}', "failed to parse JSON."),
    ('["a"]', "Filter is not an object"),
    ("null", "Filter is not an object"),
    ({"a": [{}]}, "Match expression name not found"),
    ({"a": [{"wildcard": "a*"}]}, "Unrecognized match type wildcard"),
    ({"a": [{"prefix": "x", "suffix": "y"}]}, ONE_KEY),
    ({"a": [{"equals-ignore-case": 1}]}, "equals-ignore-case match pattern must be a string"),
    ({"a": [{"exists": True, "prefix": "x"}]}, ONE_KEY),
    ({"a": [{"numeric": 5}]}, "Value of numeric must be an array."),
    ({"a": [{"numeric": ["=", 5, "<", 6]}]}, TOO_MANY_ELEMENTS),
    ({"a": [{"numeric": ["=", True]}]}, "Value of equals must be numeric"),
    ({"a": [{"numeric": [">", 1, "<", 1]}]}, "Bottom must be less than top"),
    ({"a": [{"numeric": [">", 1], "prefix": "x"}]}, TOO_MANY_ELEMENTS),
    ({"a": [{"numeric": [">", 1000000001]}]}, OUT_OF_RANGE),
    ({"a": [{"numeric": [">", 0, "<", 1e10]}]}, OUT_OF_RANGE),
    ({"a": [1000000001]}, OUT_OF_RANGE),
    ({"a": [{"anything-but": [1, "a"]}]}, MIXED),
    ({"a": [{"anything-but": []}]}, MIXED),
    (
        {"a": [{"anything-but": [None]}]},
        "Inside anything but list, start|null|boolean is not supported.",
    ),
    (
        {"a": [{"anything-but": True}]},
        "Value of anything-but must be an array or single string/number value.",
    ),
    ({"a": [{"anything-but": [5e9]}]}, OUT_OF_RANGE),
    ({"a": [{"anything-but": {}}]}, "Anything-But expression name not found"),
    ({"a": [{"anything-but": {"prefix": ""}}]}, "Null prefix not allowed"),
    ({"a": [{"anything-but": {"prefix": "x", "suffix": "y"}}]}, ONE_KEY),
    (
        {"a": [{"anything-but": {"equals-ignore-case": "x"}}]},
        "Unsupported anything-but pattern: equals-ignore-case",
    ),
    ({"a": [{"anything-but": "x", "prefix": "y"}]}, TOO_MANY_ELEMENTS),
    ({"a": [{"cidr": 10}]}, "prefix match pattern must be a string"),
    ({"a": [{"cidr": "10.0.0.0"}]}, "Malformed CIDR, one '/' required"),
    ({"a": [{"cidr": "10.0.0.0/"}]}, "Malformed CIDR, one '/' required"),
    ({"a": [{"cidr": "10.0.0.0/8/8"}]}, "Malformed CIDR, one '/' required"),
    ({"a": [{"cidr": "10.0.0.0/x"}]}, "Malformed CIDR, mask bits must be an integer"),
    ({"a": [{"cidr": "10.0.0.0/-1"}]}, "Malformed CIDR, mask bits must not be negative"),
    ({"a": [{"cidr": "example.com/8"}]}, "Nonstandard IP address: example.com"),
    ({"a": [{"cidr": "300.0.0.0/8"}]}, "Invalid IP address: 300.0.0.0"),
    ({"a": [{"cidr": "10.0.0.0/32"}]}, "IPv4 mask bits must be < 32"),
    ({"a": [{"cidr": "::/128"}]}, "IPv6 mask bits must be < 128"),
    ({"a": [{"cidr": "10.0.0.0/8", "prefix": "1"}]}, ONE_KEY),
]


@pytest.mark.parametrize(("policy", "reason"), EVENT_RULER_REFUSALS)
def test_sns_refuses_what_event_ruler_refuses_with_its_reason(policy: object, reason: str) -> None:
    assert refusal(policy, scope="MessageBody") == PREFIX + reason


def test_nested_objects_are_refused_with_the_attributes_scope() -> None:
    # AWS's wording (no "FilterPolicy:" in it), and checked before the values inside.
    expected = (
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested "
        "filter policy"
    )
    assert refusal({"object": {"key": [{"prefix": "auto-"}]}}) == expected
    assert refusal({"store": {"key": [{"exists": None}]}}) == expected
    assert refusal({"$or": [{"a": ["x"]}, {"b": {"c": ["y"]}}]}) == expected


def test_nested_objects_are_accepted_with_the_body_scope() -> None:
    compile_filter_policy({"object": {"key": [{"prefix": "auto-"}]}}, scope="MessageBody")


def test_an_unknown_scope_is_refused_with_aws_wording() -> None:
    with pytest.raises(InvalidParameterValue) as raised:
        compile_filter_policy({"a": ["x"]}, scope="RandomValue")
    assert raised.value.message == (
        "Invalid parameter: FilterPolicyScope: Invalid value [RandomValue]. "
        "Please use either MessageBody or MessageAttributes"
    )


def test_empty_objects_are_refused_below_the_top() -> None:
    assert refusal({"a": {}}, scope="MessageBody") == PREFIX + "Empty objects are not allowed"
    assert refusal({"$or": [{}, {"a": ["x"]}]}) == PREFIX + "Empty objects are not allowed"


def test_a_policy_larger_than_256_kib_is_refused() -> None:
    big = json.dumps({"a": ["x" * (256 * 1024)]})
    assert refusal(big) == PREFIX + "Filter policy is too long"


def test_an_or_with_a_reserved_name_inside_is_read_as_a_field_named_dollar_or() -> None:
    # The SNS guide's example: "numeric" and "prefix" keep "$or" from being an OR.
    policy = {"$or": [{"numeric": 123}, {"prefix": "abc"}]}
    assert refusal(policy) == PREFIX + "Value of numeric must be an array."


def test_subscribe_words_refusals_with_its_own_prefix() -> None:
    limits = dataclasses.replace(SNS_LIMITS, error_prefix="Invalid parameter: Attributes Reason: ")
    with pytest.raises(InvalidParameterValue) as raised:
        compile_filter_policy({"key": [{"exists": "no"}]}, limits=limits)
    assert raised.value.message == (
        "Invalid parameter: Attributes Reason: FilterPolicy: "
        "exists match pattern must be either true or false."
    )


# --- complexity -------------------------------------------------------------------------


NESTED_72 = {
    "key_a": {"key_b": {"key_c": ["1", "2", "3", "4"]}},
    "key_d": {"key_e": ["1", "2", "3"]},
}
NESTED_216 = {**NESTED_72, "key_f": ["1", "2", "3"]}  # 3x4 x 2x3 x 1x3 (recorded on AWS)
OR_150 = {
    "source": ["a", "b", "c"],
    "$or": [
        {"metricName": list("abcdef")},
        {
            "metricType": list("abcd"),
            "$or": [{"metricId": [1, 2, 3, 4]}, {"spaceId": list(range(7))}],
        },
    ],
}
OR_152 = {  # 4x6 + 4x4x4 + 4x4x4 (recorded on AWS)
    "source": ["a", "b", "c", "d"],
    "$or": [
        {"metricName": list("abcdef")},
        {
            "metricType": list("abcd"),
            "$or": [{"metricId": [1, 2, 3, 4]}, {"spaceId": [1, 2, 3, 4]}],
        },
    ],
}
OR_NESTED_160 = {  # 3x4x2 + 3x4x6 + 2x4x2 + 2x4x6 = 24 + 72 + 16 + 48 (recorded on AWS)
    "$or": [{"metricName": ["a", "b", "c"]}, {"namespace": ["a", "b"]}],
    "detail": {
        "scope": ["Service", "Test"],
        "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["a", "b", "c"]}],
    },
}


@pytest.mark.parametrize(
    ("policy", "combinations"),
    [
        ({"a": ["x"]}, 1),
        ({"key_a": ["1", "2", "3"], "key_b": ["1"], "key_c": ["1", "2"]}, 6),  # 3 x 1 x 2
        # Depth counts: 4 values three levels down, 3 values two levels down: (4x3) x (3x2).
        (NESTED_72, 72),
        # Each $or alternative is counted apart and the alternatives are added.
        (OR_150, 150),
        ({"a": [{"exists": True}, "x", {"prefix": "y"}]}, 3),
    ],
)
def test_combinations_are_counted_as_sns_documents(
    policy: dict[str, object], combinations: int
) -> None:
    assert compile_filter_policy(policy, scope="MessageBody").combinations == combinations


@pytest.mark.parametrize(
    ("policy", "scope"),
    [
        (NESTED_216, "MessageBody"),
        (OR_152, "MessageAttributes"),
        (OR_NESTED_160, "MessageBody"),
    ],
)
def test_policies_over_150_combinations_are_too_complex(
    policy: dict[str, object], scope: str
) -> None:
    assert refusal(policy, scope=scope) == PREFIX + "Filter policy is too complex"


def test_a_policy_of_exactly_150_combinations_is_accepted() -> None:
    compile_filter_policy({"a": [str(i) for i in range(150)]})


def test_five_keys_are_accepted_and_nested_keys_do_not_count() -> None:
    compile_filter_policy({f"k{i}": ["v"] for i in range(5)})
    nested = compile_filter_policy({"a": {f"k{i}": ["v"] for i in range(7)}}, scope="MessageBody")
    assert nested.combinations == 2**7  # one value two levels down counts 2


def test_or_that_multiplies_without_end_is_refused_early() -> None:
    alternatives = [{"a": ["x"]}, {"b": ["y"]}]
    policy = {f"k{i}": {"$or": alternatives} for i in range(5)}  # 2**5 = 32 branches
    assert compile_event_pattern(policy).combinations == 32 * 2**5  # each branch 2**5
    deep = {"a": {"$or": [{f"b{i}": {"$or": alternatives}} for i in range(9)]}}
    compile_event_pattern(deep)
    huge = {f"k{i}": {"$or": alternatives} for i in range(20)}  # 2**20 branches
    with pytest.raises(InvalidParameterValue, match="too complex"):
        compile_event_pattern(huge)


# --- other services' limits -------------------------------------------------------------


def test_lambda_gives_one_message_for_every_invalid_pattern() -> None:
    for pattern in ('{"a": "x"}', '{"a": [{"numeric": []}]}', "not json", '{"a": []}'):
        with pytest.raises(InvalidParameterValue) as raised:
            compile_event_pattern(pattern, limits=LAMBDA_LIMITS)
        assert raised.value.message == "Invalid filter pattern definition."


def test_eventbridge_words_refusals_as_an_invalid_event_pattern() -> None:
    with pytest.raises(InvalidParameterValue) as raised:
        compile_event_pattern({"detail": {"pipeline": {"slug": "some-pipeline"}}})
    assert raised.value.message == (
        'Event pattern is not valid. Reason: "slug" must be an object or an array'
    )


def test_eventbridge_allows_suffix_and_ignore_case_inside_anything_but() -> None:
    pattern = compile_event_pattern(
        {
            "a": [{"anything-but": {"suffix": ".png"}}],
            "b": [{"anything-but": {"equals-ignore-case": ["X", "y"]}}],
        }
    )
    assert pattern.matches({"a": "a.jpg", "b": "z"})
    assert not pattern.matches({"a": "a.png", "b": "z"})
    assert not pattern.matches({"a": "a.jpg", "b": "Y"})
    with pytest.raises(InvalidParameterValue) as raised:
        compile_event_pattern({"a": [{"anything-but": {"suffix": ""}}]})
    assert raised.value.message.endswith("Null prefix/suffix not allowed")
    with pytest.raises(InvalidParameterValue) as raised:
        compile_event_pattern({"a": [{"anything-but": {"equals-ignore-case": [1]}}]})
    assert raised.value.message.endswith(
        "Inside anything-but/equals-ignore-case list, numberic|start|null|boolean is not supported."
    )


def test_eventbridge_compares_numbers_beyond_the_range_exactly_instead_of_refusing() -> None:
    pattern = compile_event_pattern({"account": [123456789012]})
    assert pattern.matches({"account": 123456789012})
    assert not pattern.matches({"account": 123456789013})
    with pytest.raises(InvalidParameterValue) as raised:
        compile_event_pattern({"a": [{"numeric": [">", 6e9]}]})
    assert raised.value.message.endswith("Value must be between -5.0E9 and 5.0E9, inclusive")


def test_eventbridge_refuses_an_empty_pattern_that_sns_accepts() -> None:
    compile_filter_policy({})
    with pytest.raises(InvalidParameterValue, match="Empty objects are not allowed"):
        compile_event_pattern({})
    assert EVENTBRIDGE_LIMITS.max_keys is None
