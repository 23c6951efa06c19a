"""Every operation of the OpenAPI document, called anonymously and by another user: 401/404, never the owner's data.

The matrix is built from ``/api/openapi.json`` itself, so an operation added later without a row here fails the
coverage test instead of going untested.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from apiclient import Api

from ieltsprep.billing import ledger
from ieltsprep.container import Container

VICTIM = "victim@example.com"
ATTACKER = "attacker@example.com"
DRAFT = "VICTIM-PRIVATE-DRAFT the candidate's own words about education and society"

# Operations anyone may call: what they answer is checked to hold none of the victim's data.
PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/products"),
    ("GET", "/api/sample-result"),  # a paper the project wrote, scored by the platform: no one's data
    ("POST", "/api/auth/register"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/purchases/verify"),  # answers 200 ok:false with status 401 without a session (cordova contract)
    ("POST", "/api/purchases/apple/notifications"),  # authenticated by Apple's signature, not by a session
    ("POST", "/api/purchases/google/notifications"),  # authenticated by the Pub/Sub OIDC token
    ("POST", "/api/dev/test-store/transactions"),  # local stage only
    ("POST", "/api/dev/test-store/notifications"),
}
# Operations on one of the caller's resources: another user's id must look like a missing one.
OWNED = {
    ("GET", "/api/assessments/{assessment_id}"),
    ("PUT", "/api/assessments/{assessment_id}/answers/{task}"),
    ("POST", "/api/assessments/{assessment_id}/submit"),
    ("POST", "/api/assessments/{assessment_id}/abandon"),
}
# Operations on the caller's own account: a signed-in stranger only ever sees their own.
SELF = {
    ("GET", "/api/me"),
    ("GET", "/api/me/export"),
    ("GET", "/api/assessments"),
    ("POST", "/api/assessments"),
    ("DELETE", "/api/me"),
    ("POST", "/api/auth/logout"),
}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/auth/register"): {"email": VICTIM, "password": "another password", "consent": {"terms": True,
                                     "age_16_plus": True}},
    ("POST", "/api/auth/login"): {"email": VICTIM, "password": "a guess at the password"},
    ("POST", "/api/purchases/verify"): {"id": "x", "transaction": {"type": "apple-sk2", "id": "x",
                                        "jwsRepresentation": "e30.e30.e30"}},
    ("POST", "/api/purchases/apple/notifications"): {"signedPayload": "e30.e30.e30"},
    ("POST", "/api/purchases/google/notifications"): {"message": {"data": "e30=", "messageId": "1"}},
    ("POST", "/api/dev/test-store/transactions"): {"product_id": "com.ieltsgenaiprep.academic_writing",
                                                   "platform": "apple"},
    ("POST", "/api/dev/test-store/notifications"): {"platform": "apple", "notification_type": "REFUND",
                                                    "transaction_id": "1"},
    ("PUT", "/api/assessments/{assessment_id}/answers/{task}"): {"text": "overwritten by someone else"},
    ("POST", "/api/assessments"): {"module": "academic_writing"},
    ("DELETE", "/api/me"): {"password": "not the victim's password"},
}  # fmt: skip


def _documented(api: Api) -> dict[tuple[str, str], set[int]]:
    """Each operation and the statuses its OpenAPI entry documents."""
    document = api.call("GET", "/api/openapi.json").json
    return {
        (method.upper(), path): {int(code) for code in operation.get("responses", {})}
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def _operations(api: Api) -> set[tuple[str, str]]:
    return set(_documented(api))


@pytest.fixture
def victim(api: Api, container: Container) -> dict[str, str]:
    """A user with credits, an assessment and a private draft."""
    token = api.signed_up(VICTIM)
    user = api.call("GET", "/api/me", token=token).json["user"]
    ledger.grant(container.store, user["id"], "academic_writing", 2, source="operator", idempotency_key="matrix")
    assessment = api.call("POST", "/api/assessments", {"module": "academic_writing"}, token=token).json["assessment"]
    saved = api.call("PUT", f"/api/assessments/{assessment['id']}/answers/1", {"text": DRAFT}, token=token)
    assert saved.status == 200, saved.text
    return {"token": token, "id": user["id"], "assessment_id": assessment["id"]}


def _path(template: str, victim: dict[str, str]) -> str:
    return template.replace("{assessment_id}", victim["assessment_id"]).replace("{task}", "1")


def _leaks(text: str, victim: dict[str, str]) -> list[str]:
    secrets = [victim["id"], victim["assessment_id"], victim["token"], "VICTIM-PRIVATE-DRAFT", VICTIM]
    return [s for s in secrets if s in text]


def _victim_untouched(api: Api, victim: dict[str, str]) -> None:
    mine = api.call("GET", f"/api/assessments/{victim['assessment_id']}", token=victim["token"])
    assert mine.status == 200 and mine.json["assessment"]["status"] == "in_progress"
    assert mine.json["assessment"]["answers"]["1"]["text"] == DRAFT
    assert api.call("GET", "/api/me", token=victim["token"]).json["credits"]["academic_writing"] == 1


def test_every_operation_of_the_openapi_document_has_a_row_in_the_matrix(api: Api) -> None:
    assert _operations(api) == PUBLIC | OWNED | SELF


def test_anonymous_callers_get_401_from_every_private_operation_and_no_data_from_public_ones(
    api: Api, victim: dict[str, str]
) -> None:
    documented = _documented(api)
    for method, template in sorted(documented):
        body = BODIES.get((method, template))
        reply = api.call(method, _path(template, victim), body)
        assert reply.status in documented[(method, template)], (method, template, reply.text)
        assert _leaks(reply.text, victim) == [], (method, template, reply.text)
        if (method, template) not in PUBLIC:
            assert reply.status == 401, (method, template, reply.status)
            assert reply.json["error"]["code"] == "unauthorized", reply.text
    _victim_untouched(api, victim)


def test_another_signed_in_user_gets_404_for_the_owners_resources_and_never_their_data(
    api: Api, victim: dict[str, str]
) -> None:
    attacker = api.signed_up(ATTACKER)
    documented = _documented(api)
    # Logout and deletion last: they end the attacker's own session.
    order = sorted(documented, key=lambda op: (op in {("POST", "/api/auth/logout"), ("DELETE", "/api/me")}, op))
    for method, template in order:
        reply = api.call(method, _path(template, victim), BODIES.get((method, template)), token=attacker)
        assert reply.status in documented[(method, template)], (method, template, reply.text)
        assert _leaks(reply.text, victim) == [], (method, template, reply.text)
        if (method, template) in OWNED:
            assert reply.status == 404, (method, template, reply.status, reply.text)
        if (method, template) == ("POST", "/api/assessments"):
            assert reply.status == 402  # the victim's credits are not the attacker's
    _victim_untouched(api, victim)


def test_a_revoked_or_forged_token_is_anonymous(api: Api, victim: dict[str, str]) -> None:
    other = api.signed_up(ATTACKER)
    assert api.call("POST", "/api/auth/logout", token=other).status == 204
    forged = victim["token"][:-4] + ("AAAA" if not victim["token"].endswith("AAAA") else "BBBB")
    for token in (other, forged, "", "null", json.dumps({"user_id": victim["id"]})):
        for method, template in sorted(SELF | OWNED):
            reply = api.call(method, _path(template, victim), BODIES.get((method, template)), token=token or None)
            assert reply.status == 401, (token, method, template, reply.status)
            assert _leaks(reply.text, victim) == []
    _victim_untouched(api, victim)


def test_another_user_cannot_start_or_feed_the_owners_speaking_test_over_the_websocket(
    live_server: Any, container: Container, api: Api
) -> None:
    import asyncio

    import aiohttp

    owner = api.signed_up(VICTIM)
    owner_id = api.call("GET", "/api/me", token=owner).json["user"]["id"]
    ledger.grant(container.store, owner_id, "academic_speaking", 1, source="operator", idempotency_key="ws-matrix")
    made = api.call("POST", "/api/assessments", {"module": "academic_speaking"}, token=owner)
    assert made.status == 201, made.text
    assessment_id = made.json["assessment"]["id"]
    attacker = api.signed_up(ATTACKER)
    started: list[Any] = []
    container.invoker.invoke_async = lambda target, payload: started.append(payload)  # type: ignore[method-assign]

    async def attack() -> list[dict[str, Any]]:
        replies = []
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{live_server.ws_url}?token={attacker}") as ws:
            for frame in ({"type": "start", "assessment_id": assessment_id},
                          {"type": "audio", "seq": 0, "data": "AAAAAA=="}, {"type": "stop"}):  # fmt: skip
                await ws.send_str(json.dumps({"action": "nova-sonic-stream", **frame}))
                replies.append(json.loads((await ws.receive(timeout=30)).data))
        return replies

    replies = asyncio.run(attack())
    # The owner's assessment looks missing, and with no session of their own the attacker's audio goes nowhere.
    assert [(r["type"], r["code"]) for r in replies] == [
        ("error", "assessment_not_found"),
        ("error", "not_started"),
        ("error", "not_started"),
    ], replies
    assert all(assessment_id not in json.dumps(r) for r in replies)
    assert started == []  # no speaking worker was started for the owner's test
    mine = api.call("GET", f"/api/assessments/{assessment_id}", token=owner).json["assessment"]
    assert mine["status"] == "in_progress"
