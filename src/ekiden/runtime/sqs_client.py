"""The runtime's SQS client: a small async client of any SQS endpoint (ekiden or AWS).

AWS JSON 1.0 over HTTP/1.1 keep-alive (see :mod:`ekiden.runtime.sqs_http`): every call is
``POST <path>`` with ``X-Amz-Target: AmazonSQS.<Action>``, ``Content-Type:
application/x-amz-json-1.0`` and ``x-amzn-query-mode: true`` (as botocore sends it, so AWS
adds the ``x-amzn-query-error`` header to errors), signed with SigV4 when credentials are
given. Without credentials a well-formed but unsigned ``Authorization`` is sent, because
ekiden and moto route on the service named in its credential scope.

One :class:`SqsClient` is shared by the coroutines of one event loop. Every failure
(an error answer, a lost connection, a timeout, a garbled answer) is raised as
:class:`SqsError`; task cancellation is passed through untouched.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import orjson

from ekiden.bench.sigv4 import Credentials, Signer, dummy_authorization
from ekiden.runtime.sqs_http import Answer, ConnectionPool, Endpoint, TransportError

__all__ = [
    "Credentials",
    "SqsClient",
    "SqsError",
    "queue_arn_from_url",
    "queue_name_from_url",
]

_CONTENT_TYPE: Final = "application/x-amz-json-1.0"
_USER_AGENT: Final = "ekiden-runtime"
#: The access key named in the unsigned Authorization (ekiden shows it as SenderId).
_ANONYMOUS_KEY: Final = "ekidenruntime"
#: SQS batch actions take at most this many entries.
BATCH_LIMIT: Final = 10
#: Error codes (JSON ``__type`` or Query code) that mean "slow down, then try again";
#: the list botocore's retry handler treats as throttling, plus SQS's own.
_THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "KmsThrottled",
        "KMS.ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


class SqsError(Exception):
    """An SQS call that did not succeed.

    Attributes:
        code: the error code: the JSON ``__type`` after its ``#`` (``QueueDoesNotExist``),
            else the ``x-amzn-query-error`` code, else ``HTTP <status>``; for failures
            without an answer a label: ``ConnectionFailed`` (could not connect),
            ``ConnectionLost`` (no answer), ``RequestTimeout``, ``BadResponse``,
            ``TlsCertificateRejected``, ``ClientClosed``.
        message: the server's message, or what went wrong.
        status: the HTTP status, or None when there was no answer.
        retryable: worth trying again later: 5xx, throttling, 429, connection failures,
            timeouts, garbled answers (not a rejected certificate, nor anything after
            :meth:`SqsClient.close`).
        action: the SQS action (``ReceiveMessage``).
        query_code: the Query-protocol code of ``x-amzn-query-error``
            (``AWS.SimpleQueueService.NonExistentQueue``), if the server sent one.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None,
        retryable: bool,
        action: str = "",
        query_code: str | None = None,
    ) -> None:
        where = f"{action}: " if action else ""
        http = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{where}{code}{http}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable
        self.action = action
        self.query_code = query_code


def error_from_answer(action: str, answer: Answer) -> SqsError:
    """The :class:`SqsError` of a non-2xx answer (AWS JSON 1.0 error shape)."""
    data: Any = None
    try:
        data = orjson.loads(answer.body) if answer.body else None
    except orjson.JSONDecodeError:
        data = None
    body: dict[str, Any] = data if isinstance(data, dict) else {}
    query_error = answer.headers.get("x-amzn-query-error", "")
    query_code = query_error.split(";", 1)[0].strip() or None
    raw = body.get("__type") or body.get("code") or body.get("Code")
    raw = raw or answer.headers.get("x-amzn-errortype") or ""
    # "aws.protocoltests#Shape:http://internal..." -> "Shape" (as botocore parses it)
    code = str(raw).split(":", 1)[0].rsplit("#", 1)[-1] or query_code or f"HTTP {answer.status}"
    message = body.get("message") or body.get("Message")
    if not isinstance(message, str):
        message = answer.body[:300].decode("utf-8", "replace") if not body else ""
    retryable = (
        answer.status >= 500
        or answer.status == 429
        or code in _THROTTLING_CODES
        or query_code in _THROTTLING_CODES
    )
    return SqsError(
        code,
        message,
        status=answer.status,
        retryable=retryable,
        action=action,
        query_code=query_code,
    )


