"""The console's JSON API under ``/console/api/`` (the web console and the CLI use it).

Every action goes through the services the AWS APIs use (same validation, errors and
limits); this module only routes, reads JSON into typed values and writes JSON back.
A domain error becomes ``{"error": {"code", "message"}}`` with its HTTP status (see
``api_views.error_status``); nothing a client sends leads to a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from ekiden.console import api_views as v
from ekiden.console.api_functions import function_summaries
from ekiden.console.responses import JSON, ConsoleResponse
from ekiden.core import limits
from ekiden.core.errors import EkidenError, InvalidParameterValue, MalformedRequest
from ekiden.core.figures import FiguresSource
from ekiden.core.services.broker import Broker
from ekiden.core.services.counters import QueueCounters
from ekiden.core.services.functions import FunctionsService
from ekiden.core.services.history import QueueHistory
from ekiden.core.services.messages import ReceiveOptions, SendEntry, check_batch
from ekiden.core.services.move_tasks import encode_task_handle
from ekiden.core.services.queues import Queue
from ekiden.core.services.topic_catalog import Topic
from ekiden.core.services.topics import TopicService
from ekiden.core.sns_messages import PublishInput

log = logging.getLogger("ekiden.console.api")

PREFIX = "/console/api/"
Handler = Callable[..., Awaitable[ConsoleResponse]]
_SEGMENT = "([^/]+)"


class _Request:
    """One API request: its method, path parameters, query and JSON body (parsed on
    first use, so a GET with a body is not refused)."""

    def __init__(self, params: tuple[str, ...], query: str, body: bytes) -> None:
        self.params = params
        self.query = parse_qs(query, keep_blank_values=True)
        self._body = body

    def json(self) -> v.JsonObject:
        return v.parse_body(self._body)


def _ok(value: Any, status: int = 200) -> ConsoleResponse:
    return ConsoleResponse(status, JSON, orjson.dumps(value))


def _error(status: int, code: str, message: str) -> ConsoleResponse:
    return ConsoleResponse(status, JSON, v.error_body(code, message))


# Methods a page on another origin cannot send without a CORS preflight, which ekiden
# never grants; every other method changes state and must declare a JSON body.
_READ_METHODS = frozenset({"GET", "HEAD"})
_BODYLESS_METHODS = frozenset({"DELETE"})


def origin_of(url: str) -> str:
    """The ``scheme://host[:port]`` origin of ``url``, lower-cased (``""`` if it has none)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def refuse_cross_site(
    method: str, headers: Mapping[str, str], own_origins: Collection[str] = ()
) -> ConsoleResponse | None:
    """``None`` when a console API request may go on, else the 4xx that refuses it.

    The API changes state and asks for no credentials, so a page on any other origin must
    not be able to drive it through the operator's browser (CSRF):

    * A request with an ``Origin`` header (browsers send one with every cross-origin
      request and every same-origin POST/PATCH/DELETE) must come from ekiden's own
      origin: ``http(s)://`` + the ``Host`` it was addressed to, or one of
      ``own_origins`` (the public URL, for a proxy that rewrites ``Host``). Anything
      else, ``null`` included, gets 403 ``AccessDenied``.
    * A state-changing request (any method but GET, HEAD and a body-less DELETE) must
      declare ``Content-Type: application/json``: a form or a "simple" fetch can only
      send ``text/plain``, form or multipart bodies without a preflight. Others get 415
      ``UnsupportedMediaType``.

    Clients that send no ``Origin`` (the CLI, curl, SDKs) are not browsers a page could
    borrow, so they pass the first rule. ``headers`` have lower-case names.
    """
    method = method.upper()
    origin = headers.get("origin")
    if origin is not None:
        host = headers.get("host", "").strip().lower()
        allowed = {origin_of(o) for o in own_origins} - {""}
        if host:
            allowed.update((f"http://{host}", f"https://{host}"))
        if origin.strip().lower() not in allowed:
            return _error(
                403,
                "AccessDenied",
                f"Requests from origin {origin[:200]} may not use the console API.",
            )
    if method in _READ_METHODS or method in _BODYLESS_METHODS:
        return None
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        return _error(
            415,
            "UnsupportedMediaType",
            f"A {method} to the console API must send Content-Type: application/json.",
        )
    return None


