"""The SNS wire layer end to end with botocore's real SNS client, but without a server.

A ``before-send`` hook stands in for the HTTP server: it decodes the exact request the
client signed and sent, lets a fake service answer it, and hands the client the encoded
answer. What the client returns (or raises) is what boto3 users will see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

from ekiden.core import errors as e
from ekiden.protocols.sns import sns_model
from ekiden.protocols.sns.errors import CATALOG, encode_error
from ekiden.protocols.sns.responses import (
    CreateTopicResult,
    ListTagsForResourceResult,
    PublishBatchResult,
    PublishBatchResultEntry,
    PublishResult,
    SnsResult,
    encode_result,
)
from ekiden.protocols.sns.shapes import (
    CreateTopicRequest,
    MessageAttributeValue,
    PublishBatchRequest,
    PublishRequest,
    SnsRequest,
    Tag,
    decode_request,
)
from ekiden.protocols.wire.query import parse_form

TOPIC = "arn:aws:sns:us-east-1:123456789012:orders"
REQUEST_ID = "0b6c4a0e-7d8f-5a5e-9c3b-1f2e3d4c5b6a"

Service = Callable[[SnsRequest], SnsResult | None]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class FakeSns:
    """A botocore SNS client whose requests are answered in-process by ``service``."""

    def __init__(self, config: Config | None = None) -> None:
        session = botocore.session.get_session()
        self.client: Any = session.create_client(
            "sns",
            region_name="us-east-1",
            endpoint_url="http://sns.test",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            config=config,
        )
        self.client.meta.events.register("before-send.sns.*", self._answer)
        self.service: Service = lambda request: None
        self.seen: list[SnsRequest] = []

    def _answer(self, request: Any, **_: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        params = parse_form(body)
        action = params["Action"]
        try:
            decoded = decode_request(action, params)
            self.seen.append(decoded)
            status, xml = 200, encode_result(action, self.service(decoded), REQUEST_ID)
        except e.EkidenError as error:
            status, xml = encode_error(error, REQUEST_ID)
        headers = {"Content-Type": "text/xml", "x-amzn-RequestId": REQUEST_ID}
        return AWSResponse(request.url, status, headers, _Raw(xml))


@pytest.fixture(scope="module")
def sns() -> Iterator[FakeSns]:
    fake = FakeSns()
    yield fake
    fake.client.close()


def test_create_topic_goes_through_as_a_typed_request_and_its_arn_comes_back(
    sns: FakeSns,
) -> None:
    sns.service = lambda request: CreateTopicResult(f"arn:aws:sns:us-east-1:1:{request.name}")
    answer = sns.client.create_topic(
        Name="orders", Attributes={"DisplayName": "O"}, Tags=[{"Key": "k", "Value": "v"}]
    )
    assert answer["TopicArn"] == "arn:aws:sns:us-east-1:1:orders"
    assert answer["ResponseMetadata"]["RequestId"] == REQUEST_ID
    assert sns.seen[-1] == CreateTopicRequest(
        name="orders", attributes={"DisplayName": "O"}, tags=[Tag("k", "v")]
    )


def test_publish_with_attributes_round_trips_through_the_real_client(sns: FakeSns) -> None:
    sns.service = lambda request: PublishResult("msg-1", sequence_number="7")
    answer = sns.client.publish(
        TopicArn=TOPIC,
        Message="héllo & <bye>",
        MessageAttributes={
            "n": {"DataType": "Number", "StringValue": "3"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )
    assert (answer["MessageId"], answer["SequenceNumber"]) == ("msg-1", "7")
    assert sns.seen[-1] == PublishRequest(
        message="héllo & <bye>",
        topic_arn=TOPIC,
        message_attributes={
            "n": MessageAttributeValue("Number", string_value="3"),
            "b": MessageAttributeValue("Binary", binary_value=b"\x00\xff"),
        },
    )


def test_publish_batch_reports_successes_and_failures_to_the_client(sns: FakeSns) -> None:
    def service(request: SnsRequest) -> SnsResult:
        assert isinstance(request, PublishBatchRequest)
        return PublishBatchResult(
            successful=[PublishBatchResultEntry(x.id, f"m-{x.id}") for x in request.entries]
        )

    sns.service = service
    answer = sns.client.publish_batch(
        TopicArn=TOPIC,
        PublishBatchRequestEntries=[{"Id": "a", "Message": "1"}, {"Id": "b", "Message": "2"}],
    )
    assert answer["Successful"] == [
        {"Id": "a", "MessageId": "m-a"},
        {"Id": "b", "MessageId": "m-b"},
    ]
    assert answer["Failed"] == []


def test_list_tags_comes_back_as_key_value_members(sns: FakeSns) -> None:
    sns.service = lambda request: ListTagsForResourceResult({"a": "1", "b": "2"})
    answer = sns.client.list_tags_for_resource(ResourceArn=TOPIC)
    assert answer["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]


def test_an_action_without_a_result_returns_only_response_metadata(sns: FakeSns) -> None:
    sns.service = lambda request: None
    answer = sns.client.delete_topic(TopicArn=TOPIC)
    assert set(answer) == {"ResponseMetadata"}
    answer = sns.client.tag_resource(ResourceArn=TOPIC, Tags=[])
    assert set(answer) == {"ResponseMetadata"}


def test_a_missing_topic_is_the_clients_not_found_exception(sns: FakeSns) -> None:
    def service(request: SnsRequest) -> SnsResult:
        raise e.TopicDoesNotExist()

    sns.service = service
    with pytest.raises(sns.client.exceptions.NotFoundException) as raised:
        sns.client.get_topic_attributes(TopicArn=TOPIC)
    error = raised.value.response["Error"]
    assert (error["Code"], error["Message"], error["Type"]) == (
        "NotFound",
        "Topic does not exist",
        "Sender",
    )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_request_without_a_required_member_is_a_validation_error_for_the_client() -> None:
    # botocore validates before sending; switch that off to send what it would refuse.
    unchecked = FakeSns(Config(parameter_validation=False))
    with pytest.raises(ClientError) as raised:
        unchecked.client.publish(TopicArn=TOPIC)
    unchecked.client.close()
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["Error"]["Message"] == (
        "1 validation error detected: Value null at 'message' failed to satisfy constraint: "
        "Member must not be null"
    )


def _modeled_codes() -> dict[str, str]:
    """Query error code -> exception shape name, for every error of the SNS model."""
    model = sns_model()
    return {s.error.code: s.name for s in model.error_shapes() if s.error is not None}


@pytest.mark.parametrize(
    "error_class",
    sorted((c for c, w in CATALOG.items() if w.code in _modeled_codes()), key=lambda c: c.__name__),
    ids=lambda c: c.__name__,
)
def test_an_error_with_a_modeled_code_raises_the_clients_exception_of_that_code(
    sns: FakeSns, error_class: type[e.EkidenError]
) -> None:
    def service(request: SnsRequest) -> SnsResult:
        raise error_class("it failed")

    sns.service = service
    shape_name = _modeled_codes()[CATALOG[error_class].code]
    expected = getattr(sns.client.exceptions, shape_name)
    with pytest.raises(expected) as raised:
        sns.client.list_topics()
    assert raised.value.response["Error"]["Message"] == "it failed"
    assert (
        raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == CATALOG[error_class].status
    )
