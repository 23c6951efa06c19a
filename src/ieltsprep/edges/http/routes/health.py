"""GET /api/health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ieltsprep import __version__
from ieltsprep.edges.http.context import container_of

router = APIGatewayHttpRouter()


@router.get("/api/health")
def health() -> dict[str, Any]:
    """Liveness, version, region and store backend."""
    settings = container_of(router).settings
    return {"status": "ok", "version": __version__, "region": settings.region, "store": settings.store}
