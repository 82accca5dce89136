"""CreateQueue, GetQueueUrl, ListQueues, DeleteQueue and queue URLs, over both protocols."""

from __future__ import annotations

import urllib.parse
import urllib.request
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.support.clients import sqs_client
from tests.support.messaging import rejected
from tests.support.queue_admin import ACCOUNT_ID, arn_of, attribute
from tests.support.server import EkidenProcess

NAME_RULES = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
FIFO_NAME_RULES = (
    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
    "underscores, must end with .fifo suffix and be 1 to 80 in length."
)

# --- CreateQueue ------------------------------------------------------------------------


def test_create_queue_returns_a_url_of_the_endpoint_account_and_name(
    sqs: Any, ekiden: EkidenProcess, queue_name: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    assert url == f"http://127.0.0.1:{ekiden.port}/{ACCOUNT_ID}/{queue_name}"
    assert attribute(sqs, url, "QueueArn") == f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:{queue_name}"


def test_queue_url_is_built_from_the_host_the_client_addressed(
    ekiden: EkidenProcess, protocol: str, queue_name: str
) -> None:
    client = sqs_client(f"http://localhost:{ekiden.port}", protocol)
    url = client.create_queue(QueueName=queue_name)["QueueUrl"]
    assert url == f"http://localhost:{ekiden.port}/{ACCOUNT_ID}/{queue_name}"
    assert client.get_queue_url(QueueName=queue_name)["QueueUrl"] == url


def test_create_fifo_queue_with_fifo_name_and_attribute(sqs: Any, queue_name: str) -> None:
    name = f"{queue_name}.fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT_ID}/{name}")
    assert attribute(sqs, url, "FifoQueue") == "true"


def test_standard_queue_has_no_fifo_attributes(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    assert attribute(sqs, url, "FifoQueue") is None


def test_create_queue_twice_with_same_attributes_returns_the_same_url(
    sqs: Any, queue_name: str
) -> None:
    attributes = {"VisibilityTimeout": "45", "DelaySeconds": "3"}
    first = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    second = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    without_attributes = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    assert first == second == without_attributes
    assert attribute(sqs, first, "VisibilityTimeout") == "45"


def test_create_queue_with_default_value_given_explicitly_is_idempotent(
    sqs: Any, queue_name: str
) -> None:
    first = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    again = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "30"})
    assert again["QueueUrl"] == first


def test_create_queue_with_different_attributes_is_rejected(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name, Attributes={"DelaySeconds": "0"})["QueueUrl"]
    with rejected("QueueAlreadyExists") as error:
        sqs.create_queue(QueueName=queue_name, Attributes={"DelaySeconds": "5"})
    assert error.message == (
        "A queue already exists with the same name and a different value for attribute DelaySeconds"
    )
    assert attribute(sqs, url, "DelaySeconds") == "0"


def test_create_fifo_queue_with_different_content_based_deduplication_is_rejected(
    sqs: Any, queue_name: str
) -> None:
    name = f"{queue_name}.fifo"
    sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})
    with rejected("QueueAlreadyExists") as error:
        sqs.create_queue(
            QueueName=name,
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )
    assert error.message.endswith("different value for attribute ContentBasedDeduplication")


@pytest.mark.parametrize(
    "name",
    ["has space", "has.dot", "slash/inside", "ünïcode", "a" * 81, ""],
    ids=["space", "dot", "slash", "non-ascii", "81-chars", "empty"],
)
def test_create_queue_with_invalid_name_is_rejected(sqs: Any, name: str) -> None:
    with rejected("InvalidParameterValue") as error:
        sqs.create_queue(QueueName=name)
    if name:
        assert error.message == NAME_RULES


def test_create_queue_accepts_a_name_of_80_characters(sqs: Any, queue_name: str) -> None:
    name = (queue_name + "x" * 80)[:80]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert url.endswith("/" + name)


