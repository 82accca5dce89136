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

import json
import logging
import re
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
_SURROGATE = re.compile("[\ud800-\udfff]")


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
            data = _load_json(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise shapes.type_error(data, "Structure")
            result = await self._dispatch(action, data, ctx)
        except EkidenError as error:
            return self._json_error(action or target, error, ctx)
        except Exception:  # a bug of ours: log it, answer InternalFailure
            log.exception("%s failed", action)
            return self._json_error(
                action, InternalFailure("We encountered an internal error. Please try again."), ctx
            )
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
        except Exception:
            log.exception("%s failed", action)
            return self._query_error(
                action, InternalFailure("We encountered an internal error. Please try again."), ctx
            )
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


def _internal_failure() -> InternalFailure:
    # The traceback is in the log; the client gets no internals.
    return InternalFailure("We encountered an internal error. Please try again.")


def _load_json(body: bytes) -> Any:
    """The JSON document of a request body; raises ``MalformedRequest``.

    JSON text may escape lone UTF-16 surrogates (``"\\ud800"``, e.g. from a JavaScript
    string cut in half), which orjson refuses. SQS parses them and then rejects a message
    body holding one as InvalidMessageContents, so such documents are parsed again with
    the standard library; surrogates are let through in message bodies only (which are
    checked character by character), anywhere else the request is malformed.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise MalformedRequest("Request body is not valid JSON.") from None
    if not _surrogates_only_in_bodies(data):
        raise MalformedRequest("Request body holds a string that is not valid Unicode.")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


def _surrogates_only_in_bodies(data: Any) -> bool:
    """True when lone surrogates appear only in ``MessageBody`` of the request or of its
    batch ``Entries`` (where the message checks reject them with SQS's own error)."""
    # Iterative, since data may nest deeply; each item says whether it is a body.
    pending: list[tuple[Any, bool]] = [(data, False)]
    while pending:
        value, is_body = pending.pop()
        if isinstance(value, str):
            if not is_body and _SURROGATE.search(value) is not None:
                return False
        elif isinstance(value, dict):
            for name, item in value.items():
                if _SURROGATE.search(name) is not None:
                    return False
                pending.append((item, name == "MessageBody" and _is_body_holder(data, value)))
        elif isinstance(value, list):
            pending.extend((item, False) for item in value)
    return True


def _is_body_holder(root: Any, holder: dict[str, Any]) -> bool:
    if holder is root:
        return True
    entries = root.get("Entries") if isinstance(root, dict) else None
    return isinstance(entries, list) and any(entry is holder for entry in entries)


def _path_names_queue(path: str) -> bool:
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    return len(parts) == 2


def _log_rejection(action: str, code: str, error: EkidenError) -> None:
    if isinstance(error, InternalFailure):
        return  # already logged with its traceback
    log.info("rejected %s: %s: %s", action or "request", code, error.message)
