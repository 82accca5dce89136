"""Refusing a request before any front end decoded it (authentication failed, rate limit
reached): the error spelled in the protocol the request spoke -- SQS's JSON protocol
(``X-Amz-Target``), the Lambda REST API, SNS or SQS's Query protocol -- as the front end
itself would have spelled it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from ekiden.core.errors import EkidenError
from ekiden.core.ids import new_request_id
from ekiden.protocols.awslambda import errors as lambda_errors
from ekiden.protocols.awslambda.requests import API_PREFIX as LAMBDA_API_PREFIX
from ekiden.protocols.sns import errors as sns_errors
from ekiden.protocols.sns.frontend import is_sns_request
from ekiden.protocols.sqs import errors as sqs_errors
from ekiden.protocols.wire.query import parse_form
from ekiden.protocols.wire.xml import encode_query_error
from ekiden.server.http_messages import HttpRequest, HttpResponse

__all__ = ["refusal", "request_params"]

_SQS_JSON: Final = "application/x-amz-json-1.0"
_XML: Final = "text/xml"


def refusal(
    request: HttpRequest, error: EkidenError, extra_headers: Sequence[tuple[str, str]] = ()
) -> tuple[str, HttpResponse]:
    """The wire code of ``error`` and the answer refusing ``request`` with it, carrying
    ``extra_headers`` too (a Lambda error that already names one of them keeps its own)."""
    request_id = new_request_id()
    headers = request.headers
    if "x-amz-target" in headers:
        spelled = sqs_errors.wire_error(error)
        body = orjson.dumps({"__type": spelled.json_type, "message": error.message})
        json_headers = [
            ("x-amzn-RequestId", request_id),
            ("x-amzn-query-error", spelled.query_error_header),
            *extra_headers,
        ]
        return spelled.code, HttpResponse(spelled.status, body, _SQS_JSON, json_headers)
    if request.path.startswith(LAMBDA_API_PREFIX):
        answer = lambda_errors.wire_error(error)
        lambda_headers = lambda_errors.error_headers(answer, request_id)
        named = {name for name, _ in lambda_headers}
        lambda_headers += [header for header in extra_headers if header[0] not in named]
        body = lambda_errors.error_body(answer, error.message)
        return answer.code, HttpResponse(answer.status, body, "application/json", lambda_headers)
    xml_headers = [("x-amzn-RequestId", request_id), *extra_headers]
    if is_sns_request(request_params(request), headers.get("authorization", "")):
        status, body = sns_errors.encode_error(error, request_id)
        return sns_errors.wire_error(error).code, HttpResponse(status, body, _XML, xml_headers)
    wire = sqs_errors.wire_error(error)
    body = encode_query_error(wire.code, error.message, wire.sender_fault, request_id)
    return wire.code, HttpResponse(wire.status, body, _XML, xml_headers)


def request_params(request: HttpRequest) -> dict[str, str]:
    """The Query parameters of ``request`` (URL and form body), or none if undecodable:
    enough to tell SNS from SQS when spelling a refusal (an undecodable form is spelled
    as SQS, the default front end)."""
    try:
        params = parse_form(request.query.encode("latin-1")) if request.query else {}
        if request.method == "POST" and request.body:
            params.update(parse_form(request.body))
    except EkidenError:
        return {}
    return params
