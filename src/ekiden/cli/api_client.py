"""A tiny JSON client of the console API of a running ekiden (``/console/api/...``), and
what every ``ekiden queue|topic|function`` command shares: ``--endpoint`` / ``--json``,
and one way to turn failures into a message and an exit status.

Only the standard library (``urllib.request``): the CLI must not need more than ekiden's
runtime dependencies. The endpoint is ``--endpoint``, else ``EKIDEN_ENDPOINT``, else
:data:`DEFAULT_ENDPOINT` (read when a command runs, never at import). When
``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` are set, requests are signed with
SigV4 (region ``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else us-east-1), as a server
with ``[auth]`` and ``protect_console`` requires.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final

from ekiden import config
from ekiden.bench.sigv4 import Credentials, Signer

__all__ = [
    "API_PREFIX",
    "DEFAULT_ENDPOINT",
    "ENDPOINT_ENV",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "ApiClient",
    "ApiError",
    "CliError",
    "EndpointUnreachable",
    "add_api_options",
    "api_command",
    "client_for",
    "segment",
]

DEFAULT_ENDPOINT: Final = "http://127.0.0.1:9324"
ENDPOINT_ENV: Final = config.ENDPOINT_ENV
API_PREFIX: Final = "/console/api"
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
_TIMEOUT_S: Final = 60.0  # above the longest server-side wait (a 20 s long poll)

JsonObject = dict[str, Any]


class CliError(Exception):
    """A failure shown as ``ekiden: <message>`` with exit status ``status``."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ApiError(CliError):
    """The API answered with an error body: ``code`` is its AWS-like name
    (``QueueDoesNotExist``), ``http_status`` the HTTP status. Shown as
    ``ekiden: QueueDoesNotExist: The specified queue does not exist.``"""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.error_message = message
        self.http_status = http_status


class EndpointUnreachable(CliError):
    """No answer at all: connection refused, unknown host, timeout."""


def segment(name: str) -> str:
    """``name`` quoted as one path segment (a subscription ARN holds ``:``; ``/`` too)."""
    return urllib.parse.quote(name, safe="")


class ApiClient:
    """Requests to ``endpoint`` + ``/console/api`` + path; answers are JSON objects.

    Every method raises :class:`ApiError` for an error answer (any status >= 400, with the
    API's ``{"error": {"code", "message"}}`` or without), and
    :class:`EndpointUnreachable` when nothing answers.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        timeout_s: float = _TIMEOUT_S,
        credentials: Credentials | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._timeout_s = timeout_s
        self._host = urllib.parse.urlsplit(self.endpoint).netloc
        self._signer = Signer(credentials, region, "sqs") if credentials is not None else None
        # No proxy: the console API is ekiden's own, and an http_proxy of the developer's
        # shell would turn a local 127.0.0.1 call into a proxy error.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self, path: str, query: Mapping[str, object] | None = None) -> JsonObject:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: object = None) -> JsonObject:
        return self.request("POST", path, {} if body is None else body)

    def patch(self, path: str, body: object) -> JsonObject:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> JsonObject:
        return self.request("DELETE", path)

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        query: Mapping[str, object] | None = None,
    ) -> JsonObject:
        """Send one request; return the decoded JSON object of a 2xx answer."""
        url = f"{self.endpoint}{API_PREFIX}{path}"
        if query:
            url += "?" + urllib.parse.urlencode({k: str(v) for k, v in query.items()})
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self._signer is not None:
            target = url[len(self.endpoint) :]
            amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            signed = self._signer.sign(method, target, {"host": self._host}, data or b"", amz_date)
            for name, value in signed.items():
                request.add_header(name, value)
        try:
            with self._opener.open(request, timeout=self._timeout_s) as answer:
                return _decode(answer.read(), url, answer.status)
        except urllib.error.HTTPError as error:
            raise _api_error(error.code, error.read(), url) from None
        except (urllib.error.URLError, OSError) as error:
            raise EndpointUnreachable(_unreachable(self.endpoint, error)) from None


def _decode(raw: bytes, url: str, status: int) -> JsonObject:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise CliError(f"the answer of {url} (HTTP {status}) is not JSON") from None
    if not isinstance(value, dict):
        raise CliError(f"the answer of {url} (HTTP {status}) is not a JSON object")
    return value


def _api_error(status: int, raw: bytes, url: str) -> ApiError:
    try:
        error = json.loads(raw).get("error")
        return ApiError(str(error["code"]), str(error.get("message", "")), status)
    except (ValueError, AttributeError, TypeError, KeyError):
        # Not the console API (an older ekiden, another server on that port).
        return ApiError(f"HTTP{status}", f"unexpected answer from {url}", status)


def _unreachable(endpoint: str, error: BaseException) -> str:
    reason: object = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        why = "connection refused"
    elif isinstance(reason, socket.timeout | TimeoutError):
        why = "timed out"
    else:
        why = str(getattr(reason, "strerror", None) or reason)
    return (
        f"cannot reach ekiden at {endpoint} ({why}); is it running? "
        f"(set --endpoint or {ENDPOINT_ENV})"
    )


# --- what the commands share -------------------------------------------------------------


def add_api_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--endpoint URL`` and ``--json`` to a leaf command."""
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help=f"the ekiden to talk to (default: ${ENDPOINT_ENV}, else {DEFAULT_ENDPOINT})",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the API's JSON instead of a table (stable, for scripts)",
    )


def add_api_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse.ArgumentParser:
    """A leaf command ``name`` whose description is its help as a sentence, with the API
    options (:func:`add_api_options`)."""
    description = help_text[0].upper() + help_text[1:] + "."
    parser = commands.add_parser(name, help=help_text, description=description)
    add_api_options(parser)
    return parser


def client_for(args: argparse.Namespace) -> ApiClient:
    """The client of ``--endpoint``, else ``$EKIDEN_ENDPOINT``, else the default."""
    endpoint = args.endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT
    if not endpoint.startswith(("http://", "https://")):
        raise CliError(f"--endpoint must be an http(s):// URL, not {endpoint!r}", EXIT_USAGE)
    key_id = os.environ.get("AWS_ACCESS_KEY_ID")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    credentials = Credentials(key_id, secret) if key_id and secret else None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return ApiClient(endpoint, credentials=credentials, region=region)


Command = Callable[[argparse.Namespace], int]


def api_command(func: Command) -> Command:
    """Wrap a command so a :class:`CliError` prints ``ekiden: <message>`` on standard error
    and returns its status (1 for API and connection failures, 2 for usage)."""

    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except CliError as error:
            sys.stdout.flush()  # what was printed before the failure comes first
            print(f"ekiden: {error.message}", file=sys.stderr)
            return error.status

    return run
