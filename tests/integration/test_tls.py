"""``ekiden serve --tls-cert --tls-key``: HTTPS on the same port, for boto3 (SQS, SNS) with a
CA bundle, ``ekiden bench``, the in-process functions runtime, and clear startup errors.

Every run makes a private CA and a server certificate for 127.0.0.1 and localhost
(tests/support/tls_certs.py); clients trust that CA only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from tests.support.functions import FunctionsApp, wait_for
from tests.support.server import EkidenProcess
from tests.support.tls_certs import Authority, ServerFiles, make_authority, make_server_files

_CONFIG = botocore.config.Config(retries={"max_attempts": 1}, read_timeout=30)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return make_authority(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def files(ca: Authority, tmp_path_factory: pytest.TempPathFactory) -> ServerFiles:
    return make_server_files(ca, tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(files: ServerFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EkidenProcess]:
    args = ("--tls-cert", str(files.chain), "--tls-key", str(files.key))
    with EkidenProcess(tmp_path_factory.mktemp("data"), *args) as server:
        yield server


def client(service: str, endpoint: str, verify: str | bool) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDEKIDENTEST",
        aws_secret_access_key="secret",
        verify=verify,
        config=_CONFIG,
    )


def serve(*args: str, data_dir: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``ekiden serve`` expecting it to exit at once; (exit status, output)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ekiden",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    return done.returncode, done.stdout + done.stderr


def test_startup_line_says_https_and_queue_urls_use_https(
    server: EkidenProcess, ca: Authority
) -> None:
    assert f"listening on https://127.0.0.1:{server.port}" in server.log_text
    assert server.endpoint == f"https://127.0.0.1:{server.port}"
    sqs = client("sqs", server.endpoint, str(ca.cert_path))
    url = sqs.create_queue(QueueName="tls-urls")["QueueUrl"]
    assert url == f"https://127.0.0.1:{server.port}/000000000000/tls-urls"
    assert sqs.get_queue_url(QueueName="tls-urls")["QueueUrl"] == url


def test_boto3_with_the_ca_bundle_sends_and_receives_over_https(
    server: EkidenProcess, ca: Authority
) -> None:
    sqs = client("sqs", server.endpoint, str(ca.cert_path))
    url = sqs.create_queue(QueueName="tls-send")["QueueUrl"]
    bodies = [f"secret {i}" for i in range(25)]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen: list[str] = []
    while len(seen) < len(bodies):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in messages.get("Messages", []):
            seen.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(seen) == sorted(bodies)


def test_sns_over_https_delivers_to_sqs_with_https_links(
    server: EkidenProcess, ca: Authority
) -> None:
    sns = client("sns", server.endpoint, str(ca.cert_path))
    sqs = client("sqs", server.endpoint, str(ca.cert_path))
    topic = sns.create_topic(Name="tls-topic")["TopicArn"]
    url = sqs.create_queue(QueueName="tls-topic-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="over tls")
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Message"] == "over tls"
    base = f"https://127.0.0.1:{server.port}/"
    assert envelope["UnsubscribeURL"].startswith(base)
    assert envelope["SigningCertURL"].startswith(base)
    pem = requests.get(envelope["SigningCertURL"], verify=str(ca.cert_path), timeout=10)
    assert pem.status_code == 200 and pem.text.startswith("-----BEGIN CERTIFICATE-----")


def test_a_client_without_the_ca_fails_certificate_verification(server: EkidenProcess) -> None:
    sqs = client("sqs", server.endpoint, True)  # the system trust store only
    with pytest.raises(botocore.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        sqs.list_queues()


def test_plain_http_to_the_https_port_is_refused_and_the_server_keeps_serving(
    server: EkidenProcess, ca: Authority
) -> None:
    for _ in range(3):
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{server.port}/health", timeout=10)
    health = requests.get(f"{server.endpoint}/health", verify=str(ca.cert_path), timeout=10)
    assert health.json() == {"status": "ok"}
    assert server.proc is not None and server.proc.poll() is None


def test_bench_measures_an_https_endpoint_with_the_ca_in_ssl_cert_file(
    server: EkidenProcess, ca: Authority, tmp_path: Path
) -> None:
    report = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "ekiden", "bench", "send", "--endpoint", server.endpoint,
         "--messages", "300", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"SSL_CERT_FILE": str(ca.cert_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    send = {p["name"]: p for p in json.loads(report.read_text())["runs"][0]["phases"]}["send"]
    assert (send["messages"], send["errors"]) == (300, 0)


def test_settings_come_from_the_environment_too(
    files: ServerFiles, ca: Authority, tmp_path: Path
) -> None:
    env = {"EKIDEN_TLS_CERT": str(files.chain), "EKIDEN_TLS_KEY": str(files.key)}
    with EkidenProcess(tmp_path / "data", env=env) as server:
        assert server.endpoint.startswith("https://")
        assert client("sqs", server.endpoint, str(ca.cert_path)).list_queues() is not None


# --- startup errors: exit status 2 and a message naming the file ---------------------------


def test_a_missing_certificate_file_stops_the_start_with_status_2(
    files: ServerFiles, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.pem"
    status, output = serve(
        "--tls-cert", str(missing), "--tls-key", str(files.key), data_dir=tmp_path
    )
    assert status == 2
    assert "tls_cert from flag --tls-cert" in output and str(missing) in output


def test_a_key_that_does_not_match_the_certificate_stops_the_start_with_status_2(
    ca: Authority, files: ServerFiles, tmp_path: Path
) -> None:
    other = make_server_files(ca, tmp_path, prefix="other")
    status, output = serve(
        "--tls-cert", str(files.chain), "--tls-key", str(other.key), data_dir=tmp_path / "d"
    )
    assert status == 2
    assert "cannot start" in output and "does not match the certificate" in output
    assert "Traceback" not in output


def test_a_certificate_without_a_key_stops_the_start_with_status_2(
    files: ServerFiles, tmp_path: Path
) -> None:
    status, output = serve("--tls-cert", str(files.chain), data_dir=tmp_path)
    assert status == 2
    assert "tls_cert is set but tls_key is not" in output


def test_a_file_that_is_not_pem_stops_the_start_with_status_2(
    files: ServerFiles, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    status, output = serve(
        "--tls-cert", str(garbage), "--tls-key", str(files.key), data_dir=tmp_path / "d"
    )
    assert status == 2
    assert "not a PEM certificate chain" in output


# --- the functions runtime inside the server, over TLS ---------------------------------------

HANDLER = """
from recorder import record


