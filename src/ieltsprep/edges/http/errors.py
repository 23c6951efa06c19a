"""Maps typed domain errors to HTTP responses with the uniform error body, in one place."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from ieltsprep.errors import AppError


def error_response(status: int, code: str, message: str) -> Response[str]:
    """``{"error": {"code", "message"}}`` with ``status``."""
    body = json.dumps({"error": {"code": code, "message": message}})
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def register(app: APIGatewayHttpResolver) -> None:
    """Install the exception handlers on ``app``."""

    @app.exception_handler(AppError)
    def _app_error(exc: AppError) -> Response[str]:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response[str]:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'body'}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        return error_response(422, "validation_error", details or "invalid request")

    @app.not_found
    def _not_found(_exc: Exception) -> Response[str]:
        return error_response(404, "not_found", "no such endpoint")