def test_create_queue_with_fifo_name_but_no_fifo_attribute_is_rejected(
    sqs: Any, queue_name: str
) -> None:
    with rejected("InvalidParameterValue") as error:
        sqs.create_queue(QueueName=f"{queue_name}.fifo")
    assert error.message == NAME_RULES


def test_create_fifo_queue_without_fifo_suffix_is_rejected(sqs: Any, queue_name: str) -> None:
    with rejected("InvalidParameterValue") as error:
        sqs.create_queue(QueueName=queue_name, Attributes={"FifoQueue": "true"})
    assert error.message == FIFO_NAME_RULES


def test_fifo_queue_name_may_be_80_characters_including_the_suffix(
    sqs: Any, queue_name: str
) -> None:
    base = (queue_name + "y" * 80)[:75]
    url = sqs.create_queue(QueueName=base + ".fifo", Attributes={"FifoQueue": "true"})
    assert url["QueueUrl"].endswith(f"/{base}.fifo")
    with rejected("InvalidParameterValue") as error:
        sqs.create_queue(QueueName=base + "z.fifo", Attributes={"FifoQueue": "true"})
    assert error.message == FIFO_NAME_RULES


def test_create_queue_with_tags_stores_them(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name, tags={"team": "shop", "empty": ""})["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "shop", "empty": ""}


def test_create_queue_with_out_of_range_attribute_is_rejected_and_creates_nothing(
    sqs: Any, queue_name: str
) -> None:
    with rejected("InvalidAttributeValue") as error:
        sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "43201"})
    assert error.message.startswith("Invalid value for the parameter VisibilityTimeout.")
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.get_queue_url(QueueName=queue_name)


def test_create_queue_with_unknown_attribute_is_rejected(sqs: Any, queue_name: str) -> None:
    with rejected("InvalidAttributeName") as error:
        sqs.create_queue(QueueName=queue_name, Attributes={"Colour": "blue"})
    assert error.message == "Unknown Attribute Colour."


# --- GetQueueUrl ------------------------------------------------------------------------


def test_get_queue_url_returns_the_url_of_an_existing_queue(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    assert sqs.get_queue_url(QueueName=queue_name)["QueueUrl"] == url


def test_get_queue_url_of_a_missing_queue_is_rejected(sqs: Any, protocol: str) -> None:
    with rejected("AWS.SimpleQueueService.NonExistentQueue") as error:
        sqs.get_queue_url(QueueName="no-such-queue-anywhere")
    # AWS words the same error differently on the two protocols.
    if protocol == "json":
        assert error.message == "The specified queue does not exist."
    else:
        assert error.message == "The specified queue does not exist for this wsdl version."


def test_get_queue_url_with_the_owner_account_id_finds_the_queue(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    found = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=ACCOUNT_ID)
    assert found["QueueUrl"] == url


def test_get_queue_url_with_another_owner_account_id_is_rejected(sqs: Any, queue_name: str) -> None:
    sqs.create_queue(QueueName=queue_name)
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId="111122223333")


# --- ListQueues -------------------------------------------------------------------------


def test_list_queues_with_prefix_returns_only_matching_queues(sqs: Any, queue_name: str) -> None:
    urls = sorted(sqs.create_queue(QueueName=f"{queue_name}-{i}")["QueueUrl"] for i in range(3))
    sqs.create_queue(QueueName=f"other-{queue_name}")
    listed = sqs.list_queues(QueueNamePrefix=queue_name)["QueueUrls"]
    assert sorted(listed) == urls


def test_list_queues_with_no_matching_queue_returns_no_urls(sqs: Any, queue_name: str) -> None:
    listed = sqs.list_queues(QueueNamePrefix=f"{queue_name}-nothing-here")
    assert listed.get("QueueUrls", []) == []
    assert "NextToken" not in listed


