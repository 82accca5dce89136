"""AWS Signature Version 4 for the bench's requests, with the standard library only.

Only what an AWS JSON 1.0 POST needs: a path without a query string, headers chosen by
the caller, a body hashed with SHA-256. The signing key is derived once per date and
reused. Emulators (ekiden, moto, LocalStack) ignore signatures but some (moto) route by
the service named in the credential scope, so unsigned runs send :func:`dummy_authorization`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

__all__ = ["ALGORITHM", "Credentials", "Signer", "dummy_authorization"]

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Credentials:
    """An access key, its secret and (for temporary credentials) a session token."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _canonical_query(query: str) -> str:
    """Parameters sorted by name, each part percent-encoded once (``""`` for none)."""
    pairs = sorted(
        (quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~"))
        for name, _, value in (item.partition("=") for item in query.split("&") if item)
    )
    return "&".join(f"{name}={value}" for name, value in pairs)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def _canonical_value(value: str) -> str:
    return " ".join(value.split())


def dummy_authorization(region: str, service: str = "sqs", access_key: str = "ekidenbench") -> str:
    """An ``Authorization`` value with a well-formed credential scope and no real signature.

    ``access_key`` is the key id it names (ekiden reports it as a message's SenderId).
    """
    return (
        f"{ALGORITHM} Credential={access_key}/20000101/{region}/{service}/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={'0' * 64}"
    )


class Signer:
    """Signs requests for one region and service with one set of credentials.

    ``sign`` takes the request's headers (any case; ``host`` included) and returns the
    headers to add: ``X-Amz-Date``, ``X-Amz-Security-Token`` when there is a session
    token, and ``Authorization``. Every header passed in is signed, so pass only headers
    that reach the server unchanged.
    """

    def __init__(self, credentials: Credentials, region: str, service: str = "sqs") -> None:
        self._credentials = credentials
        self._region = region
        self._service = service
        self._key_date = ""
        self._key = b""

    def _signing_key(self, date: str) -> bytes:
        if date != self._key_date:
            key = _hmac(f"AWS4{self._credentials.secret_access_key}".encode(), date)
            key = _hmac(key, self._region)
            key = _hmac(key, self._service)
            self._key = _hmac(key, "aws4_request")
            self._key_date = date
        return self._key

    def canonical_request(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[str, str]:
        """The canonical request and its signed-headers list (both as in the AWS docs).
        ``path`` may end in ``?query`` (the bench never sends one; other clients do)."""
        path, _, query = path.partition("?")
        canonical = {name.lower(): _canonical_value(value) for name, value in headers.items()}
        names = sorted(canonical)
        signed_headers = ";".join(names)
        lines = [
            method,
            quote(path or "/", safe="/~"),
            _canonical_query(query),
            *(f"{name}:{canonical[name]}" for name in names),
            "",
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        ]
        return "\n".join(lines), signed_headers

    def sign(
        self, method: str, path: str, headers: dict[str, str], body: bytes, amz_date: str
    ) -> dict[str, str]:
        """The headers that sign this request at ``amz_date`` (``YYYYMMDDTHHMMSSZ``, UTC)."""
        added = {"X-Amz-Date": amz_date}
        if self._credentials.session_token:
            added["X-Amz-Security-Token"] = self._credentials.session_token
        canonical, signed_headers = self.canonical_request(method, path, {**headers, **added}, body)
        date = amz_date[:8]
        scope = f"{date}/{self._region}/{self._service}/aws4_request"
        string_to_sign = "\n".join(
            [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signature = hmac.new(
            self._signing_key(date), string_to_sign.encode(), hashlib.sha256
        ).hexdigest()
        added["Authorization"] = (
            f"{ALGORITHM} Credential={self._credentials.access_key_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        return added
