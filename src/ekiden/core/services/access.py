"""Authorisation at the front ends: check one request, refuse it with AccessDenied.

The front ends know the action and the resource a request addresses; they call
:meth:`Authorizer.require` before anything changes. The decision itself is the pure
:func:`ekiden.core.rules.access.decide`; this module adds what a service adds: the
error AWS answers with, and a WARNING log line for every denial (who, what, on what,
why) so that operators see refused traffic.

With authentication off (auth mode ``none``) no request carries an identity and the
front ends never call in here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ekiden.core.errors import AccessDenied
from ekiden.core.rules.access import Decision, Identity, decide

__all__ = ["Authorizer"]

log = logging.getLogger("ekiden.access")


class Authorizer:
    """Enforces the access rules of the server whose account is ``account_id`` and
    region is ``region`` (used to name resources: :meth:`queue_arn`, :meth:`topic_arn`).
    """

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region

    def queue_arn(self, name: str) -> str:
        """The ARN of the queue ``name`` of this server."""
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"

    def topic_arn(self, name: str) -> str:
        """The ARN of the topic ``name`` of this server."""
        return f"arn:aws:sns:{self.region}:{self.account_id}:{name}"

    def require(
        self,
        identity: Identity,
        action: str,
        resource: str,
        policy: str | Mapping[str, object] | None = None,
    ) -> Decision:
        """The (allowing) decision for ``identity`` performing ``action`` on ``resource``
        under ``policy``.

        Raises:
            AccessDenied: the decision denies; AWS's message, logged at WARNING.
        """
        decision = decide(identity, action, resource, policy)
        if decision.allowed:
            return decision
        log.warning(
            "access denied: %s (identity %r) may not %s on %s: %s",
            identity.arn,
            identity.name,
            action,
            resource,
            decision.value,
        )
        raise AccessDenied(
            f"User: {identity.arn} is not authorized to perform: {action} on resource: "
            f"{resource}"
            + (" with an explicit deny" if decision is Decision.DENIED_BY_POLICY else "")
        )
