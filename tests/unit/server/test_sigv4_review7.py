"""Review of issue 7: a presigned URL covers its query, not a body, so a body sent with
one must not be accepted as if its signer had signed it."""

from __future__ import annotations

import dataclasses
import time

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ekiden.core.errors import SignatureDoesNotMatch
from ekiden.server.sigv4_verify import SignedRequest, SigV4Verifier
from tests.unit.server.test_sigv4_verify import KEY, SECRET, _as_signed_request


class UnsignedPayloadQueryAuth(SigV4QueryAuth):
    """A presigner that signs ``UNSIGNED-PAYLOAD`` (as S3's and other SDKs' presigners
    do) instead of the hash of the empty body."""

    def payload(self, request: AWSRequest) -> str:
        return "UNSIGNED-PAYLOAD"


def presigned(method: str, url: str) -> SignedRequest:
    request = AWSRequest(method=method, url=url)
    UnsignedPayloadQueryAuth(Credentials(KEY, SECRET), "sqs", "us-east-1", expires=60).add_auth(
        request
    )
    return _as_signed_request(request)


def test_a_presigned_url_still_verifies_without_a_body() -> None:
    request = presigned("GET", "http://127.0.0.1:9324/?Action=ListQueues")
    assert SigV4Verifier({KEY: SECRET}, time.time).verify(request).presigned is True


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_body_attached_to_a_presigned_url_is_refused(method: str) -> None:
    request = presigned(method, "http://127.0.0.1:9324/?Action=ListQueues")
    smuggled = dataclasses.replace(
        request,
        headers={**request.headers, "x-amz-target": "AmazonSQS.DeleteQueue"},
        body=b'{"QueueUrl": "http://127.0.0.1:9324/000000000000/orders"}',
    )
    with pytest.raises(SignatureDoesNotMatch, match="UNSIGNED-PAYLOAD"):
        SigV4Verifier({KEY: SECRET}, time.time).verify(smuggled)
