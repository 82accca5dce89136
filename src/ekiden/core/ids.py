"""Identifiers: message ids, receipt handles, sequence numbers, ARNs and queue URLs.

Receipt handles are opaque to clients but carry what the store needs to find the
delivery they name: the queue, the message row and the per-delivery nonce. A handle whose
nonce no longer matches names an earlier delivery (stale); one that does not decode at
all was never issued by ekiden (forged).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import struct
import uuid
from dataclasses import dataclass

_HANDLE_PREFIX = "ek1"
_HANDLE_STRUCT = struct.Struct(">QQQ")


def new_message_id() -> str:
    """A fresh random message id in the UUID form SQS uses."""
    return str(uuid.uuid4())


def new_receipt_nonce() -> int:
    """A random 63-bit nonce that tells deliveries of one message apart."""
    return secrets.randbits(63)


@dataclass(frozen=True, slots=True)
class ReceiptRef:
    """What a receipt handle names: one delivery of one message of one queue."""

    queue_id: int
    seq: int
    nonce: int

    def encode(self) -> str:
        raw = _HANDLE_STRUCT.pack(self.queue_id, self.seq, self.nonce)
        return _HANDLE_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_receipt_handle(handle: str) -> ReceiptRef | None:
    """The delivery a handle names, or ``None`` when ekiden never issued such a handle."""
    if not handle.startswith(_HANDLE_PREFIX) or len(handle) != len(_HANDLE_PREFIX) + 32:
        return None
    try:
        raw = base64.urlsafe_b64decode(handle[len(_HANDLE_PREFIX) :] + "==")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _HANDLE_STRUCT.size:
        return None
    queue_id, seq, nonce = _HANDLE_STRUCT.unpack(raw)
    return ReceiptRef(queue_id, seq, nonce)


def format_sequence_number(seq: int) -> str:
    """The FIFO SequenceNumber for a message row: a 20-digit, strictly increasing string."""
    return f"{seq:020d}"


def queue_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{name}"


@dataclass(frozen=True, slots=True)
class ParsedArn:
    region: str
    account_id: str
    resource: str


def parse_sqs_arn(arn: str) -> ParsedArn | None:
    """The parts of ``arn:aws:sqs:<region>:<account>:<name>``, or ``None`` if not that form."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not parts[1]:
        return None
    return ParsedArn(region=parts[3], account_id=parts[4], resource=parts[5])


def queue_name_from_url(queue_url: str) -> str | None:
    """The queue name of any URL form clients use: ``http(s)://host[:port]/<account>/<name>``,
    a bare ``/<account>/<name>`` path, or the legacy ``.../queue/<name>`` form.

    Returns ``None`` when no name can be found.
    """
    rest = queue_url
    if "://" in rest:
        rest = rest.split("://", 1)[1]
        slash = rest.find("/")
        if slash < 0:
            return None
        rest = rest[slash:]
    rest = rest.split("?", 1)[0].strip("/")
    if not rest:
        return None
    segments = rest.split("/")
    if len(segments) < 2:
        return None
    return segments[-1] or None
