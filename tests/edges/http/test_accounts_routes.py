"""The account routes over the resolver with payload 2.0 events: register, login, me, logout, export, delete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apiclient import PASSWORD, Api

from ieltsprep.adapters.storage.port import Put, Table
from ieltsprep.container import Container
from ieltsprep.edges.http.app import create_app
from ieltsprep.settings import MODULES


def test_register_returns_201_with_id_and_normalised_email(api: Api) -> None:
    reply = api.register(" New.User@Example.com ")
    assert reply.status == 201
    assert reply.json["user"]["email"] == "new.user@example.com"
    assert set(reply.json["user"]) == {"id", "email"}


def test_duplicate_registration_is_409_email_taken(api: Api) -> None:
    assert api.register("a@example.com").status == 201
    reply = api.register("A@example.com", "a different password")
    assert reply.status == 409
    assert reply.error_code == "email_taken"


def test_register_without_required_consent_is_422_and_stores_nothing(api: Api, container: Container) -> None:
    body = {"email": "a@example.com", "password": PASSWORD, "consent": {"terms": False, "age_16_plus": True}}
    reply = api.call("POST", "/api/auth/register", body)
    assert reply.status == 422
    assert reply.error_code == "validation_error"
    assert "terms" in reply.json["error"]["message"]
    assert container.accounts.find_by_email("a@example.com") is None


def test_register_with_bad_fields_is_422_naming_them(api: Api) -> None:
    reply = api.call("POST", "/api/auth/register", {"email": "a@example.com", "password": "short"})
    assert reply.status == 422
    message = reply.json["error"]["message"]
    assert "password" in message and "consent" in message


def test_login_returns_token_expiry_user_and_a_secure_cookie(api: Api) -> None:
    api.register("a@example.com")
    reply = api.login("a@example.com")
    assert reply.status == 200
    assert set(reply.json) == {"token", "expires_at", "user"}
    assert reply.json["expires_at"].endswith("Z")
    (cookie,) = reply.cookies
    assert cookie.startswith(f"ieltsprep_session={reply.json['token']};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert reply.headers["cache-control"] == "no-store"


def test_cookie_is_secure_when_settings_say_so(container: Container) -> None:
    secure = Container(container.settings.model_copy(update={"cookie_secure": True}))
    try:
        api = Api(create_app(secure))
        api.register("a@example.com")
        (cookie,) = api.login("a@example.com").cookies
        assert "; Secure" in cookie
    finally:
        secure.close()


def test_wrong_password_and_unknown_email_are_401_invalid_credentials(api: Api) -> None:
    api.register("a@example.com")
    for email, password in (("a@example.com", "wrong password"), ("ghost@example.com", PASSWORD)):
        reply = api.login(email, password)
        assert reply.status == 401
        assert reply.error_code == "invalid_credentials"
        assert reply.cookies == []


def test_me_with_bearer_token_returns_user_and_all_four_credit_balances(api: Api) -> None:
    token = api.signed_up("a@example.com")
    reply = api.call("GET", "/api/me", token=token)
    assert reply.status == 200
    user = reply.json["user"]
    assert user["email"] == "a@example.com" and user["id"] and user["created_at"]
    assert reply.json["credits"] == dict.fromkeys(MODULES, 0)


def test_me_with_session_cookie_works_like_bearer(api: Api) -> None:
    api.register("a@example.com")
    (cookie,) = api.login("a@example.com").cookies
    reply = api.call("GET", "/api/me", cookies=["theme=dark", cookie.split(";")[0]])
    assert reply.status == 200
    assert reply.json["user"]["email"] == "a@example.com"


def test_me_without_or_with_a_bad_token_is_401(api: Api) -> None:
    assert api.call("GET", "/api/me").status == 401
    reply = api.call("GET", "/api/me", token="forged-token")
    assert reply.status == 401
    assert reply.error_code == "unauthorized"
    assert api.call("GET", "/api/me", headers={"authorization": "Basic YTpi"}).status == 401


def test_logout_is_204_clears_the_cookie_and_kills_the_token(api: Api) -> None:
    token = api.signed_up("a@example.com")
    reply = api.call("POST", "/api/auth/logout", token=token)
    assert reply.status == 204
    assert reply.cookies and "Max-Age=0" in reply.cookies[0]
    assert api.call("GET", "/api/me", token=token).status == 401
    assert api.call("POST", "/api/auth/logout", token=token).status == 401


def test_expired_token_is_401(api: Api, container: Container) -> None:
    token = api.signed_up("a@example.com")
    from ieltsprep.accounts.service import hash_token

    key = container.accounts.repository.get_session(hash_token(token))
    assert key is not None
    container.store.put(Put(Table.SESSIONS, {**key, "expires_at": 1_000}))
    assert api.call("GET", "/api/me", token=token).status == 401


def test_export_contains_profile_consents_sessions_and_partition_items_but_no_secrets(
    api: Api, container: Container
) -> None:
    token = api.signed_up("a@example.com")
    user_id = api.call("GET", "/api/me", token=token).json["user"]["id"]
    container.store.put(
        Put(Table.ASSESSMENTS, {"pk": f"USER#{user_id}", "sk": "ASSESSMENT#1", "module": "academic_writing"})
    )
    reply = api.call("GET", "/api/me/export", token=token)
    assert reply.status == 200
    document = reply.json
    assert document["user"]["email"] == "a@example.com"
    assert document["user"]["consents"]["terms"]["accepted"] is True
    assert len(document["sessions"]) == 1
    assert document["tables"]["assessments"] == [{"sk": "ASSESSMENT#1", "module": "academic_writing"}]
    assert "argon2" not in reply.text
    assert token not in reply.text
    from ieltsprep.accounts.service import hash_token

    assert hash_token(token) not in reply.text


def test_no_access_to_another_users_data(api: Api, container: Container) -> None:
    alice = api.signed_up("alice@example.com")
    bob = api.signed_up("bob@example.com")
    alice_id = api.call("GET", "/api/me", token=alice).json["user"]["id"]
    container.store.put(Put(Table.ASSESSMENTS, {"pk": f"USER#{alice_id}", "sk": "ASSESSMENT#1", "secret": "x"}))
    bob_me = api.call("GET", "/api/me", token=bob).json
    assert bob_me["user"]["email"] == "bob@example.com"
    bob_export = api.call("GET", "/api/me/export", token=bob)
    assert "alice" not in bob_export.text and alice_id not in bob_export.text
    # Identity comes from the token only: a user_id in the body or query changes nothing.
    assert api.call("DELETE", "/api/me", {"password": PASSWORD, "user_id": alice_id}, token=bob).status == 422
    assert api.call("GET", "/api/me", token=alice).status == 200


def test_delete_account_needs_the_password(api: Api) -> None:
    token = api.signed_up("a@example.com")
    reply = api.call("DELETE", "/api/me", {"password": "wrong password"}, token=token)
    assert reply.status == 401
    assert reply.error_code == "invalid_credentials"
    assert api.call("GET", "/api/me", token=token).status == 200


def test_delete_account_removes_every_datum_kills_tokens_and_frees_the_email(api: Api, container: Container) -> None:
    token = api.signed_up("a@example.com")
    second = api.login("a@example.com").json["token"]
    user_id = api.call("GET", "/api/me", token=token).json["user"]["id"]
    for table in Table:
        container.store.put(Put(table, {"pk": f"USER#{user_id}", "sk": "THING#1", "v": 1}))
    reply = api.call("DELETE", "/api/me", {"password": PASSWORD}, token=token)
    assert reply.status == 204
    for table in Table:
        assert container.store.query(table, f"USER#{user_id}") == []
    assert container.accounts.repository.sessions_of(user_id) == []
    assert api.call("GET", "/api/me", token=token).status == 401
    assert api.call("GET", "/api/me", token=second).status == 401
    assert api.login("a@example.com").status == 401
    assert api.register("a@example.com").status == 201  # the email is free again


@pytest.fixture
def limited_api(container: Container) -> Iterator[Api]:
    """The API with its rate limits in one long window (epoch-aligned short windows could roll over mid-test)."""
    limited = Container(container.settings.model_copy(update={"rate_limit_window_seconds": 10**9}))
    yield Api(create_app(limited))
    limited.close()


def test_login_rate_limit_is_429_with_retry_after(limited_api: Api) -> None:
    api = limited_api
    api.register("a@example.com")
    limit = api.app.container.settings.login_attempts_per_window
    for _ in range(limit):
        assert api.login("a@example.com", "wrong password").status == 401
    reply = api.login("a@example.com")
    assert reply.status == 429
    assert reply.error_code == "rate_limited"
    assert int(reply.headers["retry-after"]) > 0


def test_registration_rate_limit_is_per_source_ip(limited_api: Api) -> None:
    api = limited_api
    limit = api.app.container.settings.register_attempts_per_window
    for n in range(limit):
        assert api.register(f"u{n}@example.com", source_ip="192.0.2.9").status == 201
    reply = api.register("late@example.com", source_ip="192.0.2.9")
    assert reply.status == 429
    assert "retry-after" in reply.headers
    assert api.register("late@example.com", source_ip="192.0.2.10").status == 201


def test_me_shows_credits_granted_in_the_ledger(api: Api, container: Container) -> None:
    from ieltsprep.billing.ledger import grant

    token = api.signed_up("a@example.com")
    user_id = api.call("GET", "/api/me", token=token).json["user"]["id"]
    grant(container.store, user_id, "general_speaking", 4, source="operator", idempotency_key="op-1")
    credits = api.call("GET", "/api/me", token=token).json["credits"]
    assert credits == {**dict.fromkeys(MODULES, 0), "general_speaking": 4}


def test_responses_match_the_models_the_openapi_document_declares(api: Api) -> None:
    from ieltsprep.edges.http.routes.accounts import ErrorBody, LoginResponse, MeResponse, RegisterResponse

    RegisterResponse.model_validate(api.register("a@example.com").json, strict=True)
    login = api.login("a@example.com")
    LoginResponse.model_validate(login.json, strict=True)
    MeResponse.model_validate(api.call("GET", "/api/me", token=login.json["token"]).json, strict=True)
    ErrorBody.model_validate(api.login("a@example.com", "wrong password").json, strict=True)
    document = api.call("GET", "/api/openapi.json").json
    responses = document["paths"]["/api/auth/login"]["post"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/LoginResponse")
    assert responses["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
