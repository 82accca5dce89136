"""Wiring: store + broker + SQS and SNS front ends behind the HTTP server.

Routing: a request whose path starts with ``/2015-03-31/`` goes to the Lambda API front
end when the server runs functions; a request with ``X-Amz-Target`` speaks SQS's AWS JSON
1.0; any other POST or GET that carries ``Action`` speaks the Query protocol, of SNS
when ``is_sns_request`` says so (SNS's Version, a credential scope naming ``sns``, or an
action only SNS has), else of SQS; ``GET /health`` answers a liveness check, and
``GET /sns/SimpleNotificationService-<fingerprint>.pem`` serves the certificate of the
key SNS envelopes are signed with (their ``SigningCertURL``).

URLs ekiden hands out (queue URLs; SNS's SubscribeURL, UnsubscribeURL, SigningCertURL)
start with the ``public_url`` setting when it is set, else with ``http://<Host header>``
(how the client addressed ekiden; ``https://`` when the server speaks TLS).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import get_args

import orjson

from ekiden.config import Settings
from ekiden.config.auth import insecure_refusal
from ekiden.core.clock import Clock, SystemClock
from ekiden.core.errors import EkidenError
from ekiden.core.ids import new_request_id
from ekiden.core.rules.access import Identity
from ekiden.core.services.access import Authorizer
from ekiden.core.services.broker import Broker, DeclaredQueue
from ekiden.core.services.functions import FunctionsService
from ekiden.core.services.request_metrics import RequestMetrics
from ekiden.protocols.awslambda.frontend import LambdaFrontend
from ekiden.protocols.awslambda.requests import API_PREFIX as LAMBDA_API_PREFIX
from ekiden.protocols.awslambda.requests import Operation as LambdaOperation
from ekiden.protocols.awslambda.requests import route
from ekiden.protocols.sns.frontend import SnsFrontend, credential_service, is_sns_request
from ekiden.protocols.sns.operations import HANDLERS as SNS_HANDLERS
from ekiden.protocols.sqs.frontend import SqsFrontend, WireResponse
from ekiden.protocols.sqs.operations import HANDLERS as SQS_HANDLERS
from ekiden.protocols.sqs.operations import RequestContext
from ekiden.protocols.wire.query import parse_form
from ekiden.server.auth import Authenticator, announce_mode
from ekiden.server.console import CONSOLE_PATHS, ConsoleRoutes
from ekiden.server.functions import FunctionsWiring, start_functions
from ekiden.server.http import HttpRequest, HttpResponse, HttpServer
from ekiden.server.http_client import StreamHttpPoster
from ekiden.server.signing import RsaEnvelopeSigner, load_signer
from ekiden.server.throttle import RequestThrottle
from ekiden.server.tls import server_context
from ekiden.store.sqlite.outbox import SqliteOutboxStore
from ekiden.store.sqlite.store import SqliteStore
from ekiden.store.sqlite.topics import SqliteTopicStore

log = logging.getLogger("ekiden.server")

PEM_CONTENT_TYPE = "application/x-pem-file"

_KNOWN_ACTIONS: dict[str, Collection[str]] = {
    "sqs": SQS_HANDLERS,
    "sns": SNS_HANDLERS,
    "lambda": get_args(LambdaOperation),
}


def sender_id_of(authorization: str, default: str) -> str:
    """The access key id of a SigV4 ``Authorization`` header (SQS's SenderId), else
    ``default``."""
    marker = "Credential="
    start = authorization.find(marker)
    if start < 0:
        return default
    start += len(marker)
    end = authorization.find("/", start)
    key = authorization[start:end] if end > start else ""
    return key if key.isalnum() else default


@dataclass(slots=True)
class RunningServer:
    """A started broker: call ``stop`` to shut it down cleanly."""

    settings: Settings
    store: SqliteStore
    broker: Broker
    http: HttpServer
    port: int
    functions: FunctionsWiring
    console: ConsoleRoutes

    async def stop(self, drain_timeout_s: float = 10.0) -> None:
        # Pollers stop first: their batches in flight finish and delete their messages
        # through the HTTP server, which still answers. Then long polls answer at once,
        # in-flight requests finish, and the store closes after its last group commit.
        await self.functions.stop()
        await self.console.stop()
        self.broker.waiters.close()
        await self.http.stop(drain_timeout_s)
        await self.broker.stop()
        await self.store.close()


class SqsApp:
    """The HTTP handler: routes each request to the SQS front end (either protocol) or,
    when the broker has topics, to the SNS front end."""

    def __init__(
        self,
        broker: Broker,
        default_base_url: str,
        signer: RsaEnvelopeSigner | None = None,
        public_url: str | None = None,
        functions: FunctionsService | None = None,
    ) -> None:
        self.signer = signer
        # --- Lambda API: requests under /2015-03-31/ when the server runs functions ---
        self.lambda_api = (
            LambdaFrontend(functions, broker.clock.now_ms()) if functions is not None else None
        )
        self.frontend = SqsFrontend(broker)
        self.sns = SnsFrontend(broker.topics) if broker.topics is not None else None
        self.broker = broker
        self.account_id = broker.account_id
        self.default_base_url = default_base_url
        self.scheme = default_base_url.partition("://")[0]  # "https" when serving TLS
        self.public_url = public_url
        self.requests = RequestMetrics()
        self.console: ConsoleRoutes | None = None  # set once the server has started
        self.auth: Authenticator | None = None  # set in sigv4 mode, before listening
        self.throttle: RequestThrottle | None = None  # set when [limits] rate-limits
        self.authorizer = Authorizer(broker.account_id, broker.region)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        started = perf_counter()
        principal: Identity | None = None  # who the handlers authorise; None: no checks
        if self.auth is not None:  # auth mode none costs this one test
            identity = self.auth.check(request)
            if isinstance(identity, HttpResponse):  # refused before anything is decoded
                return identity
            principal = self.auth.principal(identity)
        if self.throttle is not None:  # no rate limit (the default) costs this one test
            throttled = self.throttle.check(request, principal)
            if throttled is not None:
                self.requests.throttled += 1
                return throttled
        target = request.headers.get("x-amz-target")
        if target is not None:
            # The hot path (every SDK of today speaks SQS's JSON protocol): no detour.
            wire = await self.frontend.handle_json(
                target, request.body, self._context(request, principal)
            )
            action = target.rpartition(".")[2]
            known = action if action in SQS_HANDLERS else ""
            self.requests.observe("sqs", known, wire.status, perf_counter() - started)
            return HttpResponse(wire.status, wire.body, wire.content_type, wire.headers)
        if self.console is not None and request.path.startswith(CONSOLE_PATHS):
            if principal is not None and not self._may_administer(principal):
                return _console_denied(principal)
            answer = await self.console.handle(request)
            if answer is not None:
                return answer
        protocol, action, response = await self._dispatch(request, principal)
        if protocol:
            # Only actions the front ends serve become labels: a client must not be able
            # to mint new metric series by naming made-up actions.
            known = action if action in _KNOWN_ACTIONS[protocol] else ""
            self.requests.observe(protocol, known, response.status, perf_counter() - started)
        return response

    def _may_administer(self, principal: Identity) -> bool:
        """The console and /metrics act on everything without per-action checks: only
        keys of this account with no ``allow`` rules may use them."""
        return principal.allow is None and principal.account_id == self.account_id

    def _context(self, request: HttpRequest, principal: Identity | None = None) -> RequestContext:
        headers = request.headers
        host = headers.get("host")
        return RequestContext(
            base_url=self.public_url
            or (f"{self.scheme}://{host}" if host else self.default_base_url),
            sender_id=sender_id_of(headers.get("authorization", ""), self.account_id),
            request_id=new_request_id(),
            client_gone=request.closed,
            identity=principal,
            authorizer=self.authorizer if principal is not None else None,
            anonymous=self.auth is not None and principal is None,
        )

    async def _dispatch(
        self, request: HttpRequest, principal: Identity | None = None
    ) -> tuple[str, str, HttpResponse]:
        """The answer, and the protocol and action it is counted under (``""`` for the
        health check and the signing certificate, which are not counted)."""
        headers = request.headers
        ctx = self._context(request, principal)
        if self.lambda_api is not None and request.path.startswith(LAMBDA_API_PREFIX):
            wire = await self.lambda_api.handle(
                request.method,
                request.path,
                request.query,
                headers,
                request.body,
                ctx.request_id,
                None if principal is None else partial(self.authorizer.require, principal),
            )
            return "lambda", lambda_action(request.method, request.path), _http(wire)
        if request.method == "GET" and request.path == "/health" and not request.query:
            if not self.broker.store.healthy():
                return "", "", HttpResponse(503, b'{"status":"failed","reason":"store"}')
            return "", "", HttpResponse(200, b'{"status":"ok"}')
        signer = self.signer
        if (
            request.method == "GET"
            and signer is not None
            and request.path.endswith(signer.cert_path)  # also under a public_url path
        ):
            return "", "", HttpResponse(200, signer.cert_pem, PEM_CONTENT_TYPE)
        authorization = headers.get("authorization", "")
        try:
            params = parse_form(request.query.encode("latin-1")) if request.query else {}
            if request.method == "POST" and request.body:
                params.update(parse_form(request.body))
        except EkidenError as error:
            if self.sns is not None and credential_service(authorization, {}) == "sns":
                return "sns", "", _http(self.sns.reject(error, ctx))
            return "sqs", "", _http(self.frontend.reject_query(error, ctx))
        action = params.get("Action", "")
        if self.sns is not None and is_sns_request(params, authorization):
            return "sns", action, _http(await self.sns.handle_query(params, ctx))
        wire = await self.frontend.handle_query(params, request.path, ctx)
        return "sqs", action, _http(wire)


def _console_denied(principal: Identity) -> HttpResponse:
    message = (
        f"User: {principal.arn} is not authorized to use the console or the metrics "
        "(only keys of this account without allow rules are)"
    )
    log.warning("refused console access: %s", message)
    body = orjson.dumps({"error": {"code": "AccessDenied", "message": message}})
    return HttpResponse(403, body, "application/json")


def lambda_action(method: str, path: str) -> str:
    """The Lambda operation a request line names, ``""`` when none."""
    try:
        return route(method, path).operation
    except EkidenError:
        return ""


def _http(wire: WireResponse) -> HttpResponse:
    return HttpResponse(wire.status, wire.body, wire.content_type, wire.headers)


async def start_server(settings: Settings, clock: Clock | None = None) -> RunningServer:
    """Open the store, start the broker and listen; returns once requests are served.

    Raises:
        TlsConfigError: (a ``ValueError``) the TLS certificate or key is unusable; raised
            before anything is opened.
        ValueError: no authentication on an address other than loopback without
            ``--insecure`` (:func:`ekiden.config.auth.insecure_refusal`).
    """
    refusal = insecure_refusal(settings.auth, settings.host)
    if refusal is not None:  # `ekiden serve` reports it and exits with status 2
        raise ValueError(refusal)
    tls = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        tls = server_context(settings.tls_cert, settings.tls_key)
    scheme = "https" if tls is not None else "http"
    store = await SqliteStore.open(settings.data_dir, settings.commit_interval_ms / 1000)
    try:
        signer = await load_signer(store.writer, settings.region)
    except BaseException:
        await store.close()
        raise
    broker = Broker(
        store,
        clock or SystemClock(),
        settings.account_id,
        settings.region,
        topic_store=SqliteTopicStore(store.writer),
        signer=signer,
        outbox=SqliteOutboxStore(store.writer),
        poster=StreamHttpPoster(settings.sns_https_ca_file),
    )
    try:
        await broker.start(
            [DeclaredQueue(q.name, dict(q.attributes), dict(q.tags)) for q in settings.queues]
        )
        functions = await start_functions(settings, broker, store.writer, broker.clock)
    except BaseException:
        await broker.stop()
        await store.close()
        raise
    app = SqsApp(
        broker,
        f"{scheme}://{settings.host}:{settings.port}",
        signer,
        settings.public_url,
        functions.service,
    )
    announce_mode(settings.auth)
    if settings.auth.enabled:
        app.auth = Authenticator(settings.auth, account_id=settings.account_id)
    limits = settings.limits
    if limits.rate_limited:
        app.throttle = RequestThrottle(limits)
    http = HttpServer(
        app,
        max_body_bytes=settings.max_body_bytes,
        idle_timeout_s=limits.idle_timeout_s,
        max_header_bytes=limits.max_header_bytes,
        header_timeout_s=limits.header_timeout_s,
        body_timeout_s=limits.body_timeout_s,
        max_connections=limits.max_connections,
        logger=log,
        tls=tls,
    )
    port = await http.start(settings.host, settings.port)
    app.default_base_url = f"{scheme}://{settings.host}:{port}"
    if broker.topics is not None:  # for the URLs of messages no request addresses
        broker.topics.base_url = settings.public_url or app.default_base_url
    console = ConsoleRoutes(
        broker,
        store,
        functions.service,
        functions,
        app.requests,
        settings.public_url or app.default_base_url,
    )
    console.start()
    app.console = console
    running = RunningServer(settings, store, broker, http, port, functions, console)
    try:
        await functions.start_runtime(port)
    except BaseException:
        await running.stop()
        raise
    return running
