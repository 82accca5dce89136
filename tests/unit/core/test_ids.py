"""Identifiers: receipt handles, sequence numbers, ARNs and queue URLs."""

from __future__ import annotations

import base64
import hmac
import re
import struct
import subprocess
import sys
import uuid

import pytest

from ekiden.core.ids import (
    ParsedArn,
    ReceiptCodec,
    ReceiptRef,
    format_sequence_number,
    new_message_id,
    new_receipt_nonce,
    parse_sqs_arn,
    queue_arn,
    queue_name_from_url,
)

U64_MAX = 2**64 - 1

# --- message ids and nonces --------------------------------------------------------------


def test_a_message_id_is_a_fresh_version_4_uuid() -> None:
    first, second = new_message_id(), new_message_id()
    assert str(uuid.UUID(first)) == first
    assert uuid.UUID(first).version == 4
    assert uuid.UUID(first).variant == uuid.RFC_4122
    assert first != second


def test_message_ids_do_not_repeat() -> None:
    ids = [new_message_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)


def test_each_process_draws_its_own_message_id_prefix() -> None:
    script = "from ekiden.core.ids import new_message_id; print(new_message_id())"
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    first, second = (run.stdout.strip() for run in runs)
    assert str(uuid.UUID(first)) == first
    assert first[:24] != second[:24]


def test_a_receipt_nonce_fits_in_63_bits() -> None:
    for _ in range(100):
        assert 0 <= new_receipt_nonce() < 2**63


# --- receipt handles ---------------------------------------------------------------------

KEY = bytes(range(32))
CODEC = ReceiptCodec(KEY)


@pytest.mark.parametrize(
    "ref",
    [
        ReceiptRef(0, 0, 0),
        ReceiptRef(1, 2, 3),
        ReceiptRef(7, 123_456_789, 2**63 - 1),
        ReceiptRef(U64_MAX, U64_MAX, U64_MAX),
        ReceiptRef(2**32, 2**40 + 5, 0xDEADBEEF),
    ],
)
def test_a_receipt_handle_decodes_to_the_delivery_it_was_made_from(ref: ReceiptRef) -> None:
    assert CODEC.decode(CODEC.encode(ref)) == ref


def test_receipt_handles_round_trip_for_random_deliveries() -> None:
    for _ in range(200):
        ref = ReceiptRef(new_receipt_nonce(), new_receipt_nonce(), new_receipt_nonce())
        assert CODEC.decode(CODEC.encode(ref)) == ref


def test_a_receipt_handle_is_url_safe_text_with_a_version_prefix() -> None:
    handle = CODEC.encode(ReceiptRef(U64_MAX, 1, 2))
    assert re.fullmatch(r"ek3[A-Za-z0-9_-]{48}", handle)


def test_deliveries_that_differ_only_in_nonce_have_different_handles() -> None:
    assert CODEC.encode(ReceiptRef(1, 2, 3)) != CODEC.encode(ReceiptRef(1, 2, 4))


def test_a_handle_sealed_under_another_key_is_not_accepted() -> None:
    other = ReceiptCodec(bytes(32))
    assert CODEC.decode(other.encode(ReceiptRef(1, 2, 3))) is None


def test_a_handle_with_a_changed_delivery_but_the_old_seal_is_not_accepted() -> None:
    handle = CODEC.encode(ReceiptRef(1, 2, 3))
    raw = base64.urlsafe_b64decode(handle[3:])
    forged = raw[:23] + bytes([raw[23] ^ 1]) + raw[24:]  # nonce 3 -> 2, seal kept
    assert CODEC.decode("ek3" + base64.urlsafe_b64encode(forged).decode()) is None


def hmac_sealed_handle(key: bytes, ref: ReceiptRef) -> str:
    """A handle as versions before the BLAKE2b seal issued it ("ek2", HMAC-SHA256)."""
    raw = struct.pack(">QQQ", ref.queue_id, ref.seq, ref.nonce)
    mac = hmac.digest(key, raw, "sha256")[:12]
    return "ek2" + base64.urlsafe_b64encode(raw + mac).decode()


def test_a_handle_issued_before_the_upgrade_is_still_accepted() -> None:
    ref = ReceiptRef(7, 123_456, 2**62 + 5)
    assert CODEC.decode(hmac_sealed_handle(KEY, ref)) == ref


def test_an_old_style_handle_under_another_key_or_with_the_new_seal_is_not_accepted() -> None:
    ref = ReceiptRef(7, 8, 9)
    assert CODEC.decode(hmac_sealed_handle(bytes(32), ref)) is None
    assert CODEC.decode("ek2" + CODEC.encode(ref)[3:]) is None
    assert CODEC.decode("ek3" + hmac_sealed_handle(KEY, ref)[3:]) is None


def test_a_receipt_key_shorter_than_16_bytes_is_refused() -> None:
    with pytest.raises(ValueError):
        ReceiptCodec(b"short")


VALID = CODEC.encode(ReceiptRef(5, 6, 7))


