"""What survives a restart of SNS's HTTP/S deliveries, and HTTPS endpoint verification.

The outbox is in the store: a delivery waiting for a retry when ekiden is stopped
(SIGTERM) or killed (SIGKILL) is delivered once ekiden runs again on the same data
directory. The signing key is kept there too, so envelopes signed before a restart still
verify after it. HTTPS endpoints are verified against the configured CA file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.test_sns_http import confirmed_subscription, fast_retries
from tests.support.http_endpoint import Endpoint, drain, make_private_ca, verify_signature
from tests.support.server import EkidenProcess
from tests.support.sns import sns_client


@pytest.fixture(params=["sigterm", "sigkill"])
def restart(request: pytest.FixtureRequest) -> Callable[[EkidenProcess], None]:
    def do_restart(server: EkidenProcess) -> None:
        if request.param == "sigterm":
            assert server.stop() == 0
        else:
            server.kill()
        server.start()

    return do_restart


def test_a_delivery_in_the_middle_of_its_retries_is_delivered_after_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], None]
) -> None:
    server = fresh_ekiden()
    sns = sns_client(server.endpoint)
    topic = sns.create_topic(Name="hooks")["TopicArn"]
    policy = json.dumps(
        {"healthyRetryPolicy": {"minDelayTarget": 2, "maxDelayTarget": 2, "numRetries": 5}}
    )
    with Endpoint() as endpoint:
        confirmed_subscription(sns, topic, endpoint, DeliveryPolicy=policy)
        endpoint.answer_next(500)
        published = sns.publish(TopicArn=topic, Message="keep me")
        first = endpoint.next()  # failed: the retry is due two seconds later

        restart(server)

        again = endpoint.next(timeout_s=10)
        assert again.headers["x-amz-sns-message-id"] == published["MessageId"]
        assert again.body == first.body
        # The key survived too: its certificate is served at the same path (the port is
        # a new one, as every start of a test server picks a free one).
        message = again.json()
        path = urlsplit(message["SigningCertURL"]).path
        verify_signature(dict(message, SigningCertURL=server.endpoint + path))
        assert endpoint.quiet_for(2.5)  # delivered once: nothing more after it


def test_a_confirmation_its_endpoint_refused_is_sent_again_after_a_restart(
    fresh_ekiden: Callable[..., EkidenProcess], restart: Callable[[EkidenProcess], None]
) -> None:
    server = fresh_ekiden()
    sns = sns_client(server.endpoint)
    topic = sns.create_topic(Name="later")["TopicArn"]
    with Endpoint(always=503) as endpoint:
        sns.subscribe(
            TopicArn=topic,
            Protocol="http",
            Endpoint=endpoint.url,
            Attributes={"DeliveryPolicy": fast_retries(20)},
        )
        endpoint.next()  # refused: retried every second

        restart(server)
        list(drain(endpoint))  # what came before (or while) the restart
        endpoint.answer_always(200)

        message = endpoint.next(timeout_s=10).json()  # sent by the restarted process
        assert message["Type"] == "SubscriptionConfirmation"
        sns = sns_client(server.endpoint)  # the port changed with the restart
        arn = sns.confirm_subscription(TopicArn=topic, Token=message["Token"])["SubscriptionArn"]
        sns.publish(TopicArn=topic, Message="confirmed at last")
        while (post := endpoint.next().json())["Type"] != "Notification":
            pass  # a retry of the confirmation that was already on its way
        assert post["Message"] == "confirmed at last"
        assert post["UnsubscribeURL"].endswith(arn)


def test_https_endpoints_are_verified_against_the_configured_ca_file(tmp_path: Path) -> None:
    ca = make_private_ca(tmp_path)
    server = EkidenProcess(
        tmp_path / "data", env={"EKIDEN_SNS_HTTPS_CA_FILE": str(ca.ca_file)}
    ).start()
    try:
        sns = sns_client(server.endpoint)
        topic = sns.create_topic(Name="secure")["TopicArn"]
        with Endpoint(tls=ca.server_context) as endpoint:
            sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=endpoint.url)
            message = endpoint.next().json()
            assert message["Type"] == "SubscriptionConfirmation"
            assert requests.get(message["SubscribeURL"], timeout=10).status_code == 200
            sns.publish(TopicArn=topic, Message="over TLS")
            notification = endpoint.next().json()
            assert notification["Message"] == "over TLS"
            verify_signature(notification)
    finally:
        server.stop()


def test_an_https_endpoint_whose_certificate_is_not_trusted_is_not_delivered_to(
    ekiden: EkidenProcess, tmp_path: Path, queue_name: str
) -> None:
    ca = make_private_ca(tmp_path)  # the shared server trusts the system store only
    sns = sns_client(ekiden.endpoint)
    topic = sns.create_topic(Name=queue_name)["TopicArn"]
    with Endpoint(tls=ca.server_context) as endpoint:
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=endpoint.url)
        assert endpoint.quiet_for(1.5)
    assert "TLS failure" in ekiden.log_text
