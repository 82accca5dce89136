"""Message bodies, attributes and the MD5 digests SDKs verify (pure functions, no store)."""

from __future__ import annotations

import hashlib
import struct

import pytest

from ekiden.core.errors import InvalidMessageContents, InvalidParameterValue, MissingParameter
from ekiden.core.messages import (
    AttributeValue,
    attributes_size,
    check_body,
    check_message_attributes,
    content_dedup_id,
    first_invalid_character,
    md5_of_attributes,
    md5_of_body,
    select_attributes,
)

# --- an independent implementation of the SQS attribute digest ------------------------


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def reference_md5(attributes: dict[str, tuple[str, str | bytes]]) -> str:
    """MD5OfMessageAttributes as AWS documents it, written without ekiden's code:
    sorted by name; length-prefixed name, length-prefixed type, transport byte
    (1 String/Number, 2 Binary), length-prefixed value."""
    buffer = bytearray()
    for name in sorted(attributes, key=lambda n: n.encode("utf-8")):
        data_type, value = attributes[name]
        buffer += _field(name.encode("utf-8"))
        buffer += _field(data_type.encode("utf-8"))
        if isinstance(value, bytes):
            buffer += b"\x02" + _field(value)
        else:
            buffer += b"\x01" + _field(value.encode("utf-8"))
    return hashlib.md5(bytes(buffer)).hexdigest()


def as_values(attributes: dict[str, tuple[str, str | bytes]]) -> dict[str, AttributeValue]:
    return {
        name: AttributeValue(t, binary_value=v)
        if isinstance(v, bytes)
        else AttributeValue(t, string_value=v)
        for name, (t, v) in attributes.items()
    }


def s(value: str, data_type: str = "String") -> AttributeValue:
    return AttributeValue(data_type, string_value=value)


def n(value: str) -> AttributeValue:
    return AttributeValue("Number", string_value=value)


def b(value: bytes, data_type: str = "Binary") -> AttributeValue:
    return AttributeValue(data_type, binary_value=value)


# --- MD5OfMessageBody --------------------------------------------------------------------


def test_md5_of_body_matches_known_digests() -> None:
    assert md5_of_body("abc") == "900150983cd24fb0d6963f7d28e17f72"
    assert md5_of_body("") == "d41d8cd98f00b204e9800998ecf8427e"


def test_md5_of_body_digests_the_utf8_bytes_of_unicode_bodies() -> None:
    body = "héllo \u4e16\u754c \U0001f600"
    assert md5_of_body(body) == hashlib.md5(body.encode("utf-8")).hexdigest()


# --- MD5OfMessageAttributes / MD5OfMessageSystemAttributes -------------------------------


def test_the_system_attribute_digest_matches_a_vector_recorded_from_aws() -> None:
    digest = md5_of_attributes({"AWSTraceHeader": s("some-trace-id")})
    assert digest == "fdce4f2818803f2f73becc09a54792c0"


def test_the_reference_implementation_reproduces_the_aws_vector() -> None:
    assert reference_md5({"AWSTraceHeader": ("String", "some-trace-id")}) == (
        "fdce4f2818803f2f73becc09a54792c0"
    )


def test_no_attributes_have_no_digest() -> None:
    assert md5_of_attributes({}) is None


@pytest.mark.parametrize(
    "attributes",
    [
        {"color": ("String", "blue")},
        {"count": ("Number", "42")},
        {"blob": ("Binary", b"\x00\x01\x02\xff")},
        {"blob": ("Binary.png", b"\x89PNG")},
        {"label": ("String.custom-type", "x"), "n": ("Number.int", "-1.5e3")},
        {"b": ("String", "2"), "a": ("String", "1"), "C": ("String", "3"), "B": ("Number", "4")},
        {"name": ("String", "h\u00e9llo \u4e16\u754c \U0001f600")},
        {"\u00e9t\u00e9": ("String", "unicode name"), "ascii": ("String", "x")},
        {f"attr{i}": ("String", str(i) * (i + 1)) for i in range(10)},
        {
            "s": ("String", "text"),
            "n": ("Number", "3.14"),
            "b": ("Binary", b"bytes"),
        },
    ],
    ids=[
        "string",
        "number",
        "binary",
        "binary-custom",
        "custom-types",
        "sorted-by-name-case-sensitive",
        "unicode-value",
        "unicode-name",
        "ten-attributes",
        "mixed",
    ],
)
def test_the_attribute_digest_matches_an_independent_implementation(
    attributes: dict[str, tuple[str, str | bytes]],
) -> None:
    assert md5_of_attributes(as_values(attributes)) == reference_md5(attributes)