@pytest.mark.parametrize(
    "handle",
    [
        "",
        "ek2",
        VALID[:-1],  # truncated
        VALID[:20],
        VALID + "A",  # too long
        VALID + "==",
        "ek1" + VALID[3:],  # other version
        "ek2" + VALID[3:],  # the earlier version's prefix on a new seal
        "EK2" + VALID[3:],
        VALID[3:],  # prefix missing
        "ek2" + "!" * 48,  # not base64
        "ek2" + "\u00e9" * 48,  # not ASCII
        "ek2" + "A" * 46 + "==",  # padding where data belongs
        "ek2" + " " * 48,
        "ek2" + "A" * 48,  # well formed, but not sealed by this broker
        "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq/Ao1eDcdK2p8q0U5xd3NahdAk9",  # an AWS handle
        "not a receipt handle",
    ],
)
def test_a_handle_ekiden_never_issued_decodes_to_none(handle: str) -> None:
    assert CODEC.decode(handle) is None


# --- sequence numbers --------------------------------------------------------------------


def test_a_sequence_number_is_twenty_digits() -> None:
    assert format_sequence_number(0) == "0" * 20
    assert format_sequence_number(42) == "0" * 18 + "42"
    assert format_sequence_number(U64_MAX) == str(U64_MAX)
    assert len(str(U64_MAX)) == 20


def test_sequence_numbers_sort_as_strings_in_numeric_order() -> None:
    seqs = [0, 1, 9, 10, 99, 100, 12345, 10**18, 2**63 - 1, 2**63, U64_MAX]
    formatted = [format_sequence_number(seq) for seq in seqs]
    assert sorted(formatted) == formatted
    assert len(set(formatted)) == len(formatted)


def test_a_larger_sequence_number_is_a_larger_string() -> None:
    for seq in (0, 9, 99, 999_999, 10**19 - 1):
        assert format_sequence_number(seq) < format_sequence_number(seq + 1)


# --- ARNs --------------------------------------------------------------------------------


def test_a_queue_arn_names_region_account_and_queue() -> None:
    assert queue_arn("us-east-1", "000000000000", "q") == "arn:aws:sqs:us-east-1:000000000000:q"


def test_a_queue_arn_parses_back_into_its_parts() -> None:
    arn = queue_arn("eu-west-1", "123456789012", "orders.fifo")
    assert parse_sqs_arn(arn) == ParsedArn("eu-west-1", "123456789012", "orders.fifo")


def test_an_arn_of_another_partition_parses() -> None:
    assert parse_sqs_arn("arn:aws-cn:sqs:cn-north-1:123456789012:q") == ParsedArn(
        "cn-north-1", "123456789012", "q"
    )


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "q",
        "arn:aws:sns:us-east-1:000000000000:q",
        "arn:aws:SQS:us-east-1:000000000000:q",
        "arn::sqs:us-east-1:000000000000:q",
        "arn:aws:sqs:us-east-1:000000000000",
        "arn:aws:sqs:us-east-1:000000000000:q:extra",
        "ARN:aws:sqs:us-east-1:000000000000:q",
        "urn:aws:sqs:us-east-1:000000000000:q",
        "http://localhost:9324/000000000000/q",
    ],
)
def test_anything_but_an_sqs_arn_parses_to_none(arn: str) -> None:
    assert parse_sqs_arn(arn) is None


# --- queue URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("http://localhost:9324/000000000000/q", "q"),
        ("http://localhost/000000000000/q", "q"),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q", "q"),
        ("https://sqs.us-east-1.amazonaws.com:443/123456789012/q", "q"),
        ("http://127.0.0.1:4566/000000000000/orders.fifo", "orders.fifo"),
        ("http://[::1]:9324/000000000000/q", "q"),
        ("http://localhost:9324/000000000000/q/", "q"),
        ("http://localhost:9324/000000000000/q?Action=SendMessage", "q"),
        ("/000000000000/q", "q"),
        ("000000000000/q", "q"),
        ("/000000000000/q/", "q"),
        ("https://queue.amazonaws.com/123456789012/q", "q"),  # legacy global endpoint
        ("https://us-east-1.queue.amazonaws.com/123456789012/q", "q"),  # legacy regional
        ("http://localhost:9324/queue/q", "q"),  # ElasticMQ-style legacy form
        ("http://localhost:4566/queue/us-east-1/000000000000/q", "q"),
    ],
)
def test_the_queue_name_is_the_last_path_segment_of_any_url_form(url: str, name: str) -> None:
    assert queue_name_from_url(url) == name


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/",
        "q",
        "/q",
        "http://localhost:9324",
        "http://localhost:9324/",
        "http://localhost:9324/q",
        "http://localhost:9324/000000000000/",
        "https://sqs.us-east-1.amazonaws.com",
        "http://localhost:9324/?Action=ListQueues",
    ],
)
def test_a_url_without_an_account_and_name_has_no_queue_name(url: str) -> None:
    assert queue_name_from_url(url) is None


def test_a_handle_still_decodes_after_the_codec_forgot_issuing_it() -> None:
    codec = ReceiptCodec(KEY)
    first = ReceiptRef(1, 1, 1)
    handle = codec.encode(first)
    for seq in range(2, 40_000):  # more than the two generations of remembered handles
        codec.encode(ReceiptRef(1, seq, 1))
    assert codec.decode(handle) == first  # unsealed again, not remembered
    assert ReceiptCodec(KEY).decode(handle) == first  # another codec with the same key


def test_a_remembered_handle_is_only_the_exact_text_issued() -> None:
    codec = ReceiptCodec(KEY)
    handle = codec.encode(ReceiptRef(1, 2, 3))
    assert codec.decode(handle) == ReceiptRef(1, 2, 3)
    assert codec.decode(handle[:-1] + ("A" if handle[-1] != "A" else "B")) is None
    assert ReceiptCodec(bytes(32)).decode(handle) is None
