"""SigV4 authentication of a real ``ekiden serve`` with keys in ekiden.toml: every API
accepts the right key and refuses the others with AWS's errors, presigned URLs work and
expire, the console wants credentials, and an unauthenticated public bind is refused."""

from __future__ import annotations

import base64
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.clients import sqs_client
from tests.support.server import EkidenProcess

KEY = "AKIDEKIDENTEST"  # the key tests.support.clients signs with
SECRET = "secret"
_CONFIG = botocore.config.Config(retries={"max_attempts": 1})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EkidenProcess]:
    root = tmp_path_factory.mktemp("auth")
    config = root / "ekiden.toml"
    config.write_text(
        f'[auth]\nmode = "sigv4"\n\n[[auth.keys]]\naccess_key_id = "{KEY}"\n'
        f'secret_access_key = "{SECRET}"\nidentity = "tests"\n'
    )
    with EkidenProcess(root / "data", "--config", str(config)) as process:
        yield process


def client(server: EkidenProcess, service: str, key: str = KEY, secret: str = SECRET) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=_CONFIG,
    )


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def raw(server: EkidenProcess, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(server.endpoint + path, **kwargs)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_right_key_works_for_sqs_json_and_query(server: EkidenProcess) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName="signed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    query = sqs_client(server.endpoint, "query")
    received = query.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in received] == ["hello"]


def test_the_right_key_works_for_sns_and_lambda(server: EkidenProcess) -> None:
    arn = client(server, "sns").create_topic(Name="signed-topic")["TopicArn"]
    assert arn.endswith(":signed-topic")
    assert client(server, "lambda").list_functions()["Functions"] == []


def test_a_wrong_secret_is_signature_does_not_match_on_every_protocol(
    server: EkidenProcess,
) -> None:
    assert error_of(client(server, "sqs", secret="wrong").list_queues) == (
        "SignatureDoesNotMatch",
        403,
    )
    assert error_of(client(server, "sns", secret="wrong").list_topics) == (
        "SignatureDoesNotMatch",
        403,
    )
    assert error_of(client(server, "lambda", secret="wrong").list_functions) == (
        "InvalidSignatureException",
        403,
    )


def test_an_unknown_key_is_invalid_client_token_id_and_changes_nothing(
    server: EkidenProcess,
) -> None:
    stranger = client(server, "sqs", key="AKIDSTRANGER")
    assert error_of(stranger.create_queue, QueueName="never") == ("InvalidClientTokenId", 403)
    assert error_of(client(server, "sns", key="AKIDSTRANGER").list_topics) == (
        "InvalidClientTokenId",
        403,
    )
    assert error_of(client(server, "lambda", key="AKIDSTRANGER").list_functions) == (
        "UnrecognizedClientException",
        403,
    )
    urls = client(server, "sqs").list_queues(QueueNamePrefix="never").get("QueueUrls", [])
    assert urls == []
    assert "refused POST / from 127.0.0.1: InvalidClientTokenId" in server.log_text


def test_the_sqs_json_refusal_carries_the_code_in_type_and_query_error_header(
    server: EkidenProcess,
) -> None:
    status, headers, body = raw(
        server,
        "/",
        data=b"{}",
        method="POST",
        headers={
            "X-Amz-Target": "AmazonSQS.ListQueues",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    assert status == 403
    assert b'"__type":"com.amazon.coral.service#MissingAuthenticationToken"' in body
    assert headers["x-amzn-query-error"] == "MissingAuthenticationToken;Sender"


def test_an_unsigned_query_request_is_missing_authentication_token(server: EkidenProcess) -> None:
    status, _, body = raw(server, "/", data=b"Action=ListQueues&Version=2012-11-05")
    assert status == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in body


def test_an_unsigned_lambda_request_is_missing_authentication_token(server: EkidenProcess) -> None:
    status, headers, _ = raw(server, "/2015-03-31/functions/")
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def presigned_url(server: EkidenProcess, query: str, expires: int) -> str:
    request = AWSRequest(method="GET", url=f"{server.endpoint}/?{query}")
    SigV4QueryAuth(Credentials(KEY, SECRET), "sqs", "us-east-1", expires=expires).add_auth(request)
    return str(request.prepare().url)


def test_a_presigned_url_works_and_a_tampered_one_does_not(server: EkidenProcess) -> None:
    url = client(server, "sqs").create_queue(QueueName="presigned")["QueueUrl"]
    queue_path = url.removeprefix(server.endpoint)
    listing = presigned_url(server, "Action=ListQueues&Version=2012-11-05", 60)
    with urllib.request.urlopen(listing, timeout=10) as answer:
        assert b"/presigned</QueueUrl>" in answer.read()
    request = AWSRequest(
        method="GET",
        url=f"{url}?Action=SendMessage&MessageBody=by-url&Version=2012-11-05",
    )
    SigV4QueryAuth(Credentials(KEY, SECRET), "sqs", "us-east-1", expires=60).add_auth(request)
    send = str(request.prepare().url)
    with urllib.request.urlopen(send, timeout=10) as answer:
        assert b"<MD5OfMessageBody>" in answer.read()
    status, _, body = raw(server, send.removeprefix(server.endpoint).replace("by-url", "by-evil"))
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
    assert queue_path.endswith("/presigned")


def test_an_expired_presigned_url_is_refused(server: EkidenProcess) -> None:
    request = AWSRequest(
        method="GET", url=f"{server.endpoint}/?Action=ListQueues&Version=2012-11-05"
    )
    request.context["timestamp"] = "20200101T000000Z"
    auth = SigV4QueryAuth(Credentials(KEY, SECRET), "sqs", "us-east-1", expires=60)
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    auth._inject_signature_to_request(request, signature)
    status, _, body = raw(server, request.url.removeprefix(server.endpoint))
    assert status == 400 and b"<Code>RequestExpired</Code>" in body


def test_the_console_and_metrics_want_credentials(server: EkidenProcess) -> None:
    status, headers, _ = raw(server, "/metrics")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Basic")
    token = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
    status, _, body = raw(server, "/metrics", headers={"Authorization": f"Basic {token}"})
    assert status == 200 and b"ekiden_" in body
    wrong = base64.b64encode(f"{KEY}:nope".encode()).decode()
    assert raw(server, "/console/api/queues", headers={"Authorization": f"Basic {wrong}"})[0] == 401


def test_the_cli_signs_console_api_requests_with_the_aws_environment(
    server: EkidenProcess, tmp_path: Path
) -> None:
    env = {"EKIDEN_ENDPOINT": server.endpoint, "PATH": "/usr/bin:/bin"}
    signed = {**env, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    ok = subprocess.run(
        [sys.executable, "-m", "ekiden", "queue", "list", "--json"],
        env=signed,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "ekiden", "queue", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "Unauthorized" in refused.stderr


def test_health_stays_open(server: EkidenProcess) -> None:
    assert raw(server, "/health")[0] == 200


def test_a_public_bind_without_keys_refuses_to_start_without_insecure(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ekiden", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in run.stdout + run.stderr


def test_mode_none_warns_loudly_at_startup(tmp_path: Path) -> None:
    with EkidenProcess(tmp_path / "data") as process:
        assert "authentication is OFF" in process.log_text
        assert "WARNING" in process.log_text or "warning" in process.log_text.lower()
