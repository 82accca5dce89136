"""The console's static files: what static_response serves, and that a real server does."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import requests

from ekiden.console.static_files import static_response
from tests.support.server import EkidenProcess


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/index.html"])
def test_console_root_serves_the_index_page_uncached(path: str) -> None:
    response = static_response(path)
    assert response is not None
    assert response.status == 200
    assert response.content_type == "text/html; charset=utf-8"
    assert b'<main id="main"' in response.body
    assert ("Cache-Control", "no-cache") in response.headers


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/app.css", "text/css; charset=utf-8"),
        ("/console/client.js", "text/javascript; charset=utf-8"),
    ],
)
def test_console_files_come_with_their_content_type(path: str, content_type: str) -> None:
    response = static_response(path)
    assert response is not None
    assert response.content_type == content_type
    assert response.body


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/metrics",
        "/consolex",
        "/console/api/overview",
        "/console/missing.js",
        "/console/../pyproject.toml",
        "/console/%2e%2e/static_files.py",
        "/console/..%2fstatic_files.py",
        "/console/static_files.py",
        "/console/__init__.py",
        "/console/.hidden.js",
        "/console//app.js",
        "/console/app.js/",
    ],
)
def test_anything_outside_the_static_folder_is_not_served(path: str) -> None:
    assert static_response(path) is None


def test_a_query_string_does_not_change_the_file() -> None:
    plain = static_response("/console/app.js")
    queried = static_response("/console/app.js?v=2")
    assert plain is not None and queried is not None
    assert queried.body == plain.body


def test_every_module_the_page_imports_is_served() -> None:
    """Each ES module import and each stylesheet/script the index names must resolve."""
    index = static_response("/console/")
    assert index is not None
    pending = re.findall(r'(?:src|href)="/console/([\w.-]+)"', index.body.decode())
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        response = static_response(f"/console/{name}")
        assert response is not None, f"{name} is referenced but not served"
        if name.endswith(".js"):
            pending += re.findall(r'from "\./([\w.-]+)"', response.body.decode())
    assert {"app.js", "app.css", "client.js", "dashboard.js", "queue.js"} <= seen


def test_the_pages_load_nothing_from_outside() -> None:
    """No CDN, no web fonts: every URL in the static files is relative to the server."""
    for name in ("index.html", "app.css", "app.js", "dashboard.js", "queue.js", "chart.js"):
        response = static_response(f"/console/{name}")
        assert response is not None
        text = response.body.decode()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), name
        assert "@import" not in text and "@font-face" not in text, name


def test_a_running_server_answers_the_console_page(
    fresh_ekiden: Callable[..., EkidenProcess],
) -> None:
    server = fresh_ekiden()
    response = requests.get(f"{server.endpoint}/console/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-cache"
    script = requests.get(f"{server.endpoint}/console/app.js", timeout=10)
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
