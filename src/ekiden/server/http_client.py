"""The HTTP client of SNS deliveries: one POST per connection, over asyncio streams.

Small on purpose: a delivery needs the status of one POST and nothing else, so each
attempt opens a connection, writes the request with ``Connection: close``, reads the
status line and closes. HTTPS endpoints are verified against the system's trust store,
or against the CA file of the ``sns_https_ca_file`` setting instead (for endpoints whose
certificates a private CA signed). Every failure of the network or the endpoint comes
back as an ``HttpOutcome`` without a status, never as an exception.

A URL with credentials (``https://user:password@host/path``) is sent with HTTP Basic
authorization, as AWS does for such endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ekiden.core.services.http_delivery import HttpOutcome

_CLOSE_WAIT_S = 1.0
_MAX_STATUS_LINE = 8192


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The context HTTPS deliveries verify endpoints with: the system trust store, or
    only the certificates of ``ca_file``."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)


class StreamHttpPoster:
    """Implements ``ekiden.core.services.http_delivery.HttpPoster``."""

    def __init__(self, ca_file: Path | None = None) -> None:
        self._tls = tls_context(ca_file)

    async def post(
        self, url: str, body: bytes, headers: Sequence[tuple[str, str]], timeout_s: float
    ) -> HttpOutcome:
        parts = urlsplit(url)
        secure = parts.scheme == "https"
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            return HttpOutcome(None, f"not an HTTP/S URL: {url}")
        try:
            port = parts.port or (443 if secure else 80)
        except ValueError:
            return HttpOutcome(None, f"bad port in {url}")
        netloc = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in netloc + target):
            # Subscribe refuses such URLs; one stored before it did must not be able to
            # write a malformed (or a second) request line.
            return HttpOutcome(None, f"whitespace or a control character in {url!r}")
        lines = [f"POST {target} HTTP/1.1", f"Host: {netloc}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if parts.username is not None:
            secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            lines.append(f"Authorization: Basic {base64.b64encode(secret.encode()).decode()}")
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        request = "\r\n".join(lines).encode("utf-8") + body
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(timeout_s):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=self._tls if secure else None,
                    server_hostname=host if secure else None,
                    limit=_MAX_STATUS_LINE,
                )
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
        except TimeoutError:
            return HttpOutcome(None, f"no answer within {timeout_s:g} s")
        except ssl.SSLError as error:
            return HttpOutcome(None, f"TLS failure: {error}")
        except (OSError, ValueError) as error:  # ValueError: a status line over the limit
            return HttpOutcome(None, f"connection failed: {error}")
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), _CLOSE_WAIT_S)
        return _status(status_line)


def _status(line: bytes) -> HttpOutcome:
    fields = line.split(None, 2)
    if len(fields) >= 2 and fields[0].startswith(b"HTTP/") and fields[1].isdigit():
        return HttpOutcome(int(fields[1]))
    if not line:
        return HttpOutcome(None, "the endpoint closed the connection without an answer")
    return HttpOutcome(None, "the endpoint's answer is not HTTP")
