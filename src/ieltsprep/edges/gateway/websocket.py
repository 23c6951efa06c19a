"""WebSocket side of the local gateway: ``/ws`` behaves like an API Gateway WebSocket API.

``$connect`` runs before the upgrade (a non-2xx answer refuses it), each text frame is routed on
``$request.body.action`` and becomes a MESSAGE event, a close becomes ``$disconnect``. Limits mirror API Gateway
(../reference/nova_sonic.md section 13): 32 KB frames (close 1009 above), 10 min idle, 2 h per connection.
Handler return values are not sent back: replies travel through the ``@connections`` API.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from ieltsprep.edges.gateway.http import API_ID, forwarded_headers, request_time, source_ip
from ieltsprep.ids import new_id

Invoke = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

WS_PATH = "/ws"
STAGE = "local"
MAX_FRAME_BYTES = 32 * 1024
IDLE_TIMEOUT_SECONDS = 10 * 60
MAX_CONNECTION_SECONDS = 2 * 3600


@dataclass
class Limits:
    """API Gateway's WebSocket quotas (tests shorten the timeouts to watch them act)."""

    frame_bytes: int = MAX_FRAME_BYTES
    idle_seconds: float = IDLE_TIMEOUT_SECONDS
    connection_seconds: float = MAX_CONNECTION_SECONDS


# Routes of the deployed API besides $connect/$disconnect/$default (routeSelectionExpression $request.body.action).
ROUTES = frozenset({"nova-sonic-stream"})

logger = logging.getLogger(__name__)


def new_connection_id() -> str:
    """An id shaped like API Gateway's (12 characters of base64 ending in ``=``), safe in a URL path."""
    return base64.urlsafe_b64encode(secrets.token_bytes(8)).decode()


@dataclass
class LiveConnection:
    """One open socket and what ``GET @connections/{id}`` reports about it."""

    connection_id: str
    socket: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)
    closed_by_api: bool = False
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def select_route(body: str | None) -> str:
    """API Gateway's route selection on ``$request.body.action``; anything else goes to ``$default``."""
    if body is None:
        return "$default"
    try:
        payload = json.loads(body)
    except json.JSONDecodeError:
        return "$default"
    action = payload.get("action") if isinstance(payload, dict) else None
    return action if isinstance(action, str) and action in ROUTES else "$default"


def _request_context(
    request: web.BaseRequest, connection: LiveConnection | None, connection_id: str, route: str, event_type: str
) -> dict[str, Any]:
    epoch_ms = int(time.time() * 1000)
    host = request.headers.get("Host", "127.0.0.1")
    connected_at = int((connection.connected_at if connection else time.time()) * 1000)
    return {
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": new_id(),
        "requestTime": request_time(epoch_ms),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": connected_at,
        "requestTimeEpoch": epoch_ms,
        "identity": {"sourceIp": source_ip(request), "userAgent": request.headers.get("User-Agent", "")},
        "requestId": new_id(),
        "domainName": host,
        "connectionId": connection_id,
        "apiId": API_ID,
    }