def lambda_handler(event, context):
    record("tls", bodies=[r["body"] for r in event["Records"]])
"""


def test_a_mapping_processes_messages_through_the_runtime_over_tls(
    files: ServerFiles, ca: Authority, tmp_path: Path
) -> None:
    app = FunctionsApp(tmp_path)
    app.write_handler("tlsfn", HANDLER)
    app.write_config(
        functions={"tlsfn": app.function("tlsfn:lambda_handler", timeout_s=30)},
        mappings=[{"function": "tlsfn", "queue": "tls-mapped"}],
    )
    try:
        with app.server("--tls-cert", str(files.chain), "--tls-key", str(files.key)) as server:
            sqs = client("sqs", server.endpoint, str(ca.cert_path))
            url = wait_for(lambda: _queue_url(sqs, "tls-mapped"), 20, "the mapped queue to exist")
            sqs.send_message(QueueUrl=url, MessageBody="through tls")
            app.wait_records(
                "tls", lambda r: any("through tls" in x["bodies"] for x in r), 30, "the handler"
            )
            assert "cannot verify" not in server.log_text
    finally:
        app.close()


def _queue_url(sqs: Any, name: str) -> str | None:
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        return None


def test_a_certificate_the_runtime_cannot_verify_stops_the_start_with_status_2(
    ca: Authority, tmp_path: Path
) -> None:
    elsewhere = make_server_files(ca, tmp_path, dns_names=["broker.example"], ip_addresses=[])
    app = FunctionsApp(tmp_path / "app")
    app.write_handler("tlsfn", HANDLER)
    app.write_config(
        functions={"tlsfn": app.function("tlsfn:lambda_handler")},
        mappings=[{"function": "tlsfn", "queue": "tls-unverifiable"}],
    )
    status, output = serve(
        "--config", str(app.config_path), "--tls-cert", str(elsewhere.chain),
        "--tls-key", str(elsewhere.key), data_dir=app.data_dir,
    )  # fmt: skip
    assert status == 2
    assert "cannot verify its own TLS certificate" in output
    assert "must name one of 127.0.0.1, localhost" in output
