"""HTTP side of the local gateway: requests under /api become HTTP API payload 2.0 events; the rest is static files.

The event and response shapes follow ../reference/nova_sonic.md section 14 (what API Gateway really sends and
accepts), so the HTTP handler cannot tell the local gateway from AWS.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDict

from ieltsprep.ids import new_id

Invoke = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

API_PREFIX = "/api"
# API Gateway HTTP APIs accept request payloads up to 10 MB; the handler applies its own, smaller cap.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
API_ID = "local"
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml", "+json", "+xml")


def request_time(epoch_ms: int) -> str:
    """API Gateway's ``requestContext.time`` format, e.g. ``25/Nov/2026:14:31:10 +0000``."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(marker in lowered for marker in _TEXT_TYPES)


def _joined_headers(request: web.BaseRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def _query_parameters(raw: str) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params or None


def source_ip(request: web.BaseRequest) -> str:
    """The client's address as API Gateway reports it."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return str(peer[0]) if peer else "127.0.0.1"


def forwarded_headers(request: web.BaseRequest) -> dict[str, str]:
    """The ``X-Forwarded-*`` headers API Gateway adds before invoking the integration."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    forwarded_for = request.headers.get("X-Forwarded-For")
    client = source_ip(request)
    return {
        "x-forwarded-for": f"{forwarded_for}, {client}" if forwarded_for else client,
        "x-forwarded-port": str(sockname[1]) if sockname else "80",
        "x-forwarded-proto": request.scheme,
    }


def build_http_event(request: web.BaseRequest, body: bytes) -> dict[str, Any]:
    """The payload 2.0 event API Gateway's HTTP API would send for ``request``."""
    epoch_ms = int(time.time() * 1000)
    headers = {**_joined_headers(request), **forwarded_headers(request)}
    cookie_header = headers.pop("cookie", None)
    host = headers.get("host", "127.0.0.1")
    # As sent on the request line (percent-encoding intact), like API Gateway's rawPath and rawQueryString.
    raw_path, _, raw_query = request.raw_path.partition("?")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "sourceIp": source_ip(request),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": new_id(),
            "routeKey": "$default",
            "stage": "$default",
            "time": request_time(epoch_ms),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": False,
    }
    if cookie_header:
        # Payload 2.0 moves cookies out of the headers into their own list.
        event["cookies"] = [part.strip() for part in cookie_header.split(";") if part.strip()]
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    if body:
        if _is_text(headers.get("content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def build_http_response(result: Any) -> web.Response:
    """The HTTP response API Gateway makes of a handler's return value (payload 2.0 rules)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # A handler returning plain JSON gets 200 application/json with that JSON as the body.
        return web.Response(status=200, body=json.dumps(result).encode(), content_type="application/json")
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in (result.get("headers") or {}).items():
        headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name in headers:
            continue
        for value in values:
            headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    raw_body = result.get("body") or ""
    body = base64.b64decode(raw_body) if result.get("isBase64Encoded") else str(raw_body).encode()
    return web.Response(status=int(result["statusCode"]), body=body, headers=headers)


def internal_error() -> web.Response:
    """What API Gateway answers when the integration fails."""
    return web.json_response({"message": "Internal Server Error"}, status=500)


def api_route(invoke: Invoke) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler that forwards a request to the HTTP Lambda handler through ``invoke``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"message": "Request Entity Too Large"}, status=413)
        result = await invoke(build_http_event(request, body))
        return build_http_response(result)

    return handler


def default_static_dir() -> Path | None:
    """``static/`` at the root of the repository this package runs from, when there is one."""
    candidate = Path(__file__).resolve().parents[4] / "static"
    return candidate if candidate.is_dir() else None


def static_route(root: Path | None) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler serving files under ``root``: index.html for directories, no listing, no escape."""
    resolved_root = root.resolve() if root else None

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        if resolved_root is None:
            raise web.HTTPNotFound()
        relative = request.match_info.get("path", "").lstrip("/")
        if "\x00" in relative:
            raise web.HTTPNotFound()
        target = (resolved_root / relative).resolve()
        if not target.is_relative_to(resolved_root):
            raise web.HTTPNotFound()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            raise web.HTTPNotFound()
        response = web.FileResponse(target)
        # The web app is small and changes with the code: let the browser revalidate instead of caching stale JS.
        response.headers["Cache-Control"] = "no-cache"
        return response

    return handler
