"""Per-identity request rate limits in front of every route (``[limits]``).

:class:`RequestThrottle` counts each request against its caller's token bucket
(:mod:`ekiden.core.rules.rate_limit`) and, over the limit, answers before anything is
decoded or changed, with the throttling error of the protocol the request spoke:

* SQS (AWS JSON or Query): HTTP 400 ``RequestThrottled`` (the SQS model's shape);
* SNS: HTTP 429 ``Throttled``;
* Lambda API: HTTP 429 ``TooManyRequestsException``, ``Reason`` ``CallerRateLimitExceeded``;
* anything else (console, metrics): 429 JSON.

Every answer carries ``Retry-After`` (whole seconds until a token is back). The caller is
the identity of the access key in ``sigv4`` mode, else the client's address. ``GET
/health`` is never limited: load balancers probe it and must not see a busy client's
limit. SDKs retry these codes on their own, with backoff.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Final

import orjson

from ekiden.config.limits import LimitsSettings
from ekiden.core.errors import EkidenError, Throttled
from ekiden.core.ids import new_request_id
from ekiden.core.rules.access import Identity
from ekiden.core.rules.rate_limit import RateLimiter
from ekiden.protocols.awslambda import errors as lambda_errors
from ekiden.protocols.awslambda.requests import API_PREFIX as LAMBDA_API_PREFIX
from ekiden.protocols.sns import errors as sns_errors
from ekiden.protocols.sns.frontend import is_sns_request
from ekiden.protocols.sqs import errors as sqs_errors
from ekiden.protocols.wire.query import parse_form
from ekiden.protocols.wire.xml import encode_query_error
from ekiden.server.console import CONSOLE_PATHS
from ekiden.server.http_messages import HttpRequest, HttpResponse

__all__ = ["RequestThrottle"]

log = logging.getLogger("ekiden.server.throttle")

_MESSAGE: Final = "Rate exceeded: too many requests from this caller; retry later."
_SQS_JSON: Final = "application/x-amz-json-1.0"
_XML: Final = "text/xml"


class RequestThrottle:
    """The rate limit of ``limits`` (which must have ``requests_per_second``).

    ``now_s`` is a monotonic clock in seconds, injectable for tests.
    """

    def __init__(self, limits: LimitsSettings, now_s: Callable[[], float] = time.monotonic) -> None:
        if limits.requests_per_second is None:
            raise ValueError("RequestThrottle needs [limits] requests_per_second")
        self._limiter = RateLimiter(limits.requests_per_second, limits.burst)
        self._now_s = now_s
        self.throttled = 0
        """Requests refused so far (for metrics and tests)."""

    def check(self, request: HttpRequest, principal: Identity | None) -> HttpResponse | None:
        """``None`` when ``request`` may go ahead, else the throttling answer.

        ``principal`` is who the request was authenticated as (``None`` in mode
        ``none`` and on open routes: then the client's address is the caller).
        """
        if request.method == "GET" and request.path == "/health":
            return None
        caller = principal.name if principal is not None else request.client_host
        wait_s = self._limiter.acquire(caller, self._now_s())
        if wait_s <= 0.0:
            return None
        self.throttled += 1
        log.debug("throttled %s %s from %s", request.method, request.path, caller or "?")
        return throttled_response(request, str(max(1, math.ceil(wait_s))))


def throttled_response(request: HttpRequest, retry_after: str) -> HttpResponse:
    """The throttling error for ``request``, spelled in the protocol it spoke."""
    error = Throttled(_MESSAGE)
    request_id = new_request_id()
    headers = request.headers
    retry = ("Retry-After", retry_after)
    if "x-amz-target" in headers:
        spelled = sqs_errors.wire_error(error)
        body = orjson.dumps({"__type": spelled.json_type, "message": error.message})
        return HttpResponse(
            spelled.status,
            body,
            _SQS_JSON,
            [
                ("x-amzn-RequestId", request_id),
                ("x-amzn-query-error", spelled.query_error_header),
                retry,
            ],
        )
    path = request.path
    if path.startswith(LAMBDA_API_PREFIX):
        answer = lambda_errors.wire_error(error)
        lambda_headers = lambda_errors.error_headers(answer, request_id)
        if not any(name == "Retry-After" for name, _ in lambda_headers):
            lambda_headers.append(retry)
        return HttpResponse(
            answer.status,
            lambda_errors.error_body(answer, error.message),
            "application/json",
            lambda_headers,
        )
    if path.startswith(CONSOLE_PATHS):
        body = orjson.dumps({"error": {"code": "Throttled", "message": error.message}})
        return HttpResponse(429, body, "application/json", [retry])
    if is_sns_request(_params(request), headers.get("authorization", "")):
        status, body = sns_errors.encode_error(error, request_id)
        return HttpResponse(status, body, _XML, [("x-amzn-RequestId", request_id), retry])
    wire = sqs_errors.wire_error(error)
    body = encode_query_error(wire.code, error.message, wire.sender_fault, request_id)
    return HttpResponse(wire.status, body, _XML, [("x-amzn-RequestId", request_id), retry])


def _params(request: HttpRequest) -> dict[str, str]:
    """The Query parameters of ``request``, or none if undecodable: only used to tell
    SNS from SQS when spelling the answer."""
    try:
        params = parse_form(request.query.encode("latin-1")) if request.query else {}
        if request.method == "POST" and request.body:
            params.update(parse_form(request.body))
    except EkidenError:  # an undecodable form: spell it as SQS, the default front end
        return {}
    return params
