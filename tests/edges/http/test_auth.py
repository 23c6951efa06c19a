"""How the HTTP edge finds the caller: bearer header or session cookie, and the cross-origin check on cookie writes."""

from __future__ import annotations

from apiclient import Api

from ieltsprep.container import Container


def _cookie(api: Api, email: str) -> str:
    api.register(email)
    (cookie,) = api.login(email).cookies
    return cookie.split(";", 1)[0]


def test_bearer_scheme_and_header_name_are_case_insensitive(api: Api) -> None:
    token = api.signed_up("a@example.com")
    reply = api.call("GET", "/api/me", headers={"Authorization": f"bEaReR {token}"})
    assert reply.status == 200


def test_bearer_header_wins_over_the_cookie(api: Api) -> None:
    alice = api.signed_up("alice@example.com")
    bob_cookie = _cookie(api, "bob@example.com")
    reply = api.call("GET", "/api/me", token=alice, cookies=[bob_cookie])
    assert reply.json["user"]["email"] == "alice@example.com"


def test_cookie_write_from_a_foreign_origin_is_403_and_changes_nothing(api: Api) -> None:
    cookie = _cookie(api, "a@example.com")
    reply = api.call("POST", "/api/auth/logout", cookies=[cookie], headers={"origin": "https://evil.example"})
    assert reply.status == 403
    assert reply.error_code == "cross_origin"
    assert api.call("GET", "/api/me", cookies=[cookie]).status == 200  # the session is still alive


def test_cookie_write_from_an_allowed_or_the_same_origin_is_accepted(api: Api, container: Container) -> None:
    allowed = container.settings.cors_origins[0]
    first = _cookie(api, "a@example.com")
    assert api.call("POST", "/api/auth/logout", cookies=[first], headers={"origin": allowed}).status == 204
    second = api.login("a@example.com").cookies[0].split(";", 1)[0]
    same = {"origin": "http://127.0.0.1:8123", "host": "127.0.0.1:8123"}
    assert api.call("POST", "/api/auth/logout", cookies=[second], headers=same).status == 204


def test_cookie_reads_from_any_origin_and_bearer_writes_from_any_origin_are_not_refused(api: Api) -> None:
    cookie = _cookie(api, "a@example.com")
    foreign = {"origin": "https://elsewhere.example"}
    assert api.call("GET", "/api/me", cookies=[cookie], headers=foreign).status == 200
    token = api.login("a@example.com").json["token"]
    assert api.call("POST", "/api/auth/logout", token=token, headers=foreign).status == 204