def connect_event(request: web.BaseRequest, connection_id: str) -> dict[str, Any]:
    """The ``$connect`` event: headers and query string of the upgrade request."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    forwarded = {name.title(): value for name, value in forwarded_headers(request).items()}
    # API Gateway's X-Forwarded-* replace the client's (its X-Forwarded-For already carries the client's chain).
    client_headers = [(name, value) for name, value in request.headers.items() if name.title() not in forwarded]
    for name, value in [*client_headers, *forwarded.items()]:
        headers[name] = f"{headers[name]},{value}" if name in headers else value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in request.query.items():
        query[name] = value  # API Gateway keeps the last value in the single-value map
        multi_query.setdefault(name, []).append(value)
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "requestContext": _request_context(request, None, connection_id, "$connect", "CONNECT"),
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    return event


def message_event(request: web.BaseRequest, connection: LiveConnection, body: str, *, binary: bool) -> dict[str, Any]:
    """A MESSAGE event for one frame, routed on its ``action``."""
    route = "$default" if binary else select_route(body)
    context = _request_context(request, connection, connection.connection_id, route, "MESSAGE")
    context["messageId"] = new_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": binary}


def disconnect_event(request: web.BaseRequest, connection: LiveConnection, status: int, reason: str) -> dict[str, Any]:
    """The ``$disconnect`` event, with the close status and reason."""
    context = _request_context(request, connection, connection.connection_id, "$disconnect", "DISCONNECT")
    context["disconnectStatusCode"] = status
    context["disconnectReason"] = reason
    return {
        "headers": {"Host": request.headers.get("Host", "127.0.0.1")},
        "multiValueHeaders": {"Host": [request.headers.get("Host", "127.0.0.1")]},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def _status_of(result: Any) -> int:
    if isinstance(result, dict) and isinstance(result.get("statusCode"), int):
        return int(result["statusCode"])
    return 200


def ws_route(
    invoke: Invoke, registry: dict[str, LiveConnection], limits: Limits
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of ``/ws``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        connection_id = new_connection_id()
        try:
            result = await invoke(connect_event(request, connection_id))
        except Exception:
            logger.exception("$connect handler failed")
            return web.json_response({"message": "Internal server error"}, status=500)
        status = _status_of(result)
        if not 200 <= status < 300:
            # API Gateway refuses the upgrade with the handler's status (401/403 for a bad token).
            return web.json_response({"message": "Forbidden" if status == 403 else "Unauthorized"}, status=status)
        socket = web.WebSocketResponse(max_msg_size=limits.frame_bytes, autoping=True, heartbeat=None)
        connection = LiveConnection(connection_id, socket, source_ip(request), request.headers.get("User-Agent", ""))
        # Registered before the 101 goes out, so the client never sees itself connected yet unknown to @connections.
        registry[connection_id] = connection
        try:
            await socket.prepare(request)
        except Exception:
            registry.pop(connection_id, None)
            raise
        close_status, close_reason = await _pump(invoke, request, connection, limits)
        registry.pop(connection_id, None)
        if not socket.closed:
            await socket.close(code=close_status, message=close_reason.encode()[:120])
        try:
            await invoke(disconnect_event(request, connection, close_status, close_reason))
        except Exception:
            logger.exception("$disconnect handler failed")
        return socket

    return handler


async def _pump(invoke: Invoke, request: web.Request, connection: LiveConnection, limits: Limits) -> tuple[int, str]:
    """Read frames until the socket closes; returns the close status and reason for ``$disconnect``."""
    socket = connection.socket
    deadline = connection.connected_at + limits.connection_seconds
    while True:
        timeout = min(limits.idle_seconds, deadline - time.time())
        if timeout <= 0:
            return WSCloseCode.GOING_AWAY, "Connection duration limit reached"
        try:
            frame = await socket.receive(timeout=timeout)
        except TimeoutError:
            if time.time() >= deadline:
                return WSCloseCode.GOING_AWAY, "Connection duration limit reached"
            return WSCloseCode.GOING_AWAY, "Going away"
        if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
            if connection.closed_by_api:
                return WSCloseCode.OK, "Connection deleted"
            code = socket.close_code or WSCloseCode.OK
            return code, "Client closed"
        if frame.type == WSMsgType.ERROR:
            # aiohttp reports an oversized frame as an error after closing with 1009, as API Gateway does.
            code = socket.close_code or WSCloseCode.MESSAGE_TOO_BIG
            return code, str(frame.data or "Frame error")
        connection.last_active_at = time.time()
        if frame.type == WSMsgType.TEXT:
            event = message_event(request, connection, frame.data, binary=False)
        elif frame.type == WSMsgType.BINARY:
            event = message_event(request, connection, base64.b64encode(frame.data).decode(), binary=True)
        else:
            continue
        try:
            # One frame at a time per connection keeps audio in order for the relay.
            await invoke(event)
        except Exception:
            logger.exception("WebSocket handler failed on %s", event["requestContext"]["routeKey"])
