"""SQS message digests computed from the AWS specification, independently of ekiden.

The tests compare what the server returns against these rather than against ekiden's own
implementation, so that a wrong digest cannot be confirmed by the code that produced it.
Neither aws-cli nor botocore check MD5OfMessageAttributes themselves.

Attribute values are ``{"DataType": ..., "StringValue": str}`` or
``{"DataType": ..., "BinaryValue": bytes}`` (the shape of the SQS API).

Standard library only: ``old_boto3_scenarios.py`` imports this module from the
``.venv-query`` interpreter, where neither ekiden nor pytest is installed.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """Sorted by name: length-prefixed name, data type, a transport byte, length-prefixed value."""

    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        digest.update(field(name.encode("utf-8")))
        digest.update(field(value["DataType"].encode("utf-8")))
        if "BinaryValue" in value:
            digest.update(b"\x02" + field(bytes(value["BinaryValue"])))
        else:
            digest.update(b"\x01" + field(value["StringValue"].encode("utf-8")))
    return digest.hexdigest()
