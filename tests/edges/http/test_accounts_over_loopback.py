"""The whole account lifecycle over real HTTP through the local gateway: register, log in, me, export, delete."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from apiclient import CONSENT, PASSWORD

from ieltsprep.edges.gateway.server import BackgroundServer


def _send(url: str, method: str = "GET", body: Any = None, cookie: str | None = None) -> tuple[int, Any, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, error.headers, json.loads(raw) if raw else None


def test_a_user_registers_logs_in_reads_me_exports_and_deletes_over_http(live_server: BackgroundServer) -> None:
    base = live_server.base_url
    status, _, body = _send(
        f"{base}/api/auth/register", "POST", {"email": "http@example.com", "password": PASSWORD, "consent": CONSENT}
    )
    assert status == 201
    status, headers, body = _send(f"{base}/api/auth/login", "POST", {"email": "http@example.com", "password": PASSWORD})
    assert status == 200
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    status, _, me = _send(f"{base}/api/me", cookie=cookie)
    assert status == 200 and me["user"]["email"] == "http@example.com"
    status, _, export = _send(f"{base}/api/me/export", cookie=cookie)
    assert status == 200 and export["user"]["id"] == me["user"]["id"]
    status, _, _ = _send(f"{base}/api/me", "DELETE", {"password": PASSWORD}, cookie=cookie)
    assert status == 204
    assert _send(f"{base}/api/me", cookie=cookie)[0] == 401
    status, _, body = _send(f"{base}/api/auth/login", "POST", {"email": "http@example.com", "password": PASSWORD})
    assert status == 401 and body["error"]["code"] == "invalid_credentials"
