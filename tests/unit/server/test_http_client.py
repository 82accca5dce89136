"""The HTTP client of SNS deliveries against a real local server: the status of one POST,
and every network failure as an outcome without a status (never an exception)."""

from __future__ import annotations

import asyncio
import base64
import socket
from pathlib import Path

from ekiden.core.services.http_delivery import HttpOutcome
from ekiden.server.http_client import StreamHttpPoster
from tests.support.http_endpoint import Endpoint, make_private_ca


def post(poster: StreamHttpPoster, url: str, timeout_s: float = 5.0) -> HttpOutcome:
    return asyncio.run(
        poster.post(url, b"hello", [("x-amz-sns-message-type", "Notification")], timeout_s)
    )


def test_a_post_answers_with_the_status_and_sends_the_body_and_headers() -> None:
    with Endpoint([503]) as endpoint:
        assert post(StreamHttpPoster(), endpoint.url + "?a=1").status == 503
        received = endpoint.next()
    assert (received.path, received.body) == ("/hook?a=1", b"hello")
    assert received.headers["x-amz-sns-message-type"] == "Notification"
    assert received.headers["content-length"] == "5"


def test_credentials_in_the_url_are_sent_as_basic_authorization() -> None:
    with Endpoint() as endpoint:
        url = endpoint.url.replace("http://", "http://user:p%40ss@")
        assert post(StreamHttpPoster(), url).status == 200
        received = endpoint.next()
    assert received.headers["authorization"] == "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert received.headers["host"].startswith("127.0.0.1:")


def test_a_refused_connection_is_an_outcome_without_a_status() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = post(StreamHttpPoster(), f"http://127.0.0.1:{port}/")
    assert outcome.status is None and "connection failed" in outcome.error


def test_an_endpoint_that_does_not_answer_in_time_is_an_outcome_without_a_status() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        outcome = post(StreamHttpPoster(), f"http://127.0.0.1:{silent.getsockname()[1]}/", 0.3)
    assert outcome.status is None and "no answer within 0.3 s" in outcome.error


def test_https_is_verified_against_the_ca_file_given_and_fails_without_it(tmp_path: Path) -> None:
    ca = make_private_ca(tmp_path)
    with Endpoint(tls=ca.server_context) as endpoint:
        assert post(StreamHttpPoster(ca.ca_file), endpoint.url).status == 200
        untrusted = post(StreamHttpPoster(), endpoint.url)
    assert untrusted.status is None and "TLS failure" in untrusted.error


def test_a_url_with_whitespace_is_never_written_as_a_request_line() -> None:
    with Endpoint() as endpoint:
        outcome = post(StreamHttpPoster(), endpoint.url + "/a b\r\nX-Evil: 1")
        assert outcome.status is None
        assert "whitespace or a control character" in outcome.error
        assert endpoint.quiet_for(0.3)