def test_list_queues_pages_through_all_queues_with_max_results(sqs: Any, queue_name: str) -> None:
    created = {sqs.create_queue(QueueName=f"{queue_name}-{i}")["QueueUrl"] for i in range(5)}
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"QueueNamePrefix": queue_name, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = sqs.list_queues(**kwargs)
        pages.append(page["QueueUrls"])
        token = page.get("NextToken")
        if token is None:
            break
        assert len(pages) < 10, "pagination does not end"
    assert [len(page) for page in pages] == [2, 2, 1]
    assert {url for page in pages for url in page} == created


def test_list_queues_with_max_results_covering_everything_has_no_next_token(
    sqs: Any, queue_name: str
) -> None:
    created = {sqs.create_queue(QueueName=f"{queue_name}-{i}")["QueueUrl"] for i in range(2)}
    page = sqs.list_queues(QueueNamePrefix=queue_name, MaxResults=2)
    assert set(page["QueueUrls"]) == created
    assert "NextToken" not in page


@pytest.mark.parametrize("max_results", [0, 1001])
def test_list_queues_with_max_results_out_of_range_is_rejected(sqs: Any, max_results: int) -> None:
    with rejected("InvalidParameterValue"):
        sqs.list_queues(MaxResults=max_results)


# --- DeleteQueue ------------------------------------------------------------------------


def test_deleted_queue_no_longer_exists(sqs: Any, queue_name: str) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="gone with the queue")
    sqs.delete_queue(QueueUrl=url)
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.get_queue_url(QueueName=queue_name)
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.send_message(QueueUrl=url, MessageBody="too late")
    assert sqs.list_queues(QueueNamePrefix=queue_name).get("QueueUrls", []) == []


def test_delete_of_a_missing_queue_is_rejected(sqs: Any, ekiden: EkidenProcess) -> None:
    with rejected("AWS.SimpleQueueService.NonExistentQueue"):
        sqs.delete_queue(QueueUrl=f"{ekiden.endpoint}/{ACCOUNT_ID}/no-such-queue-to-delete")


# --- QueueUrl forms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url_form",
    [
        "http://localhost:{port}/{account}/{name}",
        "https://sqs.us-east-1.amazonaws.com/{account}/{name}",
        "https://queue.amazonaws.com/{account}/{name}",
        "http://127.0.0.1:{port}/{account}/{name}/",
    ],
    ids=["localhost", "aws-regional", "aws-legacy", "trailing-slash"],
)
def test_queue_url_of_another_host_form_names_the_same_queue(
    sqs: Any, ekiden: EkidenProcess, queue_name: str, url_form: str
) -> None:
    url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    other = url_form.format(port=ekiden.port, account=ACCOUNT_ID, name=queue_name)
    assert attribute(sqs, other, "QueueArn") == arn_of(queue_name)
    sqs.send_message(QueueUrl=other, MessageBody="via another url form")
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in received] == ["via another url form"]


def _query(url: str, params: str) -> ElementTree.Element:
    request = urllib.request.Request(
        url,
        data=params.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return ElementTree.fromstring(response.read())


def test_query_request_posted_to_the_queue_url_addresses_that_queue(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    url = sqs_client(ekiden.endpoint, "json").create_queue(QueueName=queue_name)["QueueUrl"]
    document = _query(url, "Action=GetQueueAttributes&Version=2012-11-05&AttributeName.1=QueueArn")
    values = [element.text for element in document.iter() if element.tag.endswith("Value")]
    assert values == [arn_of(queue_name)]


def test_query_request_to_the_root_with_an_aws_style_queue_url_reaches_the_queue(
    ekiden: EkidenProcess, queue_name: str
) -> None:
    client = sqs_client(ekiden.endpoint, "json")
    url = client.create_queue(QueueName=queue_name)["QueueUrl"]
    aws_form = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/{queue_name}"
    _query(
        ekiden.endpoint + "/",
        "Action=SendMessage&Version=2012-11-05&MessageBody=posted"
        f"&QueueUrl={urllib.parse.quote(aws_form, safe='')}",
    )
    received = client.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in received] == ["posted"]
