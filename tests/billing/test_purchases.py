"""The purchase validator: Apple StoreKit 2 and Google Play purchases are verified, claimed once, credited once."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asn1
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ieltsprep.adapters.storage.port import ConditionFailed, Key, Table
from ieltsprep.adapters.stores.local_store import FakePlayApi, LocalTestStore
from ieltsprep.billing import ledger
from ieltsprep.billing.purchases import CONSUME_PENDING_PK, VERIFICATION_FAILED, Buyer, claim_key
from ieltsprep.container import Container
from ieltsprep.settings import Settings

if TYPE_CHECKING:
    from tests.billing.conftest import FakeAppStoreServerApi

PRODUCT = "com.ieltsgenaiprep.academic_writing"


def _apple_body(jws: str, product_id: str = PRODUCT) -> dict[str, Any]:
    return {
        "id": "com.ieltsgenaiprep.app",
        "type": "application",
        "transaction": {"type": "apple-sk2", "id": product_id, "jwsRepresentation": jws},
        "additionalData": {},
    }


def _refused(response: dict[str, Any], fragment: str) -> None:
    assert response["ok"] is False, response
    assert response["code"] == VERIFICATION_FAILED
    assert fragment in response["message"]


def _credits(container: Container, user_id: str, module: str = "academic_writing") -> int:
    return ledger.balances(container.store, user_id)[module]


# --- Apple StoreKit 2 ------------------------------------------------------------------------------------------
def test_valid_apple_transaction_credits_four_and_reports_it_consumed(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    jws, payload = apple_store.apple_transaction(PRODUCT, app_account_token=alice.app_account_token)
    response = container.purchases.verify(alice, _apple_body(jws))
    assert response["ok"] is True
    entry = response["data"]["collection"][0]
    assert response["data"]["id"] == PRODUCT and response["data"]["transaction"]["type"] == "apple-sk2"
    assert entry["id"] == PRODUCT and entry["transactionId"] == payload["transactionId"]
    assert entry["isConsumed"] is True and entry["isAcknowledged"] is True
    assert _credits(container, alice.id) == 4


def test_a_test_store_purchase_is_recorded_as_one_and_exported_so(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    jws, _ = apple_store.apple_transaction(PRODUCT, app_account_token=alice.app_account_token)
    assert container.purchases.verify(alice, _apple_body(jws))["ok"] is True
    (claim,) = container.purchases.claims_of(alice.id)
    assert claim["test_store"] is True, "signed by the local test store: no money was charged"


def test_same_apple_transaction_again_credits_nothing_and_still_answers_ok(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    jws, _ = apple_store.apple_transaction(PRODUCT)
    first = container.purchases.verify(alice, _apple_body(jws))
    second = container.purchases.verify(alice, _apple_body(jws))
    assert first["ok"] is True and second["ok"] is True
    assert second["data"]["collection"] == first["data"]["collection"]
    assert _credits(container, alice.id) == 4


def test_apple_transaction_claimed_by_another_account_is_refused(
    container: Container, apple_store: LocalTestStore, alice: Buyer, bob: Buyer
) -> None:
    jws, _ = apple_store.apple_transaction(PRODUCT)
    assert container.purchases.verify(alice, _apple_body(jws))["ok"] is True
    _refused(container.purchases.verify(bob, _apple_body(jws)), "another account")
    assert _credits(container, bob.id) == 0 and _credits(container, alice.id) == 4


def test_apple_transaction_for_a_different_bundle_is_refused(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    other_app = LocalTestStore(apple_store.directory, bundle_id="com.example.other", app_apple_id=None)
    jws, _ = other_app.apple_transaction(PRODUCT)
    _refused(container.purchases.verify(alice, _apple_body(jws)), "invalid_app_identifier")
    assert _credits(container, alice.id) == 0


@pytest.mark.parametrize("environment", ["Xcode", "LocalTesting"])
def test_apple_xcode_and_local_testing_environments_are_refused(
    container: Container, apple_store: LocalTestStore, alice: Buyer, environment: str
) -> None:
    jws, _ = apple_store.apple_transaction(PRODUCT, environment=environment)
    _refused(container.purchases.verify(alice, _apple_body(jws)), "not accepted")
    assert _credits(container, alice.id) == 0


def test_apple_local_testing_token_without_a_chain_is_refused(container: Container, alice: Buyer) -> None:
    # The library would accept this unsigned-by-Apple token if a LOCAL_TESTING verifier were ever built.
    payload = {"transactionId": "1", "productId": PRODUCT, "bundleId": "com.ieltsgenaiprep.app",
               "environment": "LocalTesting", "type": "Consumable", "signedDate": 1}  # fmt: skip
    token = jwt.encode(payload, "x" * 32, algorithm="HS256")
    _refused(container.purchases.verify(alice, _apple_body(token)), "not accepted")
    assert _credits(container, alice.id) == 0


def test_apple_transaction_signed_by_a_foreign_root_is_refused(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    foreign = LocalTestStore(
        apple_store.directory.parent / "foreign", bundle_id="com.ieltsgenaiprep.app", app_apple_id=None
    )
    jws, _ = foreign.apple_transaction(PRODUCT)
    _refused(container.purchases.verify(alice, _apple_body(jws)), "verification failed")
    assert _credits(container, alice.id) == 0


def test_tampered_apple_payload_is_refused(container: Container, apple_store: LocalTestStore, alice: Buyer) -> None:
    jws, payload = apple_store.apple_transaction("com.ieltsgenaiprep.general_writing")
    header, _, signature = jws.split(".")
    forged = dict(payload, productId=PRODUCT, quantity=10)
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    _refused(container.purchases.verify(alice, _apple_body(f"{header}.{body}.{signature}")), "verification failed")
    assert ledger.balances(container.store, alice.id) == dict.fromkeys(ledger.MODULES, 0)


def test_apple_transaction_for_an_unknown_product_is_refused(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    jws, _ = apple_store.apple_transaction("com.ieltsgenaiprep.free_money")
    _refused(container.purchases.verify(alice, _apple_body(jws, "com.ieltsgenaiprep.free_money")), "unknown product")
    assert ledger.entries(container.store, alice.id) == []


def test_apple_transaction_bound_to_another_app_account_token_is_refused(
    container: Container, apple_store: LocalTestStore, alice: Buyer, bob: Buyer
) -> None:
    jws, _ = apple_store.apple_transaction(PRODUCT, app_account_token=alice.app_account_token)
    _refused(container.purchases.verify(bob, _apple_body(jws)), "another account")
    assert _credits(container, bob.id) == 0
    assert container.purchases.verify(alice, _apple_body(jws))["ok"] is True


def test_sandbox_purchase_credits_only_tester_accounts(
    container: Container, apple_store: LocalTestStore, alice: Buyer, tester: Buyer
) -> None:
    jws, _ = apple_store.apple_transaction(PRODUCT, environment="Sandbox")
    _refused(container.purchases.verify(alice, _apple_body(jws)), "tester")
    assert _credits(container, alice.id) == 0
    assert container.purchases.verify(tester, _apple_body(jws))["ok"] is True
    assert _credits(container, tester.id) == 4


@pytest.mark.parametrize(
    "body",
    [None, [], {"transaction": "x"}, {"transaction": {"type": "braintree"}}, {"transaction": {"type": "apple-sk2"}}],
)
def test_malformed_validator_bodies_get_ok_false(container: Container, alice: Buyer, body: object) -> None:
    response = container.purchases.verify(alice, body)
    assert response["ok"] is False and response["code"] == VERIFICATION_FAILED and response["message"]


def test_a_credited_pack_pays_for_assessments_until_it_is_used_up(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    jws, _ = apple_store.apple_transaction(PRODUCT)
    container.purchases.verify(alice, _apple_body(jws))
    for n in range(4):
        container.store.transact(ledger.consume_credit_ops(alice.id, "academic_writing", f"a{n}"))
    with pytest.raises(ConditionFailed):
        container.store.transact(ledger.consume_credit_ops(alice.id, "academic_writing", "a5"))


# --- Google Play -----------------------------------------------------------------------------------------------
def _google_body(transaction: dict[str, Any], product_id: str = PRODUCT) -> dict[str, Any]:
    return {"id": product_id, "type": "consumable", "transaction": transaction, "additionalData": {}}


def test_google_purchase_is_credited_then_consumed_at_google(
    container: Container, play: FakePlayApi, alice: Buyer
) -> None:
    transaction = play.add_purchase(PRODUCT, obfuscated_account_id=alice.app_account_token)
    response = container.purchases.verify(alice, _google_body(transaction))
    assert response["ok"] is True
    assert response["data"]["collection"][0]["transactionId"] == transaction["id"]  # the orderId
    assert response["data"]["collection"][0]["isConsumed"] is True
    assert _credits(container, alice.id) == 4
    assert play.purchases[transaction["purchaseToken"]]["consumptionState"] == 1
    assert container.store.query(Table.LEDGER, CONSUME_PENDING_PK) == []


def test_google_purchase_retry_by_the_owner_answers_ok_without_crediting_again(
    container: Container, play: FakePlayApi, alice: Buyer, bob: Buyer
) -> None:
    transaction = play.add_purchase(PRODUCT)
    assert container.purchases.verify(alice, _google_body(transaction))["ok"] is True
    assert container.purchases.verify(alice, _google_body(transaction))["ok"] is True
    _refused(container.purchases.verify(bob, _google_body(transaction)), "another account")
    assert _credits(container, alice.id) == 4 and _credits(container, bob.id) == 0


def test_pending_google_purchase_is_not_credited(container: Container, play: FakePlayApi, alice: Buyer) -> None:
    transaction = play.add_purchase(PRODUCT, state=2)
    _refused(container.purchases.verify(alice, _google_body(transaction)), "pending")
    assert _credits(container, alice.id) == 0
    assert play.purchases[transaction["purchaseToken"]]["consumptionState"] == 0


def test_cancelled_google_purchase_is_not_credited(container: Container, play: FakePlayApi, alice: Buyer) -> None:
    transaction = play.add_purchase(PRODUCT, state=1)
    _refused(container.purchases.verify(alice, _google_body(transaction)), "cancelled")
    assert _credits(container, alice.id) == 0


def test_unknown_google_purchase_token_is_refused(container: Container, play: FakePlayApi, alice: Buyer) -> None:
    transaction = play.add_purchase(PRODUCT)
    transaction["purchaseToken"] = "made-up-token"
    _refused(container.purchases.verify(alice, _google_body(transaction)), "Google Play refused")
    assert _credits(container, alice.id) == 0


def test_google_purchase_for_another_obfuscated_account_is_refused(
    container: Container, play: FakePlayApi, alice: Buyer, bob: Buyer
) -> None:
    transaction = play.add_purchase(PRODUCT, obfuscated_account_id=alice.app_account_token)
    _refused(container.purchases.verify(bob, _google_body(transaction)), "another account")
    assert _credits(container, bob.id) == 0


def test_google_license_tester_purchase_credits_only_testers(
    container: Container, play: FakePlayApi, alice: Buyer, tester: Buyer
) -> None:
    transaction = play.add_purchase(PRODUCT, test=True)
    _refused(container.purchases.verify(alice, _google_body(transaction)), "tester")
    assert container.purchases.verify(tester, _google_body(transaction))["ok"] is True


def test_google_consume_failure_still_credits_and_the_retry_job_consumes_later(
    container: Container, play: FakePlayApi, alice: Buyer
) -> None:
    play.fail_consume = 100  # more than the client's own retries
    transaction = play.add_purchase(PRODUCT)
    token = transaction["purchaseToken"]
    assert container.purchases.verify(alice, _google_body(transaction))["ok"] is True
    assert _credits(container, alice.id) == 4
    assert [item["sk"] for item in container.store.query(Table.LEDGER, CONSUME_PENDING_PK)] == [token]
    assert container.purchases.retry_google_consumes() == {"consumed": 0, "failed": 1, "dropped": 0}
    play.fail_consume = 0
    assert container.purchases.retry_google_consumes() == {"consumed": 1, "failed": 0, "dropped": 0}
    assert play.purchases[token]["consumptionState"] == 1
    assert container.store.query(Table.LEDGER, CONSUME_PENDING_PK) == []
    claim = container.store.get(Table.LEDGER, claim_key(f"google:{token}"))
    assert claim is not None and claim["consumed"] is True


def test_voided_google_purchases_sweep_revokes_credits_once(
    container: Container, play: FakePlayApi, alice: Buyer
) -> None:
    transaction = play.add_purchase(PRODUCT)
    container.purchases.verify(alice, _google_body(transaction))
    container.store.transact(ledger.consume_credit_ops(alice.id, "academic_writing", "a1"))
    play.void(transaction["purchaseToken"])
    assert container.purchases.sweep_google_voided(0) == {"checked": 1, "revoked": 1}
    assert container.purchases.sweep_google_voided(0) == {"checked": 1, "revoked": 0}
    assert _credits(container, alice.id) == -1


def test_voided_google_purchase_cannot_be_claimed_afterwards(
    container: Container, play: FakePlayApi, alice: Buyer
) -> None:
    transaction = play.add_purchase(PRODUCT)
    play.void(transaction["purchaseToken"])
    container.purchases.sweep_google_voided(0)
    _refused(container.purchases.verify(alice, _google_body(transaction)), "cancelled")
    stub = container.store.get(Table.LEDGER, Key(f"PURCHASE#google:{transaction['purchaseToken']}", "CLAIM"))
    assert stub is not None and stub["state"] == "refunded"


# --- Apple StoreKit 1 receipts (ios-appstore): the App Store Server API decides ----------------------------------
def _receipt(transaction_id: str) -> str:
    """A StoreKit 1 app receipt (PKCS#7 shape) whose in-app purchase carries ``transaction_id``; unsigned, as only
    the transaction id is read from it (the decision comes from the App Store Server API)."""

    def encoder() -> asn1.Encoder:
        e = asn1.Encoder()
        e.start()
        return e

    def attribute_set(kind: int, value: bytes) -> bytes:
        e = encoder()
        e.enter(asn1.Numbers.Set)
        e.enter(asn1.Numbers.Sequence)
        e.write(kind, asn1.Numbers.Integer)
        e.write(1, asn1.Numbers.Integer)
        e.write(value, asn1.Numbers.OctetString)
        e.leave()
        e.leave()
        return bytes(e.output())

    utf8 = encoder()
    utf8.write(transaction_id, asn1.Numbers.UTF8String)
    payload = attribute_set(17, attribute_set(1703, bytes(utf8.output())))
    e = encoder()
    e.enter(asn1.Numbers.Sequence)
    e.write("1.2.840.113549.1.7.2", asn1.Numbers.ObjectIdentifier)
    e.enter(0, asn1.Classes.Context)
    e.enter(asn1.Numbers.Sequence)
    e.write(1, asn1.Numbers.Integer)
    e.enter(asn1.Numbers.Set)
    e.leave()
    e.enter(asn1.Numbers.Sequence)
    e.write("1.2.840.113549.1.7.1", asn1.Numbers.ObjectIdentifier)
    e.enter(0, asn1.Classes.Context)
    e.write(payload, asn1.Numbers.OctetString)
    for _ in range(5):
        e.leave()
    return base64.b64encode(e.output()).decode()


def _receipt_body(receipt: str, transaction_id: str) -> dict[str, Any]:
    return {"transaction": {"type": "ios-appstore", "id": transaction_id, "appStoreReceipt": receipt}}


def test_storekit1_receipt_is_credited_from_the_verified_transaction_history(
    container: Container, apple_store: LocalTestStore, app_store_api: FakeAppStoreServerApi, alice: Buyer
) -> None:
    jws, payload = apple_store.apple_transaction(PRODUCT)
    tid = str(payload["transactionId"])
    app_store_api.history[tid] = [jws]
    response = container.purchases.verify(alice, _receipt_body(_receipt(tid), tid))
    assert response["ok"] is True and response["data"]["collection"][0]["transactionId"] == tid
    assert _credits(container, alice.id) == 4
    # The same purchase presented later as a StoreKit 2 JWS is the same claim: nothing more is credited.
    assert container.purchases.verify(alice, _apple_body(jws))["ok"] is True
    assert _credits(container, alice.id) == 4


def test_storekit1_receipt_unknown_to_apple_is_refused(
    container: Container, app_store_api: FakeAppStoreServerApi, alice: Buyer
) -> None:
    _refused(
        container.purchases.verify(alice, _receipt_body(_receipt("2000000999"), "2000000999")), "no such transaction"
    )
    assert _credits(container, alice.id) == 0


def test_storekit1_history_signed_by_a_foreign_chain_is_not_credited(
    container: Container, apple_store: LocalTestStore, app_store_api: FakeAppStoreServerApi, alice: Buyer
) -> None:
    foreign = LocalTestStore(
        apple_store.directory.parent / "foreign", bundle_id="com.ieltsgenaiprep.app", app_apple_id=None
    )
    jws, payload = foreign.apple_transaction(PRODUCT)
    tid = str(payload["transactionId"])
    app_store_api.history[tid] = [jws]
    _refused(container.purchases.verify(alice, _receipt_body(_receipt(tid), tid)), "not in this customer's")
    assert _credits(container, alice.id) == 0


def test_garbage_receipt_is_refused(container: Container, app_store_api: FakeAppStoreServerApi, alice: Buyer) -> None:
    _refused(container.purchases.verify(alice, _receipt_body("bm90IGEgcmVjZWlwdA==", "1")), "not a valid receipt")


def test_claims_refunds_and_the_export_index_work_on_dynamodb(
    container: Container, apple_store: LocalTestStore, alice: Buyer, bob: Buyer, dynamodb_client: Any, tmp_path: Path
) -> None:
    from ieltsprep.adapters.storage.dynamodb import DynamoStore, create_tables, table_names
    from ieltsprep.billing.purchases import PurchaseService

    names = {
        f"{t}_table": f"buy-{time.time_ns()}-{t}" for t in ("users", "assessments", "sessions", "ledger", "content")
    }
    settings = Settings(stage="local", data_dir=tmp_path, **names)  # type: ignore[arg-type]
    create_tables(dynamodb_client, settings)
    dynamo = DynamoStore(dynamodb_client, table_names(settings))
    service = PurchaseService(dynamo, apple=container.apple_verifier, apple_api=None, google=None)
    jws, payload = apple_store.apple_transaction(PRODUCT)
    assert service.verify(alice, _apple_body(jws))["ok"] is True
    assert service.verify(alice, _apple_body(jws))["ok"] is True
    assert service.verify(bob, _apple_body(jws))["ok"] is False
    assert ledger.balances(dynamo, alice.id)["academic_writing"] == 4
    assert [c["transaction_id"] for c in service.claims_of(alice.id)] == [payload["transactionId"]]
    assert service.revoke(f"apple:{payload['transactionId']}", ref="n1") == "revoked"
    assert ledger.balances(dynamo, alice.id)["academic_writing"] == 0
    assert service.pseudonymise(alice.id) == 1 and service.claims_of(alice.id) == []


def test_storekit1_body_without_a_numeric_transaction_id_uses_the_receipts(
    container: Container, apple_store: LocalTestStore, app_store_api: FakeAppStoreServerApi, alice: Buyer
) -> None:
    jws, payload = apple_store.apple_transaction(PRODUCT)
    tid = str(payload["transactionId"])
    app_store_api.history[tid] = [jws]
    assert container.purchases.verify(alice, _receipt_body(_receipt(tid), "com.ieltsgenaiprep.app"))["ok"] is True
    assert _credits(container, alice.id) == 4


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
_TRANSACTIONS = st.fixed_dictionaries(
    {"type": st.sampled_from(["apple-sk2", "ios-appstore", "android-playstore", "x"])},
    optional={"jwsRepresentation": _JSON | st.just("a.b.c"), "appStoreReceipt": _JSON, "purchaseToken": _JSON,
              "receipt": _JSON, "id": _JSON},
)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_JSON | st.fixed_dictionaries({"transaction": _TRANSACTIONS}, optional={"id": _JSON}))
def test_any_validator_body_gets_a_contract_answer_and_credits_nothing(
    container: Container, app_store_api: FakeAppStoreServerApi, alice: Buyer, body: object
) -> None:
    response = container.purchases.verify(alice, body)
    assert response["ok"] is False and response["code"] == VERIFICATION_FAILED
    assert isinstance(response["message"], str) and response["message"]
    assert ledger.entries(container.store, alice.id) == []