def test_the_attribute_digest_does_not_depend_on_insertion_order() -> None:
    forward = {"a": s("1"), "b": s("2"), "c": n("3")}
    backward = dict(reversed(list(forward.items())))
    assert md5_of_attributes(forward) == md5_of_attributes(backward)


def test_the_transport_byte_tells_binary_from_string_with_the_same_bytes() -> None:
    assert md5_of_attributes({"x": s("abc", "Binary")}) != md5_of_attributes(
        {"x": b(b"abc", "Binary")}
    )


def test_the_custom_type_suffix_is_part_of_the_digest() -> None:
    assert md5_of_attributes({"x": s("1", "String")}) != md5_of_attributes(
        {"x": s("1", "String.custom")}
    )


def test_lengths_are_counted_in_utf8_bytes_not_characters() -> None:
    # "é" is one character but two bytes; a character count would give another digest.
    wrong = hashlib.md5(
        _field(b"k") + _field(b"String") + b"\x01" + struct.pack(">I", 1) + "é".encode()
    ).hexdigest()
    assert md5_of_attributes({"k": s("é")}) == reference_md5({"k": ("String", "é")})
    assert md5_of_attributes({"k": s("é")}) != wrong


# --- check_body -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    [
        *("\t", "\n", "\r", "\x20", "~", "\x7f", "\ud7ff", "\ue000", "\ufffd"),
        *("\U00010000", "\U0010ffff", "\u00e9", "\U0001f600"),
    ],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_a_body_of_allowed_characters_is_accepted(char: str) -> None:
    check_body(char)
    check_body(f"a{char}b")
    assert first_invalid_character(f"x{char}y") is None


@pytest.mark.parametrize(
    "char",
    [
        *("\x00", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\udbff", "\udc00"),
        *("\udfff", "\ufffe", "\uffff"),
    ],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_a_body_with_a_disallowed_character_is_rejected(char: str) -> None:
    with pytest.raises(InvalidMessageContents):
        check_body(f"ok {char} ok")
    assert first_invalid_character(f"ok {char} ok") == char


def test_the_first_invalid_character_is_reported() -> None:
    assert first_invalid_character("a\x01b\x02") == "\x01"


def test_a_body_of_many_allowed_characters_is_accepted() -> None:
    check_body('{"json": true, "text": "caf\u00e9 \u2603 \U0001f680"}\r\n\t' * 100)


def test_an_empty_body_is_a_missing_parameter() -> None:
    # AWS: MissingParameter "The request must contain the parameter MessageBody."
    with pytest.raises(MissingParameter, match="MessageBody"):
        check_body("")


def test_the_body_error_names_the_first_invalid_character_in_hex() -> None:
    with pytest.raises(InvalidMessageContents, match="#x1F"):
        check_body("ok\x1fthen\x08")


# --- check_message_attributes: names -----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a", "A-b_c.d", "x" * 256, "AWS", "Amazon", "AWSTrace", "amazonia", "my.AWS.x", "0"],
)
def test_a_valid_attribute_name_is_accepted(name: str) -> None:
    check_message_attributes({name: s("v")})


@pytest.mark.parametrize(
    "name",
    [
        "AWS.x",
        "aws.x",
        "Aws.x",
        "aWs.trace",
        "Amazon.x",
        "amazon.x",
        "AMAZON.x",
        "aMaZoN.sqs",
    ],
)
def test_a_name_with_a_reserved_prefix_in_any_case_is_rejected(name: str) -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({name: s("v")})


@pytest.mark.parametrize(
    "name",
    ["", "a..b", ".a", "a.", ".", "..", "x" * 257, "a b", "a/b", "a:b", "\u00e9t\u00e9", "a*"],
)
def test_a_malformed_attribute_name_is_rejected(name: str) -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({name: s("v")})


def test_an_attribute_name_ending_in_a_newline_is_rejected() -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({"abc\n": s("v")})


def test_ten_attributes_are_accepted() -> None:
    check_message_attributes({f"a{i}": s("v") for i in range(10)})


def test_eleven_attributes_are_rejected() -> None:
    with pytest.raises(InvalidParameterValue, match="11"):
        check_message_attributes({f"a{i}": s("v") for i in range(11)})


def test_no_attributes_are_accepted() -> None:
    check_message_attributes({})
    check_message_attributes({}, system=True)


# --- check_message_attributes: data types and values -------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        s("v"),
        s("v", "String.custom"),
        s("v", "String." + "x" * 249),  # 256 characters in all
        n(
            "1",
        ),
        AttributeValue("Number.int", string_value="7"),
        b(b"\x00"),
        b(b"\xff" * 10, "Binary.jpeg"),
    ],
)
def test_each_base_type_with_or_without_a_custom_suffix_is_accepted(
    value: AttributeValue,
) -> None:
    check_message_attributes({"a": value})


