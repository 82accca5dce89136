"""Lambda's partial batch response rules (ReportBatchItemFailures) and FIFO group order.

The cases are the success and failure conditions of "Handling errors for an SQS event
source in Lambda", plus the shapes the documentation leaves open (see the module
docstring of ekiden.runtime.batch_response for the decisions).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ekiden.runtime.batch_response import BatchOutcome, fifo_keep, parse_batch_response

IDS = ("id-1", "id-2", "id-3", "id-4")
EVERYTHING = frozenset(IDS)


def respond(value: Any) -> bytes:
    """A handler's return value as the runtime hands it over: JSON bytes."""
    return json.dumps(value).encode()


# --- complete success ------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": []},  # an empty batchItemFailures list
        {"batchItemFailures": None},  # a null batchItemFailures list
        {},  # an empty EventResponse
        None,  # a null EventResponse (a handler returning None)
        {"statusCode": 200, "body": "done"},  # an object without batchItemFailures
        {"BatchItemFailures": [{"ItemIdentifier": "id-2"}]},  # key names are case-sensitive
    ],
    ids=["empty-list", "null-list", "empty-object", "null", "other-object", "wrong-case"],
)
def test_a_response_without_reported_failures_is_a_complete_success(response: Any) -> None:
    outcome = parse_batch_response(respond(response), IDS)

    assert outcome == BatchOutcome(failed_ids=frozenset(), all_failed=False, reason=None)


def test_surrounding_whitespace_is_still_valid_json() -> None:
    outcome = parse_batch_response(b'  {"batchItemFailures": []}\n', IDS)

    assert not outcome.all_failed
    assert outcome.failed_ids == frozenset()


# --- partial failure -------------------------------------------------------------------


def test_the_reported_items_fail_and_the_rest_of_the_batch_succeeds() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "id-2"}, {"itemIdentifier": "id-4"}]}

    outcome = parse_batch_response(respond(response), IDS)

    assert outcome.failed_ids == frozenset({"id-2", "id-4"})
    assert not outcome.all_failed
    assert outcome.reason is None


def test_reporting_every_item_is_a_handled_outcome_not_a_whole_batch_failure() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": i} for i in IDS]}

    outcome = parse_batch_response(respond(response), IDS)

    assert outcome.failed_ids == EVERYTHING
    assert not outcome.all_failed  # the caller does not scale down for it


def test_an_item_listed_twice_counts_once_and_extra_keys_are_ignored() -> None:
    response = {
        "batchItemFailures": [
            {"itemIdentifier": "id-3", "reason": "timeout"},
            {"itemIdentifier": "id-3"},
        ],
        "statusCode": 207,
    }

    outcome = parse_batch_response(respond(response), IDS)

    assert outcome.failed_ids == frozenset({"id-3"})
    assert not outcome.all_failed


# --- complete failure ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"batchItemFailures": [', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (respond({"batchItemFailures": [{"itemIdentifier": ""}]}), "empty string"),
        (respond({"batchItemFailures": [{"itemIdentifier": None}]}), "null"),
        (respond({"batchItemFailures": [{"ItemIdentifier": "id-1"}]}), "no itemIdentifier"),
        (respond({"batchItemFailures": [{"messageId": "id-1"}]}), "no itemIdentifier"),
        (respond({"batchItemFailures": [{}]}), "no itemIdentifier"),
        (respond({"batchItemFailures": [{"itemIdentifier": "id-9"}]}), "not a message of"),
    ],
    ids=[
        "invalid-json",
        "empty-payload",
        "truncated-json",
        "invalid-utf8",
        "empty-string-identifier",
        "null-identifier",
        "bad-key-name-case",
        "bad-key-name",
        "entry-without-keys",
        "unknown-message-id",
    ],
)
def test_a_documented_malformed_response_fails_the_whole_batch(payload: bytes, why: str) -> None:
    outcome = parse_batch_response(payload, IDS)

    assert outcome.all_failed
    assert outcome.failed_ids == EVERYTHING
    assert outcome.reason is not None and why in outcome.reason


def test_one_bad_entry_among_good_ones_fails_the_whole_batch() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "id-1"}, {"itemIdentifier": "nope"}]}

    outcome = parse_batch_response(respond(response), IDS)

    assert outcome.all_failed
    assert outcome.failed_ids == EVERYTHING
    assert outcome.reason is not None and "batchItemFailures[1]" in outcome.reason


