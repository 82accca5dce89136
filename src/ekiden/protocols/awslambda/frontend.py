"""The Lambda API front end (REST-JSON, the subset tools use), served on ekiden's port.

Requests whose path starts with ``/2015-03-31/`` come here (see ``ekiden.server.app``):
``requests`` routes and decodes them, the functions service does the work,
``responses`` encodes the results, ``errors`` spells the failures. Status codes are the
model's: CreateEventSourceMapping, UpdateEventSourceMapping and DeleteEventSourceMapping
answer 202; Invoke answers 200 (RequestResponse), 202 (Event) or 204 (DryRun).

Every rejected request is logged with its code; unexpected failures are logged with a
traceback and answered as ServiceException (500). A client error never gets a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final, Protocol

import orjson

from ekiden.core.errors import EkidenError, InternalFailure, MessageTooLong
from ekiden.core.functions import EventSourceMapping, FunctionSpec, InvocationType, InvokeResult
from ekiden.core.rules.mappings import MappingChanges
from ekiden.protocols.awslambda import requests as rq
from ekiden.protocols.awslambda import responses as rs
from ekiden.protocols.awslambda.errors import (
    EVENT_TOO_LARGE,
    LambdaWireError,
    error_body,
    error_headers,
    wire_error,
)
from ekiden.protocols.sqs.frontend import WireResponse

log = logging.getLogger("ekiden.lambda")

JSON_CONTENT_TYPE: Final = "application/json"


class FunctionsApi(Protocol):
    """What the front end needs of ``ekiden.core.services.functions.FunctionsService``."""

    def function_arn(self, name: str) -> str: ...

    def get_function(self, name_or_arn: str) -> FunctionSpec: ...

    def list_functions(self) -> list[FunctionSpec]: ...

    async def create_mapping(self, changes: MappingChanges) -> EventSourceMapping: ...

    async def update_mapping(self, uuid: str, changes: MappingChanges) -> EventSourceMapping: ...

    async def delete_mapping(self, uuid: str) -> EventSourceMapping: ...

    def get_mapping(self, uuid: str) -> EventSourceMapping: ...

    def list_mappings(
        self, *, function_name: str | None = None, event_source_arn: str | None = None
    ) -> list[EventSourceMapping]: ...

    async def invoke(
        self,
        name_or_arn: str,
        payload: bytes,
        *,
        invocation_type: InvocationType,
        client_context: str | None = None,
        request_id: str | None = None,
    ) -> InvokeResult | None: ...


class LambdaFrontend:
    """Routes, decodes, dispatches and encodes Lambda API requests.

    ``declared_at_ms`` is shown as every function's LastModified: functions are declared
    in the configuration, so they were last modified when the server read it.
    """

    def __init__(self, service: FunctionsApi, declared_at_ms: int) -> None:
        self.service = service
        self.declared_at_ms = declared_at_ms

    async def handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        authorize: Callable[[str, str], object] | None = None,
    ) -> WireResponse:
        """Answer one request (``headers`` with lower-cased names, ``path`` and ``query``
        still percent-encoded). Never raises.

        ``authorize(action, resource)`` (given when the request carries an identity) is
        called with ``lambda:<Action>`` (``lambda:InvokeFunction`` for Invoke) and the
        function's ARN (``...:function:*`` for operations naming no function) before
        anything runs; the AccessDenied it raises is the answer."""
        operation = ""
        try:
            route = rq.route(method, path)
            operation = route.operation
            if authorize is not None:
                name = route.function_name
                resource = name if name and name.startswith("arn:") else None
                action = "InvokeFunction" if operation == "Invoke" else operation
                authorize(f"lambda:{action}", resource or self.service.function_arn(name or "*"))
            return await self._dispatch(route, query, headers, body, request_id)
        except EkidenError as error:
            return self._error(operation, error, request_id)
        except Exception:  # a bug of ours: log it, answer ServiceException
            log.exception("%s failed", operation or f"{method} {path}")
            failure = InternalFailure("We encountered an internal error. Please try again.")
            return self._error(operation, failure, request_id)

    def reject(self, error: EkidenError, request_id: str) -> WireResponse:
        """The response of a request refused before it reached the front end."""
        return self._error("", error, request_id)

    async def _dispatch(
        self, route: rq.Route, query: str, headers: dict[str, str], body: bytes, request_id: str
    ) -> WireResponse:
        params = rq.parse_query(query) if query else {}
        service = self.service
        match route.operation:
            case "ListFunctions":
                # Lambda pages at most 50 functions, whatever MaxItems asks for
                limit = min(
                    rq.max_items(params, rq.DEFAULT_FUNCTIONS_PAGE), rq.DEFAULT_FUNCTIONS_PAGE
                )
                specs, marker = rs.page(
                    service.list_functions(), lambda s: s.name, params.get("Marker"), limit
                )
                result: dict[str, Any] = {"Functions": [self._configuration(s) for s in specs]}
                if marker is not None:
                    result["NextMarker"] = marker
                return _json(200, result, request_id)
            case "GetFunction" | "GetFunctionConfiguration":
                spec = self._function(route, params)
                arn = service.function_arn(spec.name)
                if route.operation == "GetFunction":
                    document = rs.encode_get_function(spec, arn, self.declared_at_ms)
                else:
                    document = rs.encode_configuration(spec, arn, self.declared_at_ms)
                return _json(200, document, request_id)
            case "Invoke":
                return await self._invoke(route, params, headers, body, request_id)
            case "CreateEventSourceMapping":
                changes = rq.decode_mapping_body(body, create=True)
                mapping = await service.create_mapping(changes)
                return self._mapping(202, mapping, "Creating", request_id)
            case "ListEventSourceMappings":
                return self._list_mappings(params, request_id)
            case "GetEventSourceMapping":
                return self._mapping(200, service.get_mapping(_uuid(route)), None, request_id)
            case "UpdateEventSourceMapping":
                changes = rq.decode_mapping_body(body, create=False)
                mapping = await service.update_mapping(_uuid(route), changes)
                return self._mapping(202, mapping, "Updating", request_id)
            case "DeleteEventSourceMapping":
                mapping = await service.delete_mapping(_uuid(route))
                return self._mapping(202, mapping, "Deleting", request_id)

    def _function(self, route: rq.Route, params: dict[str, str]) -> FunctionSpec:
        name = rq.qualified_name(route.function_name or "", params.get("Qualifier"))
        return self.service.get_function(name)

    def _configuration(self, spec: FunctionSpec) -> dict[str, Any]:
        arn = self.service.function_arn(spec.name)
        return rs.encode_configuration(spec, arn, self.declared_at_ms)

    def _mapping(
        self, status: int, mapping: EventSourceMapping, state: str | None, request_id: str
    ) -> WireResponse:
        arn = self.service.function_arn(mapping.function_name)
        return _json(status, rs.encode_mapping(mapping, arn, state), request_id)

    def _list_mappings(self, params: dict[str, str], request_id: str) -> WireResponse:
        # Lambda pages at most 100 mappings, whatever MaxItems asks for
        limit = min(rq.max_items(params, rq.DEFAULT_MAPPINGS_PAGE), rq.DEFAULT_MAPPINGS_PAGE)
        function_name = params.get("FunctionName") or None
        if function_name is not None:  # Lambda: an unknown function is not found
            function_name = self.service.get_function(function_name).name
        mappings = self.service.list_mappings(
            function_name=function_name, event_source_arn=params.get("EventSourceArn") or None
        )
        chosen, marker = rs.page(mappings, lambda m: m.uuid, params.get("Marker"), limit)
        result: dict[str, Any] = {
            "EventSourceMappings": [
                rs.encode_mapping(m, self.service.function_arn(m.function_name)) for m in chosen
            ]
        }
        if marker is not None:
            result["NextMarker"] = marker
        return _json(200, result, request_id)

    async def _invoke(
        self,
        route: rq.Route,
        params: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        request_id: str,
    ) -> WireResponse:
        call = rq.decode_invoke(route.function_name or "", params, headers, body)
        try:
            result = await self.service.invoke(
                call.function_name,
                call.payload,
                invocation_type=call.invocation_type,
                client_context=call.client_context,
                request_id=request_id,
            )
        except MessageTooLong as error:
            if call.invocation_type != "Event":
                raise
            # Lambda words an oversized event with a code of its own
            return self._error("Invoke", error, request_id, EVENT_TOO_LARGE)
        if call.invocation_type == "DryRun":
            return WireResponse(204, b"", JSON_CONTENT_TYPE, [("x-amzn-RequestId", request_id)])
        if call.invocation_type == "Event" or result is None:
            return WireResponse(202, b"", JSON_CONTENT_TYPE, [("x-amzn-RequestId", request_id)])
        response_headers = [
            ("x-amzn-RequestId", result.request_id),
            ("X-Amz-Executed-Version", rs.LATEST),
        ]
        if result.function_error is not None:
            response_headers.append(("X-Amz-Function-Error", result.function_error))
        if call.log_tail:
            response_headers.append(("X-Amz-Log-Result", rs.log_result(result.log_tail)))
        return WireResponse(200, result.payload, JSON_CONTENT_TYPE, response_headers)

    def _error(
        self,
        operation: str,
        error: EkidenError,
        request_id: str,
        spelled: LambdaWireError | None = None,
    ) -> WireResponse:
        """The response of ``error``, spelled by the catalog unless ``spelled`` is given."""
        spelled = spelled or wire_error(error)
        if not isinstance(error, InternalFailure):  # those are logged with their traceback
            log.info("rejected %s: %s: %s", operation or "request", spelled.code, error.message)
        return WireResponse(
            spelled.status,
            error_body(spelled, error.message),
            JSON_CONTENT_TYPE,
            error_headers(spelled, request_id),
        )


def _uuid(route: rq.Route) -> str:
    return route.uuid or ""


def _json(status: int, document: dict[str, Any], request_id: str) -> WireResponse:
    return WireResponse(
        status, orjson.dumps(document), JSON_CONTENT_TYPE, [("x-amzn-RequestId", request_id)]
    )
