"""Maps typed domain errors to HTTP responses with the uniform error body, in one place."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from ieltsprep.edges.http.schema import ApiModel
from ieltsprep.errors import AppError, RateLimited

log = logging.getLogger(__name__)


class ErrorDetail(ApiModel):
    """The inside of every error body."""

    code: str
    message: str


class ErrorBody(ApiModel):
    """Every 4xx/5xx body: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


def document_error_bodies(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with every error response described by the error body we really send."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas["ErrorBody"] = schema
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if "requestBody" in operation:
                # The edge refuses a body that is not JSON (400) or too large (413) before any route runs.
                operation["responses"].setdefault("400", {"description": "invalid_json"})
                operation["responses"].setdefault("413", {"description": "payload_too_large"})
            for status, response in operation.get("responses", {}).items():
                # Every error leaves through the handlers below, so every 4xx/5xx has this body, whatever a route's
                # decorator declared (Powertools fills undeclared content with the route's return type).
                if str(status)[0] == "2" and _is_ready_json_placeholder(response):
                    # A route answering a ready JSON ``Response[str]`` is documented by Powertools as a string.
                    if str(status) == "204":
                        response.pop("content")  # no body at all
                    else:
                        response["content"] = {"application/json": {"schema": {"type": "object"}}}
                if str(status)[0] in "45":
                    if "HTTPValidationError" in json.dumps(response):
                        response["description"] = "validation_error"
                    response["content"] = error_content
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document


def _is_ready_json_placeholder(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema == {"type": "string", "title": "Return"})


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response[str]:
    """``{"error": {"code", "message"}}`` with ``status``."""
    body = json.dumps({"error": {"code": code, "message": message}})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def _field(err: Any) -> str:
    # loc is ("body", "consent", "terms") or ("query", "x"): drop the source, keep the field path.
    return ".".join(str(p) for p in err.get("loc", ())[1:]) or "body"


def _allowed_methods(app: APIGatewayHttpResolver, method: str, path: str) -> list[str]:
    # Powertools answers an unmatched method with its 404 hook; its route tables tell 404 from 405.
    routes = [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]
    return sorted({r.method for r in routes if r.method != method and r.rule.match(path)})


def register(app: APIGatewayHttpResolver) -> None:
    """Install the exception handlers on ``app``."""

    @app.exception_handler(AppError)
    def _app_error(exc: AppError) -> Response[str]:
        headers = None
        if isinstance(exc, RateLimited) and exc.retry_after:
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(exc.status, exc.code, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[str]:
        problems = exc.errors()
        if any(err.get("type") == "json_invalid" for err in problems):
            return error_response(400, "invalid_json", "request body is not valid JSON")
        details = "; ".join(f"{_field(err)}: {err.get('msg', 'invalid')}" for err in problems)
        return error_response(422, "validation_error", details or "invalid request")

    @app.exception_handler(RequestUnsupportedContentType)
    def _media_type(_exc: RequestUnsupportedContentType) -> Response[str]:
        return error_response(415, "unsupported_media_type", "send the body as application/json")

    @app.not_found
    def _not_found(_exc: Exception) -> Response[str]:
        event = app.current_event
        allowed = _allowed_methods(app, event.http_method.upper(), event.path)
        if allowed:
            return error_response(405, "method_not_allowed", "method not allowed", {"Allow": ", ".join(allowed)})
        return error_response(404, "not_found", "no such endpoint")

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response[str]:
        # Powertools' own HTTP errors (BadRequestError and kin) get the same body as ours.
        try:
            code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        except ValueError:
            code = "error"
        message = exc.msg if isinstance(exc.msg, str) else json.dumps(exc.msg)
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        # The details go to the log (without request data); the caller gets the uniform body and no internals.
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "something went wrong on our side; please try again")