@pytest.mark.parametrize(
    "response",
    [["id-1"], "ok", 42, True, [{"itemIdentifier": "id-1"}]],
    ids=["list-of-ids", "string", "number", "boolean", "list-of-items"],
)
def test_a_response_that_is_not_a_json_object_fails_the_whole_batch(response: Any) -> None:
    # Undocumented: decided as failure so messages are kept rather than silently deleted.
    outcome = parse_batch_response(respond(response), IDS)

    assert outcome.all_failed
    assert outcome.failed_ids == EVERYTHING
    assert outcome.reason is not None and "not an object" in outcome.reason


@pytest.mark.parametrize(
    "failures",
    [{"itemIdentifier": "id-1"}, "id-1", 3],
    ids=["object", "string", "number"],
)
def test_batch_item_failures_that_is_not_a_list_fails_the_whole_batch(failures: Any) -> None:
    outcome = parse_batch_response(respond({"batchItemFailures": failures}), IDS)

    assert outcome.all_failed
    assert outcome.reason is not None and "not a list" in outcome.reason


@pytest.mark.parametrize(
    "item",
    ["id-1", None, ["id-1"], {"itemIdentifier": 1}, {"itemIdentifier": ["id-1"]}],
    ids=["bare-string", "null-entry", "list-entry", "number-identifier", "list-identifier"],
)
def test_an_entry_or_identifier_of_the_wrong_json_type_fails_the_whole_batch(item: Any) -> None:
    outcome = parse_batch_response(respond({"batchItemFailures": [item]}), IDS)

    assert outcome.all_failed
    assert outcome.failed_ids == EVERYTHING


def test_a_huge_unknown_identifier_is_shortened_in_the_reason() -> None:
    response = {"batchItemFailures": [{"itemIdentifier": "x" * 100_000}]}

    outcome = parse_batch_response(respond(response), IDS)

    assert outcome.all_failed
    assert outcome.reason is not None and len(outcome.reason) < 200


def test_an_empty_batch_with_a_success_response_has_nothing_to_keep() -> None:
    outcome = parse_batch_response(b"null", ())

    assert outcome == BatchOutcome(failed_ids=frozenset(), all_failed=False)


# --- FIFO: keep the order of each message group ----------------------------------------


def test_messages_after_a_failure_in_the_same_group_are_kept_too() -> None:
    batch = [("a1", "A"), ("b1", "B"), ("a2", "A"), ("a3", "A"), ("b2", "B")]

    keep = fifo_keep(batch, {"a2"})

    # a1 came before the failure and succeeded; b* belong to another group.
    assert keep == frozenset({"a2", "a3"})


def test_each_group_is_cut_at_its_own_first_failure() -> None:
    batch = [("a1", "A"), ("b1", "B"), ("a2", "A"), ("b2", "B"), ("c1", "C"), ("b3", "B")]

    keep = fifo_keep(batch, {"b1", "a2"})

    assert keep == frozenset({"b1", "b2", "b3", "a2"})
    assert "c1" not in keep and "a1" not in keep


def test_a_later_reported_failure_in_a_group_already_cut_changes_nothing() -> None:
    batch = [("a1", "A"), ("a2", "A"), ("a3", "A")]

    assert fifo_keep(batch, {"a1", "a3"}) == frozenset({"a1", "a2", "a3"})


def test_without_failures_nothing_is_kept() -> None:
    assert fifo_keep([("a1", "A"), ("a2", "A")], frozenset()) == frozenset()


def test_records_without_a_group_are_kept_only_when_they_failed() -> None:
    batch = [("m1", None), ("m2", None), ("m3", None)]

    assert fifo_keep(batch, {"m1"}) == frozenset({"m1"})


def test_fifo_keep_accepts_the_failed_ids_of_a_parsed_response() -> None:
    ids = ("a1", "a2", "b1", "a3")
    response = {"batchItemFailures": [{"itemIdentifier": "a2"}]}
    outcome = parse_batch_response(respond(response), ids)

    keep = fifo_keep([("a1", "g"), ("a2", "g"), ("b1", "h"), ("a3", "g")], outcome.failed_ids)

    assert keep == frozenset({"a2", "a3"})
