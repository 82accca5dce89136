"""Who may do what: the pure decision of one request's authorisation.

:func:`decide` takes the caller (:class:`Identity`: name, account, allow rules), the
action (``"sqs:SendMessage"``), the resource ARN and the resource's policy document (a
queue's or topic's ``Policy`` attribute, or ``None``) and answers with a
:class:`Decision`. The order is IAM's, reduced to what ekiden has:

1. an explicit ``Deny`` statement of the policy that matches -> denied, for everyone;
2. the caller's account owns the resource and one of its allow rules matches -> allowed
   (an identity without rules may do everything in its own account);
3. an ``Allow`` statement of the policy whose Principal, Action and Resource match the
   caller -> allowed (this is how other accounts, or identities of the owner's account
   whose rules do not reach the resource, get in);
4. else denied (implicitly).

Patterns use IAM's wildcards: ``*`` any run of characters, ``?`` one character. Actions
compare case-insensitively (``SQS:SendMessage`` == ``sqs:sendmessage``), resources
case-sensitively.

What the policy language supports here: ``Effect`` Allow/Deny; ``Principal`` ``"*"`` or
``{"AWS": ...}`` with ``"*"``, account ids, ``arn:aws:iam::ACCOUNT:root`` and
``arn:aws:iam::ACCOUNT:user/NAME`` (a string or a list); ``Action`` and ``Resource``
(string or list, wildcards; a statement without ``Resource`` applies to the resource the
policy is attached to). Conditions are not evaluated: a statement carrying a
``Condition`` (or ``NotPrincipal``/``NotAction``/``NotResource``) never matches, neither
to allow nor to deny. A policy that is not valid JSON grants nothing.

Cross-account grants do not reach the actions SQS reserves to the queue owner
(:data:`OWNER_ONLY_ACTIONS`), as on AWS.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = [
    "OWNER_ONLY_ACTIONS",
    "AllowRule",
    "Decision",
    "Identity",
    "decide",
    "matches",
    "resource_account",
]

OWNER_ONLY_ACTIONS: Final = frozenset(
    f"sqs:{name.lower()}"
    for name in (
        "AddPermission",
        "CancelMessageMoveTask",
        "CreateQueue",
        "DeleteQueue",
        "ListMessageMoveTasks",
        "ListQueues",
        "ListQueueTags",
        "RemovePermission",
        "SetQueueAttributes",
        "StartMessageMoveTask",
        "TagQueue",
        "UntagQueue",
    )
)
"""SQS actions a policy cannot grant to another account (AWS: "cross-account
permissions don't apply to the following actions"); lower-cased."""


@dataclass(frozen=True, slots=True)
class AllowRule:
    """One ``allow`` entry of an access key: any of ``actions`` on any of ``resources``
    (patterns with ``*`` and ``?``)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def matches(self, action: str, resource: str) -> bool:
        """Whether this rule allows ``action`` on ``resource``."""
        return any(matches(p, action, fold_case=True) for p in self.actions) and any(
            matches(p, resource) for p in self.resources
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as.

    Attributes:
        name: the identity name of the access key (``identity`` in ``ekiden.toml``).
        account_id: the 12-digit account the identity belongs to.
        allow: its allow rules; ``None`` means everything within its own account.
    """

    name: str
    account_id: str
    allow: tuple[AllowRule, ...] | None = None

    @property
    def arn(self) -> str:
        """The IAM user ARN AWS names the caller by in AccessDenied messages."""
        return f"arn:aws:iam::{self.account_id}:user/{self.name}"


class Decision(Enum):
    """The outcome of :func:`decide`; only ``ALLOWED_*`` let the request through."""

    ALLOWED_BY_IDENTITY = "allowed by the identity's rules"
    ALLOWED_BY_POLICY = "allowed by the resource policy"
    DENIED_BY_POLICY = "explicitly denied by the resource policy"
    NOT_ALLOWED = "not allowed by the identity's rules nor by the resource policy"

    @property
    def allowed(self) -> bool:
        return self in (Decision.ALLOWED_BY_IDENTITY, Decision.ALLOWED_BY_POLICY)


@functools.lru_cache(maxsize=4096)  # a few patterns, checked on every request
def _compiled(pattern: str, fold_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, (re.IGNORECASE | re.DOTALL) if fold_case else re.DOTALL)


def matches(pattern: str, value: str, *, fold_case: bool = False) -> bool:
    """Whether ``value`` matches the IAM-style ``pattern`` (``*`` and ``?`` wildcards),
    case-insensitively when ``fold_case``."""
    return _compiled(pattern, fold_case).fullmatch(value) is not None


def resource_account(arn: str) -> str:
    """The account field of ``arn:partition:service:region:account:...`` (``""`` if
    ``arn`` is not of that form)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def decide(
    identity: Identity, action: str, resource: str, policy: str | Mapping[str, object] | None
) -> Decision:
    """Whether ``identity`` may perform ``action`` (``"service:Name"``) on the resource
    ARN ``resource``, whose policy document is ``policy`` (JSON text, parsed, or
    ``None``). See the module docstring for the order of evaluation."""
    statements = _statements(policy)
    for statement in statements:
        if statement.get("Effect") == "Deny" and _applies(statement, identity, action, resource):
            return Decision.DENIED_BY_POLICY
    own = identity.account_id == resource_account(resource)
    if own and (
        identity.allow is None or any(rule.matches(action, resource) for rule in identity.allow)
    ):
        return Decision.ALLOWED_BY_IDENTITY
    if not own and action.lower() in OWNER_ONLY_ACTIONS:
        return Decision.NOT_ALLOWED
    for statement in statements:
        if statement.get("Effect") == "Allow" and _applies(statement, identity, action, resource):
            return Decision.ALLOWED_BY_POLICY
    return Decision.NOT_ALLOWED


def _statements(policy: str | Mapping[str, object] | None) -> list[Mapping[str, object]]:
    if policy is None or policy == "":
        return []
    document: object = policy
    if isinstance(policy, str):
        try:
            document = json.loads(policy)
        except ValueError:
            return []  # an unreadable policy grants (and denies) nothing
    if not isinstance(document, Mapping):
        return []
    raw = document.get("Statement")
    listed = raw if isinstance(raw, list) else [raw]
    return [s for s in listed if isinstance(s, Mapping)]


def _strings(value: object) -> list[str] | None:
    """A policy field that is a string or a list of strings, as a list; ``None`` when it
    is anything else (the statement then matches nothing)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _applies(
    statement: Mapping[str, object], identity: Identity, action: str, resource: str
) -> bool:
    # Conditions and the Not* forms are not evaluated: such a statement matches nothing.
    if any(k in statement for k in ("Condition", "NotPrincipal", "NotAction", "NotResource")):
        return False
    if not _principal_matches(statement.get("Principal"), identity):
        return False
    actions = _strings(statement.get("Action"))
    if actions is None or not any(matches(p, action, fold_case=True) for p in actions):
        return False
    if "Resource" not in statement:
        return True  # a resource policy speaks of the resource it is attached to
    resources = _strings(statement["Resource"])
    return resources is not None and any(matches(p, resource) for p in resources)


def _principal_matches(principal: object, identity: Identity) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    names = _strings(principal.get("AWS"))
    if names is None:
        return False
    account = identity.account_id
    accepted = {"*", account, f"arn:aws:iam::{account}:root", identity.arn}
    return any(name in accepted for name in names)
