"""Telling SNS Query requests from SQS ones on the shared port (pure)."""

from __future__ import annotations

import pytest

from ekiden.protocols.sns.frontend import credential_service, is_sns_request, sns_only_actions
from ekiden.protocols.sns.operations import HANDLERS
from ekiden.protocols.sns.shapes import REQUEST_SHAPES

SIGNED_SNS = (
    "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sns/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, Signature=abc"
)
SIGNED_SQS = SIGNED_SNS.replace("/sns/", "/sqs/")


def test_the_sns_only_actions_are_every_sns_action_but_the_two_sqs_shares() -> None:
    actions = sns_only_actions()
    assert {"Publish", "CreateTopic", "Subscribe", "TagResource"} <= actions
    assert not {"AddPermission", "RemovePermission", "SendMessage"} & actions


def test_every_sns_request_shape_has_a_handler() -> None:
    assert set(HANDLERS) == set(REQUEST_SHAPES)


def test_the_credential_scope_names_the_service() -> None:
    assert credential_service(SIGNED_SNS, {}) == "sns"
    assert credential_service(SIGNED_SQS, {}) == "sqs"
    assert credential_service("", {"X-Amz-Credential": "AKID/20260101/eu-west-1/sns/aws4_request"})
    assert credential_service("", {}) is None
    assert credential_service("Bearer x", {}) is None


@pytest.mark.parametrize(
    ("params", "authorization", "sns"),
    [
        ({"Action": "Publish"}, "", True),
        ({"Action": "SendMessage"}, "", False),
        ({"Action": "AddPermission", "Version": "2010-03-31"}, "", True),
        ({"Action": "AddPermission", "Version": "2012-11-05"}, "", False),
        ({"Action": "AddPermission"}, SIGNED_SNS, True),
        ({"Action": "AddPermission"}, SIGNED_SQS, False),
        ({"Action": "AddPermission"}, "", False),
        ({"Action": "NoSuchAction", "Version": "2010-03-31"}, "", True),
        ({"Action": "ListTopics"}, SIGNED_SNS, True),
        ({}, "", False),
    ],
)
def test_a_request_is_sns_by_version_scope_or_action(
    params: dict[str, str], authorization: str, sns: bool
) -> None:
    assert is_sns_request(params, authorization) is sns