def queue_name_from_url(queue_url: str) -> str:
    """The queue name: the last segment of the URL's path."""
    return urlsplit(queue_url).path.rstrip("/").rsplit("/", 1)[-1]


def queue_arn_from_url(queue_url: str, region: str) -> str:
    """``arn:<partition>:sqs:<region>:<account>:<name>`` of a queue URL
    (``<scheme>://<host>/<account>/<name>``, the form AWS and ekiden use).

    Raises:
        ValueError: the URL's path is not ``/<account>/<name>``.
    """
    parts = [p for p in urlsplit(queue_url).path.split("/") if p]
    if len(parts) < 2:
        raise ValueError(f"not a queue URL of the form <endpoint>/<account>/<name>: {queue_url}")
    account, name = parts[-2], parts[-1]
    if region.startswith("cn-"):
        partition = "aws-cn"
    elif region.startswith("us-gov-"):
        partition = "aws-us-gov"
    else:
        partition = "aws"
    return f"arn:{partition}:sqs:{region}:{account}:{name}"


def _parse_endpoint(endpoint_url: str) -> tuple[Endpoint, str]:
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint must be an http:// or https:// URL, not {endpoint_url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"endpoint must not have a query or fragment: {endpoint_url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"endpoint has a bad port: {endpoint_url!r}") from exc
    tls = parts.scheme == "https"
    endpoint = Endpoint(parts.hostname, port or (443 if tls else 80), tls)
    return endpoint, parts.path or "/"


