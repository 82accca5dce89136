"""Compact, stable encoding of message attributes for the ``messages`` table."""

from __future__ import annotations

import base64

import orjson

from ekiden.core.messages import AttributeValue


def encode_attributes(attributes: dict[str, AttributeValue]) -> bytes | None:
    """``None`` for no attributes; otherwise a JSON list of [name, type, kind, value]."""
    if not attributes:
        return None
    rows = []
    for name, value in attributes.items():
        if value.binary_value is not None:
            rows.append((name, value.data_type, "b", base64.b64encode(value.binary_value).decode()))
        else:
            rows.append((name, value.data_type, "s", value.string_value or ""))
    return orjson.dumps(rows)


def decode_attributes(blob: bytes | str | None) -> dict[str, AttributeValue]:
    """The attributes ``encode_attributes`` wrote (as read, or as their text)."""
    if not blob:
        return {}
    result: dict[str, AttributeValue] = {}
    for name, data_type, kind, value in orjson.loads(blob):
        if kind == "b":
            result[name] = AttributeValue(data_type, binary_value=base64.b64decode(value))
        else:
            result[name] = AttributeValue(data_type, string_value=value)
    return result
