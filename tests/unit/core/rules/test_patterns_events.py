"""Event patterns (EventBridge) and Lambda FilterCriteria: matching JSON-like events,
arrays, and how Lambda treats an SQS body.

Array and dotted-key cases come from aws/event-ruler's README; the S3 cases from
LocalStack's tests recorded against AWS; the Lambda body rules from the Lambda guide.
"""

from __future__ import annotations

import json

import pytest

from ekiden.core.rules.patterns import (
    compile_event_pattern,
    compile_filter_criteria,
    compile_filter_policy,
)

EMPLOYEES = {
    "employees": [
        {"firstName": "John", "lastName": "Doe"},
        {"firstName": "Anna", "lastName": "Smith"},
        {"firstName": "Peter", "lastName": "Jones"},
    ]
}


def test_fields_of_one_array_element_match_together() -> None:
    assert compile_event_pattern({"employees": {"firstName": ["Anna"]}}).matches(EMPLOYEES)
    same = compile_event_pattern({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}})
    assert same.matches(EMPLOYEES)


def test_fields_from_different_array_elements_never_match_together() -> None:
    mixed = compile_event_pattern({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}})
    assert not mixed.matches(EMPLOYEES)


def test_arrays_of_arrays_are_walked_and_keep_elements_apart() -> None:
    john, anna, peter = EMPLOYEES["employees"]
    event = {"employees": [[john, anna], [peter]]}
    assert compile_event_pattern({"employees": {"lastName": ["Jones"]}}).matches(event)
    mixed = compile_event_pattern({"employees": {"firstName": ["John"], "lastName": ["Smith"]}})
    assert not mixed.matches(event)
    same = compile_event_pattern({"employees": {"firstName": ["Peter"], "lastName": ["Jones"]}})
    assert same.matches(event)


def test_a_field_outside_an_array_combines_with_any_element() -> None:
    event = {"team": "blue", **EMPLOYEES}
    pattern = compile_event_pattern({"team": ["blue"], "employees": {"lastName": ["Jones"]}})
    assert pattern.matches(event)


S3_POLICY = {
    "Records": {
        "s3": {"object": {"key": [{"prefix": "auto-"}]}},
        "eventName": [{"prefix": "ObjectCreated:"}],
    }
}


def _s3_record(event_name: str, key: str) -> dict[str, object]:
    return {"eventSource": "aws:s3", "eventName": event_name, "s3": {"object": {"key": key}}}


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([_s3_record("ObjectCreated:Put", "auto-insurance-2314.xml")], True),
        ([_s3_record("ObjectRemoved:Delete", "auto-insurance-2314.xml")], False),
        ([_s3_record("ObjectCreated:Put", "home-insurance-2314.xml")], False),
        (
            [
                {"eventName": "ObjectCreated:Put", "s3": {"object": [[{"key": "auto-1.xml"}]]}},
                _s3_record("ObjectRemoved:Delete", "home-insurance-2314.xml"),
            ],
            True,
        ),
        (
            [
                _s3_record("ObjectRemoved:Delete", "auto-insurance-2314.xml"),
                _s3_record("ObjectCreated:Put", "home-insurance-2314.xml"),
            ],
            False,
        ),
    ],
)
def test_sns_body_policies_match_s3_notifications_record_by_record(
    records: list[object], expected: bool
) -> None:
    policy = compile_filter_policy(S3_POLICY, scope="MessageBody")
    assert policy.matches_body(json.dumps({"Records": records})) is expected


