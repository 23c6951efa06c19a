"""The local gateway's HTTP side: payload 2.0 events in, API Gateway responses out, static files beside the API."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from ieltsprep.container import Container
from ieltsprep.edges.gateway.http import build_http_event, build_http_response
from ieltsprep.edges.gateway.server import BackgroundServer

PASSWORD = "correct horse battery staple"


def fetch(
    url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# --- event and response shapes (../reference/nova_sonic.md section 14) ---------------------------------------


def test_http_event_has_the_payload_2_shape() -> None:
    headers = CIMultiDict(
        [
            ("Host", "127.0.0.1:8000"),
            ("Content-Type", "application/json"),
            ("X-Trace", "a"),
            ("X-Trace", "b"),
            ("Cookie", "session=abc; theme=dark"),
            ("User-Agent", "pytest"),
        ]
    )
    request = make_mocked_request("POST", "/api/auth/login?next=%2Fhome&tag=1&tag=2", headers=headers)
    event = build_http_event(request, b'{"email":"a@example.com"}')

    assert event["version"] == "2.0"
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/api/auth/login"
    assert event["rawQueryString"] == "next=%2Fhome&tag=1&tag=2"
    assert event["queryStringParameters"] == {"next": "/home", "tag": "1,2"}
    assert event["headers"]["x-trace"] == "a,b"
    assert all(name == name.lower() for name in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert event["body"] == '{"email":"a@example.com"}'
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/api/auth/login"
    assert context["http"]["userAgent"] == "pytest"
    assert context["http"]["sourceIp"]
    assert context["stage"] == "$default"
    assert isinstance(context["timeEpoch"], int) and context["requestId"]
    assert "multiValueHeaders" not in event
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-for"] == context["http"]["sourceIp"]


def test_binary_request_bodies_are_base64_encoded() -> None:
    request = make_mocked_request("PUT", "/api/x", headers={"Content-Type": "application/octet-stream"})
    event = build_http_event(request, b"\x00\xff\x10")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff\x10"


def test_a_request_without_body_or_query_carries_neither() -> None:
    event = build_http_event(make_mocked_request("GET", "/api/me"), b"")
    assert "body" not in event and "queryStringParameters" not in event and "cookies" not in event


def test_response_cookies_become_separate_set_cookie_headers_and_base64_bodies_are_decoded() -> None:
    response = build_http_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/octet-stream"},
            "cookies": ["a=1; HttpOnly", "b=2"],
            "body": base64.b64encode(b"\x01\x02").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status == 201
    assert response.headers.getall("Set-Cookie") == ["a=1; HttpOnly", "b=2"]
    assert response.body == b"\x01\x02"


def test_a_plain_json_return_value_becomes_200_json() -> None:
    response = build_http_response({"hello": "world"})
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.body is not None and json.loads(bytes(response.body)) == {"hello": "world"}


# --- over real HTTP ------------------------------------------------------------------------------------------


def test_health_round_trips_over_loopback_http(live_server: BackgroundServer) -> None:
    status, headers, body = fetch(live_server.base_url + "/api/health")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["status"] == "ok"


def test_login_cookie_set_by_the_handler_authenticates_the_next_request(live_server: BackgroundServer) -> None:
    live_server.container.accounts.register("web@example.com", PASSWORD, terms=True, age_16_plus=True)
    status, headers, _ = fetch(
        live_server.base_url + "/api/auth/login",
        method="POST",
        body=json.dumps({"email": "web@example.com", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    status, _, body = fetch(live_server.base_url + "/api/me", headers={"Cookie": cookie})
    assert status == 200
    assert json.loads(body)["user"]["email"] == "web@example.com"


def test_malformed_json_gets_a_4xx_error_body_over_http(live_server: BackgroundServer) -> None:
    status, _, body = fetch(
        live_server.base_url + "/api/auth/register",
        method="POST",
        body=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= status < 500
    assert "code" in json.loads(body)["error"]


def test_a_handler_crash_is_a_500_with_api_gateways_body(
    live_server: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(event: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(live_server.gateway, "_http_handler", explode)
    status, _, body = fetch(live_server.base_url + "/api/health")
    assert status == 500
    assert json.loads(body) == {"message": "Internal Server Error"}


# --- static files --------------------------------------------------------------------------------------------


@pytest.fixture
def static_server(tmp_path: Path, container: Container) -> Any:
    root = tmp_path / "static"
    (root / "js").mkdir(parents=True)
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "js" / "app.js").write_text("console.log(1)")
    (root / "empty").mkdir()
    (tmp_path / "secret.txt").write_text("do not serve")
    container.settings = container.settings.model_copy(update={"static_dir": root})
    with BackgroundServer(container) as server:
        yield server


def test_root_serves_index_html(static_server: BackgroundServer) -> None:
    status, headers, body = fetch(static_server.base_url + "/")
    assert (status, body) == (200, b"<h1>home</h1>")
    assert headers["Content-Type"].startswith("text/html")


def test_files_are_served_with_their_content_type(static_server: BackgroundServer) -> None:
    status, headers, body = fetch(static_server.base_url + "/js/app.js")
    assert (status, body) == (200, b"console.log(1)")
    assert "javascript" in headers["Content-Type"]


@pytest.mark.parametrize(
    "path", ["/empty/", "/js/", "/missing.css", "/%2e%2e/secret.txt", "/js/%2e%2e/%2e%2e/secret.txt"]
)
def test_no_directory_listing_no_missing_file_and_no_path_escape(static_server: BackgroundServer, path: str) -> None:
    status, _, body = fetch(static_server.base_url + path)
    assert status == 404
    assert b"do not serve" not in body


def test_static_files_refuse_writes(static_server: BackgroundServer) -> None:
    status, _, _ = fetch(static_server.base_url + "/index.html", method="POST", body=b"x")
    assert status == 405


def test_a_body_over_api_gateways_10_mb_limit_is_refused_with_413(live_server: BackgroundServer) -> None:
    status, _, body = fetch(
        live_server.base_url + "/api/auth/register",
        method="POST",
        body=b"x" * (10 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert status == 413
    assert json.loads(body) == {"message": "Request Entity Too Large"}
