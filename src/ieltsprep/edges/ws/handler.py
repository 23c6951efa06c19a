"""The WebSocket API handler: ``$connect``, ``$disconnect``, ``$default`` and ``nova-sonic-stream``.

Event shapes are API Gateway's (../reference/nova_sonic.md section 13), whether the event comes from AWS or from
the local gateway. Replies go through ``container.connections`` (the route's return value reaches no client); the
return value only tells API Gateway whether ``$connect`` is accepted.
"""

from __future__ import annotations

import json
import logging
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING, Any

from ieltsprep.edges.connections import ConnectionGone
from ieltsprep.edges.ws import relay, tokens
from ieltsprep.edges.ws.messages import ACTION, ErrorMessage, StartMessage, parse_client_message
from ieltsprep.errors import AppError, Forbidden, Unauthorized

if TYPE_CHECKING:
    from ieltsprep.container import Container

logger = logging.getLogger(__name__)


def _response(status: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status}
    if body is not None:
        response["body"] = json.dumps(body)
    return response


def _error_body(exc: AppError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message}}


def _authenticate_user(container: Container, token: str) -> str:
    """The user id a session token belongs to (raises ``Unauthorized``)."""
    user = container.accounts.authenticate(token)
    return str(user.id)


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _cookie_token(container: Container, event: dict[str, Any]) -> str | None:
    """The web session cookie, accepted only from an allowed Origin (browsers send cookies cross-site too)."""
    cookie_header = _header(event, "cookie")
    if not cookie_header:
        return None
    if _header(event, "origin") not in container.settings.cors_origins:
        raise Forbidden("cookie sign-in from this origin is not allowed", code="forbidden_origin")
    from ieltsprep.edges.http.auth import COOKIE_NAME  # only here: keeps the common path's imports small

    cookies = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except CookieError:
        return None
    morsel = cookies.get(COOKIE_NAME)
    return morsel.value if morsel and morsel.value else None


def connect(container: Container, event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    """``$connect``: a session token (``?token=``, or the web session cookie) or a worker's internal token."""
    params = event.get("queryStringParameters") or {}
    token = params.get("token") if isinstance(params, dict) else None
    try:
        if not token:
            token = _cookie_token(container, event)
        if not isinstance(token, str) or not token:
            raise Unauthorized("a token is required", code="missing_token")
        if tokens.looks_like_worker_token(token):
            claims = tokens.verify_worker_token(container.settings, token)
            relay.worker_connected(container, connection_id, claims)
        else:
            relay.record_connection(
                container, connection_id, user_id=_authenticate_user(container, token), role="candidate"
            )
    except AppError as exc:
        # Only 401/403 say "go away"; anything else here is our fault and must not look like a bad token.
        status = exc.status if exc.status in (401, 403) else 500
        logger.info("refused WebSocket connection: %s", exc.code)
        return _response(status, _error_body(exc))
    return _response(200)


def disconnect(container: Container, connection_id: str) -> dict[str, Any]:
    """``$disconnect``: forget the connection (API Gateway ignores the answer; it is best effort by nature)."""
    try:
        relay.disconnected(container, connection_id)
    except AppError as exc:
        logger.warning("cleanup after disconnect of %s: %s", connection_id, exc.message)
    return _response(200)


def _reply_error(container: Container, connection_id: str, exc: AppError) -> dict[str, Any]:
    try:
        container.connections.post(connection_id, ErrorMessage(code=exc.code, message=exc.message).dump())
    except ConnectionGone:
        relay.forget_connection(container, connection_id)
    return _response(exc.status, _error_body(exc))


def stream(container: Container, event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    """``nova-sonic-stream``: validate the message and relay it (start/audio/stop)."""
    try:
        connection = relay.load_connection(container, connection_id)
        if connection is None:
            raise Unauthorized("unknown connection; reconnect", code="unknown_connection")
        message = parse_client_message(event.get("body"))
        if isinstance(message, StartMessage):
            relay.start(container, connection, message)
        else:
            relay.forward(container, connection, message)
    except AppError as exc:
        if not (isinstance(exc, Unauthorized) and exc.code == "unknown_connection"):
            return _reply_error(container, connection_id, exc)
        return _response(exc.status, _error_body(exc))
    return _response(200)


def default(container: Container, event: dict[str, Any], connection_id: str) -> dict[str, Any]:
    """``$default``: a message with no known ``action`` (or not JSON at all) gets an error message back."""
    try:
        payload = json.loads(event.get("body") or "") if not event.get("isBase64Encoded") else None
    except json.JSONDecodeError:
        payload = None
    if isinstance(payload, dict):
        error = AppError(f'unknown action; send "action": "{ACTION}"', code="unknown_action")
    else:
        error = AppError("message is not a JSON object", code="bad_message")
    return _reply_error(container, connection_id, error)


def handle_event(container: Container, event: dict[str, Any]) -> dict[str, Any]:
    """Route one WebSocket API event by its ``routeKey``."""
    context = event.get("requestContext") or {}
    route = context.get("routeKey")
    connection_id = context.get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        return _response(400, {"error": {"code": "bad_event", "message": "no connectionId"}})
    if route == "$connect":
        return connect(container, event, connection_id)
    if route == "$disconnect":
        return disconnect(container, connection_id)
    if route == ACTION:
        return stream(container, event, connection_id)
    return default(container, event, connection_id)


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda handler body of the WebSocket API."""
    from ieltsprep.container import get_container

    return handle_event(get_container(), event)
