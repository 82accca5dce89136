"""Identifiers: message ids, receipt handles, sequence numbers, ARNs and queue URLs.

Receipt handles are opaque to clients but carry what the store needs to find the
delivery they name: the queue, the message row and the per-delivery nonce, sealed with a
MAC (keyed BLAKE2b; handles sealed with HMAC-SHA256 by earlier versions are accepted
too). A handle whose nonce no longer matches names an earlier delivery (stale); one whose
seal does not verify was never issued by ekiden (forged).
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import itertools
import os
import struct
import threading
from dataclasses import dataclass
from typing import NamedTuple

_HANDLE_PREFIX = "ek3"  # sealed with keyed BLAKE2b
_HMAC_HANDLE_PREFIX = "ek2"  # sealed with HMAC-SHA256 by earlier versions; still accepted
_HANDLE_STRUCT = struct.Struct(">QQQ")
_MAC_BYTES = 12
_HANDLE_CHARS = len(_HANDLE_PREFIX) + 4 * (_HANDLE_STRUCT.size + _MAC_BYTES) // 3
_ISSUED_KEPT = 16_384  # recently issued handles a codec remembers, per generation
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


class _RandomPool(threading.local):
    """Random bytes from the OS, fetched 64 KiB at a time (one pool per thread).

    ``uuid.uuid4()`` and ``secrets`` make one getrandom() call per id; on virtualised
    hosts a system call is dear, and ids are minted on every send and every request.
    """

    _CHUNK = 65_536

    def __init__(self) -> None:
        self.buffer = b""
        self.position = 0

    def take(self, size: int) -> bytes:
        if self.position + size > len(self.buffer):
            self.buffer = os.urandom(self._CHUNK)
            self.position = 0
        start = self.position
        self.position = start + size
        return self.buffer[start : start + size]


_POOL = _RandomPool()
_VARIANT = "89ab"


class _UuidSequence:
    """UUID-shaped ids (version 4 layout): a random prefix (74 bits) drawn once, then a
    counter.

    Message ids must be unique, not secret (receipt handles carry the secret), and one is
    minted for every message sent: formatting a counter costs a fraction of drawing and
    formatting 122 fresh random bits. A new process draws a new prefix, so ids stay unique
    across restarts (two prefixes collide with odds of 2**-74).
    """

    def __init__(self) -> None:
        h = os.urandom(10).hex()
        self._prefix = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-"
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFF_FFFF_FFFF:012x}"


new_message_id = _UuidSequence()
"""A fresh message id in the UUID form SQS uses (``new_message_id()``)."""
new_request_id = _UuidSequence()
"""A fresh request id (``x-amzn-RequestId``, ``<RequestId>``)."""


def new_receipt_nonce() -> int:
    """A random 63-bit nonce that tells deliveries of one message apart."""
    return int.from_bytes(_POOL.take(8), "big") >> 1


class ReceiptRef(NamedTuple):
    """What a receipt handle names: one delivery of one message of one queue.

    A named tuple rather than a frozen dataclass: one is made for every message received
    and every one deleted, and a frozen dataclass's constructor costs three times more.
    """

    queue_id: int
    seq: int
    nonce: int


class ReceiptCodec:
    """Turns deliveries into opaque receipt handles and back.

    A handle carries the queue, the message row and the delivery nonce, sealed with an
    HMAC under the broker's secret key. So a handle ekiden never issued (forged, mangled,
    or from another broker) is told apart from a genuine but stale one: the first is
    ``ReceiptHandleIsInvalid``, the second an expected outcome (SQS lets a delete with an
    old handle succeed).
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the receipt key must have at least 16 bytes")
        self._key = key
        # Handles issued lately, for a decode without unsealing: most are returned by a
        # DeleteMessage within moments, and a handle found here was made by this codec,
        # so it is genuine by construction. Two generations of at most _ISSUED_KEPT
        # entries each bound the memory (about 8 MiB) without per-entry eviction.
        self._issued: dict[str, ReceiptRef] = {}
        self._issued_before: dict[str, ReceiptRef] = {}
        # Keyed BLAKE2 is a MAC by design and, copied from a keyed state, costs a tenth
        # of an HMAC-SHA256: a handle is sealed for every message received and checked
        # for every one deleted.
        blake_key = key if len(key) <= 64 else hashlib.sha256(key).digest()
        self._keyed = hashlib.blake2b(key=blake_key, digest_size=_MAC_BYTES)

    def _mac(self, raw: bytes) -> bytes:
        state = self._keyed.copy()
        state.update(raw)
        return state.digest()

    def _hmac(self, raw: bytes) -> bytes:
        return hmac.digest(self._key, raw, "sha256")[:_MAC_BYTES]

    def encode(self, ref: ReceiptRef) -> str:
        raw = _HANDLE_STRUCT.pack(ref.queue_id, ref.seq, ref.nonce)
        text = binascii.b2a_base64(raw + self._mac(raw), newline=False).translate(_TO_URLSAFE)
        handle = _HANDLE_PREFIX + text.decode("ascii")
        issued = self._issued
        if len(issued) >= _ISSUED_KEPT:
            self._issued_before = issued
            self._issued = issued = {}
        issued[handle] = ref
        return handle

    def decode(self, handle: str) -> ReceiptRef | None:
        """The delivery a handle names, or ``None`` when ekiden never issued it."""
        ref = self._issued.get(handle) or self._issued_before.get(handle)
        if ref is not None:
            return ref
        if len(handle) != _HANDLE_CHARS:
            return None
        prefix = handle[: len(_HANDLE_PREFIX)]
        if prefix == _HANDLE_PREFIX:
            seal = self._mac
        elif prefix == _HMAC_HANDLE_PREFIX:
            seal = self._hmac  # issued before the upgrade, its message still in flight
        else:
            return None
        try:
            text = handle[len(_HANDLE_PREFIX) :].encode("ascii").translate(_FROM_URLSAFE)
            sealed = binascii.a2b_base64(text, strict_mode=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return None
        raw, mac = sealed[: _HANDLE_STRUCT.size], sealed[_HANDLE_STRUCT.size :]
        if len(raw) != _HANDLE_STRUCT.size or not hmac.compare_digest(mac, seal(raw)):
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


@functools.lru_cache(maxsize=4096)  # parsed on every request; clients reuse a few URLs
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
