"""Store notifications: Apple V2 refunds, reversals and consumption requests; Google RTDN voided purchases."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.billing.conftest import FakeAppStoreServerApi

from ieltsprep.adapters.storage.port import ConditionFailed, Table
from ieltsprep.adapters.stores import StoreRejected, StoreUnavailable
from ieltsprep.adapters.stores.local_store import FakePlayApi, LocalTestStore
from ieltsprep.billing import ledger
from ieltsprep.billing.purchases import Buyer, claim_key
from ieltsprep.container import Container

PRODUCT = "com.ieltsgenaiprep.general_speaking"
MODULE = "general_speaking"


def _buy(container: Container, store: LocalTestStore, buyer: Buyer) -> str:
    jws, payload = store.apple_transaction(PRODUCT)
    body = {"transaction": {"type": "apple-sk2", "id": PRODUCT, "jwsRepresentation": jws}}
    assert container.purchases.verify(buyer, body)["ok"] is True
    return str(payload["transactionId"])


def _notify(container: Container, store: LocalTestStore, kind: str, transaction_id: str) -> str:
    signed = store.apple_notification(kind, transaction_id)
    return container.store_notifications.apple_notification({"signedPayload": signed}).outcome


def _credits(container: Container, user_id: str) -> int:
    return ledger.balances(container.store, user_id)[MODULE]


def test_apple_refund_revokes_the_pack(container: Container, apple_store: LocalTestStore, alice: Buyer) -> None:
    tid = _buy(container, apple_store, alice)
    assert _notify(container, apple_store, "REFUND", tid) == "revoked"
    assert _credits(container, alice.id) == 0
    assert [e["kind"] for e in ledger.entries(container.store, alice.id)] == ["grant", "revoke"]


def test_apple_refund_after_use_drives_the_balance_negative_and_blocks_new_assessments(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    tid = _buy(container, apple_store, alice)
    for n in range(3):
        container.store.transact(ledger.consume_credit_ops(alice.id, MODULE, f"a{n}"))
    _notify(container, apple_store, "REFUND", tid)
    assert _credits(container, alice.id) == -3
    with pytest.raises(ConditionFailed) as failure:
        container.store.transact(ledger.consume_credit_ops(alice.id, MODULE, "a9"))
    assert failure.value.index == 0


def test_the_same_refund_delivered_twice_revokes_once(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    tid = _buy(container, apple_store, alice)
    signed = apple_store.apple_notification("REFUND", tid)
    first = container.store_notifications.apple_notification({"signedPayload": signed})
    again = container.store_notifications.apple_notification({"signedPayload": signed})
    assert (first.outcome, again.outcome) == ("revoked", "duplicate")
    assert _notify(container, apple_store, "REFUND", tid) == "already_refunded"  # a second REFUND, new UUID
    assert _credits(container, alice.id) == 0


def test_refund_reversed_gives_the_credits_back_once(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    tid = _buy(container, apple_store, alice)
    _notify(container, apple_store, "REFUND", tid)
    assert _notify(container, apple_store, "REFUND_REVERSED", tid) == "reinstated"
    assert _notify(container, apple_store, "REFUND_REVERSED", tid) == "nothing_to_reinstate"
    assert _credits(container, alice.id) == 4


def test_refund_of_an_unclaimed_purchase_stops_it_being_credited_later(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    jws, payload = apple_store.apple_transaction(PRODUCT)
    assert _notify(container, apple_store, "REFUND", str(payload["transactionId"])) == "unclaimed"
    body = {"transaction": {"type": "apple-sk2", "id": PRODUCT, "jwsRepresentation": jws}}
    response = container.purchases.verify(alice, body)
    assert response["ok"] is False and "refunded" in response["message"]
    assert _credits(container, alice.id) == 0


def test_apple_test_notification_is_recorded(container: Container, apple_store: LocalTestStore, alice: Buyer) -> None:
    tid = _buy(container, apple_store, alice)
    assert _notify(container, apple_store, "TEST", tid) == "recorded"
    assert _credits(container, alice.id) == 4


def test_notification_from_a_foreign_chain_is_rejected_and_changes_nothing(
    container: Container, apple_store: LocalTestStore, alice: Buyer
) -> None:
    tid = _buy(container, apple_store, alice)
    foreign = LocalTestStore(
        apple_store.directory.parent / "foreign", bundle_id="com.ieltsgenaiprep.app", app_apple_id=None
    )
    foreign._remember(apple_store._issued()[tid])
    with pytest.raises(StoreRejected):
        container.store_notifications.apple_notification({"signedPayload": foreign.apple_notification("REFUND", tid)})
    assert _credits(container, alice.id) == 4


@pytest.mark.parametrize("body", [None, {}, {"signedPayload": 3}, {"signedPayload": "not.a.jws"}])
def test_malformed_apple_notification_bodies_are_rejected(container: Container, body: object) -> None:
    with pytest.raises(StoreRejected):
        container.store_notifications.apple_notification(body)


def test_consumption_request_is_answered_with_real_usage_when_the_user_consented(
    container: Container, apple_store: LocalTestStore, app_store_api: FakeAppStoreServerApi
) -> None:
    user = container.accounts.register("cons@example.com", "correct horse battery", terms=True, age_16_plus=True)
    tid = _buy(container, apple_store, user)
    container.store.transact(ledger.consume_credit_ops(user.id, MODULE, "a1"))
    assert _notify(container, apple_store, "CONSUMPTION_REQUEST", tid) == "answered:25000"
    [(sent_tid, body)] = app_store_api.consumption
    assert sent_tid == tid
    assert body["customerConsented"] is True and body["deliveryStatus"] == "DELIVERED"
    assert body["consumptionPercentage"] == 25000 and body["sampleContentProvided"] is False
    assert app_store_api.authorizations[0].startswith("Bearer ")


def test_consumption_request_for_an_unknown_user_is_not_answered(
    container: Container, apple_store: LocalTestStore, alice: Buyer, app_store_api: FakeAppStoreServerApi
) -> None:
    tid = _buy(container, apple_store, alice)  # alice has no account record, so no recorded consent
    assert _notify(container, apple_store, "CONSUMPTION_REQUEST", tid) == "no_consent"
    assert app_store_api.consumption == []


# --- Google RTDN -----------------------------------------------------------------------------------------------
def _push(notification: dict[str, Any], message_id: str = "m1") -> dict[str, Any]:
    data = base64.b64encode(json.dumps(notification).encode()).decode()
    return {"message": {"data": data, "messageId": message_id}, "subscription": "projects/p/subscriptions/s"}


def test_google_voided_notification_revokes_the_purchase_once(
    container: Container, play: FakePlayApi, alice: Buyer
) -> None:
    transaction = play.add_purchase(PRODUCT)
    body = {"id": PRODUCT, "transaction": transaction}
    assert container.purchases.verify(alice, body)["ok"] is True
    token = transaction["purchaseToken"]
    note = {"version": "1.0", "packageName": "com.ieltsgenaiprep.app", "eventTimeMillis": "1",
            "voidedPurchaseNotification": {"purchaseToken": token, "orderId": transaction["id"], "productType": 2,
                                           "refundType": 1}}  # fmt: skip
    assert container.store_notifications.google_notification(_push(note)).outcome == "revoked"
    assert container.store_notifications.google_notification(_push(note)).outcome == "duplicate"
    assert container.store_notifications.google_notification(_push(note, "m2")).outcome == "already_refunded"
    assert _credits(container, alice.id) == 0
    claim = container.store.get(Table.LEDGER, claim_key(f"google:{token}"))
    assert claim is not None and claim["state"] == "refunded"


def test_google_test_notification_is_acknowledged(container: Container) -> None:
    note = {"version": "1.0", "packageName": "com.ieltsgenaiprep.app", "testNotification": {"version": "1.0"}}
    assert container.store_notifications.google_notification(_push(note)).kind == "test"


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"message": {"messageId": "1"}},
        {"message": {"data": "!!!", "messageId": "1"}},
        _push({"packageName": "com.other.app", "testNotification": {}}),
        {"message": {"data": base64.b64encode(b"{}").decode()}},
    ],
)
def test_malformed_or_foreign_google_notifications_are_rejected(container: Container, body: object) -> None:
    with pytest.raises(StoreRejected):
        container.store_notifications.google_notification(body)


def test_consumption_request_that_apple_cannot_take_now_is_answered_on_redelivery(
    container: Container, apple_store: LocalTestStore, app_store_api: FakeAppStoreServerApi
) -> None:
    user = container.accounts.register("retry@example.com", "correct horse battery", terms=True, age_16_plus=True)
    tid = _buy(container, apple_store, user)
    signed = apple_store.apple_notification("CONSUMPTION_REQUEST", tid)
    app_store_api.fail_puts = 1
    with pytest.raises(StoreUnavailable):
        container.store_notifications.apple_notification({"signedPayload": signed})
    redelivered = container.store_notifications.apple_notification({"signedPayload": signed})
    assert redelivered.outcome == "answered:0"
    assert [sent for sent, _ in app_store_api.consumption] == [tid]  # accepted once, on the redelivery


def test_refund_racing_a_claim_still_revokes_it(
    container: Container, apple_store: LocalTestStore, alice: Buyer, monkeypatch: pytest.MonkeyPatch
) -> None:
    jws, payload = apple_store.apple_transaction(PRODUCT)
    tid = str(payload["transactionId"])
    store = container.purchases.store
    real_get = store.get
    raced = []

    def get_then_claim(table: Table, key: Any) -> Any:
        found = real_get(table, key)
        if key == claim_key(f"apple:{tid}") and not raced:
            # The refund read "never claimed"; the app's verification lands before the refund writes.
            raced.append(True)
            body = {"transaction": {"type": "apple-sk2", "id": PRODUCT, "jwsRepresentation": jws}}
            assert container.purchases.verify(alice, body)["ok"] is True
        return found

    monkeypatch.setattr(store, "get", get_then_claim)
    assert _notify(container, apple_store, "REFUND", tid) == "revoked"
    assert _credits(container, alice.id) == 0