@pytest.mark.parametrize(
    "data_type",
    ["", "string", "STRING", "Str", "StringX", "Integer", ".String", "String." + "x" * 250],
)
def test_an_unknown_or_overlong_data_type_is_rejected(data_type: str) -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({"a": AttributeValue(data_type, string_value="1")})


def test_a_binary_attribute_must_use_the_binary_field() -> None:
    with pytest.raises(InvalidParameterValue, match="Binary"):
        check_message_attributes({"a": AttributeValue("Binary", string_value="abc")})
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({"a": AttributeValue("Binary")})
    with pytest.raises(InvalidParameterValue):
        check_message_attributes(
            {"a": AttributeValue("Binary", string_value="x", binary_value=b"x")}
        )


def test_an_empty_binary_value_is_rejected() -> None:
    with pytest.raises(InvalidParameterValue, match="non-empty"):
        check_message_attributes({"a": b(b"")})


def test_a_string_or_number_attribute_must_use_the_string_field() -> None:
    for data_type in ("String", "Number"):
        with pytest.raises(InvalidParameterValue):
            check_message_attributes({"a": AttributeValue(data_type, binary_value=b"1")})
        with pytest.raises(InvalidParameterValue):
            check_message_attributes({"a": AttributeValue(data_type)})


def test_an_empty_string_value_is_rejected() -> None:
    with pytest.raises(InvalidParameterValue, match="non-empty"):
        check_message_attributes({"a": s("")})
    with pytest.raises(InvalidParameterValue, match="non-empty"):
        check_message_attributes({"a": n("")})


@pytest.mark.parametrize("char", ["\x00", "\x08", "\x1f", "\ud800", "\ufffe", "\uffff"])
def test_a_string_value_with_a_disallowed_character_is_rejected(char: str) -> None:
    with pytest.raises(InvalidParameterValue, match="invalid characters"):
        check_message_attributes({"a": s(f"x{char}")})


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\ud7ff", "\ue000", "\ufffd", "\U0010ffff"])
def test_a_string_value_with_allowed_edge_characters_is_accepted(char: str) -> None:
    check_message_attributes({"a": s(f"x{char}")})


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-0",
        "42",
        "-42",
        "+42",
        "3.14",
        "-0.001",
        ".5",
        "5.",
        "1e10",
        "1E+126",
        "9E+126",
        "1E-128",
        "-1E-128",
        "1" * 38,
        "-" + "9" * 38,
        "0." + "1" * 38,
        "1" * 38 + "0" * 10,  # trailing zeros are not significant
        "0" * 10 + "1" * 38,  # nor are leading ones
        "0E+1000",
    ],
)
def test_a_number_within_sqs_precision_and_range_is_accepted(text: str) -> None:
    check_message_attributes({"a": n(text)})


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "1a",
        "0x1A",
        "1..2",
        "1e",
        "e5",
        "--1",
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "1E+127",
        "1E-129",
        "1,000",
    ],
)
def test_a_value_that_is_not_an_sqs_number_is_rejected(text: str) -> None:
    with pytest.raises(InvalidParameterValue, match="number"):
        check_message_attributes({"a": n(text)})


@pytest.mark.parametrize(
    "text", ["1" * 39, "1" * 38 + "3", "1.000000000000000000000000000000000000001", "9" * 50]
)
def test_a_number_with_more_than_38_significant_digits_is_rejected(text: str) -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({"a": n(text)})


def test_a_number_with_underscore_grouping_is_rejected() -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({"a": n("1_000")})


def test_a_data_type_ending_in_a_newline_is_rejected() -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({"a": AttributeValue("Number\n", string_value="nan")})


# --- check_message_attributes: system attributes ----------------------------------------


