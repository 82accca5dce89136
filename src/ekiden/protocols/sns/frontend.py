"""The SNS front end: Query requests (form fields with ``Action=<Action>``) decoded into
one typed request, one handler each, answered with SNS's XML documents.

SNS is served on the SQS port. ``is_sns_request`` tells the two apart: a request is SNS
when its ``Version`` is SNS's (``2010-03-31``) or its SigV4 credential scope names the
``sns`` service; failing both (hand-made requests, the SubscribeURL/UnsubscribeURL links
of an envelope), when its action is one only SNS has (the two APIs share no action name
but AddPermission and RemovePermission).

Every rejected request is logged with its code; unexpected failures are logged with a
traceback and answered as ``InternalError``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache

from ekiden.core.errors import EkidenError, InternalFailure
from ekiden.core.services.topics import TopicService
from ekiden.protocols.sns import sns_model
from ekiden.protocols.sns.errors import encode_error, wire_error
from ekiden.protocols.sns.operations import HANDLERS
from ekiden.protocols.sns.responses import encode_result
from ekiden.protocols.sns.shapes import decode_request
from ekiden.protocols.sqs.frontend import XML_CONTENT_TYPE, WireResponse
from ekiden.protocols.sqs.operations import RequestContext
from ekiden.protocols.wire.model import sqs_model

log = logging.getLogger("ekiden.sns")

SNS_VERSION = "2010-03-31"
SQS_VERSION = "2012-11-05"


@cache
def sns_only_actions() -> frozenset[str]:
    """The actions of the SNS API that the SQS API does not have."""
    return frozenset(sns_model().operation_names) - frozenset(sqs_model().operation_names)


def credential_service(authorization: str, params: Mapping[str, str]) -> str | None:
    """The service named by the SigV4 credential scope of a request (``Credential=`` in
    the ``Authorization`` header, or a presigned URL's ``X-Amz-Credential``), if any:
    ``<key>/<date>/<region>/<service>/aws4_request``."""
    scope = params.get("X-Amz-Credential", "")
    marker = authorization.find("Credential=")
    if marker >= 0:
        start = marker + len("Credential=")
        end = authorization.find(",", start)
        scope = authorization[start : end if end >= 0 else len(authorization)].strip()
    parts = scope.split("/")
    return parts[3] if len(parts) == 5 else None


def is_sns_request(params: Mapping[str, str], authorization: str) -> bool:
    """Whether a Query request is meant for SNS (see the module docstring)."""
    version = params.get("Version")
    service = credential_service(authorization, params)
    if version == SNS_VERSION or service == "sns":
        return True
    if version == SQS_VERSION or service == "sqs":
        return False
    return params.get("Action", "") in sns_only_actions()


class SnsFrontend:
    """Decodes, dispatches and encodes SNS Query requests."""

    def __init__(self, topics: TopicService) -> None:
        self.topics = topics

    async def handle_query(self, params: Mapping[str, str], ctx: RequestContext) -> WireResponse:
        action = params.get("Action", "")
        try:
            request = decode_request(action, params)
            result = await HANDLERS[action](self.topics, ctx, request)
            body = encode_result(action, result, ctx.request_id)
        except EkidenError as error:
            return self.reject(error, ctx, action)
        except Exception:  # a bug of ours: log it, answer InternalError
            log.exception("%s failed", action)
            failure = InternalFailure("We encountered an internal error. Please try again.")
            return self.reject(failure, ctx, action)
        return WireResponse(200, body, XML_CONTENT_TYPE, [("x-amzn-RequestId", ctx.request_id)])

    def reject(self, error: EkidenError, ctx: RequestContext, action: str = "") -> WireResponse:
        """The SNS answer to a request refused with ``error`` (also one that could not be
        decoded at all)."""
        if not isinstance(error, InternalFailure):  # already logged with its traceback
            code = wire_error(error).code
            log.info("rejected %s: %s: %s", action or "request", code, error.message)
        status, body = encode_error(error, ctx.request_id)
        return WireResponse(status, body, XML_CONTENT_TYPE, [("x-amzn-RequestId", ctx.request_id)])
