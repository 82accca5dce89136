"""Tags of SNS topics: the rules of CreateTopic's ``Tags`` and of TagResource.

AWS's quotas (SNS developer guide, "Amazon SNS tags"): at most 50 tags per topic, keys of
1-128 characters, values of at most 256, keys unique within a request, and the ``aws:``
prefix reserved for AWS. The duplicate-key wording is AWS's; the others are ekiden's
(the guide states the rules, not AWS's words).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ekiden.core.errors import InvalidParameterValue, TagLimitExceeded
from ekiden.core.messages import first_invalid_character

MAX_TAGS_PER_TOPIC = 50
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
RESERVED_PREFIX = "aws:"


def check_new_tags(tags: Sequence[tuple[str, str]]) -> None:
    """Raise unless ``tags`` (key, value pairs of one request) are acceptable on their
    own: distinct keys, lengths, characters, no reserved prefix, at most 50."""
    keys = [key for key, _ in tags]
    if len(set(keys)) != len(keys):
        raise InvalidParameterValue("Invalid parameter: Duplicated keys are not allowed.")
    for key, value in tags:
        if not 1 <= len(key) <= MAX_TAG_KEY_LENGTH:
            raise InvalidParameterValue(
                f"Invalid parameter: Tags Reason: a tag key must be 1 to {MAX_TAG_KEY_LENGTH} "
                "characters long"
            )
        if len(value) > MAX_TAG_VALUE_LENGTH:
            raise InvalidParameterValue(
                f"Invalid parameter: Tags Reason: a tag value must be at most "
                f"{MAX_TAG_VALUE_LENGTH} characters long"
            )
        if first_invalid_character(key) is not None or first_invalid_character(value) is not None:
            raise InvalidParameterValue(
                "Invalid parameter: Tags Reason: tag keys and values must be valid Unicode text"
            )
        if key.lower().startswith(RESERVED_PREFIX):
            raise InvalidParameterValue(
                f"Invalid parameter: Tags Reason: tag keys starting with '{RESERVED_PREFIX}' are "
                "reserved for AWS"
            )
    if len(tags) > MAX_TAGS_PER_TOPIC:
        raise TagLimitExceeded("Could not complete request: tag quota of per resource exceeded")


def merge_tags(current: Mapping[str, str], new: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The tags after TagResource adds ``new`` (already checked by ``check_new_tags``) to
    ``current``: a key that exists takes the new value. Raises ``TagLimitExceeded`` when
    the topic would carry more than 50."""
    merged = dict(current)
    merged.update(new)
    if len(merged) > MAX_TAGS_PER_TOPIC:
        raise TagLimitExceeded("Could not complete request: tag quota of per resource exceeded")
    return merged
