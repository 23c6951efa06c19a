"""Billing over HTTP: products, the validator contract, store notifications and the local test store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apiclient import PASSWORD, Api

from ieltsprep.adapters.storage.port import Table
from ieltsprep.adapters.stores import StoreRejected
from ieltsprep.billing.purchases import claim_key
from ieltsprep.container import Container
from ieltsprep.edges.http.app import create_app
from ieltsprep.settings import Settings

PRODUCT = "com.ieltsgenaiprep.academic_writing"


def _buy_apple(api: Api, token: str, product_id: str = PRODUCT, **extra: Any) -> dict[str, Any]:
    """Buy in the local test store, then hand the transaction to the validator as the app does."""
    made = api.call(
        "POST", "/api/dev/test-store/transactions", {"product_id": product_id, "platform": "apple", **extra}
    )
    assert made.status == 201, made.text
    transaction = made.json["transaction"]
    reply = api.call("POST", "/api/purchases/verify", {"id": product_id, "type": "application",
                                                       "transaction": transaction}, token=token)  # fmt: skip
    assert reply.status == 200, reply.text
    return {"transaction": transaction, "response": reply.json}


def _credits(api: Api, token: str) -> dict[str, int]:
    return dict(api.call("GET", "/api/me", token=token).json["credits"])


def test_products_lists_four_packs_of_four_credits_at_36_dollars(api: Api) -> None:
    reply = api.call("GET", "/api/products")
    assert reply.status == 200
    products = reply.json["products"]
    assert {p["product_id"] for p in products} == {
        "com.ieltsgenaiprep.academic_writing", "com.ieltsgenaiprep.general_writing",
        "com.ieltsgenaiprep.academic_speaking", "com.ieltsgenaiprep.general_speaking",
    }  # fmt: skip
    assert all(p["credits"] == 4 and p["price_usd"] == 36.0 and p["product_id"].endswith(p["module"]) for p in products)
    assert reply.json["test_store"] is True, "the local test store is on in these tests: the site says so"


def test_buying_through_the_test_store_credits_the_pack_and_an_assessment_uses_one(api: Api) -> None:
    token = api.signed_up("buyer@example.com")
    bought = _buy_apple(api, token)
    response = bought["response"]
    assert response["ok"] is True and response["data"]["collection"][0]["isConsumed"] is True
    assert _credits(api, token)["academic_writing"] == 4
    started = api.call("POST", "/api/assessments", {"module": "academic_writing"}, token=token)
    assert started.status == 201, started.text
    assert _credits(api, token)["academic_writing"] == 3


def test_validator_failures_are_200_ok_false_with_the_verification_code(api: Api) -> None:
    token = api.signed_up("buyer@example.com")
    unknown = _buy_apple(api, token, "com.ieltsgenaiprep.unknown_pack")["response"]
    assert unknown["ok"] is False and unknown["code"] == 6777017 and "unknown product" in unknown["message"]
    not_an_object = api.call("POST", "/api/purchases/verify", [1, 2], token=token)
    assert not_an_object.status == 200 and not_an_object.json["ok"] is False
    empty = api.call("POST", "/api/purchases/verify", {"transaction": {}}, token=token)
    assert empty.status == 200 and empty.json["ok"] is False
    assert set(_credits(api, token).values()) == {0}


def test_validator_answers_200_ok_false_even_to_a_malformed_body(api: Api) -> None:
    token = api.signed_up("typo@example.com")
    reply = api.call("POST", "/api/purchases/verify", raw="{not json", token=token)
    assert reply.status == 200 and reply.json["ok"] is False and reply.json["code"] == 6777017
    assert set(_credits(api, token).values()) == {0}


def test_validator_without_a_session_answers_200_ok_false_with_status_401(api: Api) -> None:
    made = api.call("POST", "/api/dev/test-store/transactions", {"product_id": PRODUCT, "platform": "apple"})
    reply = api.call("POST", "/api/purchases/verify", {"transaction": made.json["transaction"]})
    assert reply.status == 200
    assert reply.json["ok"] is False and reply.json["code"] == 6777017 and reply.json["status"] == 401
    token = api.signed_up("late@example.com")
    again = api.call("POST", "/api/purchases/verify", {"transaction": made.json["transaction"]}, token=token)
    assert again.status == 200 and again.json["ok"] is True


def test_another_account_presenting_the_same_purchase_gets_ok_false(api: Api) -> None:
    alice, bob = api.signed_up("alice@example.com"), api.signed_up("bob@example.com")
    transaction = _buy_apple(api, alice)["transaction"]
    reply = api.call("POST", "/api/purchases/verify", {"transaction": transaction}, token=bob)
    assert reply.status == 200 and reply.json["ok"] is False
    assert _credits(api, bob)["academic_writing"] == 0


def test_apple_refund_notification_revokes_credits_and_blocks_assessments(api: Api) -> None:
    token = api.signed_up("refunder@example.com")
    transaction = _buy_apple(api, token)["transaction"]
    assert api.call("POST", "/api/assessments", {"module": "academic_writing"}, token=token).status == 201
    note = api.call("POST", "/api/dev/test-store/notifications",
                    {"platform": "apple", "notification_type": "REFUND", "transaction_id": transaction["transactionId"]})  # fmt: skip
    assert note.status == 201
    reply = api.call("POST", "/api/purchases/apple/notifications", note.json["body"])
    assert reply.status == 200
    assert _credits(api, token)["academic_writing"] == -1
    refused = api.call("POST", "/api/assessments", {"module": "academic_writing"}, token=token)
    assert refused.status == 402 and refused.error_code == "no_credits"


def test_unverifiable_apple_notification_is_400(api: Api) -> None:
    reply = api.call("POST", "/api/purchases/apple/notifications", {"signedPayload": "a.b.c"})
    assert reply.status == 400 and reply.error_code == "invalid_notification"


def test_google_purchase_through_the_test_store_is_credited(api: Api, container: Container) -> None:
    token = api.signed_up("android@example.com")
    made = api.call("POST", "/api/dev/test-store/transactions", {"product_id": PRODUCT, "platform": "google"})
    assert made.status == 201
    transaction = made.json["transaction"]
    reply = api.call("POST", "/api/purchases/verify", {"id": PRODUCT, "transaction": transaction}, token=token)
    assert reply.json["ok"] is True and reply.json["data"]["collection"][0]["transactionId"] == transaction["id"]
    assert _credits(api, token)["academic_writing"] == 4
    pending = api.call("POST", "/api/dev/test-store/transactions",
                       {"product_id": PRODUCT, "platform": "google", "google_state": "pending"})  # fmt: skip
    reply = api.call("POST", "/api/purchases/verify", {"id": PRODUCT, "transaction": pending.json["transaction"]},
                     token=token)  # fmt: skip
    assert reply.json["ok"] is False and "pending" in reply.json["message"]


class _AcceptsOneToken:
    """Stands in for Google's OIDC check (verified for real in tests/adapters/stores/test_google.py)."""

    def verify(self, authorization: str | None) -> dict[str, Any]:
        if authorization != "Bearer from-pubsub":
            raise StoreRejected("invalid push token")
        return {"email": "push@example.com"}


