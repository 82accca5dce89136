"""Verification of AWS Signature Version 4 (``AWS4-HMAC-SHA256``), both forms:

* header form: ``Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/
  <service>/aws4_request, SignedHeaders=<h1;h2...>, Signature=<hex>`` with the time in
  ``X-Amz-Date`` (or, failing that, an RFC 1123 ``Date`` header);
* presigned query form: ``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
  ``X-Amz-Expires`` (1 to 604800 seconds), ``X-Amz-SignedHeaders`` and
  ``X-Amz-Signature`` in the query string.

The canonical request is built as the AWS specification says for every service but S3
(and as botocore signs): the path has its dot segments and repeated slashes removed and
is then percent-encoded (so an already-encoded path is encoded a second time); the
query parameters are decoded, re-encoded with the unreserved set ``A-Za-z0-9-_.~`` and
sorted by name, then value (``X-Amz-Signature`` left out); each signed header is
lower-cased with its value trimmed and inner whitespace runs collapsed. The payload hash
is ``x-amz-content-sha256`` when given (it must be the body's SHA-256; the literal
``UNSIGNED-PAYLOAD`` is accepted only in presigned URLs), else the body's SHA-256; a
presigned URL signed with ``UNSIGNED-PAYLOAD`` and no such parameter verifies too, but
only without a body (the signature would not cover it).

Time: a header-form signature is valid within 5 minutes either side of its date (AWS:
``SignatureDoesNotMatch`` "Signature expired" / "Signature not yet current"); a
presigned URL from its date (less the same skew) until date + ``X-Amz-Expires``, after
which ``RequestExpired``. Region and service of the credential scope are taken as the
client states them: ekiden is one endpoint for every service and region name, and the
scope is part of what is signed, so it cannot be altered.

Cost: the signing key (four HMACs) is derived once per (key, date, region, service) and
cached; a request then costs one SHA-256 of the body, one of the canonical request and
one HMAC. Errors raise the domain errors of :mod:`ekiden.core.errors`; their messages
are AWS's wording.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import quote, unquote_to_bytes

from ekiden.core.errors import (
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureDoesNotMatch,
)

__all__ = [
    "ALGORITHM",
    "MAX_EXPIRES_S",
    "SKEW_S",
    "UNSIGNED_PAYLOAD",
    "SigV4Verifier",
    "SignedRequest",
    "Verified",
    "canonical_query",
    "canonical_uri",
]

ALGORITHM: Final = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
SKEW_S: Final = 5 * 60
MAX_EXPIRES_S: Final = 604800
_KEY_CACHE_MAX: Final = 4096
_EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()

_SIGNATURE_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service "
    "documentation for details."
)
_INVALID_TOKEN: Final = "The security token included in the request is invalid."
_MISSING_TOKEN: Final = (
    "The request must contain either a valid (registered) AWS access key ID or X.509 certificate."
)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What verification needs of an HTTP request: ``path`` and ``query`` exactly as on
    the wire (latin-1 text of the raw bytes, not percent-decoded), header names in lower
    case."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose signature holds: the key that signed it and its scope."""

    access_key_id: str
    region: str
    service: str
    presigned: bool


@dataclass(frozen=True, slots=True)
class _Parts:
    access_key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # YYYYMMDDTHHMMSSZ
    expires_s: int | None  # presigned only
    payload_hash: str | None  # the declared hash, None: hash the body


def canonical_uri(path: str) -> str:
    """The canonical URI of a raw request path (non-S3 rules, as botocore signs it)."""
    if not path:
        return "/"
    segments = [s for s in path.split("/") if s and s != "."]
    kept: list[str] = []
    for segment in segments:
        if segment == "..":
            if kept:
                kept.pop()
        else:
            kept.append(segment)
    normalized = ("/" if path[0] == "/" else "") + "/".join(kept)
    if path[-1] == "/" and kept:
        normalized += "/"
    return quote(normalized.encode("latin-1"), safe="/~")


def _encode(raw: str) -> str:
    return quote(unquote_to_bytes(raw.encode("latin-1")), safe="-_.~")


def canonical_query(query: str, *, drop: str = "") -> str:
    """The canonical query string of a raw query (``drop``: a parameter to leave out)."""
    if not query:
        return ""
    pairs: list[tuple[str, str]] = []
    for item in query.split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        encoded = _encode(name)
        if encoded != drop:
            pairs.append((encoded, _encode(value)))
    pairs.sort()
    return "&".join(f"{name}={value}" for name, value in pairs)