class ConsoleApi:
    """Answers the console API's requests (the server routes ``/console/api/*`` here).

    ``base_url`` is how queue URLs are spelled; by default the topic service's (the
    server sets it to where ekiden is reached), else ``http://localhost``.
    """

    def __init__(
        self,
        broker: Broker,
        functions: FunctionsService,
        figures: FiguresSource,
        history: QueueHistory,
        counters: QueueCounters,
        *,
        base_url: str | None = None,
    ) -> None:
        self.broker = broker
        self.functions = functions
        self.figures = figures
        self.history = history
        self.counters = counters
        self._base_url = base_url
        self._routes: list[tuple[re.Pattern[str], dict[str, Handler]]] = []
        route = self._route
        route("overview", GET=self._overview)
        route("history", GET=self._history)
        route("queues", GET=self._list_queues, POST=self._create_queue)
        route(f"queues/{_SEGMENT}", GET=self._get_queue, DELETE=self._delete_queue)
        route(f"queues/{_SEGMENT}/attributes", PATCH=self._set_attributes)
        route(f"queues/{_SEGMENT}/messages", POST=self._send)
        route(f"queues/{_SEGMENT}/messages/batch", POST=self._send_batch)
        route(f"queues/{_SEGMENT}/peek", GET=self._peek)
        route(f"queues/{_SEGMENT}/receive", POST=self._receive)
        route(f"queues/{_SEGMENT}/purge", POST=self._purge)
        route(f"queues/{_SEGMENT}/redrive", GET=self._list_redrives, POST=self._redrive)
        route("topics", GET=self._list_topics, POST=self._create_topic)
        route(f"topics/{_SEGMENT}", DELETE=self._delete_topic)
        route(f"topics/{_SEGMENT}/publish", POST=self._publish)
        route(f"topics/{_SEGMENT}/subscriptions", POST=self._subscribe)
        route(f"subscriptions/{_SEGMENT}", DELETE=self._unsubscribe)
        route("functions", GET=self._list_functions)
        route(f"functions/{_SEGMENT}/invoke", POST=self._invoke)

    def _route(self, pattern: str, **handlers: Handler) -> None:
        self._routes.append((re.compile(f"{pattern}/?\\Z"), handlers))

    async def handle(self, method: str, path: str, query: str, body: bytes) -> ConsoleResponse:
        """Answer one request; ``path`` starts with ``/console/api/``, ``query`` is the
        raw query string. Unknown paths are 404, known paths with another method 405."""
        rest = path[len(PREFIX) :] if path.startswith(PREFIX) else None
        for pattern, handlers in self._routes if rest is not None else ():
            assert rest is not None
            match = pattern.match(rest)
            if match is None:
                continue
            handler = handlers.get(method.upper())
            if handler is None:
                allowed = ", ".join(sorted(handlers))
                return ConsoleResponse(
                    405,
                    JSON,
                    v.error_body("MethodNotAllowed", f"{method} is not allowed here."),
                    (("Allow", allowed),),
                )
            params = tuple(unquote(p) for p in match.groups())
            try:
                return await handler(_Request(params, query, body))
            except EkidenError as error:
                return _error(v.error_status(error), v.error_code(error), error.message)
            except Exception:  # a bug of ours: say so, do not leak details
                log.exception("console API %s %s failed", method, path)
                return _error(500, "InternalFailure", "The request failed for an internal error.")
        return _error(404, "NotFound", f"No console API resource at {path}.")

    # --- shared views --------------------------------------------------------------------

    def _url_of(self, name: str) -> str:
        base = self._base_url
        if base is None:
            base = self.broker.topics.base_url if self.broker.topics is not None else None
        return f"{(base or 'http://localhost').rstrip('/')}/{self.broker.account_id}/{name}"

    async def _queue_summary(self, queue: Queue) -> v.JsonObject:
        depth = await self.broker.inspection.depth(queue.name)
        totals = self.counters.totals(queue.queue_id)
        redrive = queue.settings.redrive
        sources = sorted(
            other.name
            for other in self.broker.queues.all_cached()
            if other.settings.redrive is not None
            and other.settings.redrive.dead_letter_target_arn == queue.arn
        )
        return {
            "name": queue.name,
            "url": self._url_of(queue.name),
            "arn": queue.arn,
            "fifo": queue.record.is_fifo,
            "visible": depth.visible,
            "in_flight": depth.in_flight,
            "delayed": depth.delayed,
            "oldest_age_s": depth.oldest_age_s,
            "dead_letter_target_arn": None if redrive is None else redrive.dead_letter_target_arn,
            "dead_letter_sources": sources,
            "sent_total": totals.sent,
            "received_total": totals.received,
            "deleted_total": totals.deleted,
            "dead_lettered_total": totals.dead_lettered,
        }

    async def _queue_summaries(self) -> list[v.JsonObject]:
        queues = sorted(self.broker.queues.all_cached(), key=lambda q: q.name)
        return [await self._queue_summary(queue) for queue in queues]

    def _topic_service(self) -> TopicService:
        if self.broker.topics is None:
            raise MalformedRequest("This ekiden runs without SNS topics.")
        return self.broker.topics

    async def _all_topics(self) -> list[Topic]:
        service = self.broker.topics
        if service is None:
            return []
        found: list[Topic] = []
        token: str | None = None
        while True:
            page = await service.list_topics(token)
            found.extend(service.publish_topic(arn, None, None) for arn in page.arns)
            token = page.next_token
            if token is None:
                return sorted(found, key=lambda t: t.record.name)

    def _topic(self, name: str) -> Topic:
        service = self._topic_service()
        return service.publish_topic(service.arn_of(name), None, None)

    # --- overview and history ------------------------------------------------------------

    async def _overview(self, request: _Request) -> ConsoleResponse:
        return _ok(
            {
                "now_ms": self.broker.clock.now_ms(),
                "queues": await self._queue_summaries(),
                "topics": [v.topic_json(t) for t in await self._all_topics()],
                "functions": function_summaries(self.functions, self.figures),
            }
        )

    async def _history(self, request: _Request) -> ConsoleResponse:
        samples = [
            {
                "t_ms": sample.t_ms,
                "queues": {
                    name: {
                        "visible": point.visible,
                        "in_flight": point.in_flight,
                        "sent_total": point.sent_total,
                        "received_total": point.received_total,
                        "deleted_total": point.deleted_total,
                    }
                    for name, point in sample.queues.items()
                },
            }
            for sample in self.history.snapshot()
        ]
        interval = self.history.interval_s
        return _ok(
            {"interval_s": int(interval) if interval.is_integer() else interval, "samples": samples}
        )

    # --- queues --------------------------------------------------------------------------

    async def _list_queues(self, request: _Request) -> ConsoleResponse:
        return _ok({"queues": await self._queue_summaries()})

    async def _create_queue(self, request: _Request) -> ConsoleResponse:
        data = request.json()
        name = v.required_str(data, "name")
        attributes = v.string_map(data, "attributes")
        tags = v.string_map(data, "tags")
        queue = await self.broker.queues.create(name, attributes, tags)
        return _ok({"queue": await self._queue_summary(queue)}, 201)

    async def _get_queue(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        queues = self.broker.queues
        queue = await queues.get(name)
        return _ok(
            {
                "queue": await self._queue_summary(queue),
                "attributes": await queues.get_attributes(name, ["All"]),
                "tags": await queues.list_tags(name),
            }
        )

    async def _delete_queue(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        queue = await self.broker.queues.get(name)
        await self.broker.queues.delete(name)
        self.counters.forget(queue.queue_id)
        return _ok({})

    async def _set_attributes(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        attributes = v.string_map(request.json(), "attributes")
        await self.broker.queues.set_attributes(name, attributes)
        return _ok({"attributes": await self.broker.queues.get_attributes(name, ["All"])})

    async def _send(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        data = request.json()
        entry = SendEntry(
            body=v.required_str(data, "body"),
            delay_s=v.optional_int(data, "delay_s"),
            attributes=v.message_attributes(data),
            group_id=v.optional_str(data, "group_id"),
            dedup_id=v.optional_str(data, "dedup_id"),
        )
        (outcome,) = await self.broker.messages.send(name, [entry], self.broker.account_id)
        if isinstance(outcome, EkidenError):
            raise outcome
        return _ok(
            {
                "message_id": outcome.message_id,
                "md5_of_body": outcome.md5_of_body,
                "md5_of_message_attributes": outcome.md5_of_attributes,
                "sequence_number": outcome.sequence_number,
            },
            201,
        )

    async def _send_batch(self, request: _Request) -> ConsoleResponse:
        """Up to 10 bodies in one SendMessageBatch. Entries that fail are listed in
        ``failed`` (by index); if every entry fails, the first failure is the answer."""
        (name,) = request.params
        data = request.json()
        bodies = data.get("bodies")
        if not isinstance(bodies, list) or not all(isinstance(b, str) for b in bodies):
            raise InvalidParameterValue(
                "Value for parameter bodies is invalid. Reason: Must be a list of strings."
            )
        group_id = v.optional_str(data, "group_id")
        check_batch([str(i) for i in range(len(bodies))], "SendMessageBatchRequestEntry")
        entries = [SendEntry(body=body, group_id=group_id) for body in bodies]
        outcomes = await self.broker.messages.send(
            name, entries, self.broker.account_id, batch=True
        )
        ids: list[str] = []
        failed: list[v.JsonObject] = []
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, EkidenError):
                failed.append(
                    {"index": index, "code": v.error_code(outcome), "message": outcome.message}
                )
            else:
                ids.append(outcome.message_id)
        if not ids and failed:
            first = outcomes[0]
            assert isinstance(first, EkidenError)
            raise first
        return _ok({"message_ids": ids, "failed": failed}, 201)

    async def _peek(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        values = request.query.get("max")
        count = 10
        if values:
            try:
                count = int(values[0])
            except ValueError:
                raise InvalidParameterValue(
                    f"Value {values[0]} for parameter max is invalid. Reason: Must be an "
                    "integer between 1 and 100."
                ) from None
        messages = await self.broker.inspection.peek(name, count)
        result = []
        for message in messages:
            source = None
            if message.dead_letter_source_queue_id is not None:
                found = self.broker.queues.cached_by_id(message.dead_letter_source_queue_id)
                source = found.arn if found is not None else None
            result.append(v.peeked_json(message, source))
        return _ok({"messages": result})

    async def _receive(self, request: _Request) -> ConsoleResponse:
        """A real ReceiveMessage; with ``delete`` each message is deleted right after."""
        (name,) = request.params
        data = request.json()
        max_messages = v.optional_int(data, "max")
        options = ReceiveOptions(
            max_messages=1 if max_messages is None else max_messages,
            visibility_timeout_s=v.optional_int(data, "visibility_timeout_s"),
            wait_time_s=v.optional_int(data, "wait_s"),
            system_attribute_names=["All"],
            message_attribute_names=["All"],
        )
        delete = v.optional_bool(data, "delete")
        if options.wait_time_s is None:
            options.wait_time_s = 0  # the console asks; it does not wait unless told to
        messages = await self.broker.messages.receive(name, options)
        if delete and messages:
            await self.broker.messages.delete(name, [m.receipt_handle for m in messages])
        return _ok({"messages": [v.received_json(m) for m in messages]})

    async def _purge(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        await self.broker.queues.purge(name)
        return _ok({})

    async def _redrive(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        data = request.json()
        queue = await self.broker.queues.get(name)
        task = await self.broker.move_tasks.start(
            queue.arn, v.optional_str(data, "destination_arn"), v.optional_int(data, "max_per_s")
        )
        return _ok({"task_handle": encode_task_handle(task)}, 202)

    async def _list_redrives(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        queue = await self.broker.queues.get(name)
        tasks = await self.broker.move_tasks.list(queue.arn, limits.MAX_BATCH_ENTRIES)
        return _ok(
            {
                "tasks": [
                    {
                        "task_handle": encode_task_handle(task),
                        "status": task.status,
                        "moved": task.moved,
                        "to_move": task.to_move,
                        "source_arn": task.source_arn,
                        "destination_arn": task.destination_arn,
                        "failure_reason": task.failure_reason,
                        "started_ms": task.started_ms,
                    }
                    for task in tasks
                ]
            }
        )

    # --- topics --------------------------------------------------------------------------

    async def _list_topics(self, request: _Request) -> ConsoleResponse:
        return _ok({"topics": [v.topic_json(t) for t in await self._all_topics()]})

    async def _create_topic(self, request: _Request) -> ConsoleResponse:
        data = request.json()
        name = v.required_str(data, "name")
        attributes = v.string_map(data, "attributes")
        service = self._topic_service()
        arn = await service.create_topic(name, attributes, ())
        return _ok({"topic": v.topic_json(service.publish_topic(arn, None, None))}, 201)

    async def _delete_topic(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        topic = self._topic(name)  # the console says 404 for a topic that is not there
        await self._topic_service().delete_topic(topic.arn)
        return _ok({})

    async def _publish(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        data = request.json()
        topic = self._topic(name)
        message = PublishInput(
            message=v.required_str(data, "message"),
            subject=v.optional_str(data, "subject"),
            attributes=v.message_attributes(data),
            group_id=v.optional_str(data, "group_id"),
            dedup_id=v.optional_str(data, "dedup_id"),
        )
        service = self._topic_service()
        receipt = await service.publish(topic, message, service.base_url)
        return _ok({"message_id": receipt.message_id, "sequence_number": receipt.sequence_number})

    async def _subscribe(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        data = request.json()
        topic = self._topic(name)
        service = self._topic_service()
        arn = await service.subscribe(
            topic.arn,
            v.required_str(data, "protocol"),
            v.required_str(data, "endpoint"),
            v.string_map(data, "attributes"),
            return_subscription_arn=True,
            base_url=service.base_url,
        )
        return _ok({"subscription_arn": arn}, 201)

    async def _unsubscribe(self, request: _Request) -> ConsoleResponse:
        (arn,) = request.params
        await self._topic_service().unsubscribe(arn)
        return _ok({})

    # --- functions -----------------------------------------------------------------------

    async def _list_functions(self, request: _Request) -> ConsoleResponse:
        return _ok({"functions": function_summaries(self.functions, self.figures)})

    async def _invoke(self, request: _Request) -> ConsoleResponse:
        (name,) = request.params
        data = request.json()
        asynchronous = v.optional_bool(data, "asynchronous")
        payload = orjson.dumps(data.get("payload"))
        result = await self.functions.invoke(
            name, payload, invocation_type="Event" if asynchronous else "RequestResponse"
        )
        if result is None:
            return _ok(
                {"status_code": 202, "function_error": None, "payload": None, "log_tail": ""}
            )
        try:
            answer = orjson.loads(result.payload) if result.payload else None
        except orjson.JSONDecodeError:
            answer = result.payload.decode("utf-8", "replace")
        return _ok(
            {
                "status_code": 200,
                "function_error": result.function_error,
                "payload": answer,
                "log_tail": result.log_tail,
            }
        )
