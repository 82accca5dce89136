"""The authorisation decision (ekiden.core.rules.access) and its enforcement
(ekiden.core.services.access): identity rules, queue policies, explicit denies."""

from __future__ import annotations

import json
import logging

import pytest

from ekiden.core.errors import AccessDenied
from ekiden.core.rules.access import AllowRule, Decision, Identity, decide, matches
from ekiden.core.services.access import Authorizer

OWNER = "000000000000"
OTHER = "111111111111"
ORDERS = f"arn:aws:sqs:us-east-1:{OWNER}:orders-eu"
BILLING = f"arn:aws:sqs:us-east-1:{OWNER}:billing"

producer = Identity(
    "producer", OWNER, (AllowRule(("sqs:SendMessage",), ("arn:aws:sqs:*:*:orders-*",)),)
)
admin = Identity("admin", OWNER)
consumer = Identity("consumer", OTHER, ())


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def grant(principal: object, action: object, **extra: object) -> dict[str, object]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": ORDERS,
        **extra,
    }


def test_wildcards_follow_iam_star_and_question_mark() -> None:
    assert matches("arn:aws:sqs:*:*:orders-*", ORDERS)
    assert matches("arn:aws:sqs:us-east-?:*:orders-eu", ORDERS)
    assert not matches("arn:aws:sqs:*:*:orders-?", ORDERS)
    assert matches("sqs:receive*", "sqs:ReceiveMessage", fold_case=True)
    assert not matches("arn:aws:sqs:*:*:Orders-*", ORDERS)  # resources keep their case
    assert matches("arn:aws:sqs:*:*:orders.[x]*", "arn:aws:sqs:r:a:orders.[x]1")


def test_an_identity_without_rules_may_do_everything_in_its_own_account() -> None:
    assert decide(admin, "sqs:DeleteQueue", BILLING, None) is Decision.ALLOWED_BY_IDENTITY


def test_an_identity_without_rules_gets_nothing_in_another_account() -> None:
    stranger = Identity("stranger", OTHER)
    assert decide(stranger, "sqs:SendMessage", ORDERS, None) is Decision.NOT_ALLOWED


def test_identity_rules_allow_only_their_actions_on_their_resources() -> None:
    assert decide(producer, "sqs:SendMessage", ORDERS, None).allowed
    assert not decide(producer, "sqs:ReceiveMessage", ORDERS, None).allowed
    assert not decide(producer, "sqs:SendMessage", BILLING, None).allowed


def test_a_policy_grants_another_account_by_root_arn_account_id_or_user_arn() -> None:
    for principal in (
        {"AWS": f"arn:aws:iam::{OTHER}:root"},
        {"AWS": OTHER},
        {"AWS": [f"arn:aws:iam::{OTHER}:user/consumer", "arn:aws:iam::222222222222:root"]},
        {"AWS": "*"},
        "*",
    ):
        doc = policy(grant(principal, "SQS:ReceiveMessage"))
        assert decide(consumer, "sqs:ReceiveMessage", ORDERS, doc) is Decision.ALLOWED_BY_POLICY


def test_a_policy_grant_is_limited_to_its_principal_action_and_resource() -> None:
    assert not decide(
        consumer, "sqs:ReceiveMessage", ORDERS, policy(grant({"AWS": OWNER}, "sqs:*"))
    ).allowed
    assert not decide(
        consumer, "sqs:SendMessage", ORDERS, policy(grant({"AWS": OTHER}, "sqs:Receive*"))
    ).allowed
    assert not decide(
        consumer, "sqs:ReceiveMessage", BILLING, policy(grant({"AWS": OTHER}, "sqs:*"))
    ).allowed


def test_a_policy_extends_an_identity_of_the_owner_account_beyond_its_rules() -> None:
    doc = policy(grant({"AWS": f"arn:aws:iam::{OWNER}:user/producer"}, "sqs:ReceiveMessage"))
    assert decide(producer, "sqs:ReceiveMessage", ORDERS, doc) is Decision.ALLOWED_BY_POLICY


def test_an_explicit_deny_wins_over_identity_rules_and_grants() -> None:
    doc = policy(
        grant("*", "sqs:*"),
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": ORDERS},
    )
    assert decide(admin, "sqs:SendMessage", ORDERS, doc) is Decision.DENIED_BY_POLICY
    assert decide(admin, "sqs:ReceiveMessage", ORDERS, doc).allowed


def test_a_statement_with_a_condition_matches_nothing() -> None:
    conditional = grant("*", "sqs:*", Condition={"Bool": {"aws:SecureTransport": "true"}})
    assert not decide(consumer, "sqs:ReceiveMessage", ORDERS, policy(conditional)).allowed


def test_a_statement_without_resource_applies_to_the_resource_it_is_attached_to() -> None:
    doc = policy({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage"})
    assert decide(consumer, "sqs:SendMessage", ORDERS, doc).allowed


def test_a_policy_cannot_grant_owner_only_actions_to_another_account() -> None:
    doc = policy(grant("*", "sqs:*"))
    assert not decide(consumer, "sqs:DeleteQueue", ORDERS, doc).allowed
    assert not decide(consumer, "sqs:AddPermission", ORDERS, doc).allowed
    assert decide(consumer, "sqs:PurgeQueue", ORDERS, doc).allowed


def test_an_unreadable_or_odd_policy_grants_nothing() -> None:
    for doc in ("{not json", "[]", json.dumps({"Statement": "x"}), policy(grant(7, "sqs:*"))):
        assert not decide(consumer, "sqs:SendMessage", ORDERS, doc).allowed


def test_a_denial_raises_access_denied_with_aws_message_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    authorizer = Authorizer(OWNER, "us-east-1")
    assert authorizer.queue_arn("orders-eu") == ORDERS
    with caplog.at_level(logging.WARNING, "ekiden.access"), pytest.raises(AccessDenied) as denied:
        authorizer.require(producer, "sqs:ReceiveMessage", ORDERS)
    assert denied.value.message == (
        f"User: arn:aws:iam::{OWNER}:user/producer is not authorized to perform: "
        f"sqs:ReceiveMessage on resource: {ORDERS}"
    )
    assert "access denied" in caplog.text and "producer" in caplog.text


def test_an_allowed_request_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "ekiden.access"):
        decision = Authorizer(OWNER, "us-east-1").require(producer, "sqs:SendMessage", ORDERS)
    assert decision is Decision.ALLOWED_BY_IDENTITY and not caplog.text