def _query_params(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in query.split("&"):
        name, _, value = item.partition("=")
        if name.startswith("X-Amz-"):
            params[name] = unquote_to_bytes(value.encode("latin-1")).decode("utf-8", "replace")
    return params


def _header_parts(authorization: str) -> dict[str, str]:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(
            f"Unsupported Authorization type {algorithm[:40]!r}: only {ALGORITHM} is accepted."
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, equals, value = item.strip().partition("=")
        if equals:
            parts[name] = value.strip()
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(name):
            raise IncompleteSignature(
                f"Authorization header requires '{name}' parameter. "
                f"Authorization={authorization[:200]}"
            )
    return parts


def _amz_date(headers: Mapping[str, str]) -> str:
    value = headers.get("x-amz-date")
    if value is not None:
        return value.strip()
    date = headers.get("date")
    if date is not None:
        try:
            parsed = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(parsed.timestamp()))
    raise IncompleteSignature(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def _epoch_s(amz_date: str) -> int:
    try:
        parsed = time.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    except ValueError:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date[:40]}'."
        ) from None
    return calendar.timegm(parsed)


def _scope(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise IncompleteSignature(
            f"Credential should be scoped to a valid region and service, and end in "
            f"aws4_request; got '{credential[:200]}'."
        )
    return parts[0], parts[1], parts[2], parts[3]


def _parse(request: SignedRequest) -> _Parts:
    authorization = request.headers.get("authorization")
    presigned = "X-Amz-Algorithm=" in request.query or "X-Amz-Signature=" in request.query
    if authorization is not None and presigned:
        raise IncompleteSignature(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
            "or the Authorization header should be specified."
        )
    if authorization is not None:
        parts = _header_parts(authorization)
        key, date, region, service = _scope(parts["Credential"])
        amz_date = _amz_date(request.headers)
        declared = request.headers.get("x-amz-content-sha256")
        if declared is not None and declared.strip() == UNSIGNED_PAYLOAD:
            raise SignatureDoesNotMatch("UNSIGNED-PAYLOAD is accepted only in presigned URLs.")
        return _Parts(
            key,
            date,
            region,
            service,
            tuple(parts["SignedHeaders"].split(";")),
            parts["Signature"],
            amz_date,
            None,
            declared.strip() if declared is not None else None,
        )
    if not presigned:
        raise MissingAuthenticationToken(_MISSING_TOKEN)
    params = _query_params(request.query)
    for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires"):
        if not params.get(name):
            raise IncompleteSignature(f"Query-string authentication requires the {name} parameter.")
    for name in ("X-Amz-SignedHeaders", "X-Amz-Signature"):
        if not params.get(name):
            raise IncompleteSignature(f"Query-string authentication requires the {name} parameter.")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignature(
            f'X-Amz-Algorithm only supports "{ALGORITHM}"; got {params["X-Amz-Algorithm"][:40]!r}.'
        )
    expires = params["X-Amz-Expires"]
    if not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES_S:
        raise IncompleteSignature(
            f"X-Amz-Expires must be a whole number of seconds from 1 to {MAX_EXPIRES_S} "
            f"(one week); got {expires[:20]!r}."
        )
    key, date, region, service = _scope(params["X-Amz-Credential"])
    declared = params.get("X-Amz-Content-Sha256") or request.headers.get("x-amz-content-sha256")
    return _Parts(
        key,
        date,
        region,
        service,
        tuple(params["X-Amz-SignedHeaders"].split(";")),
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        int(expires),
        declared.strip() if declared is not None else None,
    )


def _check_time(parts: _Parts, now_s: float) -> None:
    signed_at = _epoch_s(parts.amz_date)
    if parts.date != parts.amz_date[:8]:
        raise SignatureDoesNotMatch(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            f"date from HTTP: '{parts.date}' != '{parts.amz_date[:8]}', from "
            f"'{parts.amz_date}'."
        )
    now = int(now_s)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    if signed_at > now + SKEW_S:
        limit = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now + SKEW_S))
        raise SignatureDoesNotMatch(
            f"Signature not yet current: {parts.amz_date} is still later than {limit} "
            f"({stamp} + 5 min.)"
        )
    if parts.expires_s is not None:
        if now > signed_at + parts.expires_s:
            raise RequestExpired("Request has expired.")
        return
    if signed_at < now - SKEW_S:
        limit = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - SKEW_S))
        raise SignatureDoesNotMatch(
            f"Signature expired: {parts.amz_date} is now earlier than {limit} ({stamp} - 5 min.)"
        )


