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
from ekiden.core.errors import Throttled
from ekiden.core.rules.access import Identity
from ekiden.core.rules.rate_limit import RateLimiter
from ekiden.server.console import CONSOLE_PATHS
from ekiden.server.http_messages import HttpRequest, HttpResponse
from ekiden.server.refusals import refusal

__all__ = ["RequestThrottle"]

log = logging.getLogger("ekiden.server.throttle")

_MESSAGE: Final = "Rate exceeded: too many requests from this caller; retry later."


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
    retry = ("Retry-After", retry_after)
    if "x-amz-target" not in request.headers and request.path.startswith(CONSOLE_PATHS):
        body = orjson.dumps({"error": {"code": "Throttled", "message": error.message}})
        return HttpResponse(429, body, "application/json", [retry])
    return refusal(request, error, [retry])[1]
