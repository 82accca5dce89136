"""SigV4 verification: AWS's published test-suite vectors, botocore's own signers, and each
way a signature can be wrong."""

from __future__ import annotations

import calendar
import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ekiden.core.errors import (
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureDoesNotMatch,
)
from ekiden.server.sigv4_verify import SignedRequest, SigV4Verifier, canonical_uri

# The AWS SigV4 test suite's key, scope and time.
SUITE_KEY = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_DATE = "20150830T123600Z"
SUITE_NOW = calendar.timegm(time.strptime(SUITE_DATE, "%Y%m%dT%H%M%SZ"))
SUITE_SCOPE = f"{SUITE_KEY}/20150830/us-east-1/service/aws4_request"


def suite_verifier(now: float = SUITE_NOW) -> SigV4Verifier:
    return SigV4Verifier({SUITE_KEY: SUITE_SECRET}, lambda: now)


def suite_request(
    method: str, path: str, query: str, signature: str, signed: str = "host;x-amz-date"
) -> SignedRequest:
    headers = {
        "host": "example.amazonaws.com",
        "x-amz-date": SUITE_DATE,
        "authorization": (
            f"AWS4-HMAC-SHA256 Credential={SUITE_SCOPE}, SignedHeaders={signed}, "
            f"Signature={signature}"
        ),
    }
    return SignedRequest(method, path, query, headers, b"")


@pytest.mark.parametrize(
    ("name", "method", "path", "query", "signature"),
    [
        (
            "get-vanilla",
            "GET",
            "/",
            "",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "get-vanilla-query-order-key-case",
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "get-utf8",  # the path is the raw UTF-8 bytes of U+1234, seen as latin-1
            "GET",
            "/\xe1\x88\xb4",
            "",
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        ),
    ],
)
def test_aws_test_suite_signatures_verify(
    name: str, method: str, path: str, query: str, signature: str
) -> None:
    verified = suite_verifier().verify(suite_request(method, path, query, signature))
    assert (verified.access_key_id, verified.service, verified.presigned) == (
        SUITE_KEY,
        "service",
        False,
    ), name


def test_aws_test_suite_form_post_with_content_sha256_verifies() -> None:
    body = b"Param1=value1"
    body_hash = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"
    headers = {
        "x-amz-date": SUITE_DATE,
        "content-type": "application/x-www-form-urlencoded",
        "host": "example.amazonaws.com",
        "content-length": "13",
        "x-amz-content-sha256": body_hash,
        "authorization": (
            f"AWS4-HMAC-SHA256 Credential={SUITE_SCOPE}, SignedHeaders=content-length;"
            "content-type;host;x-amz-content-sha256;x-amz-date, "
            "Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"
        ),
    }
    assert suite_verifier().verify(SignedRequest("POST", "/", "", headers, body)).presigned is False
    tampered = SignedRequest("POST", "/", "", headers, b"Param1=value2")
    with pytest.raises(SignatureDoesNotMatch, match="x-amz-content-sha256"):
        suite_verifier().verify(tampered)


def test_canonical_uri_removes_dot_segments_and_encodes_twice_as_non_s3_services_do() -> None:
    assert canonical_uri("") == "/"
    assert canonical_uri("/a/./b/../c//d/") == "/a/c/d/"
    assert canonical_uri("/example%20space/") == "/example%2520space/"
    assert canonical_uri("/123456789012/orders") == "/123456789012/orders"


# --- against botocore's signers --------------------------------------------------------

KEY = "AKIDEKIDEN"
SECRET = "s3cr3t/with+chars"


def _as_signed_request(prepared: AWSRequest) -> SignedRequest:
    parts = urlsplit(prepared.url)
    headers = {name.lower(): str(value) for name, value in prepared.headers.items()}
    headers["host"] = parts.netloc
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return SignedRequest(prepared.method, parts.path, parts.query, headers, body)


def botocore_signed(
    method: str = "POST",
    url: str = "http://localhost:9324/000000000000/orders",
    body: bytes = b"Action=SendMessage&MessageBody=hi%20there",
    secret: str = SECRET,
    key: str = KEY,
    service: str = "sqs",
    headers: dict[str, str] | None = None,
) -> SignedRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
    return _as_signed_request(request)


def presigned(url: str, expires: int = 60, secret: str = SECRET) -> SignedRequest:
    request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(Credentials(KEY, secret), "sqs", "us-east-1", expires=expires).add_auth(request)
    return _as_signed_request(request)


def verifier(now: float | None = None) -> SigV4Verifier:
    return SigV4Verifier({KEY: SECRET}, (lambda: now) if now is not None else time.time)


