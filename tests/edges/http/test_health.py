from __future__ import annotations

import json

from ieltsprep.container import Container
from ieltsprep.edges.http.app import create_app


def http_event(method: str, path: str) -> dict[str, object]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "127.0.0.1"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "r1",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def test_health_reports_version_region_and_store(container: Container) -> None:
    app = create_app(container)
    response = app.resolve(http_event("GET", "/api/health"), None)
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["status"] == "ok" and body["store"] == "sqlite" and body["region"] == "us-east-1"


def test_unknown_path_gets_the_uniform_error_body(container: Container) -> None:
    app = create_app(container)
    response = app.resolve(http_event("GET", "/api/nope"), None)
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"]["code"] == "not_found"
