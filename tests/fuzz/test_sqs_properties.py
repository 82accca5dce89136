"""Property tests over SQS request shapes against a live server.

Random, valid-ish combinations of SendMessageBatch, ChangeMessageVisibilityBatch,
DeleteMessageBatch and SetQueueAttributes (good and bad ids, real and forged receipt
handles, in-range and out-of-range values, attributes that do not exist or cannot be
set) are sent over either SQS protocol, to a standard and a FIFO queue. Properties:

* the answer is a success or an AWS-shaped client error (4xx, a code, fault ``Sender``);
  a batch answer accounts for every entry, each failure with an Id, a Code and
  SenderFault true;
* a rejected request -- and a batch whose every entry failed -- leaves the queue's
  observable state (every attribute including the counts and LastModifiedTimestamp, and
  its tags) exactly as it was.

Values are chosen so that nothing changes on its own between two snapshots (no delays,
no short visibility timeouts, no short retention): any difference is the request's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from ekiden.protocols.wire.model import sqs_model
from tests.fuzz.shapes import to_form
from tests.support.raw_http import Answer, RawSqs, create_queue, snapshot
from tests.support.server import EkidenProcess

SQS = sqs_model()
PRELOADED = 30  # messages received up front, whose receipt handles the examples use


@dataclass
class Target:
    url: str
    fifo: bool
    handles: list[str]


@dataclass
class Live:
    raw: RawSqs
    targets: list[Target]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with EkidenProcess(tmp_path_factory.mktemp("fuzz-props")) as server:
        raw = RawSqs(server.endpoint)
        targets = [
            Target(create_queue(raw, "props"), False, []),
            Target(create_queue(raw, "props.fifo", FifoQueue="true"), True, []),
        ]
        for target in targets:
            for i in range(PRELOADED):
                params: dict[str, Any] = {"QueueUrl": target.url, "MessageBody": f"m{i}"}
                if target.fifo:
                    params |= {"MessageGroupId": f"g{i}", "MessageDeduplicationId": f"d{i}"}
                assert raw.json("SendMessage", params).status == 200
            while len(target.handles) < PRELOADED:
                got = raw.json(
                    "ReceiveMessage",
                    {"QueueUrl": target.url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 3600},
                )
                assert got.status == 200, got.body
                target.handles += [m["ReceiptHandle"] for m in got.json().get("Messages", [])]
        yield Live(raw, targets)


# Mostly valid, distinct ids, so that many batches get past the batch-level checks.
_good_id = st.sampled_from([f"id-{i}" for i in range(12)])
entry_id = st.one_of(_good_id, _good_id, _good_id, st.sampled_from(["", "bad id", "x" * 81, "é"]))


def entry_list(entry: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[list[Any]]:
    """Up to 10 entries with distinct ids, or up to 12 entries of any ids."""
    return st.one_of(
        st.lists(entry, max_size=10, unique_by=lambda e: str(e["Id"])),
        st.lists(entry, max_size=12),
    )


body = st.sampled_from(["ok", "ok", "", "\x00", "\ud800", "\ufffe", "fine \U0001f600", "x" * 2000])
bad_number: st.SearchStrategy[Any] = st.sampled_from([-1, "abc", "", 2**40, 1.5, None, [], {}])
attribute_value = st.one_of(
    st.just({"DataType": "String", "StringValue": "v"}),
    st.just({"DataType": "Number", "StringValue": "1e5"}),
    st.just({"DataType": "Number", "StringValue": "abc"}),
    st.just({"DataType": "Binary", "BinaryValue": "!!"}),
    st.just({"DataType": "Bogus", "StringValue": "v"}),
    st.just({"DataType": "String"}),
    st.just("not a structure"),
)


def receipt_handle(target: Target) -> st.SearchStrategy[Any]:
    real = st.sampled_from(target.handles)
    forged = st.sampled_from(["", "bogus", "AQEB" + "A" * 100, "\x00", 12])
    flipped = real.map(lambda h: h[:-3] + ("AAA" if not h.endswith("AAA") else "BBB"))
    return st.one_of(real, real, forged, flipped)


def send_entries(target: Target) -> st.SearchStrategy[list[dict[str, Any]]]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "DelaySeconds": st.one_of(st.just(0), bad_number, st.just(901)),
        "MessageAttributes": st.dictionaries(
            st.sampled_from(["a", "b", "", ".dot", "aws.x", "n" * 257]), attribute_value, max_size=3
        ),
        "MessageDeduplicationId": st.sampled_from(["d1", "", "x" * 129, "bad id!"]),
        "MessageGroupId": st.sampled_from(["g1", "", "x" * 129]),
    }
    entry = st.fixed_dictionaries({"Id": entry_id, "MessageBody": body}, optional=optional)
    return entry_list(entry)


def visibility_entries(target: Target) -> st.SearchStrategy[list[dict[str, Any]]]:
    entry = st.fixed_dictionaries(
        {"Id": entry_id, "ReceiptHandle": receipt_handle(target)},
        optional={"VisibilityTimeout": st.one_of(st.sampled_from([3600, 43201]), bad_number)},
    )
    return entry_list(entry)


def delete_entries(target: Target) -> st.SearchStrategy[list[dict[str, Any]]]:
    entry = st.fixed_dictionaries({"Id": entry_id, "ReceiptHandle": receipt_handle(target)})
    return entry_list(entry)


# Valid values keep the queue from changing on its own: no delay, long retention.
_ATTRIBUTES = {
    "VisibilityTimeout": ["30", "-1", "43201", "abc", ""],
    "MaximumMessageSize": ["1024", "1048576", "1023", "1048577"],
    "MessageRetentionPeriod": ["345600", "59", "1209601"],
    "DelaySeconds": ["0", "901", "-1"],
    "ReceiveMessageWaitTimeSeconds": ["0", "20", "21"],
    "RedrivePolicy": ["junk", "{}", '{"deadLetterTargetArn":"arn:aws:sqs:x","maxReceiveCount":5}'],
    "Policy": ["junk", "{}"],
    "FifoQueue": ["true", "false"],
    "ContentBasedDeduplication": ["true", "false", "maybe"],
    "ApproximateNumberOfMessages": ["5"],
    "QueueArn": ["arn:aws:sqs:us-east-1:000000000000:other"],
    "Nope": ["1"],
    "": ["1"],
}
attributes = st.dictionaries(
    st.sampled_from(sorted(_ATTRIBUTES)), st.text(max_size=1), max_size=4
).flatmap(
    lambda chosen: st.fixed_dictionaries(
        {name: st.sampled_from(_ATTRIBUTES[name]) for name in chosen}
    )
)


def request_of(action: str, target: Target) -> st.SearchStrategy[dict[str, Any]]:
    if action == "SendMessageBatch":
        return st.fixed_dictionaries(
            {"QueueUrl": st.just(target.url), "Entries": send_entries(target)}
        )
    if action == "ChangeMessageVisibilityBatch":
        entries = visibility_entries(target)
        return st.fixed_dictionaries({"QueueUrl": st.just(target.url), "Entries": entries})
    if action == "DeleteMessageBatch":
        entries = delete_entries(target)
        return st.fixed_dictionaries({"QueueUrl": st.just(target.url), "Entries": entries})
    return st.fixed_dictionaries({"QueueUrl": st.just(target.url), "Attributes": attributes})


def call(raw: RawSqs, protocol: str, action: str, params: dict[str, Any]) -> Answer:
    if protocol == "json":
        return raw.json(action, params)
    return raw.query(to_form(SQS, action, params))


def assert_aws_shaped_error(answer: Answer, protocol: str) -> None:
    assert 400 <= answer.status < 500, (answer.status, answer.body[:500])
    assert answer.code and answer.fault == "Sender", answer.body[:500]
    assert answer.message is not None
    if protocol == "json":
        assert isinstance(answer.json_type, str) and answer.json_type, answer.body[:500]


def batch_failed_whole(answer: Answer, protocol: str, params: dict[str, Any]) -> bool:
    """Check a batch answer accounts for every entry; True if every entry failed."""
    if protocol != "json" or "Entries" not in params:
        return False
    document = answer.json()
    succeeded = document.get("Successful", [])
    failed = document.get("Failed", [])
    for failure in failed:
        assert failure["Code"] and failure["SenderFault"] is True, failure
    sent_ids = {entry["Id"] for entry in params["Entries"]}
    assert {e["Id"] for e in succeeded} | {e["Id"] for e in failed} == sent_ids, document
    return not succeeded


@pytest.mark.parametrize(
    "action",
    [
        "SendMessageBatch",
        "ChangeMessageVisibilityBatch",
        "DeleteMessageBatch",
        "SetQueueAttributes",
    ],
)
@given(data=st.data(), protocol=st.sampled_from(["json", "query"]), fifo=st.booleans())
def test_requests_get_aws_shaped_answers_and_a_rejection_changes_nothing(
    live: Live, action: str, data: st.DataObject, protocol: str, fifo: bool
) -> None:
    target = live.targets[fifo]
    params = data.draw(request_of(action, target))
    before = snapshot(live.raw, target.url)
    answer = call(live.raw, protocol, action, params)
    event(f"{answer.status} {answer.code or ''}")  # shown by --hypothesis-show-statistics
    if answer.status == 200:
        if not batch_failed_whole(answer, protocol, params):
            return
    else:
        assert_aws_shaped_error(answer, protocol)
    assert snapshot(live.raw, target.url) == before, (action, params, answer.body[:500])
