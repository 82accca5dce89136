"""The request and response objects the HTTP server hands to and takes from its handler."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class HttpRequest:
    """One parsed request, as handed to the handler.

    ``path`` and ``query`` are the raw request target split at the first ``?``, decoded
    as latin-1 (so ``.encode("latin-1")`` gives back the exact bytes); no percent-decoding
    is applied. Header names are lower-cased; a repeated header's values are joined with
    ``", "``. ``client_host`` is the peer address, ``""`` when unknown. ``closed``
    completes when the client's connection is gone (a handler that waits long, such as a
    long poll, can stop early); ``None`` where no connection stands behind the request.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    client_host: str
    closed: asyncio.Future[None] | None = None


@dataclass(slots=True)
class HttpResponse:
    """What a handler returns.

    ``headers`` are extra response headers, written in order after ``Content-Type`` and
    ``Content-Length``; they must not repeat those two, ``Date`` or ``Connection``, which
    the server writes itself. Header names and values must be latin-1 encodable, or the
    client gets a 500 instead.
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]
