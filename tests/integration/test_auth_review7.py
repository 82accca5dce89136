"""Review of issue 7's authentication: the routes that need no signature (health check,
SNS signing certificate, unprotected console, SubscribeURL/UnsubscribeURL GETs) must not
be a way into the SQS/SNS APIs for an unsigned request that merely looks like them."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.server import EkidenProcess
from tests.unit.server.test_sigv4_review7 import UnsignedPayloadQueryAuth

KEY = "AKIDEKIDENTEST"
SECRET = "secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EkidenProcess]:
    root = tmp_path_factory.mktemp("auth-review7")
    config = root / "ekiden.toml"
    config.write_text(
        f'[auth]\nmode = "sigv4"\nprotect_console = false\n\n[[auth.keys]]\n'
        f'access_key_id = "{KEY}"\nsecret_access_key = "{SECRET}"\nidentity = "tests"\n'
    )
    with EkidenProcess(root / "data", "--config", str(config)) as process:
        yield process


def sqs(server: EkidenProcess) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def unsigned(
    server: EkidenProcess, method: str, path: str, body: bytes = b"", **headers: str
) -> int:
    host = server.endpoint.removeprefix("http://")
    connection = http.client.HTTPConnection(host, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def queue_names(server: EkidenProcess) -> list[str]:
    urls = sqs(server).list_queues().get("QueueUrls", [])
    return [url.rpartition("/")[2] for url in urls]


_JSON = {"Content-Type": "application/x-amz-json-1.0"}


@pytest.mark.parametrize(
    "path", ["/health", "/sns/SimpleNotificationService-x.pem", "/console", "/metrics"]
)
def test_an_open_path_carrying_x_amz_target_does_not_reach_the_sqs_json_api(
    server: EkidenProcess, path: str
) -> None:
    name = "json" + str(abs(hash(path)))
    status = unsigned(
        server,
        "GET",
        path,
        b'{"QueueName": "%s"}' % name.encode(),
        **_JSON,
        **{"X-Amz-Target": "AmazonSQS.CreateQueue"},
    )
    assert status in (400, 403)
    assert name not in queue_names(server)


@pytest.mark.parametrize(
    "path",
    [
        "/sns/SimpleNotificationService-x.pem?Action=CreateQueue&QueueName=viapem",
        "/metricsx?Action=CreateQueue&QueueName=viametricsx",
        "/consolex?Action=CreateQueue&QueueName=viaconsolex",
    ],
)
def test_a_path_that_only_resembles_an_open_route_does_not_reach_the_query_api(
    server: EkidenProcess, path: str
) -> None:
    assert unsigned(server, "GET", path) in (400, 403)
    assert path.rpartition("=")[2] not in queue_names(server)


def test_the_open_routes_still_answer_without_a_signature(server: EkidenProcess) -> None:
    assert unsigned(server, "GET", "/health") == 200
    assert unsigned(server, "GET", "/metrics") == 200
    assert unsigned(server, "GET", "/console") == 200


def test_a_presigned_url_cannot_carry_an_sqs_json_body_of_another_action(
    server: EkidenProcess,
) -> None:
    request = AWSRequest(method="GET", url=f"{server.endpoint}/?Action=ListQueues")
    UnsignedPayloadQueryAuth(Credentials(KEY, SECRET), "sqs", "us-east-1", expires=60).add_auth(
        request
    )
    url = str(request.prepare().url)
    assert unsigned(server, "GET", url.removeprefix(server.endpoint)) == 200
    status = unsigned(
        server,
        "GET",
        url.removeprefix(server.endpoint),
        b'{"QueueName": "smuggled"}',
        **_JSON,
        **{"X-Amz-Target": "AmazonSQS.CreateQueue"},
    )
    assert status == 403
    assert "smuggled" not in queue_names(server)
