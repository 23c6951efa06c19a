"""The HTTP API edge: one Powertools resolver, routers per domain, errors mapped in one place."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, content_types

from ieltsprep import __version__
from ieltsprep.container import Container, get_container
from ieltsprep.edges.http import errors
from ieltsprep.edges.http.routes import ROUTERS
from ieltsprep.errors import AppError, PayloadTooLarge

OPENAPI_PATH = "/api/openapi.json"
OPENAPI_TITLE = "IELTS GenAI Prep API"
# API responses carry personal data: no shared or browser caching, no content sniffing.
SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
# cordova-plugin-purchase v13 reads only HTTP 200 from its validator: even a rejected body answers 200 ok:false there.
VALIDATOR_PATH = "/api/purchases/verify"


class BadJson(AppError):
    """The body claims to be JSON and is not."""

    status = 400
    code = "invalid_json"


def _header(event: dict[str, Any], name: str) -> str:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return ""


def check_body(event: dict[str, Any], max_bytes: int) -> None:
    """PayloadTooLarge past ``max_bytes``; BadJson when a JSON (or untyped) body does not parse."""
    body = event.get("body")
    if not body:
        return
    raw: bytes
    if event.get("isBase64Encoded"):
        # A base64 body is 4/3 of the payload; refuse before decoding something huge.
        if len(body) * 3 // 4 > max_bytes + 3:
            raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadJson("request body is not valid base64") from exc
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
    content_type = _header(event, "content-type").lower()
    if content_type and "json" not in content_type:
        return
    try:
        json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadJson("request body is not valid JSON") from exc


class HttpApp(APIGatewayHttpResolver):
    """The resolver of this API: re-binds the container on every request and screens bodies before routing."""

    def __init__(self, container: Container, cors: CORSConfig) -> None:
        # debug=False always: Powertools' debug mode prints whole events, Authorization headers included.
        super().__init__(cors=cors, enable_validation=True, debug=False)
        self.container = container
        self.cors_config = cors
        self._openapi: str | None = None

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        """Screen the body (size, JSON syntax), then route; the resolver clears its context after each request."""
        try:
            check_body(event, self.container.settings.max_body_bytes)
        except AppError as exc:
            return self._rejection(event, exc)
        self.append_context(container=self.container)
        response = super().resolve(event, context)
        headers = response.setdefault("headers", {})
        for name, value in SECURITY_HEADERS.items():
            if not any(key.lower() == name.lower() for key in headers):
                headers[name] = value
        return response

    def _rejection(self, event: dict[str, Any], exc: AppError) -> dict[str, Any]:
        headers = {"Content-Type": content_types.APPLICATION_JSON, **SECURITY_HEADERS}
        headers.update(self.cors_config.to_dict(_header(event, "origin") or None))
        status = exc.status
        body: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message}}
        if event.get("rawPath") == VALIDATOR_PATH:
            from ieltsprep.billing.purchases import failure

            status, body = 200, {**failure(exc.message), "status": exc.status}
        return {"statusCode": status, "headers": headers, "body": json.dumps(body), "isBase64Encoded": False}

    def openapi_document(self) -> str:
        """The OpenAPI document of every included route (built once)."""
        if self._openapi is None:
            document = self.get_openapi_json_schema(
                title=OPENAPI_TITLE,
                version=__version__,
                description="The public contract of IELTS GenAI Prep (docs/API.md).",
            )
            self._openapi = json.dumps(errors.document_error_bodies(json.loads(document)), indent=2)
        return self._openapi


def create_app(container: Container) -> HttpApp:
    """A resolver wired to ``container``; built once per process (Lambda init or the local gateway)."""
    origins = container.settings.cors_origins
    cors = CORSConfig(
        allow_origin=origins[0] if origins else "",
        extra_origins=origins[1:],
        allow_headers=["Content-Type", "Authorization"],
        expose_headers=["Retry-After"],  # so a cross-origin app can honour a 429
        allow_credentials=True,
        max_age=600,
    )
    app = HttpApp(container, cors)
    errors.register(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    def openapi() -> Any:
        from aws_lambda_powertools.event_handler import Response

        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=app.openapi_document())

    return app


_handler: Any = None


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda handler body for the HTTP API."""
    global _handler
    if _handler is None:
        from ieltsprep.edges.http.observability import Observability

        container = get_container()
        _handler = Observability(container.settings).wrap(create_app(container).resolve)
    result: dict[str, Any] = _handler(event, context)
    return result
