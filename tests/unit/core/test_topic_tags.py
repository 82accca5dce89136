"""Tags of SNS topics: the rules of one request and the 50-tag quota."""

from __future__ import annotations

import pytest

from ekiden.core.errors import InvalidParameterValue, TagLimitExceeded
from ekiden.core.topic_tags import check_new_tags, merge_tags


def test_well_formed_tags_pass() -> None:
    check_new_tags([("team", "shop"), ("k" * 128, "v" * 256), ("empty", "")])


@pytest.mark.parametrize(
    ("tags", "words"),
    [
        ([("a", "1"), ("a", "2")], "Duplicated keys are not allowed."),
        ([("", "v")], "a tag key must be 1 to 128"),
        ([("k" * 129, "v")], "a tag key must be 1 to 128"),
        ([("k", "v" * 257)], "a tag value must be at most 256"),
        ([("aws:owner", "me")], "reserved for AWS"),
        ([("k", "\x00")], "valid Unicode text"),
    ],
)
def test_bad_tags_are_refused_with_the_reason(tags: list[tuple[str, str]], words: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        check_new_tags(tags)
    assert words in caught.value.message
    assert caught.value.message.startswith("Invalid parameter: ")


def test_more_than_fifty_tags_exceed_the_quota_in_one_request_or_after_a_merge() -> None:
    with pytest.raises(TagLimitExceeded):
        check_new_tags([(f"k{n}", "v") for n in range(51)])
    current = {f"k{n}": "v" for n in range(50)}
    assert merge_tags(current, [("k0", "new")])["k0"] == "new"
    with pytest.raises(TagLimitExceeded):
        merge_tags(current, [("k50", "v")])