def test_google_notifications_need_the_pubsub_token(api: Api, container: Container) -> None:
    body = {"message": {"data": "e30=", "messageId": "1"}}
    assert api.call("POST", "/api/purchases/google/notifications", body).status == 503  # not configured
    container.__dict__["pubsub_verifier"] = _AcceptsOneToken()
    assert api.call("POST", "/api/purchases/google/notifications", body).status == 401
    forged = api.call("POST", "/api/purchases/google/notifications", body, headers={"authorization": "Bearer x"})
    assert forged.status == 401
    test_note = {"message": {"data": "eyJwYWNrYWdlTmFtZSI6ICJjb20uaWVsdHNnZW5haXByZXAuYXBwIiwgInRlc3ROb3RpZmljYXRpb24iOiB7fX0=",
                             "messageId": "2"}}  # fmt: skip
    ok = api.call(
        "POST", "/api/purchases/google/notifications", test_note, headers={"authorization": "Bearer from-pubsub"}
    )
    assert ok.status == 204
    bad = api.call("POST", "/api/purchases/google/notifications", body, headers={"authorization": "Bearer from-pubsub"})
    assert bad.status == 422 and bad.error_code == "invalid_notification"


@pytest.mark.parametrize(
    "body",
    [
        {"product_id": PRODUCT, "platform": "amazon"},
        {"product_id": "bad id with spaces", "platform": "apple"},
        {"product_id": PRODUCT, "platform": "apple", "price": 0},
    ],
)
def test_test_store_rejects_bad_requests_with_422(api: Api, body: dict[str, Any]) -> None:
    assert api.call("POST", "/api/dev/test-store/transactions", body).status == 422


def test_test_store_notification_for_an_unknown_transaction_is_404(api: Api) -> None:
    reply = api.call("POST", "/api/dev/test-store/notifications",
                     {"platform": "apple", "notification_type": "REFUND", "transaction_id": "123"})  # fmt: skip
    assert reply.status == 404


@pytest.fixture
def api_without_test_store(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(stage="local", data_dir=tmp_path / "plain", cookie_secure=False, test_store_enabled=False)
    built = Container(settings)
    yield Api(create_app(built))
    built.close()


def test_test_store_is_404_when_it_is_off(api_without_test_store: Api) -> None:
    body = {"product_id": PRODUCT, "platform": "apple"}
    assert api_without_test_store.call("POST", "/api/dev/test-store/transactions", body).status == 404
    assert not (api_without_test_store.app.container.settings.data_dir / "test-store").exists()


def test_export_lists_purchases_and_deletion_keeps_the_claim_against_replay(api: Api, container: Container) -> None:
    token = api.signed_up("leaver@example.com")
    transaction = _buy_apple(api, token)["transaction"]
    export = api.call("GET", "/api/me/export", token=token).json
    [purchase] = export["domains"]["purchases"]
    assert purchase["product_id"] == PRODUCT and purchase["credits"] == 4
    assert any(item["sk"].startswith("ENTRY#grant#apple:") for item in export["tables"]["ledger"])
    assert api.call("DELETE", "/api/me", {"password": PASSWORD}, token=token).status == 204
    claim = container.store.get(Table.LEDGER, claim_key(f"apple:{transaction['transactionId']}"))
    assert claim is not None and claim["user_id"] == "" and "gsi1pk" not in claim
    newcomer = api.signed_up("newcomer@example.com")
    replay = api.call("POST", "/api/purchases/verify", {"transaction": transaction}, token=newcomer)
    assert replay.json["ok"] is False and _credits(api, newcomer)["academic_writing"] == 0
