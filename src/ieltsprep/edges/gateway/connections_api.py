"""The ``@connections`` management API of the local gateway, as boto3's ``apigatewaymanagementapi`` speaks it.

``POST`` sends the body to the socket, ``GET`` describes the connection, ``DELETE`` closes it. An unknown connection
gets 410 ``GoneException``; a body over 128 KB gets 413 ``PayloadTooLargeException``; an unsigned request gets 403
``ForbiddenException`` (signatures are not checked: the API listens on loopback only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import WSCloseCode, web

from ieltsprep.edges.gateway.websocket import LiveConnection

CONNECTIONS_PATH = "/@connections/{connection_id}"
MAX_POST_BYTES = 128 * 1024


def _error(status: int, error_type: str, message: str | None) -> web.Response:
    # botocore's rest-json parser reads the error code from this header.
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def connections_route(
    registry: dict[str, LiveConnection],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of ``/@connections/{connection_id}``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if not request.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256"):
            return _error(403, "ForbiddenException", "Missing Authentication Token")
        connection = registry.get(request.match_info["connection_id"])
        # Like API Gateway, a connection is gone until its upgrade completes and after it closes.
        if connection is None or not connection.socket.prepared or connection.socket.closed:
            return _error(410, "GoneException", None)
        if request.method == "POST":
            data = await request.read()
            if len(data) > MAX_POST_BYTES:
                return _error(413, "PayloadTooLargeException", "Payload too large")
            async with connection.send_lock:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    await connection.socket.send_bytes(data)
                else:
                    await connection.socket.send_str(text)
            return web.Response(status=200)
        if request.method == "GET":
            return web.json_response(
                {
                    "connectedAt": _iso(connection.connected_at),
                    "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                    "lastActiveAt": _iso(connection.last_active_at),
                }
            )
        if request.method == "DELETE":
            connection.closed_by_api = True
            await connection.socket.close(code=WSCloseCode.OK, message=b"Connection deleted")
            return web.Response(status=204)
        raise web.HTTPMethodNotAllowed(request.method, ["POST", "GET", "DELETE"])

    return handler