def test_botocore_header_signatures_verify_for_json_query_and_rest_requests() -> None:
    json_request = botocore_signed(
        url="http://127.0.0.1:9324/",
        body=b'{"QueueName":"a"}',
        headers={
            "X-Amz-Target": "AmazonSQS.CreateQueue",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    assert verifier().verify(json_request).access_key_id == KEY
    assert verifier().verify(botocore_signed()).service == "sqs"
    rest = botocore_signed(
        "GET",
        "http://127.0.0.1:9324/2015-03-31/functions/my%3Afn/configuration?Qualifier=%24LATEST",
        b"",
        service="lambda",
    )
    assert verifier().verify(rest).service == "lambda"


def test_a_botocore_presigned_url_verifies_until_it_expires() -> None:
    request = presigned("http://127.0.0.1:9324/?Action=ListQueues&Version=2012-11-05", 60)
    now = time.time()
    assert verifier(now).verify(request).presigned is True
    assert verifier(now + 59).verify(request).presigned is True
    with pytest.raises(RequestExpired, match="Request has expired"):
        verifier(now + 62).verify(request)


def test_a_presigned_url_with_a_changed_parameter_does_not_match() -> None:
    request = presigned("http://127.0.0.1:9324/q?Action=SendMessage&MessageBody=hello")
    changed = SignedRequest(
        request.method,
        request.path,
        request.query.replace("MessageBody=hello", "MessageBody=evil"),
        request.headers,
        request.body,
    )
    with pytest.raises(SignatureDoesNotMatch, match="does not match the signature"):
        verifier().verify(changed)


def test_presigned_expiry_above_one_week_is_refused() -> None:
    request = presigned("http://127.0.0.1:9324/?Action=ListQueues", 604801)
    with pytest.raises(IncompleteSignature, match="604800"):
        verifier().verify(request)


def test_a_wrong_secret_is_signature_does_not_match() -> None:
    with pytest.raises(SignatureDoesNotMatch, match="does not match the signature you provided"):
        verifier().verify(botocore_signed(secret="not-the-secret"))


def test_an_unknown_key_is_invalid_client_token_id() -> None:
    with pytest.raises(InvalidClientTokenId, match="security token included"):
        verifier().verify(botocore_signed(key="AKIDNOBODY"))


def test_no_signature_at_all_is_missing_authentication_token() -> None:
    request = SignedRequest("POST", "/", "", {"host": "h"}, b"Action=ListQueues")
    with pytest.raises(MissingAuthenticationToken):
        verifier().verify(request)


def test_a_changed_body_does_not_match() -> None:
    request = botocore_signed()
    changed = SignedRequest(
        request.method, request.path, request.query, request.headers, b"Action=DeleteQueue"
    )
    with pytest.raises(SignatureDoesNotMatch):
        verifier().verify(changed)


def test_a_signature_older_than_five_minutes_has_expired() -> None:
    request = botocore_signed()
    now = time.time()
    assert verifier(now + 290).verify(request).access_key_id == KEY
    with pytest.raises(SignatureDoesNotMatch, match=r"Signature expired: .* - 5 min\.\)"):
        verifier(now + 310).verify(request)


def test_a_signature_from_more_than_five_minutes_ahead_is_not_yet_current() -> None:
    request = botocore_signed()
    with pytest.raises(SignatureDoesNotMatch, match="Signature not yet current"):
        verifier(time.time() - 310).verify(request)


def test_unsigned_payload_is_refused_in_the_header_form() -> None:
    request = botocore_signed()
    headers = {**request.headers, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    with pytest.raises(SignatureDoesNotMatch, match="UNSIGNED-PAYLOAD"):
        verifier().verify(
            SignedRequest(request.method, request.path, request.query, headers, request.body)
        )


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEKIDEN/20200101/us-east-1/sqs/aws4_request",
        "AWS AKIDEKIDEN:abc",
        "AWS4-HMAC-SHA256 Credential=AKIDEKIDEN/x, SignedHeaders=host, Signature=00",
    ],
)
def test_malformed_authorization_headers_are_incomplete_signatures(authorization: str) -> None:
    request = SignedRequest(
        "POST",
        "/",
        "",
        {"host": "h", "x-amz-date": "20200101T000000Z", "authorization": authorization},
        b"",
    )
    with pytest.raises(IncompleteSignature):
        verifier().verify(request)


def test_signing_keys_are_derived_once_per_scope() -> None:
    checker = verifier()
    for _ in range(3):
        checker.verify(botocore_signed())
    assert len(checker._keys) == 1
