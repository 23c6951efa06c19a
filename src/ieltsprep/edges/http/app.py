"""The HTTP API edge: one Powertools resolver, routers per domain, errors mapped in one place."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig

from ieltsprep.container import Container, get_container
from ieltsprep.edges.http import errors
from ieltsprep.edges.http.routes import ROUTERS


def create_app(container: Container) -> APIGatewayHttpResolver:
    """A resolver wired to ``container``; built once per process (Lambda init or the local gateway)."""
    origins = container.settings.cors_origins
    cors = CORSConfig(
        allow_origin=origins[0] if origins else "",
        extra_origins=origins[1:],
        allow_headers=["Content-Type", "Authorization"],
        allow_credentials=True,
        max_age=600,
    )
    app = APIGatewayHttpResolver(cors=cors, enable_validation=True)
    app.context["container"] = container
    errors.register(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


_app: APIGatewayHttpResolver | None = None


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda handler body for the HTTP API."""
    global _app
    if _app is None:
        _app = create_app(get_container())
    return _app.resolve(event, context)
