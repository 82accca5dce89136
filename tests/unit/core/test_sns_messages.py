"""SNS messages: Publish/PublishBatch validation, envelopes, signing, raw delivery."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

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
from ekiden.core.messages import AttributeValue
from ekiden.core.sns_envelopes import (
    Confirmation,
    EnvelopeSignature,
    Notification,
    confirmation,
    iso_timestamp,
    notification_for,
    raw_sqs_attributes,
    signing_hash,
    sqs_ordering_fields,
    subscribe_url,
    unsubscribe_url,
)
from ekiden.core.sns_messages import (
    BatchEntry,
    PublishInput,
    ValidatedPublish,
    check_message_attributes,
    publish_size_bytes,
    validate_publish,
    validate_publish_batch,
)
from ekiden.core.topics import TopicSettings

STANDARD = TopicSettings(
    is_fifo=False,
    content_based_dedup=False,
    signature_version="1",
    max_message_bytes=262_144,
    delivery_policy=None,
    dedup_scope_group=False,
)
FIFO = TopicSettings(
    is_fifo=True,
    content_based_dedup=False,
    signature_version="1",
    max_message_bytes=262_144,
    delivery_policy=None,
    dedup_scope_group=False,
)
FIFO_CBD = TopicSettings(
    is_fifo=True,
    content_based_dedup=True,
    signature_version="1",
    max_message_bytes=262_144,
    delivery_policy=None,
    dedup_scope_group=False,
)


EMPTY_VALUE = (
    "The message attribute 'attr1' must contain non-empty message attribute value for message "
    "attribute type '{}'."
)
BAD_TYPE = (
    "The message attribute 'attr1' has an invalid message attribute type, the set of supported "
    "type prefixes is Binary, Number, and String."
)


def text(value: str, data_type: str = "String") -> AttributeValue:
    return AttributeValue(data_type, string_value=value)


def binary(value: bytes, data_type: str = "Binary") -> AttributeValue:
    return AttributeValue(data_type, binary_value=value)


def epoch_ms(iso: str) -> int:
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def error_of(call: Callable[[], object]) -> EkidenError:
    with pytest.raises(EkidenError) as caught:
        call()
    return caught.value


def publish(topic: TopicSettings = STANDARD, **fields: object) -> ValidatedPublish:
    fields.setdefault("message", "hello")
    return validate_publish(PublishInput(**fields), topic)  # type: ignore[arg-type]


# --- Publish: subject and message ---------------------------------------------------------------


@pytest.mark.parametrize("subject", ["New Order", "x" * 100, "caf\u00e9 \u2713", "a:b/c?d"])
def test_a_valid_subject_is_accepted(subject: str) -> None:
    assert publish(subject=subject).subject == subject


@pytest.mark.parametrize(
    "subject", ["", "x" * 101, "Invalid\nSubject", "a\rb", "tab\there", "a\x00b", "line\u2028sep"]
)
def test_an_invalid_subject_is_refused_with_aws_words(subject: str) -> None:
    error = error_of(lambda: publish(subject=subject))
    assert isinstance(error, InvalidParameterValue)
    assert error.message == "Invalid parameter: Subject"  # captured: empty and newline


def test_an_empty_message_is_refused_with_aws_words() -> None:
    assert error_of(lambda: publish(message="")).message == "Invalid parameter: Empty message"


# --- Publish: message attributes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "attributes",
    [
        {"store": text("example_corp")},
        {"price": text("-12.50e3", "Number")},
        {"n": text("0", "Number.float")},
        {"tags": text('["a", 1, 2.5, true, null]', "String.Array")},
        {"blob": binary(b"\x00\x01", "Binary.gzip")},
        {"a.b-c_d": text("x", "String.custom")},
        {f"k{i}": text("v") for i in range(11)},  # no count limit at Publish
    ],
)
def test_valid_message_attributes_are_accepted(attributes: dict[str, AttributeValue]) -> None:
    check_message_attributes(attributes)


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        # Captured from AWS.
        (
            {"attr1": text("")},
            EMPTY_VALUE.format("String"),
        ),
        (
            {"attr1": binary(b"")},
            EMPTY_VALUE.format("Binary"),
        ),
        (
            {"attr1": binary(b"x", "String")},
            "The message attribute 'attr1' with type 'String' must use field 'String'.",
        ),
        (
            {"attr1": binary(b"x", "Number")},
            "The message attribute 'attr1' with type 'Number' must use field 'String'.",
        ),
        (
            {"attr1": text("x", "Binary")},
            "The message attribute 'attr1' with type 'Binary' must use field 'Binary'.",
        ),
        (
            {"attr1": text("x", "Integer")},
            BAD_TYPE,
        ),
        (
            {"attr1": text("x", "String.")},
            BAD_TYPE,
        ),
        ({"a" * 257: text("x")}, "Length of message attribute name must be less than 256 bytes."),
        (
            {"a^b": text("x")},
            "Invalid non-alphanumeric character '#x5E' was found in the message attribute name. "
            "Can only include alphanumeric characters, hyphens, underscores, or dots.",
        ),
        (
            {".ab": text("x")},
            "Invalid message attribute name starting with character '.' was found.",
        ),
        ({"ab.": text("x")}, "Invalid message attribute name ending with character '.' was found."),
        ({"a..b": text("x")}, "Message attribute name can not have successive '.' character."),
        # Rules the docs state, in wordings of ekiden's.
        (
            {"price": text("abc", "Number")},
            "The message attribute 'price' with type 'Number' has an invalid numeric value.",
        ),
        (
            {"price": text("1" * 39, "Number")},
            "The message attribute 'price' with type 'Number' has an invalid numeric value.",
        ),
        (
            {"tags": text('{"a": 1}', "String.Array")},
            "The message attribute 'tags' with type 'String.Array' has an invalid value.",
        ),
        (
            {"tags": text("[[1]]", "String.Array")},
            "The message attribute 'tags' with type 'String.Array' has an invalid value.",
        ),
        (
            {"tags": text("[1", "String.Array")},
            "The message attribute 'tags' with type 'String.Array' has an invalid value.",
        ),
        ({"s": text("a\x00b")}, "The message attribute 's' contains invalid characters."),
    ],
)
def test_an_invalid_message_attribute_is_refused_as_parameter_value_invalid(
    attributes: dict[str, AttributeValue], message: str
) -> None:
    error = error_of(lambda: check_message_attributes(attributes))
    assert isinstance(error, InvalidMessageAttribute)
    assert error.message == message


@pytest.mark.parametrize("name", ["AWS.trace", "amazon.x", "Aws.Thing"])
def test_attribute_names_with_reserved_prefixes_are_refused(name: str) -> None:
    assert isinstance(
        error_of(lambda: check_message_attributes({name: text("x")})), InvalidMessageAttribute
    )


# --- Publish: size ------------------------------------------------------------------------------


def test_the_size_counts_the_message_and_every_attribute_name_type_and_value() -> None:
    attributes = {"ab": text("xyz"), "b": binary(b"\x01\x02")}
    assert publish_size_bytes("h\u00e9", attributes) == 3 + (2 + 6 + 3) + (1 + 6 + 2)


def test_a_message_of_exactly_the_limit_is_accepted_and_one_byte_more_is_refused() -> None:
    assert publish(message="x" * 262_144).size_bytes == 262_144
    error = error_of(lambda: publish(message="x" * 262_145))
    assert isinstance(error, MessageTooLong)
    assert error.message == "Invalid parameter: Message too long"  # captured


def test_attributes_count_towards_the_limit() -> None:
    error = error_of(lambda: publish(message="x" * 262_140, attributes={"ab": text("xyz")}))
    assert error.message == "Invalid parameter: Message too long"


def test_a_topic_maximum_message_size_sets_the_limit() -> None:
    large = TopicSettings(
        is_fifo=False,
        content_based_dedup=False,
        signature_version="1",
        max_message_bytes=1_048_576,
        delivery_policy=None,
        dedup_scope_group=False,
    )
    assert publish(large, message="x" * 1_048_576).size_bytes == 1_048_576


# --- Publish: FIFO ------------------------------------------------------------------------------


def test_a_fifo_topic_requires_a_message_group_id() -> None:
    # Captured from AWS.
    assert error_of(lambda: publish(FIFO, dedup_id="d")).message == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    )


def test_a_fifo_topic_without_content_based_dedup_requires_a_deduplication_id() -> None:
    # Captured from AWS.
    assert error_of(lambda: publish(FIFO, group_id="g")).message == (
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly"
    )


def test_content_based_deduplication_hashes_the_message_with_sha256() -> None:
    # Captured from AWS: message "Test" reached the FIFO queue with this deduplication id.
    published = publish(FIFO_CBD, message="Test", group_id="message-group-id-1")
    assert published.dedup_id == "532eaabd9574880dbf76b9b8cc00832c20a6ec113d682299550d7a6e0f345e25"


def test_an_explicit_deduplication_id_overrides_the_content_hash() -> None:
    assert publish(FIFO_CBD, group_id="g", dedup_id="mine").dedup_id == "mine"


def test_a_standard_topic_refuses_a_deduplication_id_with_aws_words() -> None:
    # Captured from AWS.
    assert error_of(lambda: publish(dedup_id="d")).message == (
        "Invalid parameter: MessageDeduplicationId Reason: The request includes "
        "MessageDeduplicationId parameter that is not valid for this topic type"
    )


def test_a_standard_topic_passes_a_message_group_id_through() -> None:
    published = publish(group_id="tenant-1")
    assert (published.group_id, published.dedup_id) == ("tenant-1", None)


@pytest.mark.parametrize(
    ("topic", "fields", "parameter"),
    [
        (FIFO, {"group_id": "a b", "dedup_id": "d"}, "MessageGroupId"),
        (FIFO, {"group_id": "g" * 129, "dedup_id": "d"}, "MessageGroupId"),
        (FIFO, {"group_id": "g", "dedup_id": "caf\u00e9"}, "MessageDeduplicationId"),
        (STANDARD, {"group_id": "x" * 129}, "MessageGroupId"),
    ],
)
def test_ids_of_other_characters_or_lengths_are_refused(
    topic: TopicSettings, fields: dict[str, str], parameter: str
) -> None:
    assert error_of(lambda: publish(topic, **fields)).message.startswith(
        f"Invalid parameter: {parameter} Reason:"
    )


def test_every_printable_punctuation_character_is_a_valid_id_character() -> None:
    punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    assert publish(FIFO, group_id=punctuation, dedup_id=punctuation).group_id == punctuation


# --- Publish: MessageStructure -------------------------------------------------------------------


def test_a_json_structure_gives_each_protocol_its_message() -> None:
    message = json.dumps({"default": "d", "sqs": "for sqs", "http": "for http", "email": 5})
    published = publish(message=message, message_structure="json")
    assert published.message_for("sqs") == "for sqs"
    assert published.message_for("http") == "for http"
    assert published.message_for("https") == "d"
    assert published.message_for("lambda") == "d"


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("{not json", "JSON message body failed to parse"),
        ('{"sqs": "x"}', "No default entry in JSON message body"),
        ('{"default": 5}', "No default entry in JSON message body"),  # captured
        ('["default"]', "No default entry in JSON message body"),
    ],
)
def test_an_invalid_json_structure_is_refused_with_aws_words(message: str, reason: str) -> None:
    error = error_of(lambda: publish(message=message, message_structure="json"))
    assert error.message == f"Invalid parameter: Message Structure - {reason}"


def test_duplicate_keys_in_a_json_structure_are_accepted_the_last_winning() -> None:
    published = publish(message='{"default": "a", "default": "b"}', message_structure="json")
    assert published.message_for("sqs") == "b"


def test_a_structure_other_than_json_is_refused() -> None:
    assert error_of(lambda: publish(message_structure="xml")).message.startswith(
        "Invalid parameter: MessageStructure"
    )


def test_a_structured_message_delivers_no_attributes() -> None:
    published = publish(
        message='{"default": "d"}', message_structure="json", attributes={"a": text("1")}
    )
    assert published.attributes == {"a": text("1")}  # still there for filter policies
    assert published.delivered_attributes == {}


# --- PublishBatch ---------------------------------------------------------------------------------


def entry(entry_id: str, **fields: object) -> BatchEntry:
    fields.setdefault("message", f"m{entry_id}")
    return BatchEntry(entry_id, PublishInput(**fields))  # type: ignore[arg-type]


def test_a_batch_validates_every_entry_in_order() -> None:
    results = validate_publish_batch([entry("1"), entry("2", subject="s")], STANDARD)
    assert [r.message for r in results if isinstance(r, ValidatedPublish)] == ["m1", "m2"]


@pytest.mark.parametrize(
    ("entries", "error", "message"),
    [
        ([], EmptyBatchRequest, "The batch request doesn't contain any entries."),
        # Captured from AWS.
        (
            [entry(str(i)) for i in range(11)],
            TooManyEntriesInBatchRequest,
            "The batch request contains more entries than permissible.",
        ),
        (
            [entry("1"), entry("1")],
            BatchEntryIdsNotDistinct,
            "Two or more batch entries in the request have the same Id.",
        ),
        (
            [entry("a b")],
            InvalidBatchEntryId,
            "The Id of a batch entry in a batch request doesn't abide by the specification.",
        ),
        (
            [entry("x" * 81)],
            InvalidBatchEntryId,
            "The Id of a batch entry in a batch request doesn't abide by the specification.",
        ),
        (
            [entry("")],
            InvalidBatchEntryId,
            "The Id of a batch entry in a batch request doesn't abide by the specification.",
        ),
        (
            [entry("1", message="x" * 200_000), entry("2", message="x" * 62_145)],
            BatchRequestTooLong,
            "The length of all the messages put together is more than the limit.",
        ),
    ],
)
def test_a_malformed_batch_is_refused_as_a_whole(
    entries: list[BatchEntry], error: type[EkidenError], message: str
) -> None:
    caught = error_of(lambda: validate_publish_batch(entries, STANDARD))
    assert type(caught) is error
    assert caught.message == message


def test_a_batch_entry_with_an_invalid_subject_fails_alone() -> None:
    # Captured from AWS: the entry is Failed (InvalidParameter), the others are published.
    results = validate_publish_batch(
        [entry("id1", subject="Subject"), entry("id2", subject="Invalid\nSubject"), entry("id3")],
        STANDARD,
    )
    assert isinstance(results[0], ValidatedPublish)
    assert isinstance(results[1], InvalidParameterValue)
    assert results[1].message == "Invalid parameter: Subject"
    assert isinstance(results[2], ValidatedPublish)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            entry("2", attributes={"attr1": text("")}),
            EMPTY_VALUE.format("String"),
        ),
        (
            entry("2", message='{"x": "y"}', message_structure="json"),
            "Invalid parameter: Message Structure - No default entry in JSON message body",
        ),
        (entry("2", message=""), "Invalid parameter: Empty message"),
    ],
)
def test_any_other_invalid_entry_fails_the_whole_batch(bad: BatchEntry, message: str) -> None:
    # Captured from AWS for the attribute and the structure.
    assert error_of(lambda: validate_publish_batch([entry("1"), bad], STANDARD)).message == message


def test_a_fifo_batch_entry_without_a_group_id_fails_the_whole_batch() -> None:
    entries = [entry("1", group_id="g", dedup_id="d"), entry("2", dedup_id="e")]
    assert error_of(lambda: validate_publish_batch(entries, FIFO)).message == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    )


# --- envelopes ------------------------------------------------------------------------------------

# A notification as AWS delivered it to an SQS queue (captured), byte for byte.
AWS_NOTIFICATION = (
    "{\n"
    '  "Type" : "Notification",\n'
    '  "MessageId" : "0307bc0b-c7d5-524e-b462-e0a9cdf7bd18",\n'
    '  "TopicArn" : "arn:aws:sns:ap-southeast-1:377115435266:TransactionsTopic",\n'
    '  "Subject" : "New Order",\n'
    '  "Message" : "Your order has been successful",\n'
    '  "Timestamp" : "2023-04-01T10:30:58.691Z",\n'
    '  "SignatureVersion" : "1",\n'
    '  "Signature" : "W4xeurbQtKd0y8u2peX5LJ1LiDLZuQgDdlPJi77gUMEVgE2FPjRGbBi5wxd5GweaaqdWIutqJ/'
    "707jDq"
    "TTwgzZYW14S2lKKvOYBp1hZpS2OooFHzgK3VZ4O6OYT+kwCUbXhd4rs+LVUzdgpGvHjQPftPz8zlC0wkMy2Vlj4ASPGTMH"
    "dB2/K/fM7CsFRHF0Savrymbcw8oCpWOqF3Zp2CeaJ8WHux6/aYGOwiwvsLhlAsFvgVPRQ2qn3XGBV/IbfNs3p0hHlztUgNf"
    'Gax2ASe/5WbigwKO1i8OKAa/BwiEShLx0jAriTDlg9nyhTQ9cZAJZC65UgQZJ2Lky2NHKY2qg==",\n'
    '  "SigningCertURL" : "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-'
    '56e67fcb41f6fec09b0196692625d385.pem",\n'
    '  "UnsubscribeURL" : "https://sns.ap-southeast-1.amazonaws.com/?Action=Unsubscribe&Subscri'
    "ptionArn=arn:aws:sns:ap-southeast-1:377115435266:TransactionsTopic:bd605656-2d44-4e18-8f63-"
    '0c41baf05df9"\n'
    "}"
)

# A FIFO topic's notification as AWS delivered it (captured): unsigned, SequenceNumber second.
AWS_FIFO_NOTIFICATION = (
    "{\n"
    '  "Type" : "Notification",\n'
    '  "MessageId" : "15e69bf2-9993-52d4-9090-c1f2dfd8e0fe",\n'
    '  "SequenceNumber" : "10000000000000007000",\n'
    '  "TopicArn" : "arn:aws:sns:us-east-1:405595038722:sns-coin-watchlist.fifo",\n'
    '  "Message" : "blah",\n'
    '  "Timestamp" : "2021-11-06T08:59:55.767Z",\n'
    '  "UnsubscribeURL" : "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&Subscription'
    "Arn=arn:aws:sns:us-east-1:405595038722:sns-coin-watchlist.fifo:3c9e3974-5251-4ae2-9595-"
    '4d74854d5f38",\n'
    '  "MessageAttributes" : {\n'
    '    "coin_id" : {"Type":"String","Value":"bitcoin"}\n'
    "  }\n"
    "}"
)

# The guide's SubscriptionConfirmation example.
AWS_CONFIRMATION = (
    "{\n"
    '  "Type" : "SubscriptionConfirmation",\n'
    '  "MessageId" : "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",\n'
    '  "Token" : "2336412f37...",\n'
    '  "TopicArn" : "arn:aws:sns:us-west-2:123456789012:MyTopic",\n'
    '  "Message" : "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:'
    'MyTopic.\\nTo confirm the subscription, visit the SubscribeURL included in this message.",\n'
    '  "SubscribeURL" : "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn'
    '=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37...",\n'
    '  "Timestamp" : "2012-04-26T20:45:04.751Z",\n'
    '  "SignatureVersion" : "1",\n'
    '  "Signature" : "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2eg'
    "U3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1"
    'Q=",\n'
    '  "SigningCertURL" : "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb72'
    '24c7233fe7bb5f59f96de52f.pem"\n'
    "}"
)


def aws_notification() -> Notification:
    body = json.loads(AWS_NOTIFICATION)
    published = publish(message=body["Message"], subject=body["Subject"])
    topic = body["TopicArn"]
    return notification_for(
        published,
        protocol="sqs",
        message_id=body["MessageId"],
        topic_arn=topic,
        timestamp_ms=epoch_ms(body["Timestamp"]),
        unsubscribe_url=unsubscribe_url(
            "https://sns.ap-southeast-1.amazonaws.com",
            f"{topic}:bd605656-2d44-4e18-8f63-0c41baf05df9",
        ),
    )


def test_a_notification_is_written_byte_for_byte_as_aws_writes_it() -> None:
    body = json.loads(AWS_NOTIFICATION)
    signature = EnvelopeSignature("1", body["Signature"], body["SigningCertURL"])
    assert aws_notification().to_json(signature) == AWS_NOTIFICATION


def test_a_fifo_notification_is_written_unsigned_with_its_sequence_number() -> None:
    body = json.loads(AWS_FIFO_NOTIFICATION)
    published = publish(
        FIFO,
        message="blah",
        group_id="123",
        dedup_id="1233",
        attributes={"coin_id": text("bitcoin")},
    )
    topic = body["TopicArn"]
    notification = notification_for(
        published,
        protocol="sqs",
        message_id=body["MessageId"],
        topic_arn=topic,
        timestamp_ms=epoch_ms(body["Timestamp"]),
        unsubscribe_url=unsubscribe_url(
            "https://sns.us-east-1.amazonaws.com/", f"{topic}:3c9e3974-5251-4ae2-9595-4d74854d5f38"
        ),
        sequence_number=body["SequenceNumber"],
    )
    assert notification.to_json(None) == AWS_FIFO_NOTIFICATION


def test_a_subscription_confirmation_is_written_as_the_guide_shows_it() -> None:
    body = json.loads(AWS_CONFIRMATION)
    topic = body["TopicArn"]
    envelope = confirmation(
        "SubscriptionConfirmation",
        message_id=body["MessageId"],
        token=body["Token"],
        topic_arn=topic,
        subscribe_url=subscribe_url("https://sns.us-west-2.amazonaws.com", topic, body["Token"]),
        timestamp_ms=epoch_ms(body["Timestamp"]),
    )
    signature = EnvelopeSignature("1", body["Signature"], body["SigningCertURL"])
    assert envelope.to_json(signature) == AWS_CONFIRMATION


def test_an_unsubscribe_confirmation_names_the_subscription() -> None:
    sub = "arn:aws:sns:us-west-2:123456789012:MyTopic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
    envelope = confirmation(
        "UnsubscribeConfirmation",
        message_id="47138184-6831-46b8-8f7c-afc488602d7d",
        token="tok",
        topic_arn="arn:aws:sns:us-west-2:123456789012:MyTopic",
        subscribe_url="https://sns/?Action=ConfirmSubscription",
        timestamp_ms=0,
        subscription_arn=sub,
    )
    assert envelope.message == (
        f"You have chosen to deactivate subscription {sub}.\nTo cancel this operation and "
        "restore the subscription, visit the SubscribeURL included in this message."
    )
    assert json.loads(envelope.to_json(None))["Type"] == "UnsubscribeConfirmation"


def test_a_notification_without_subject_or_attributes_omits_them() -> None:
    notification = notification_for(
        publish(),
        protocol="http",
        message_id="m",
        topic_arn="t",
        timestamp_ms=0,
        unsubscribe_url="u",
    )
    assert list(json.loads(notification.to_json(EnvelopeSignature("2", "s", "c")))) == [
        "Type",
        "MessageId",
        "TopicArn",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    ]


def test_envelope_attributes_show_binary_as_base64_and_other_types_as_given() -> None:
    # Captured from AWS: a Binary b"\x02\x03\x04" arrives as "AgME", Numbers as sent.
    published = publish(
        attributes={
            "attr2": binary(b"\x02\x03\x04"),
            "attr1": text("111", "Number"),
            "tone": text('["cheerful","serious"]', "String.Array"),
        }
    )
    envelope = notification_for(
        published,
        protocol="sqs",
        message_id="m",
        topic_arn="t",
        timestamp_ms=0,
        unsubscribe_url="u",
    ).to_json(None)
    assert '    "attr2" : {"Type":"Binary","Value":"AgME"},\n' in envelope
    assert '    "attr1" : {"Type":"Number","Value":"111"},\n' in envelope
    assert (
        '    "tone" : {"Type":"String.Array","Value":"[\\"cheerful\\",\\"serious\\"]"}\n'
        in envelope
    )


def test_control_characters_are_escaped_with_upper_case_hex_and_unicode_kept() -> None:
    published = publish(message="a\x1fb\n\u00e9\\u001f")
    envelope = notification_for(
        published,
        protocol="sqs",
        message_id="m",
        topic_arn="t",
        timestamp_ms=0,
        unsubscribe_url="u",
    ).to_json(None)
    assert '"Message" : "a\\u001Fb\\n\u00e9\\\\u001f",' in envelope
    assert json.loads(envelope)["Message"] == published.message


@pytest.mark.parametrize(
    ("ms", "iso"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_680_345_058_691, "2023-04-01T10:30:58.691Z"),
        (5, "1970-01-01T00:00:00.005Z"),
    ],
)
def test_timestamps_are_iso_8601_utc_with_milliseconds(ms: int, iso: str) -> None:
    assert iso_timestamp(ms) == iso


# --- the string to sign and the signature ---------------------------------------------------------


def test_a_notification_signs_its_fields_in_the_documented_order() -> None:
    assert aws_notification().string_to_sign() == (
        b"Message\nYour order has been successful\n"
        b"MessageId\n0307bc0b-c7d5-524e-b462-e0a9cdf7bd18\n"
        b"Subject\nNew Order\n"
        b"Timestamp\n2023-04-01T10:30:58.691Z\n"
        b"TopicArn\narn:aws:sns:ap-southeast-1:377115435266:TransactionsTopic\n"
        b"Type\nNotification\n"
    )


def test_a_notification_without_subject_leaves_it_out_of_the_signed_string() -> None:
    notification = Notification("m", "t", "hi", "ts", "u")
    assert notification.string_to_sign() == (
        b"Message\nhi\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\nNotification\n"
    )


def test_a_confirmation_signs_its_fields_in_the_documented_order() -> None:
    envelope = Confirmation("SubscriptionConfirmation", "m", "tok", "t", "msg", "url", "ts")
    assert envelope.string_to_sign() == (
        b"Message\nmsg\nMessageId\nm\nSubscribeURL\nurl\nTimestamp\nts\nToken\ntok\n"
        b"TopicArn\nt\nType\nSubscriptionConfirmation\n"
    )


def test_the_signed_string_is_utf8() -> None:
    notification = Notification("m", "t", "caf\u00e9", "ts", "u")
    assert b"Message\ncaf\xc3\xa9\n" in notification.string_to_sign()


@pytest.mark.parametrize(("version", "hash_name"), [("1", "sha1"), ("2", "sha256")])
def test_signature_version_selects_the_hash(version: str, hash_name: str) -> None:
    assert signing_hash(version) == hash_name


# A throwaway RSA key and textbook PKCS#1 v1.5 (RFC 8017, 8.2 and 9.2), in pure Python: the
# cryptography package is not installed, and the point is the bytes, not the RSA library.
_DIGEST_INFO = {
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
}


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n % 2 == 0:
        return n == 2
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _rsa_key(bits: int = 1024) -> tuple[int, int, int]:
    rng = random.Random(20240401)
    primes: list[int] = []
    while len(primes) < 2:
        candidate = rng.getrandbits(bits // 2) | (1 << (bits // 2 - 1)) | 1
        if _is_probable_prime(candidate, rng) and (candidate - 1) % 65537:
            primes.append(candidate)
    p, q = primes
    return p * q, 65537, pow(65537, -1, (p - 1) * (q - 1))


N, E, D = _rsa_key()
K = (N.bit_length() + 7) // 8


def _encoded(data: bytes, hash_name: str) -> int:
    t = _DIGEST_INFO[hash_name] + hashlib.new(hash_name, data).digest()
    return int.from_bytes(b"\x00\x01" + b"\xff" * (K - len(t) - 3) + b"\x00" + t, "big")


def rsa_sign(data: bytes, hash_name: str) -> str:
    return base64.b64encode(pow(_encoded(data, hash_name), D, N).to_bytes(K, "big")).decode()


def verify_as_aws_guide_says(body: str) -> bool:
    """The guide's procedure: take the fields from the JSON document, build "Key\\nValue\\n"
    for the message type's fields in order (Subject only if present), decode the base64
    Signature, and check it with SHA1withRSA (version 1) or SHA256withRSA (version 2)."""
    message = json.loads(body)
    if message["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    signed = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message).encode("utf-8")
    hash_name = {"1": "sha1", "2": "sha256"}[message["SignatureVersion"]]
    signature = int.from_bytes(base64.b64decode(message["Signature"]), "big")
    return pow(signature, E, N) == _encoded(signed, hash_name)


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize("subject", [None, "Order \u2713"])
def test_a_signed_notification_verifies_as_the_aws_guide_says(
    version: str, subject: str | None
) -> None:
    published = publish(message='{"id": 1}\nline two', subject=subject, attributes={"a": text("1")})
    notification = notification_for(
        published,
        protocol="https",
        message_id="m-1",
        topic_arn="arn:aws:sns:r:1:t",
        timestamp_ms=1_700_000_000_123,
        unsubscribe_url="https://sns/?Action=Unsubscribe",
    )
    signature = rsa_sign(notification.string_to_sign(), signing_hash(version))
    body = notification.to_json(EnvelopeSignature(version, signature, "https://sns/cert.pem"))
    assert verify_as_aws_guide_says(body)
    tampered = body.replace('"m-1"', '"m-2"')
    assert not verify_as_aws_guide_says(tampered)


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_a_signed_confirmation_verifies_as_the_aws_guide_says(kind: str) -> None:
    envelope = confirmation(
        kind,
        message_id="m",
        token="ab" * 64,
        topic_arn="arn:aws:sns:r:1:t",
        subscribe_url=subscribe_url("https://sns", "arn:aws:sns:r:1:t", "ab" * 64),
        timestamp_ms=0,
        subscription_arn="arn:aws:sns:r:1:t:x",
    )
    signature = rsa_sign(envelope.string_to_sign(), "sha256")
    assert verify_as_aws_guide_says(envelope.to_json(EnvelopeSignature("2", signature, "c")))


# --- raw delivery and SQS parameters --------------------------------------------------------------


def test_raw_delivery_carries_the_attributes_as_sqs_message_attributes() -> None:
    attributes = {
        "a": text("1", "Number"),
        "b": binary(b"\x02"),
        "c": text('["x"]', "String.Array"),
    }
    assert raw_sqs_attributes(publish(attributes=attributes)) == attributes


def test_a_raw_delivery_with_more_than_ten_attributes_is_dropped() -> None:
    published = publish(attributes={f"k{i}": text("v") for i in range(11)})
    assert raw_sqs_attributes(published) is None
    assert raw_sqs_attributes(publish(attributes={f"k{i}": text("v") for i in range(10)}))


def test_a_raw_delivery_of_a_structured_message_takes_the_protocol_text_without_attributes() -> (
    None
):
    published = publish(
        message='{"default": "d", "sqs": "raw"}',
        message_structure="json",
        attributes={"a": text("1")},
    )
    assert published.message_for("sqs") == "raw"
    assert raw_sqs_attributes(published) == {}


@pytest.mark.parametrize(
    ("topic", "fields", "queue_fifo", "expected"),
    [
        (FIFO, {"group_id": "g", "dedup_id": "d"}, True, ("g", "d")),
        (FIFO, {"group_id": "g", "dedup_id": "d"}, False, ("g", None)),
        (STANDARD, {"group_id": "tenant"}, False, ("tenant", None)),
        (STANDARD, {}, False, (None, None)),
    ],
)
def test_sqs_deliveries_carry_the_group_and_deduplication_ids_the_queue_takes(
    topic: TopicSettings,
    fields: dict[str, str],
    queue_fifo: bool,
    expected: tuple[str | None, str | None],
) -> None:
    assert sqs_ordering_fields(publish(topic, **fields), queue_fifo=queue_fifo) == expected