def test_exists_only_sees_leaves() -> None:
    # event-ruler README: exists false matches, as c-count holds an object, not a value.
    event = {"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}}
    assert compile_event_pattern({"detail": {"c-count": [{"exists": False}]}}).matches(event)
    assert not compile_event_pattern({"detail": {"c-count": [{"exists": True}]}}).matches(event)
    assert compile_event_pattern({"detail": {"c-count": {"c1": [{"exists": True}]}}}).matches(event)


def test_the_event_ruler_readme_example_event_matches_its_complex_rule() -> None:
    event = {
        "version": "0",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "time": "2017-10-02T16:24:49Z",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
        "detail": {
            "c-count": 5,
            "d-count": 3,
            "x-limit": 301.8,
            "source-ip": "10.0.0.33",
            "state": "running",
        },
    }
    rule = {
        "time": [{"prefix": "2017-10-02"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}],
            "source-ip": [{"cidr": "10.0.0.0/8"}],
        },
    }
    assert compile_event_pattern(rule).matches(event)
    assert not compile_event_pattern(rule).matches({**event, "time": "2017-10-03T00:00:00Z"})
    exact = compile_event_pattern({"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}})
    assert exact.matches(event)


def test_events_may_hold_decimals_and_odd_keys_without_harm() -> None:
    from decimal import Decimal

    pattern = compile_event_pattern({"a": [{"numeric": [">", 1]}], "b": ["x"]})
    assert pattern.matches({"a": Decimal("1.5"), "b": "x", 3: "ignored"})  # type: ignore[dict-item]
    assert not pattern.matches({"a": float("nan"), "b": "x"})
    assert not pattern.matches({"a": 10**400, "b": "x"})


# --- Lambda FilterCriteria --------------------------------------------------------------


def _sqs_record(body: str) -> dict[str, object]:
    return {
        "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SenderId": "AIDAIENQZJOLO23YVJ4VO"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


def test_filters_of_a_mapping_are_ored() -> None:
    criteria = compile_filter_criteria(
        [
            '{"body": {"RequestCode": ["BBBB"]}}',
            {"body": {"RecordNumber": [{"numeric": [">", 2000]}]}},
        ]
    )

    def passes(number: int, code: str) -> bool:
        body = json.dumps({"RecordNumber": number, "RequestCode": code})
        return criteria.matches_sqs_record(_sqs_record(body))

    assert passes(1234, "BBBB")
    assert passes(2001, "AAAA")
    assert not passes(1234, "AAAA")


def test_a_json_body_is_matched_by_nested_patterns() -> None:
    criteria = compile_filter_criteria([{"body": {"temperature": [{"numeric": [">", 10]}]}}])
    assert criteria.matches_sqs_record(_sqs_record('{"temperature": 11}'))
    assert not criteria.matches_sqs_record(_sqs_record('{"temperature": 9}'))
    assert criteria.matches_sqs_record(_sqs_record('[{"temperature": 3}, {"temperature": 30}]'))


def test_a_plain_string_body_is_matched_as_a_string() -> None:
    criteria = compile_filter_criteria([{"body": [{"prefix": "ERROR"}]}])
    assert criteria.matches_sqs_record(_sqs_record("ERROR: disk full"))
    assert not criteria.matches_sqs_record(_sqs_record("INFO: all good"))
    assert compile_filter_criteria([{"body": ["42"]}]).matches_sqs_record(_sqs_record("42"))


def test_a_filter_of_the_other_body_format_drops_the_record() -> None:
    nested = compile_filter_criteria([{"body": {"level": [{"exists": False}]}}])
    assert not nested.matches_sqs_record(_sqs_record("plain text"))
    plain = compile_filter_criteria([{"body": [{"anything-but": "x"}]}])
    assert not plain.matches_sqs_record(_sqs_record('{"level": "x"}'))


def test_a_filter_that_does_not_read_the_body_matches_on_metadata() -> None:
    criteria = compile_filter_criteria([{"attributes": {"ApproximateReceiveCount": ["1"]}}])
    assert criteria.matches_sqs_record(_sqs_record("plain text"))
    assert criteria.matches_sqs_record(_sqs_record('{"a": 1}'))
    received_twice = {**_sqs_record("x"), "attributes": {"ApproximateReceiveCount": "2"}}
    assert not criteria.matches_sqs_record(received_twice)


def test_filter_criteria_match_an_event_as_given() -> None:
    criteria = compile_filter_criteria([{"data": {"City": ["Seattle"]}}])
    assert criteria.matches({"data": {"City": "Seattle", "State": "WA"}})
    assert not criteria.matches({"data": '{"City": "Seattle"}'})


def test_lambda_accepts_the_rules_of_its_filter_syntax_table() -> None:
    rules = [
        {"UserID": [None]},
        {"LastName": [""]},
        {"Name": ["Alice"]},
        {"Name": [{"equals-ignore-case": "alice"}]},
        {"Location": ["New York"], "Day": ["Monday"]},
        {"PaymentType": ["Credit", "Debit"]},
        {"Weather": [{"anything-but": ["Raining"]}]},
        {"Price": [{"numeric": ["=", 100]}]},
        {"Price": [{"numeric": [">", 10, "<=", 20]}]},
        {"ProductName": [{"exists": True}]},
        {"ProductName": [{"exists": False}]},
        {"Region": [{"prefix": "us-"}]},
        {"FileName": [{"suffix": ".png"}]},
    ]
    criteria = compile_filter_criteria(rules)
    assert len(criteria.patterns) == len(rules)
    assert criteria.matches({"Region": "us-east-1"})
    assert not compile_filter_criteria(rules[-2:]).matches({"Region": "eu-west-1"})


def test_empty_keys_are_paths_like_any_other() -> None:
    pattern = compile_event_pattern({"": {"x": ["y"]}})
    assert pattern.matches({"": {"x": "y"}})
    assert not pattern.matches({"x": "y"})
