"""SigV4 signing: the AWS test-suite example, and botocore signing the same request."""

from __future__ import annotations

import datetime

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from ekiden.bench.sigv4 import Credentials, Signer, dummy_authorization
from ekiden.bench.sqs import EndpointConfig, RequestBuilder

# The "post-vanilla" case of the AWS Signature Version 4 test suite.
SUITE_CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_DATE = "20150830T123600Z"
SUITE_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, "
    "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
)


def test_the_post_vanilla_example_of_the_aws_test_suite_is_signed_as_published() -> None:
    signer = Signer(SUITE_CREDENTIALS, "us-east-1", "service")
    added = signer.sign("POST", "/", {"Host": "example.amazonaws.com"}, b"", SUITE_DATE)
    assert added == {"X-Amz-Date": SUITE_DATE, "Authorization": SUITE_AUTHORIZATION}


def test_the_canonical_request_of_the_example_matches_the_suite() -> None:
    signer = Signer(SUITE_CREDENTIALS, "us-east-1", "service")
    canonical, signed = signer.canonical_request(
        "POST", "/", {"Host": "example.amazonaws.com", "X-Amz-Date": SUITE_DATE}, b""
    )
    assert signed == "host;x-amz-date"
    assert canonical == (
        "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        "host;x-amz-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def _botocore_authorization(
    credentials: Credentials,
    url: str,
    headers: dict[str, str],
    body: bytes,
    when: str,
    method: str = "POST",
) -> dict[str, str]:
    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
    boto_credentials = botocore.credentials.Credentials(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token
    )
    fixed = datetime.datetime.strptime(when, "%Y%m%dT%H%M%SZ")
    auth = botocore.auth.SigV4Auth(boto_credentials, "sqs", "eu-west-1")
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *a, **k: fixed
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    return {name: str(value) for name, value in request.headers.items()}


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN//="])
def test_an_sqs_json_request_is_signed_exactly_as_botocore_signs_it(token: str | None) -> None:
    credentials = Credentials("AKIDBENCH", "bench/secret+key", token)
    body = b'{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123/q","MessageBody":"hi  there"}'
    headers = {
        "Host": "sqs.eu-west-1.amazonaws.com",
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.SendMessage",
    }
    when = "20260102T030405Z"
    ours = Signer(credentials, "eu-west-1").sign("POST", "/", headers, body, when)
    theirs = _botocore_authorization(
        credentials, "https://sqs.eu-west-1.amazonaws.com/", dict(headers), body, when
    )
    assert ours["Authorization"] == theirs["Authorization"]
    assert ours["X-Amz-Date"] == theirs["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == theirs.get("X-Amz-Security-Token")


def test_a_query_string_is_signed_exactly_as_botocore_signs_it() -> None:
    """The CLI signs console API GETs with parameters (``?max=10&b=x%20y``)."""
    credentials = Credentials("AKIDBENCH", "secret")
    headers = {"Host": "localhost:9324"}
    when = "20260102T030405Z"
    path = "/console/api/queues/orders/peek?max=10&after=a%20b&Z=1"
    ours = Signer(credentials, "eu-west-1").sign("GET", path, headers, b"", when)
    theirs = _botocore_authorization(
        credentials, f"http://localhost:9324{path}", dict(headers), b"", when, method="GET"
    )
    assert ours["Authorization"] == theirs["Authorization"]


def test_a_non_default_port_is_part_of_the_signed_host_like_botocore() -> None:
    credentials = Credentials("AKIDBENCH", "secret")
    body = b"{}"
    headers = {
        "Host": "localhost:4566",
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.ListQueues",
    }
    when = "20260102T030405Z"
    ours = Signer(credentials, "eu-west-1").sign("POST", "/", headers, body, when)
    theirs = _botocore_authorization(credentials, "http://localhost:4566/", headers, body, when)
    assert ours["Authorization"] == theirs["Authorization"]


def test_signed_requests_carry_the_signature_headers_and_the_body() -> None:
    endpoint = EndpointConfig.parse(
        "https://sqs.eu-west-1.amazonaws.com", credentials=Credentials("AKIDBENCH", "secret")
    )
    request = RequestBuilder(endpoint).build("SendMessage", b'{"a":1}')
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST / HTTP/1.1"
    names = {line.split(":", 1)[0].lower(): line.split(": ", 1)[1] for line in lines[1:]}
    assert names["host"] == "sqs.eu-west-1.amazonaws.com"
    assert names["x-amz-target"] == "AmazonSQS.SendMessage"
    assert names["content-length"] == "7"
    assert names["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDBENCH/")
    assert "/eu-west-1/sqs/aws4_request" in names["authorization"]
    assert body == b'{"a":1}'


def test_unsigned_requests_name_sqs_in_a_dummy_credential_scope() -> None:
    endpoint = EndpointConfig.parse("http://127.0.0.1:9324")
    request = RequestBuilder(endpoint).build("ReceiveMessage", b"{}")
    assert b"Host: 127.0.0.1:9324\r\n" in request
    assert dummy_authorization("us-east-1").encode() in request
    assert b"/us-east-1/sqs/aws4_request" in request
    assert request.endswith(b"Content-Length: 2\r\n\r\n{}")


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "region", "host_header"),
    [
        ("http://127.0.0.1:9324", "127.0.0.1", 9324, False, "us-east-1", "127.0.0.1:9324"),
        ("http://localhost/", "localhost", 80, False, "us-east-1", "localhost"),
        (
            "https://sqs.ap-south-1.amazonaws.com",
            "sqs.ap-south-1.amazonaws.com",
            443,
            True,
            "ap-south-1",
            "sqs.ap-south-1.amazonaws.com",
        ),
    ],
)
def test_endpoints_are_read_from_urls(
    url: str, host: str, port: int, tls: bool, region: str, host_header: str
) -> None:
    endpoint = EndpointConfig.parse(url)
    assert (endpoint.host, endpoint.port, endpoint.tls, endpoint.region) == (
        host,
        port,
        tls,
        region,
    )
    assert endpoint.host_header == host_header


@pytest.mark.parametrize(
    "url", ["ftp://x", "127.0.0.1:9324", "http://h/path", "http://h/?q=1", "http://h:99999"]
)
def test_unusable_endpoint_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        EndpointConfig.parse(url)


def test_an_explicit_region_wins_over_the_host_name() -> None:
    endpoint = EndpointConfig.parse("https://sqs.ap-south-1.amazonaws.com", region="eu-west-3")
    assert endpoint.region == "eu-west-3"
