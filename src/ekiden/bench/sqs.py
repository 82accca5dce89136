"""SQS over AWS JSON 1.0 for the bench: endpoints, request bytes, answers, admin calls.

Every request is ``POST /`` with ``X-Amz-Target: AmazonSQS.<Action>`` and
``Content-Type: application/x-amz-json-1.0``; the queue travels as ``QueueUrl`` in the
JSON body, so one endpoint serves every queue. Requests are signed with SigV4 when
credentials are given, and carry a dummy ``Authorization`` otherwise (see
:mod:`ekiden.bench.sigv4`).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from ekiden.bench.http import Channel, Target
from ekiden.bench.sigv4 import Credentials, Signer, dummy_authorization

__all__ = [
    "DEFAULT_REGION",
    "EndpointConfig",
    "RequestBuilder",
    "SqsAdmin",
    "SqsError",
    "error_kind",
]

DEFAULT_REGION: Final = "us-east-1"
_CONTENT_TYPE: Final = "application/x-amz-json-1.0"
_SQS_HOST = re.compile(r"^sqs[.-]([a-z0-9-]+)\.amazonaws\.com", re.IGNORECASE)
_DUMMY_DATE: Final = "20000101T000000Z"


@dataclass(frozen=True)
class EndpointConfig:
    """One SQS endpoint as the bench talks to it (picklable: workers receive it)."""

    url: str
    host: str
    port: int
    tls: bool
    region: str
    credentials: Credentials | None = None

    @classmethod
    def parse(
        cls, url: str, region: str | None = None, credentials: Credentials | None = None
    ) -> EndpointConfig:
        """Read ``http[s]://host[:port][/]``; the region defaults to the one in an AWS
        host name (``sqs.<region>.amazonaws.com``), else ``us-east-1``.

        Raises:
            ValueError: not an http(s) URL with a host, or it has a path or query.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint must be an http:// or https:// URL, not {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"endpoint must not have a path or query: {url!r}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"endpoint has a bad port: {url!r}") from exc
        tls = parts.scheme == "https"
        if region is None:
            found = _SQS_HOST.match(parts.hostname)
            region = found.group(1) if found else DEFAULT_REGION
        return cls(
            url=f"{parts.scheme}://{parts.netloc}",
            host=parts.hostname,
            port=port or (443 if tls else 80),
            tls=tls,
            region=region,
            credentials=credentials,
        )

    @property
    def target(self) -> Target:
        return Target(self.host, self.port, self.tls)

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


class RequestBuilder:
    """Builds complete HTTP/1.1 requests of SQS actions for one endpoint.

    Unsigned requests are a cached head per action plus the length and the body, so the
    hot path is two concatenations. Signed requests compute a fresh SigV4 signature
    (with the date cached per second).
    """

    def __init__(self, endpoint: EndpointConfig) -> None:
        self._endpoint = endpoint
        self._host = endpoint.host_header
        credentials = endpoint.credentials
        self._signer = Signer(credentials, endpoint.region) if credentials else None
        self._heads: dict[str, bytes] = {}
        self._date_second = -1
        self._date = ""

    def _head(self, action: str) -> bytes:
        head = self._heads.get(action)
        if head is None:
            head = (
                f"POST / HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: {_CONTENT_TYPE}\r\n"
                f"X-Amz-Target: AmazonSQS.{action}\r\nX-Amz-Date: {_DUMMY_DATE}\r\n"
                f"Authorization: {dummy_authorization(self._endpoint.region)}\r\n"
                "Content-Length: "
            ).encode()
            self._heads[action] = head
        return head

    def _amz_date(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
        return self._date

    def build(self, action: str, payload: bytes) -> bytes:
        """The full request for ``action`` with the JSON ``payload`` as body."""
        if self._signer is None:
            return self._head(action) + b"%d\r\n\r\n" % len(payload) + payload
        headers = {
            "Host": self._host,
            "Content-Type": _CONTENT_TYPE,
            "X-Amz-Target": f"AmazonSQS.{action}",
        }
        headers.update(self._signer.sign("POST", "/", headers, payload, self._amz_date()))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return f"POST / HTTP/1.1\r\n{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload

    def build_json(self, action: str, payload: dict[str, Any]) -> bytes:
        return self.build(action, orjson.dumps(payload))


def error_kind(status: int, body: bytes) -> str:
    """A short label of an error answer: ``HTTP 400 QueueDoesNotExist``."""
    code = ""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        raw = data.get("__type") or data.get("code") or data.get("Code") or ""
        code = str(raw).rsplit("#", 1)[-1]
    return f"HTTP {status} {code}".rstrip()


class SqsError(Exception):
    """An administrative call (create, delete, attributes) did not succeed."""

    def __init__(self, action: str, detail: str) -> None:
        super().__init__(f"{action} failed: {detail}")
        self.action = action
        self.detail = detail


class SqsAdmin:
    """Queue set-up and tear-down over one channel (not on the measured path)."""

    def __init__(self, endpoint: EndpointConfig, loop: asyncio.AbstractEventLoop) -> None:
        self._requests = RequestBuilder(endpoint)
        self._channel = Channel(loop, endpoint.target)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Run one action and return its decoded answer.

        Raises:
            SqsError: the answer was not 200, or the connection failed.
        """
        try:
            status, body = await self._channel.submit(self._requests.build_json(action, payload))
        except Exception as exc:
            raise SqsError(action, f"{type(exc).__name__} {exc}".strip()) from exc
        if status != 200:
            raise SqsError(action, f"{error_kind(status, body)}: {body[:300]!r}")
        data = orjson.loads(body) if body else {}
        return data if isinstance(data, dict) else {}

    async def create_queue(self, name: str, attributes: dict[str, str]) -> str:
        """Create the queue and return its URL."""
        answer = await self.call("CreateQueue", {"QueueName": name, "Attributes": attributes})
        url = answer.get("QueueUrl")
        if not isinstance(url, str):
            raise SqsError("CreateQueue", f"no QueueUrl in the answer: {answer!r}")
        return url

    async def delete_queue(self, url: str) -> None:
        await self.call("DeleteQueue", {"QueueUrl": url})

    async def attributes(self, url: str, names: list[str]) -> dict[str, str]:
        answer = await self.call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": names})
        attributes = answer.get("Attributes", {})
        return {str(k): str(v) for k, v in attributes.items()}

    def close(self) -> None:
        self._channel.close()
