"""Who may call ekiden: the authentication hook in front of every route.

:class:`Authenticator` decides for one request, before any front end sees it, and
answers either with the identity the request acts as or with the refusal to send back,
spelled in the protocol the request spoke (SQS JSON ``__type`` + ``x-amzn-query-error``,
SQS or SNS Query ``<ErrorResponse>``, Lambda ``x-amzn-ErrorType``; 401 JSON for the
console). A refusal happens before anything is decoded or changed, and is logged.

What needs what (in ``sigv4`` mode; in ``none`` mode no Authenticator exists):

* every SQS, SNS and Lambda API request: a SigV4 signature (header or presigned form,
  see :mod:`ekiden.server.sigv4_verify`) by a configured key;
* ``/console``, ``/console/api/...`` and ``/metrics`` when ``protect_console``: a SigV4
  signature, or HTTP Basic ``access_key_id:secret_access_key`` (browsers prompt for it
  after the 401's ``WWW-Authenticate``; Prometheus has ``basic_auth``);
* nothing for ``GET /health`` (load balancers probe it), the SNS signing certificate
  (receivers fetch it to verify messages), and an unsigned SNS ``ConfirmSubscription`` or
  ``Unsubscribe`` GET: the SubscribeURL and UnsubscribeURL that SNS hands to endpoints
  work without credentials on AWS too (their token / subscription ARN is the secret).
  These are open only in exactly that shape: never with ``X-Amz-Target`` (which the app
  hands to the SQS JSON API whatever the path), never under the Lambda API, the health
  check and certificate only without a query, the console only on the paths it answers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from collections.abc import Callable
from typing import Final

import orjson

from ekiden.config.auth import AuthSettings
from ekiden.core.errors import EkidenError
from ekiden.core.rules.access import AllowRule, Identity
from ekiden.protocols.awslambda.requests import API_PREFIX as LAMBDA_API_PREFIX
from ekiden.protocols.sns.frontend import is_sns_request
from ekiden.protocols.wire.query import parse_form
from ekiden.server.http_messages import HttpRequest, HttpResponse
from ekiden.server.refusals import refusal
from ekiden.server.sigv4_verify import SignedRequest, SigV4Verifier

__all__ = ["ANONYMOUS", "Authenticator", "announce_mode"]

log = logging.getLogger("ekiden.server.auth")

ANONYMOUS: Final = ""
"""The identity of a request that needs no credentials (health check, certificate)."""

_CERT_PREFIX: Final = "/sns/SimpleNotificationService-"
_OPEN_SNS_ACTIONS: Final = frozenset({"ConfirmSubscription", "Unsubscribe"})
_BASIC_CHALLENGE: Final = ("WWW-Authenticate", 'Basic realm="ekiden", charset="UTF-8"')


def announce_mode(auth: AuthSettings) -> None:
    """Log how requests are authenticated; loudly (WARNING) when they are not."""
    if auth.enabled:
        log.info(
            "authentication: sigv4 with %d key(s); console and /metrics %s",
            len(auth.keys),
            "protected" if auth.protect_console else "open",
        )
    else:
        log.warning(
            "authentication is OFF (auth mode 'none'): anyone who can reach this port may "
            "read, send and delete every message; configure [[auth.keys]] for production"
        )


class Authenticator:
    """Authenticates requests against the configured keys (``auth.mode == "sigv4"``).

    ``now_s`` is the wall clock in seconds, injectable for tests; ``account_id`` is the
    server's account, that of every key configured without one.
    """

    def __init__(
        self,
        auth: AuthSettings,
        now_s: Callable[[], float] = time.time,
        account_id: str = "000000000000",
    ) -> None:
        self._identities = {k.access_key_id: k.identity for k in auth.keys}
        # identity name -> who it is for authorisation (the config makes keys that share
        # an identity agree on its account and rules)
        self._principals: dict[str, Identity] = {}
        for key in auth.keys:
            allow = (
                None
                if key.allow is None
                else tuple(AllowRule(r.actions, r.resources) for r in key.allow)
            )
            self._principals.setdefault(
                key.identity, Identity(key.identity, key.account_id or account_id, allow)
            )
        self._secrets = {k.access_key_id: k.secret_access_key for k in auth.keys}
        self._protect_console = auth.protect_console
        self._verifier = SigV4Verifier(self._secrets, now_s)

    def check(self, request: HttpRequest) -> str | HttpResponse:
        """The identity ``request`` acts as (:data:`ANONYMOUS` for open routes), or the
        refusal to answer it with."""
        path = request.path
        # An open route is open only in the exact shape the route handler answers: the
        # app sends any request with X-Amz-Target to the SQS JSON API, and any path the
        # console or the open routes do not answer on to the Query APIs, so a looser test
        # here would let an unsigned request reach them (e.g. GET /health carrying
        # X-Amz-Target, or GET /consoleX?Action=DeleteQueue).
        if "x-amz-target" in request.headers or path.startswith(LAMBDA_API_PREFIX):
            return self._checked(request)
        if _is_console_route(path):
            if not self._protect_console:
                return ANONYMOUS
            return self._console(request)
        if request.method == "GET":
            if not request.query and (
                path == "/health" or (_CERT_PREFIX in path and path.endswith(".pem"))
            ):
                # Without a query a GET that is neither answers nothing but an error.
                return ANONYMOUS
            if _is_open_sns_get(request):
                return ANONYMOUS
        return self._checked(request)

    def _checked(self, request: HttpRequest) -> str | HttpResponse:
        try:
            return self._sigv4(request)
        except EkidenError as error:
            return self._refuse(request, error)

    def principal(self, identity: str) -> Identity | None:
        """The :class:`Identity` (account, allow rules) of the identity name ``check``
        returned; ``None`` for :data:`ANONYMOUS` (open routes are not authorised)."""
        return self._principals.get(identity) if identity else None

    def _sigv4(self, request: HttpRequest) -> str:
        verified = self._verifier.verify(
            SignedRequest(
                request.method, request.path, request.query, request.headers, request.body
            )
        )
        return self._identities[verified.access_key_id]

    def _console(self, request: HttpRequest) -> str | HttpResponse:
        authorization = request.headers.get("authorization", "")
        if authorization[:6].lower() == "basic ":
            identity = self._basic(authorization[6:].strip())
            if identity is not None:
                return identity
            message = "The access key id or secret access key is wrong."
        else:
            try:
                return self._sigv4(request)
            except EkidenError as error:
                message = error.message
                _log_refusal(request, type(error).__name__, message)
        if authorization[:6].lower() == "basic ":
            _log_refusal(request, "Unauthorized", message)
        body = orjson.dumps({"error": {"code": "Unauthorized", "message": message}})
        return HttpResponse(401, body, "application/json", [_BASIC_CHALLENGE])

    def _basic(self, encoded: str) -> str | None:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        key_id, colon, secret = decoded.partition(":")
        expected = self._secrets.get(key_id)
        if not colon or expected is None:
            return None
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            return None
        return self._identities[key_id]

    def _refuse(self, request: HttpRequest, error: EkidenError) -> HttpResponse:
        code, response = refusal(request, error)
        _log_refusal(request, code, error.message)
        return response


def _is_console_route(path: str) -> bool:
    """Whether the console answers ``path`` itself (never handing it on to the APIs)."""
    return path in ("/metrics", "/console") or path.startswith("/console/")


def _is_open_sns_get(request: HttpRequest) -> bool:
    headers = request.headers
    if "authorization" in headers or not request.query or "X-Amz-" in request.query:
        return False
    try:
        params = parse_form(request.query.encode("latin-1"))
    except EkidenError:
        return False
    return params.get("Action") in _OPEN_SNS_ACTIONS and is_sns_request(params, "")


def _log_refusal(request: HttpRequest, code: str, message: str) -> None:
    log.warning(
        "refused %s %s from %s: %s: %s",
        request.method,
        request.path[:200],
        request.client_host or "?",
        code,
        message,
    )