class SqsClient:
    """An async SQS client of one endpoint (see the module docstring).

    ``region`` names the signing scope (and the ARNs of :func:`queue_arn_from_url`);
    ``ca_file`` replaces the system trust store for https; at most ``max_connections``
    requests are in flight at once, and besides them at most ``max_long_polls`` long
    polls (receives that wait): long polls hold their connection for their whole wait,
    so they have a pool of their own and can never hold up a delete or a visibility
    change (which must land before the visibility timeout runs out). Each call must be
    answered within ``request_timeout_s`` (plus the wait of a long poll).

    Idempotent calls (queue look-ups, attribute reads, deletes, visibility changes, and
    sends with a deduplication id) are sent once more when a reused keep-alive
    connection turns out to have been closed by the server; receives and other sends
    are only resent when they certainly never left (see :class:`ConnectionPool`).
    """

    def __init__(
        self,
        endpoint_url: str,
        *,
        region: str,
        credentials: Credentials | None = None,
        ca_file: Path | None = None,
        max_connections: int = 64,
        max_long_polls: int = 4096,
        request_timeout_s: float = 30.0,
    ) -> None:
        endpoint, self._path = _parse_endpoint(endpoint_url)
        self.endpoint_url = endpoint_url
        self.region = region
        self._host = endpoint.host_header
        self._timeout_s = request_timeout_s
        self._signer = Signer(credentials, region, "sqs") if credentials is not None else None
        self._anonymous = dummy_authorization(region, "sqs", access_key=_ANONYMOUS_KEY)
        context: ssl.SSLContext | None = None
        if endpoint.tls:
            context = ssl.create_default_context(
                cafile=str(ca_file) if ca_file is not None else None
            )
        self._pool = ConnectionPool(endpoint, max_connections=max_connections, ssl_context=context)
        self._poll_pool = ConnectionPool(
            endpoint, max_connections=max_long_polls, ssl_context=context
        )

    @property
    def connects(self) -> int:
        """Connections opened so far (a measure of keep-alive reuse)."""
        return self._pool.connects + self._poll_pool.connects

    async def __aenter__(self) -> SqsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every connection; calls in flight and later fail with ``ClientClosed``."""
        await self._pool.close()
        await self._poll_pool.close()

    # -- queues --------------------------------------------------------------------

    async def get_queue_url(self, name: str) -> str:
        """The URL of queue ``name`` (``QueueDoesNotExist`` if there is none)."""
        answer = await self._call("GetQueueUrl", {"QueueName": name}, idempotent=True)
        return _string(answer, "QueueUrl", "GetQueueUrl")

    async def create_queue(self, name: str, attributes: Mapping[str, str] | None = None) -> str:
        """Create queue ``name`` (or find it, if it exists with the same attributes)."""
        payload: dict[str, Any] = {"QueueName": name}
        if attributes:
            payload["Attributes"] = dict(attributes)
        answer = await self._call("CreateQueue", payload, idempotent=True)
        return _string(answer, "QueueUrl", "CreateQueue")

    async def get_queue_attributes(
        self, queue_url: str, names: Sequence[str] = ("All",)
    ) -> dict[str, str]:
        """The queue's attributes ``names`` (all of them by default), as strings."""
        payload = {"QueueUrl": queue_url, "AttributeNames": list(names)}
        answer = await self._call("GetQueueAttributes", payload, idempotent=True)
        attributes = answer.get("Attributes", {})
        if not isinstance(attributes, dict):
            raise _bad_response("GetQueueAttributes", "Attributes is not an object")
        return {str(k): str(v) for k, v in attributes.items()}

    # -- messages ------------------------------------------------------------------

    async def receive_message(
        self,
        queue_url: str,
        *,
        max_messages: int = 10,
        wait_time_s: int = 20,
        visibility_timeout_s: int | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``max_messages`` messages, waiting up to ``wait_time_s`` for the first.

        Asks for every system attribute and every message attribute, and returns the
        message objects as SQS sends them (``MessageId``, ``ReceiptHandle``, ``Body``,
        ``MD5OfBody``, ``Attributes``, ``MessageAttributes``, ``MD5OfMessageAttributes``).
        Never resent after being written: a lost answer may have made messages invisible.
        """
        payload: dict[str, Any] = {
            "QueueUrl": queue_url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_time_s,
            "AttributeNames": ["All"],
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout_s is not None:
            payload["VisibilityTimeout"] = visibility_timeout_s
        answer = await self._call(
            "ReceiveMessage",
            payload,
            idempotent=False,
            extra_timeout_s=max(wait_time_s, 0),
            long_poll=wait_time_s > 0,
        )
        messages = answer.get("Messages", [])
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise _bad_response("ReceiveMessage", "Messages is not a list of objects")
        return messages

    async def send_message(
        self,
        queue_url: str,
        body: str,
        *,
        attributes: Mapping[str, tuple[str, str | bytes]] | None = None,
        group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> str:
        """Send one message and return its ``MessageId``.

        ``attributes`` maps a name to ``(DataType, value)``; a ``Binary`` type takes bytes
        (or text, sent as UTF-8). ``group_id``/``dedup_id`` are FIFO's
        ``MessageGroupId``/``MessageDeduplicationId``.
        """
        payload: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": body}
        if attributes:
            payload["MessageAttributes"] = {
                name: _attribute_value(data_type, value)
                for name, (data_type, value) in attributes.items()
            }
        if group_id is not None:
            payload["MessageGroupId"] = group_id
        if dedup_id is not None:
            payload["MessageDeduplicationId"] = dedup_id
        # With a deduplication id a second copy is dropped by the queue: safe to resend.
        answer = await self._call("SendMessage", payload, idempotent=dedup_id is not None)
        return _string(answer, "MessageId", "SendMessage")

    async def delete_message_batch(
        self, queue_url: str, receipt_handles: Sequence[str]
    ) -> list[str]:
        """Delete the messages of ``receipt_handles`` (in requests of 10, sent at once).

        Returns the receipt handles SQS reported as failed (e.g. stale handles), in the
        order given. Raises :class:`SqsError` if a whole request failed.
        """
        entries = [{"ReceiptHandle": handle} for handle in receipt_handles]
        return await self._batch("DeleteMessageBatch", queue_url, receipt_handles, entries)

    async def change_message_visibility_batch(
        self, queue_url: str, entries: Sequence[tuple[str, int]]
    ) -> list[str]:
        """Set the visibility timeout of each ``(receipt handle, seconds)``.

        Returns the receipt handles SQS reported as failed, in the order given. Raises
        :class:`SqsError` if a whole request failed.
        """
        handles = [handle for handle, _ in entries]
        bodies = [
            {"ReceiptHandle": handle, "VisibilityTimeout": seconds} for handle, seconds in entries
        ]
        return await self._batch("ChangeMessageVisibilityBatch", queue_url, handles, bodies)

    # -- internals -----------------------------------------------------------------

    async def _batch(
        self,
        action: str,
        queue_url: str,
        handles: Sequence[str],
        entries: Sequence[dict[str, Any]],
    ) -> list[str]:
        chunks = [
            (handles[i : i + BATCH_LIMIT], entries[i : i + BATCH_LIMIT])
            for i in range(0, len(entries), BATCH_LIMIT)
        ]
        outcomes = await asyncio.gather(
            *(self._one_batch(action, queue_url, h, e) for h, e in chunks),
            return_exceptions=True,
        )
        failed: list[str] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            failed.extend(outcome)
        return failed

    async def _one_batch(
        self,
        action: str,
        queue_url: str,
        handles: Sequence[str],
        entries: Sequence[dict[str, Any]],
    ) -> list[str]:
        payload = {
            "QueueUrl": queue_url,
            "Entries": [{"Id": str(i), **entry} for i, entry in enumerate(entries)],
        }
        answer = await self._call(action, payload, idempotent=True)
        successful = answer.get("Successful", [])
        if not isinstance(successful, list):
            raise _bad_response(action, "Successful is not a list")
        done = {str(item.get("Id")) for item in successful if isinstance(item, dict)}
        # An entry in neither list is counted as failed: never report success unseen.
        return [handle for i, handle in enumerate(handles) if str(i) not in done]

    async def _call(
        self,
        action: str,
        payload: dict[str, Any],
        *,
        idempotent: bool,
        extra_timeout_s: float = 0.0,
        long_poll: bool = False,
    ) -> dict[str, Any]:
        """Run one action and return its decoded JSON answer (an object)."""
        request = self.build_request(action, orjson.dumps(payload))
        pool = self._poll_pool if long_poll else self._pool
        try:
            async with asyncio.timeout(self._timeout_s + extra_timeout_s):
                answer = await pool.request(request, retry_sent=idempotent)
        except TransportError as error:
            raise SqsError(
                error.code, error.message, status=None, retryable=error.retryable, action=action
            ) from None
        except TimeoutError:
            raise SqsError(
                "RequestTimeout",
                f"no answer within {self._timeout_s + extra_timeout_s:g} s",
                status=None,
                retryable=True,
                action=action,
            ) from None
        if not 200 <= answer.status < 300:
            raise error_from_answer(action, answer)
        try:
            data = orjson.loads(answer.body) if answer.body else {}
        except orjson.JSONDecodeError:
            raise _bad_response(action, f"not JSON: {answer.body[:200]!r}", answer.status) from None
        if not isinstance(data, dict):
            raise _bad_response(action, "the answer is not a JSON object", answer.status)
        return data

    def build_request(self, action: str, body: bytes, *, amz_date: str | None = None) -> bytes:
        """The complete HTTP/1.1 request of ``action`` with the JSON ``body``, dated
        ``amz_date`` (``YYYYMMDDTHHMMSSZ``, default now): the headers botocore signs
        (``content-type;host;x-amz-date[;x-amz-security-token];x-amz-target;
        x-amzn-query-mode``), plus ``User-Agent`` and ``Content-Length``."""
        headers = {
            "Host": self._host,
            "Content-Type": _CONTENT_TYPE,
            "X-Amz-Target": f"AmazonSQS.{action}",
            "x-amzn-query-mode": "true",
        }
        if amz_date is None:
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        if self._signer is not None:
            headers.update(self._signer.sign("POST", self._path, headers, body, amz_date))
        else:
            headers["X-Amz-Date"] = amz_date
            headers["Authorization"] = self._anonymous
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return (
            f"POST {self._path} HTTP/1.1\r\n{head}User-Agent: {_USER_AGENT}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body


def _attribute_value(data_type: str, value: str | bytes) -> dict[str, str]:
    if data_type.split(".", 1)[0] == "Binary":
        raw = value.encode() if isinstance(value, str) else value
        return {"DataType": data_type, "BinaryValue": base64.b64encode(raw).decode()}
    text = value.decode() if isinstance(value, bytes) else value
    return {"DataType": data_type, "StringValue": text}


def _string(answer: dict[str, Any], key: str, action: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str):
        raise _bad_response(action, f"no {key} in the answer")
    return value


def _bad_response(action: str, message: str, status: int | None = 200) -> SqsError:
    return SqsError("BadResponse", message, status=status, retryable=True, action=action)
