"""The rate-limit hook of ekiden.server.throttle: who counts as the caller, which
routes are exempt, and how the refusal is spelled per protocol (fake clock)."""

from __future__ import annotations

import orjson

from ekiden.config.limits import LimitsSettings
from ekiden.core.rules.access import Identity
from ekiden.server.http_messages import HttpRequest
from ekiden.server.throttle import RequestThrottle

LIMITS = LimitsSettings(requests_per_second=1.0, burst=1)


def request(path: str = "/", host: str = "10.0.0.1", **headers: str) -> HttpRequest:
    return HttpRequest("POST", path, "", dict(headers), b"Action=ListQueues", host)


def test_without_credentials_the_client_address_is_the_caller() -> None:
    now = [0.0]
    throttle = RequestThrottle(LIMITS, lambda: now[0])
    assert throttle.check(request(host="10.0.0.1"), None) is None
    assert throttle.check(request(host="10.0.0.2"), None) is None
    refused = throttle.check(request(host="10.0.0.1"), None)
    assert refused is not None and refused.status == 400
    assert b"<Code>RequestThrottled</Code>" in refused.body
    now[0] = 1.0
    assert throttle.check(request(host="10.0.0.1"), None) is None
    assert throttle.throttled == 1


def test_an_identity_is_limited_wherever_it_connects_from() -> None:
    throttle = RequestThrottle(LIMITS, lambda: 0.0)
    alice = Identity("alice", "000000000000")
    assert throttle.check(request(host="10.0.0.1"), alice) is None
    assert throttle.check(request(host="10.0.0.2"), alice) is not None


def test_the_health_check_is_never_limited() -> None:
    throttle = RequestThrottle(LIMITS, lambda: 0.0)
    health = HttpRequest("GET", "/health", "", {}, b"", "10.0.0.1")
    assert all(throttle.check(health, None) is None for _ in range(5))


def test_sqs_json_refusal_names_request_throttled_with_retry_after() -> None:
    throttle = RequestThrottle(LIMITS, lambda: 0.0)
    json_request = request(**{"x-amz-target": "AmazonSQS.ListQueues"})
    throttle.check(json_request, None)
    refused = throttle.check(json_request, None)
    assert refused is not None and refused.status == 400
    assert orjson.loads(refused.body)["__type"] == "com.amazonaws.sqs#RequestThrottled"
    headers = dict(refused.headers)
    assert headers["x-amzn-query-error"] == "RequestThrottled;Sender"
    assert headers["Retry-After"] == "1"


def test_lambda_refusal_is_429_caller_rate_limit_exceeded() -> None:
    throttle = RequestThrottle(LIMITS, lambda: 0.0)
    call = request("/2015-03-31/functions/")
    throttle.check(call, None)
    refused = throttle.check(call, None)
    assert refused is not None and refused.status == 429
    assert orjson.loads(refused.body)["Reason"] == "CallerRateLimitExceeded"
    assert dict(refused.headers)["x-amzn-ErrorType"] == "TooManyRequestsException"
