"""The SQS front end: both wire protocols decoded into one typed request, one handler each.

* AWS JSON 1.0: ``X-Amz-Target: AmazonSQS.<Action>``, a JSON body, JSON results, errors
  as ``{"__type", "message"}`` plus the ``x-amzn-query-error`` header.
* Query: form fields (body or URL query) with ``Action=<Action>``, XML results and
  ``<ErrorResponse>`` errors. The queue may be named by the request path instead of a
  ``QueueUrl`` field.

Every rejected request is logged with its code; unexpected failures are logged with a
traceback and answered as ``InternalFailure``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from ekiden.core.errors import EkidenError, InternalFailure, MalformedRequest, UnknownOperation
from ekiden.core.services.broker import Broker
from ekiden.protocols.sqs import shapes
from ekiden.protocols.sqs.errors import wire_error
from ekiden.protocols.sqs.operations import HANDLERS, RequestContext
from ekiden.protocols.wire.model import sqs_model
from ekiden.protocols.wire.query import decode_query
from ekiden.protocols.wire.xml import encode_query_error, encode_query_response

log = logging.getLogger("ekiden.sqs")

JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
XML_CONTENT_TYPE = "text/xml"
TARGET_PREFIX = "AmazonSQS."


@dataclass(slots=True)
class WireResponse:
    status: int
    body: bytes
    content_type: str
    headers: list[tuple[str, str]] = field(default_factory=list)


class SqsFrontend:
    """Decodes, dispatches and encodes SQS requests of either protocol."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.model = sqs_model()

    async def handle_json(self, target: str, body: bytes, ctx: RequestContext) -> WireResponse:
        action = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        try:
            if action not in HANDLERS:
                raise UnknownOperation(f"Unknown operation {target}.")
            try:
                data = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError:
                raise MalformedRequest("Request body is not valid JSON.") from None
            if not isinstance(data, dict):
                raise MalformedRequest("Start of list found where not expected.")
            result = await self._dispatch(action, data, ctx)
        except EkidenError as error:
            return self._json_error(action or target, error, ctx)
        except Exception as error:  # a bug of ours: log it, answer InternalFailure
            log.exception("%s failed", action)
            return self._json_error(action, InternalFailure(f"Internal error: {error}"), ctx)
        return WireResponse(
            200,
            orjson.dumps(result if result is not None else {}),
            JSON_CONTENT_TYPE,
            [("x-amzn-RequestId", ctx.request_id)],
        )

    async def handle_query(
        self, params: dict[str, str], path: str, ctx: RequestContext
    ) -> WireResponse:
        action = params.get("Action", "")
        try:
            if action not in HANDLERS:
                if not action:
                    raise UnknownOperation("The request must contain the parameter Action.")
                raise UnknownOperation(f"The action {action} is not valid for this endpoint.")
            data = decode_query(self.model, action, params)
            if "QueueUrl" not in data and _path_names_queue(path):
                data["QueueUrl"] = ctx.base_url + path
            result = await self._dispatch(action, data, ctx)
            body = encode_query_response(self.model, action, result, ctx.request_id)
        except EkidenError as error:
            return self._query_error(action, error, ctx)
        except Exception as error:
            log.exception("%s failed", action)
            return self._query_error(action, InternalFailure(f"Internal error: {error}"), ctx)
        return WireResponse(200, body, XML_CONTENT_TYPE, [("x-amzn-RequestId", ctx.request_id)])

    def reject_query(self, error: EkidenError, ctx: RequestContext) -> WireResponse:
        """The Query-protocol answer to a request that could not even be decoded."""
        return self._query_error("", error, ctx)

    async def _dispatch(
        self, action: str, data: dict[str, Any], ctx: RequestContext
    ) -> dict[str, Any] | None:
        request: Any = shapes.decode(shapes.REQUEST_SHAPES[action], data)
        return await HANDLERS[action](self.broker, ctx, request)

    def _json_error(self, action: str, error: EkidenError, ctx: RequestContext) -> WireResponse:
        spelled = wire_error(error)
        _log_rejection(action, spelled.code, error)
        return WireResponse(
            spelled.status,
            orjson.dumps({"__type": spelled.json_type, "message": error.message}),
            JSON_CONTENT_TYPE,
            [
                ("x-amzn-RequestId", ctx.request_id),
                ("x-amzn-query-error", spelled.query_error_header),
            ],
        )

    def _query_error(self, action: str, error: EkidenError, ctx: RequestContext) -> WireResponse:
        spelled = wire_error(error)
        _log_rejection(action, spelled.code, error)
        message = spelled.query_message or error.message
        body = encode_query_error(spelled.code, message, spelled.sender_fault, ctx.request_id)
        return WireResponse(
            spelled.status, body, XML_CONTENT_TYPE, [("x-amzn-RequestId", ctx.request_id)]
        )


def _path_names_queue(path: str) -> bool:
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    return len(parts) == 2


def _log_rejection(action: str, code: str, error: EkidenError) -> None:
    if isinstance(error, InternalFailure):
        return  # already logged with its traceback
    log.info("rejected %s: %s: %s", action or "request", code, error.message)
