"""SNS messages: Publish/PublishBatch validation (sizes, Subject, MessageStructure,
message attributes, FIFO ids, batches). The envelope delivered to endpoints, its
signature's canonical string and raw delivery are in ``ekiden.core.sns_envelopes``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ekiden.core.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EkidenError,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidMessageAttribute,
    InvalidParameterValue,
    MessageTooLong,
    TooManyEntriesInBatchRequest,
)
from ekiden.core.messages import (
    MessageAttributes,
    attributes_size,
    content_dedup_id,
    first_invalid_character,
    is_sqs_number,
)
from ekiden.core.topics import TopicSettings

MAX_SUBJECT_LENGTH = 100
MAX_DEDUP_ID_LENGTH = 128
MAX_GROUP_ID_LENGTH = 128
MAX_BATCH_ENTRIES = 10
MAX_BATCH_ENTRY_ID_LENGTH = 80
MAX_ATTRIBUTE_NAME_BYTES = 256

_ATTRIBUTE_NAME_CHAR = re.compile(r"[A-Za-z0-9_.-]")
_DATA_TYPE = re.compile(r"(String|Number|Binary)(\..+)?\Z", re.DOTALL)
_TOKEN_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}\Z")
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}\Z")


@dataclass(frozen=True, slots=True)
class PublishInput:
    """One message as Publish (or one PublishBatch entry) gives it."""

    message: str
    subject: str | None = None
    message_structure: str | None = None
    attributes: MessageAttributes = field(default_factory=dict)
    group_id: str | None = None
    dedup_id: str | None = None


@dataclass(frozen=True, slots=True)
class BatchEntry:
    id: str
    publish: PublishInput


@dataclass(frozen=True, slots=True)
class ValidatedPublish:
    """A message ready to fan out. ``per_protocol`` holds the MessageStructure=json
    messages (``default`` included); ``dedup_id`` is the explicit one or, on a FIFO topic
    with content-based deduplication, the SHA-256 of the Message."""

    message: str
    subject: str | None
    per_protocol: Mapping[str, str] | None
    attributes: MessageAttributes
    group_id: str | None
    dedup_id: str | None
    size_bytes: int

    def message_for(self, protocol: str) -> str:
        """The text a ``protocol`` subscription receives (its own key of a structured
        message, else ``default``)."""
        if self.per_protocol is None:
            return self.message
        return self.per_protocol.get(protocol, self.per_protocol["default"])

    @property
    def delivered_attributes(self) -> MessageAttributes:
        """The attributes deliveries carry: none for a structured message (the guide:
        "Message attributes are sent only when the message structure is String, not
        JSON"); filter policies still see ``attributes``."""
        return {} if self.per_protocol is not None else self.attributes


# --- Publish validation ---------------------------------------------------------------------


def check_subject(subject: str | None) -> None:
    """Subjects are 1-100 characters of text without line breaks or control characters
    (API reference); AWS answers every violation ``Invalid parameter: Subject``
    (captured for an empty subject and for one holding a newline)."""
    if subject is None:
        return
    if (
        not subject
        or len(subject) > MAX_SUBJECT_LENGTH
        or first_invalid_character(subject) is not None
        or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in subject)
    ):
        raise InvalidParameterValue("Invalid parameter: Subject")


def _attribute_name_problem(name: str) -> str | None:
    # AWS's wordings (captured), checked in AWS's order; the empty and reserved names'
    # wordings are ekiden's (the guide states those rules, not AWS's words).
    if len(name.encode("utf-8")) > MAX_ATTRIBUTE_NAME_BYTES:
        return "Length of message attribute name must be less than 256 bytes."
    if not name:
        return "The message attribute name must not be empty."
    if name.startswith("."):
        return "Invalid message attribute name starting with character '.' was found."
    if name.endswith("."):
        return "Invalid message attribute name ending with character '.' was found."
    for index, char in enumerate(name):
        if _ATTRIBUTE_NAME_CHAR.match(char) is None:
            return (
                f"Invalid non-alphanumeric character '#x{ord(char):X}' was found in the message "
                "attribute name. Can only include alphanumeric characters, hyphens, underscores, "
                "or dots."
            )
        if char == "." and name[index - 1] == ".":
            return "Message attribute name can not have successive '.' character."
    if name.lower().startswith(("aws.", "amazon.")):
        return (
            f"The message attribute name '{name}' is invalid: names starting with 'AWS.' or "
            "'Amazon.' are reserved."
        )
    return None