def _canonical_headers(parts: _Parts, headers: Mapping[str, str]) -> str:
    names = parts.signed_headers
    if "host" not in names:
        raise SignatureDoesNotMatch("The 'Host' header must be signed.")
    if list(names) != sorted(set(names)):
        raise SignatureDoesNotMatch("SignedHeaders must be lower case, sorted and distinct.")
    lines: list[str] = []
    for name in names:
        value = headers.get(name)
        if value is None:
            raise SignatureDoesNotMatch(f"The signed header '{name[:60]}' is not in the request.")
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)


class SigV4Verifier:
    """Verifies SigV4 signatures against a fixed set of keys.

    ``secrets`` maps access key id -> secret access key. ``now_s`` is the wall clock
    (seconds since the epoch), injected so tests can move it.
    """

    def __init__(self, secrets: Mapping[str, str], now_s: Callable[[], float] = time.time) -> None:
        self._secrets = dict(secrets)
        self._now_s = now_s
        self._keys: dict[tuple[str, str, str, str], bytes] = {}

    def _signing_key(self, key_id: str, secret: str, date: str, region: str, service: str) -> bytes:
        cache_key = (key_id, date, region, service)
        key = self._keys.get(cache_key)
        if key is None:
            key = ("AWS4" + secret).encode("utf-8")
            for part in (date, region, service, "aws4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            if len(self._keys) >= _KEY_CACHE_MAX:  # scopes are client-chosen: bound them
                self._keys.clear()
            self._keys[cache_key] = key
        return key

    def verify(self, request: SignedRequest) -> Verified:
        """The verified signer of ``request``.

        Raises:
            MissingAuthenticationToken: no signature of either form.
            IncompleteSignature: a malformed signature (a missing part, a bad date).
            InvalidClientTokenId: the access key is not configured.
            SignatureDoesNotMatch: a wrong signature, or a date outside the skew window.
            RequestExpired: a presigned URL past its expiry.
        """
        parts = _parse(request)
        secret = self._secrets.get(parts.access_key_id)
        if secret is None:
            raise InvalidClientTokenId(_INVALID_TOKEN)
        _check_time(parts, self._now_s())
        presigned = parts.expires_s is not None
        head = "\n".join(
            (
                request.method,
                canonical_uri(request.path),
                canonical_query(request.query, drop="X-Amz-Signature" if presigned else ""),
                _canonical_headers(parts, request.headers),
                ";".join(parts.signed_headers),
            )
        )
        body_hash = hashlib.sha256(request.body).hexdigest() if request.body else _EMPTY_SHA256
        declared = parts.payload_hash
        if declared is not None and declared not in (UNSIGNED_PAYLOAD, body_hash):
            raise SignatureDoesNotMatch(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        hashes = [parts.payload_hash or body_hash]
        if presigned and parts.payload_hash is None:
            hashes.append(UNSIGNED_PAYLOAD)  # presigners may sign without the body
        key = self._signing_key(
            parts.access_key_id, secret, parts.date, parts.region, parts.service
        )
        scope = f"{parts.date}/{parts.region}/{parts.service}/aws4_request"
        for payload_hash in hashes:
            # latin-1 gives back the bytes of the wire (headers are decoded that way).
            canonical = f"{head}\n{payload_hash}".encode("latin-1", "replace")
            string_to_sign = (
                f"{ALGORITHM}\n{parts.amz_date}\n{scope}\n{hashlib.sha256(canonical).hexdigest()}"
            )
            expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, parts.signature):
                if payload_hash == UNSIGNED_PAYLOAD and request.body:
                    # The signature does not cover this body: whoever holds a presigned
                    # URL could attach any body (with an X-Amz-Target header, any SQS
                    # JSON action) and act as its signer. Presigned URLs carry their
                    # parameters in the query; a body needs a header-form signature.
                    raise SignatureDoesNotMatch(
                        "A request presigned with UNSIGNED-PAYLOAD may not carry a body."
                    )
                return Verified(parts.access_key_id, parts.region, parts.service, presigned)
        raise SignatureDoesNotMatch(_SIGNATURE_MISMATCH)