def test_an_aws_trace_header_of_type_string_is_a_valid_system_attribute() -> None:
    check_message_attributes(
        {"AWSTraceHeader": s("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")},
        system=True,
    )


@pytest.mark.parametrize("name", ["Other", "awstraceheader", "AWS.TraceHeader", "color"])
def test_a_system_attribute_other_than_aws_trace_header_is_rejected(name: str) -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({name: s("v")}, system=True)


@pytest.mark.parametrize(
    "value", [n("1"), b(b"x"), s("v", "String.custom"), AttributeValue("", string_value="v")]
)
def test_an_aws_trace_header_of_another_type_is_rejected(value: AttributeValue) -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({"AWSTraceHeader": value}, system=True)


def test_an_empty_aws_trace_header_is_rejected() -> None:
    with pytest.raises(InvalidParameterValue):
        check_message_attributes({"AWSTraceHeader": s("")}, system=True)


def test_a_user_attribute_named_aws_trace_header_is_allowed() -> None:
    check_message_attributes({"AWSTraceHeader": s("x")})


# --- attributes_size ---------------------------------------------------------------------


def test_attribute_size_counts_name_type_and_value_bytes() -> None:
    assert attributes_size({}) == 0
    assert attributes_size({"ab": s("xyz")}) == 2 + 6 + 3
    assert attributes_size({"n": b(b"\x00\x01")}) == 1 + 6 + 2
    assert attributes_size({"n": n("12.5")}) == 1 + 6 + 4
    assert attributes_size({"c": s("v", "String.custom")}) == 1 + 13 + 1


def test_attribute_size_counts_utf8_bytes() -> None:
    assert attributes_size({"k": s("\u00e9\U0001f600")}) == 1 + 6 + 2 + 4


def test_attribute_size_sums_every_attribute() -> None:
    attributes = {"a": s("1"), "bb": n("22"), "ccc": b(b"333")}
    assert attributes_size(attributes) == (1 + 6 + 1) + (2 + 6 + 2) + (3 + 6 + 3)


# --- content_dedup_id --------------------------------------------------------------------


def test_the_content_dedup_id_is_the_sha256_hex_of_the_body() -> None:
    assert content_dedup_id("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_the_content_dedup_id_hashes_the_utf8_body() -> None:
    body = "caf\u00e9 \U0001f600"
    assert content_dedup_id(body) == hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert len(content_dedup_id(body)) == 64


def test_different_bodies_have_different_content_dedup_ids() -> None:
    assert content_dedup_id("a") != content_dedup_id("b")


# --- select_attributes -------------------------------------------------------------------

ATTRS = {
    "color": s("blue"),
    "size": n("3"),
    "geo.lat": n("1.5"),
    "geo.lon": n("2.5"),
    "geometry": s("x"),
    "Geo.alt": n("9"),
}


def test_nothing_is_selected_when_nothing_is_requested() -> None:
    assert select_attributes(ATTRS, None) == {}
    assert select_attributes(ATTRS, []) == {}


def test_nothing_is_selected_from_a_message_without_attributes() -> None:
    assert select_attributes({}, ["All"]) == {}


def test_all_selects_every_attribute() -> None:
    assert select_attributes(ATTRS, ["All"]) == ATTRS


def test_dot_star_selects_every_attribute() -> None:
    assert select_attributes(ATTRS, [".*"]) == ATTRS


def test_all_wins_over_other_names_in_the_same_request() -> None:
    assert select_attributes(ATTRS, ["color", "All"]) == ATTRS


def test_exact_names_select_only_those_attributes() -> None:
    assert select_attributes(ATTRS, ["color", "size", "missing"]) == {
        "color": ATTRS["color"],
        "size": ATTRS["size"],
    }


def test_exact_names_are_case_sensitive() -> None:
    assert select_attributes(ATTRS, ["Color"]) == {}


def test_a_prefix_pattern_selects_names_that_start_with_the_prefix_and_a_dot() -> None:
    assert select_attributes(ATTRS, ["geo.*"]) == {
        "geo.lat": ATTRS["geo.lat"],
        "geo.lon": ATTRS["geo.lon"],
    }


def test_prefixes_and_exact_names_combine() -> None:
    assert select_attributes(ATTRS, ["Geo.*", "color"]) == {
        "Geo.alt": ATTRS["Geo.alt"],
        "color": ATTRS["color"],
    }