def _is_string_array(text: str) -> bool:
    """A JSON array of strings, numbers, booleans and nulls (the guide's String.Array)."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, list) and all(
        item is None or isinstance(item, str | int | float | bool) for item in parsed
    )


def check_message_attributes(attributes: MessageAttributes) -> None:
    """Raise ``InvalidMessageAttribute`` (SNS's ``ParameterValueInvalid``) unless every
    attribute is well formed. SNS sets no count limit at Publish (the guide: only raw
    delivery to SQS is limited to 10)."""
    for name, value in attributes.items():
        problem = _attribute_name_problem(name)
        if problem is not None:
            raise InvalidMessageAttribute(problem)
        data_type = value.data_type
        if _DATA_TYPE.match(data_type) is None or first_invalid_character(data_type) is not None:
            raise InvalidMessageAttribute(
                f"The message attribute '{name}' has an invalid message attribute type, the set "
                "of supported type prefixes is Binary, Number, and String."
            )
        if value.string_value is None and value.binary_value is None:
            raise InvalidMessageAttribute(
                f"The message attribute '{name}' must contain non-empty message attribute value "
                f"for message attribute type '{data_type}'."
            )
        field_name = "Binary" if data_type.startswith("Binary") else "String"
        present = value.binary_value if field_name == "Binary" else value.string_value
        if present is None:
            raise InvalidMessageAttribute(
                f"The message attribute '{name}' with type '{data_type}' must use field "
                f"'{field_name}'."
            )
        if not present:
            raise InvalidMessageAttribute(
                f"The message attribute '{name}' must contain non-empty message attribute value "
                f"for message attribute type '{data_type}'."
            )
        text = value.string_value
        if text is None:
            continue
        # The remaining wordings are not documented; they follow the captured ones.
        if first_invalid_character(text) is not None:
            raise InvalidMessageAttribute(
                f"The message attribute '{name}' contains invalid characters."
            )
        if data_type.startswith("Number") and not is_sqs_number(text):  # as SQS numbers
            raise InvalidMessageAttribute(
                f"The message attribute '{name}' with type '{data_type}' has an invalid numeric "
                "value."
            )
        if data_type == "String.Array" and not _is_string_array(text):
            raise InvalidMessageAttribute(
                f"The message attribute '{name}' with type 'String.Array' has an invalid value."
            )


def publish_size_bytes(message: str, attributes: MessageAttributes) -> int:
    """The bytes counted against the size limit: the UTF-8 message plus every
    attribute's name, type and value (API reference, MessageAttributeValue)."""
    return len(message.encode("utf-8")) + attributes_size(attributes)


def _check_token_id(value: str, parameter: str) -> None:
    if _TOKEN_ID.match(value) is None:
        # Rule from the API reference (1-128 alphanumerics and punctuation); AWS's words
        # for breaking it are not documented, these follow SQS's.
        raise InvalidParameterValue(
            f"Invalid parameter: {parameter} Reason: {parameter} can only include alphanumeric "
            "and punctuation characters. 1 to 128 in length."
        )


def _fifo_ids(publish: PublishInput, topic: TopicSettings) -> tuple[str | None, str | None]:
    group_id = publish.group_id or None
    dedup_id = publish.dedup_id or None
    if group_id is not None:
        # Standard topics take one too now, forwarded to SQS standard subscriptions
        # (fair queues); "the same validation rules apply as for FIFO topics".
        _check_token_id(group_id, "MessageGroupId")
    if not topic.is_fifo:
        if dedup_id is not None:
            raise InvalidParameterValue(  # AWS's wording (captured)
                "Invalid parameter: MessageDeduplicationId Reason: The request includes "
                "MessageDeduplicationId parameter that is not valid for this topic type"
            )
        return group_id, None
    if group_id is None:
        raise InvalidParameterValue(  # AWS's wording (captured)
            "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
        )
    if dedup_id is not None:
        _check_token_id(dedup_id, "MessageDeduplicationId")
        return group_id, dedup_id
    if not topic.content_based_dedup:
        raise InvalidParameterValue(  # AWS's wording (captured)
            "Invalid parameter: The topic should either have ContentBasedDeduplication enabled "
            "or MessageDeduplicationId provided explicitly"
        )
    return group_id, content_dedup_id(publish.message)


def _per_protocol(message: str, structure: str | None) -> dict[str, str] | None:
    if structure is None:
        return None
    if structure != "json":
        # "Valid value: json" (API reference); AWS's words otherwise are not documented.
        raise InvalidParameterValue(
            f"Invalid parameter: MessageStructure Reason: Invalid value [{structure}]. Valid "
            "value: json"
        )
    try:
        parsed = json.loads(message)
    except (ValueError, RecursionError):
        raise InvalidParameterValue(  # AWS's wording (captured)
            "Invalid parameter: Message Structure - JSON message body failed to parse"
        ) from None
    # Non-string values are ignored (API reference), so a non-string "default" is missing
    # (captured); duplicate keys pass, the last one winning (captured).
    texts = (
        {k: v for k, v in parsed.items() if isinstance(v, str)} if isinstance(parsed, dict) else {}
    )
    if "default" not in texts:
        raise InvalidParameterValue(
            "Invalid parameter: Message Structure - No default entry in JSON message body"
        )
    return texts


def _validate(publish: PublishInput, topic: TopicSettings, *, batch: bool) -> ValidatedPublish:
    check_subject(publish.subject)
    if publish.message == "":
        raise InvalidParameterValue("Invalid parameter: Empty message")  # AWS (captured)
    check_message_attributes(publish.attributes)
    size = publish_size_bytes(publish.message, publish.attributes)
    if not batch and size > topic.max_message_bytes:
        raise MessageTooLong("Invalid parameter: Message too long")  # AWS (captured)
    group_id, dedup_id = _fifo_ids(publish, topic)
    return ValidatedPublish(
        message=publish.message,
        subject=publish.subject,
        per_protocol=_per_protocol(publish.message, publish.message_structure),
        attributes=publish.attributes,
        group_id=group_id,
        dedup_id=dedup_id,
        size_bytes=size,
    )


def validate_publish(publish: PublishInput, topic: TopicSettings) -> ValidatedPublish:
    """Validate a Publish to a topic with ``topic``'s settings; raise AWS's error for the
    first problem (subject, empty message, attributes, size, FIFO ids, structure)."""
    return _validate(publish, topic, batch=False)


def validate_publish_batch(
    entries: Sequence[BatchEntry], topic: TopicSettings
) -> list[ValidatedPublish | EkidenError]:
    """Validate a PublishBatch: the batch as a whole (count, distinct and well-formed
    ids, total size), then each entry.

    An entry whose Subject is invalid fails alone (captured: ``Failed`` entries with
    ``InvalidParameter`` / ``Invalid parameter: Subject``, the others published); any
    other invalid entry fails the whole request, as AWS does for attributes, FIFO ids
    and message structure (captured). The result lists, per entry in order, the
    validated message or the error of that entry's ``Failed`` result.
    """
    if not entries:
        raise EmptyBatchRequest("The batch request doesn't contain any entries.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequest(  # AWS's wording (captured)
            "The batch request contains more entries than permissible."
        )
    ids = [entry.id for entry in entries]
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinct(  # AWS's wording (captured)
            "Two or more batch entries in the request have the same Id."
        )
    for entry_id in ids:
        if _BATCH_ID.match(entry_id) is None:
            raise InvalidBatchEntryId(  # the model's description; AWS's words undocumented
                "The Id of a batch entry in a batch request doesn't abide by the specification."
            )
    results: list[ValidatedPublish | EkidenError] = []
    total = 0
    for entry in entries:
        total += publish_size_bytes(entry.publish.message, entry.publish.attributes)
        try:
            check_subject(entry.publish.subject)
        except InvalidParameterValue as error:
            results.append(error)
            continue
        results.append(_validate(entry.publish, topic, batch=True))
    if total > topic.max_message_bytes:
        raise BatchRequestTooLong(  # AWS's wording (captured)
            "The length of all the messages put together is more than the limit."
        )
    return results
