"""The console API's cross-site guard (``refuse_cross_site``): which requests a page on
another origin could make a browser send, and which the API therefore refuses."""

from __future__ import annotations

import json

from ekiden.console.api import origin_of, refuse_cross_site

HOST = "127.0.0.1:9324"
JSON_TYPE = "application/json"


def code(method: str, **headers: str) -> str | None:
    refused = refuse_cross_site(
        method,
        {k.replace("_", "-").lower(): v for k, v in headers.items()},
        ("https://broker.example.com/",),
    )
    if refused is None:
        return None
    assert refused.content_type == JSON_TYPE
    return str(json.loads(refused.body)["error"]["code"])


def test_a_simple_cross_site_post_is_refused_for_its_content_type() -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        assert code("POST", Host=HOST, Content_Type=content_type) == "UnsupportedMediaType"
    assert code("POST", Host=HOST) == "UnsupportedMediaType"
    assert code("PATCH", Host=HOST, Content_Type="text/plain") == "UnsupportedMediaType"


def test_json_posts_without_an_origin_pass_as_the_cli_sends_them() -> None:
    assert code("POST", Host=HOST, Content_Type=JSON_TYPE) is None
    assert code("post", Host=HOST, Content_Type="Application/JSON; charset=utf-8") is None
    assert code("GET", Host=HOST) is None
    assert code("DELETE", Host=HOST) is None


def test_a_foreign_origin_is_refused_whatever_the_method() -> None:
    for origin in ("http://evil.example", "null", "http://127.0.0.1:9325", "file://"):
        for method in ("GET", "POST", "DELETE", "PATCH"):
            found = code(method, Host=HOST, Origin=origin, Content_Type=JSON_TYPE)
            assert found == "AccessDenied", (origin, method)
    # The Host decides, not a look-alike prefix.
    assert code("POST", Host=HOST, Origin="http://127.0.0.1:9324.evil.example") == "AccessDenied"


def test_ekidens_own_origin_and_its_public_url_are_accepted() -> None:
    for origin in (f"http://{HOST}", f"https://{HOST}", "https://broker.example.com"):
        assert code("POST", Host=HOST, Origin=origin, Content_Type=JSON_TYPE) is None
    # Behind a proxy that rewrites Host, the public URL's origin is still ekiden's own.
    proxied = code(
        "POST", Host="10.0.0.5:9324", Origin="https://BROKER.example.com", Content_Type=JSON_TYPE
    )
    assert proxied is None


def test_an_origin_without_a_host_header_is_refused() -> None:
    assert code("GET", Origin=f"http://{HOST}") == "AccessDenied"


def test_origin_of_keeps_scheme_host_and_port_only() -> None:
    assert (
        origin_of("https://Broker.example.com:8443/path?x=1") == "https://broker.example.com:8443"
    )
    assert origin_of("not a url") == ""
