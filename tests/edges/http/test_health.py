"""GET /api/health and the Lambda handler that serves it."""

from __future__ import annotations

from typing import Any

import pytest
from apiclient import Api

from ieltsprep import __version__
from ieltsprep.container import Container
from ieltsprep.edges.http import app as app_module


def test_health_reports_status_version_region_and_store(api: Api) -> None:
    reply = api.call("GET", "/api/health")
    assert reply.status == 200
    assert reply.json == {"status": "ok", "version": __version__, "region": "us-east-1", "store": "sqlite"}


def test_lambda_handler_builds_the_app_once_and_serves_every_invocation(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Container] = []

    def fake_get_container() -> Container:
        built.append(container)
        return container

    monkeypatch.setattr(app_module, "get_container", fake_get_container)
    monkeypatch.setattr(app_module, "_handler", None)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/api/health",
        "rawQueryString": "",
        "headers": {},
        "requestContext": {
            "http": {"method": "GET", "path": "/api/health", "sourceIp": "127.0.0.1"},
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    first = app_module.handle(event, None)
    second = app_module.handle(event, None)
    assert first["statusCode"] == second["statusCode"] == 200
    assert len(built) == 1
