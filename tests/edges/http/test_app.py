"""Edge hardening of the HTTP resolver: body caps, malformed JSON, CORS, uniform errors, OpenAPI."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from apiclient import CONSENT, PASSWORD, Api

from ieltsprep.container import Container
from ieltsprep.edges.http.app import create_app


def _item_count(container: Container) -> int:
    container.store  # noqa: B018  (opens, and so creates, the SQLite file)
    with sqlite3.connect(container.settings.sqlite_path) as conn:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


def test_oversized_body_is_413_with_error_body_and_stores_nothing(api: Api, container: Container) -> None:
    before = _item_count(container)
    cap = container.settings.max_body_bytes
    body = {"email": "a@example.com", "password": PASSWORD, "consent": CONSENT, "pad": "x" * cap}
    reply = api.call("POST", "/api/auth/register", body)
    assert reply.status == 413
    assert reply.error_code == "payload_too_large"
    assert _item_count(container) == before
    assert container.accounts.find_by_email("a@example.com") is None


def test_oversized_base64_body_is_413_before_decoding(api: Api, container: Container) -> None:
    raw = json.dumps({"pad": "x" * container.settings.max_body_bytes})
    reply = api.call("POST", "/api/auth/login", raw=raw, base64_body=True)
    assert reply.status == 413


@pytest.mark.parametrize("raw", ['{"email": "a@example.com", "password": ', "not json", "\udcff"])
def test_malformed_json_is_400_invalid_json_and_stores_nothing(api: Api, container: Container, raw: str) -> None:
    before = _item_count(container)
    reply = api.call("POST", "/api/auth/register", raw=raw)
    assert reply.status == 400
    assert reply.error_code == "invalid_json"
    assert reply.json["error"]["message"]
    assert _item_count(container) == before


def test_a_non_json_content_type_on_a_json_route_is_415(api: Api) -> None:
    reply = api.call("POST", "/api/auth/login", raw="email=a", headers={"content-type": "text/plain"})
    assert reply.status == 415
    assert reply.error_code == "unsupported_media_type"


def test_base64_encoded_json_bodies_are_accepted(api: Api) -> None:
    raw = json.dumps({"email": "b64@example.com", "password": PASSWORD, "consent": CONSENT})
    assert api.call("POST", "/api/auth/register", raw=raw, base64_body=True).status == 201


def test_a_json_array_where_an_object_is_expected_is_422(api: Api) -> None:
    reply = api.call("POST", "/api/auth/login", raw="[1, 2]")
    assert reply.status == 422
    assert reply.error_code == "validation_error"


def test_unknown_fields_are_rejected_422(api: Api) -> None:
    reply = api.call("POST", "/api/auth/login", {"email": "a@example.com", "password": PASSWORD, "admin": True})
    assert reply.status == 422


def test_unknown_path_is_404_with_error_body(api: Api) -> None:
    reply = api.call("GET", "/api/nope")
    assert reply.status == 404
    assert reply.error_code == "not_found"


def test_wrong_method_is_405_with_allow_header_and_error_body(api: Api) -> None:
    reply = api.call("PUT", "/api/auth/login", {})
    assert reply.status == 405
    assert reply.error_code == "method_not_allowed"
    assert reply.headers["allow"] == "POST"


def test_unexpected_failure_is_500_with_error_body_and_no_internals(
    api: Api, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = api.signed_up("a@example.com")

    def explode(_token: str) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(container.accounts, "authenticate", explode)
    reply = api.call("GET", "/api/me", token=token)
    assert reply.status == 500
    assert reply.error_code == "internal_error"
    assert "hunter2" not in reply.text


def test_allowed_origin_gets_cors_headers_with_credentials(api: Api, container: Container) -> None:
    origin = container.settings.cors_origins[1]
    reply = api.call("GET", "/api/health", headers={"origin": origin})
    assert reply.headers["access-control-allow-origin"] == origin
    assert reply.headers["access-control-allow-credentials"] == "true"


def test_foreign_origin_gets_no_allow_origin_header(api: Api) -> None:
    reply = api.call("GET", "/api/health", headers={"origin": "https://evil.example"})
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers
    preflight = api.call("OPTIONS", "/api/auth/login", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in preflight.headers


def test_preflight_from_allowed_origin_is_204_with_methods(api: Api, container: Container) -> None:
    origin = container.settings.cors_origins[0]
    reply = api.call("OPTIONS", "/api/auth/login", headers={"origin": origin})
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == origin
    assert "POST" in reply.headers["access-control-allow-methods"]


def test_rejections_before_routing_keep_cors_headers_for_allowed_origins(api: Api, container: Container) -> None:
    origin = container.settings.cors_origins[0]
    reply = api.call("POST", "/api/auth/login", raw="{", headers={"origin": origin})
    assert reply.status == 400
    assert reply.headers["access-control-allow-origin"] == origin


def test_cors_allow_list_comes_from_settings(container: Container) -> None:
    custom = Container(container.settings.model_copy(update={"cors_origins": ["https://app.example"]}))
    try:
        api = Api(create_app(custom))
        allowed = api.call("GET", "/api/health", headers={"origin": "https://app.example"})
        default = api.call("GET", "/api/health", headers={"origin": "http://127.0.0.1:8000"})
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-origin" not in default.headers
    finally:
        custom.close()


def test_the_app_serves_many_requests_with_its_container(api: Api) -> None:
    # Powertools clears the router context after each request; the app must put the container back every time.
    for _ in range(3):
        assert api.call("GET", "/api/health").json["status"] == "ok"


ACCOUNT_PATHS = {
    "/api/health": {"get"},
    "/api/auth/register": {"post"},
    "/api/auth/login": {"post"},
    "/api/auth/logout": {"post"},
    "/api/me": {"get", "delete"},
    "/api/me/export": {"get"},
}


def test_openapi_document_is_served_with_title_version_and_the_account_paths(api: Api) -> None:
    reply = api.call("GET", "/api/openapi.json")
    assert reply.status == 200
    document = reply.json
    assert document["info"]["title"] == "IELTS GenAI Prep API"
    assert document["info"]["version"]
    for path, methods in ACCOUNT_PATHS.items():
        assert methods <= set(document["paths"][path]), path
    register = document["paths"]["/api/auth/register"]["post"]["requestBody"]["content"]["application/json"]
    assert register["schema"]


# Every method and path of the HTTP table of docs/API.md (the binding contract).
API_MD_PATHS = {
    ("get", "/api/health"),
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/me"),
    ("get", "/api/me/export"),
    ("delete", "/api/me"),
    ("get", "/api/products"),
    ("post", "/api/purchases/verify"),
    ("post", "/api/purchases/apple/notifications"),
    ("post", "/api/purchases/google/notifications"),
    ("post", "/api/assessments"),
    ("get", "/api/assessments"),
    ("get", "/api/assessments/{}"),
    ("put", "/api/assessments/{}/answers/{}"),
    ("post", "/api/assessments/{}/submit"),
    ("post", "/api/dev/test-store/transactions"),
    ("post", "/api/dev/test-store/notifications"),
}


def test_openapi_document_lists_every_api_md_path(api: Api) -> None:
    paths = api.call("GET", "/api/openapi.json").json["paths"]
    served = {(method, re.sub(r"\{[^}]+\}", "{}", path)) for path, item in paths.items() for method in item}
    assert API_MD_PATHS - served == set()


@pytest.mark.parametrize(("method", "path", "raw"), [("GET", "/api/health", None), ("POST", "/api/auth/login", "{")])
def test_every_response_forbids_caching_and_sniffing(api: Api, method: str, path: str, raw: str | None) -> None:
    reply = api.call(method, path, raw=raw)
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_powertools_http_errors_get_the_uniform_error_body(container: Container) -> None:
    from aws_lambda_powertools.event_handler.exceptions import BadRequestError

    app = create_app(container)

    @app.get("/api/test-only/bad-request")
    def bad_request() -> None:
        raise BadRequestError("missing parameter x")

    reply = Api(app).call("GET", "/api/test-only/bad-request")
    assert reply.status == 400
    assert reply.json == {"error": {"code": "bad_request", "message": "missing parameter x"}}


def test_openapi_document_describes_every_error_with_the_uniform_body(api: Api) -> None:
    document = api.call("GET", "/api/openapi.json").json
    assert "HTTPValidationError" not in json.dumps(document)
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["properties"]["error"]["$ref"] == "#/components/schemas/ErrorDetail"
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message"}
    errors = [
        response
        for item in document["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
        if status.startswith(("4", "5"))
    ]
    assert errors
    for response in errors:
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
