"""The web console's static files (``/console``), read from the installed package.

The console is plain HTML, CSS and ES modules in ``ekiden/console/static/``: no build step
and nothing fetched from outside. Files are read with :mod:`importlib.resources`, so they
are found the same way from a source checkout and from an installed wheel (pyproject's
package-data ships ``static/*``).
"""

from __future__ import annotations

import re
from importlib import resources

from ekiden.console.responses import ConsoleResponse

PREFIX = "/console"

# Only what the console ships; anything else is not ours to serve.
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}

# One plain file name per segment: no "..", no hidden files, no backslashes. Checked
# before touching the package so no path can step outside static/.
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

# no-cache: the browser revalidates every time, so a console upgraded with the server is
# never mixed with stale modules from the previous version. nosniff: served types are final.
_HEADERS = (("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff"))


def static_response(path: str) -> ConsoleResponse | None:
    """Answer ``GET path`` from the console's static files, or ``None`` when it is not one.

    ``/console`` and ``/console/`` give ``index.html``; ``/console/<file>`` gives that file
    of ``static/`` (sub-folders allowed) with its content type and ``Cache-Control:
    no-cache``. A query string or fragment is ignored. Paths outside ``/console``, under
    ``/console/api/``, with unsafe segments, of unknown types or naming no file give
    ``None`` (the caller answers 404).
    """
    path = path.split("?", 1)[0].split("#", 1)[0]
    if path in (PREFIX, PREFIX + "/"):
        relative = "index.html"
    elif path.startswith(PREFIX + "/"):
        relative = path[len(PREFIX) + 1 :]
    else:
        return None
    segments = relative.split("/")
    if segments[0] == "api" or not all(_SEGMENT.match(s) for s in segments):
        return None
    dot = segments[-1].rfind(".")
    content_type = _CONTENT_TYPES.get(segments[-1][dot:].lower()) if dot > 0 else None
    if content_type is None:
        return None
    resource = resources.files("ekiden.console").joinpath("static", *segments)
    try:
        if not resource.is_file():
            return None
        body = resource.read_bytes()
    except OSError:
        return None
    return ConsoleResponse(200, content_type, body, _HEADERS)
