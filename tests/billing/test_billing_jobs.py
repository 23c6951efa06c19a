"""The scheduled billing jobs, run through the jobs dispatcher as the schedule does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ieltsprep.adapters.stores.local_store import FakePlayApi, LocalTestStore
from ieltsprep.billing import ledger
from ieltsprep.billing.purchases import Buyer
from ieltsprep.container import Container
from ieltsprep.edges import jobs

if TYPE_CHECKING:
    from tests.billing.conftest import FakeAppStoreServerApi

PRODUCT = "com.ieltsgenaiprep.academic_speaking"


def test_sweep_google_voided_job_revokes_refunded_purchases(
    container: Container, play: FakePlayApi, alice: Buyer
) -> None:
    transaction = play.add_purchase(PRODUCT)
    assert container.purchases.verify(alice, {"id": PRODUCT, "transaction": transaction})["ok"] is True
    play.void(transaction["purchaseToken"])
    result = jobs.run(container, {"job": "sweep_google_voided"})
    assert result == {"job": "sweep_google_voided", "result": {"checked": 1, "revoked": 1}}
    assert ledger.balances(container.store, alice.id)["academic_speaking"] == 0


def test_retry_google_consumes_job_consumes_what_failed_at_purchase_time(
    container: Container, play: FakePlayApi, alice: Buyer
) -> None:
    play.fail_consume = 1
    transaction = play.add_purchase(PRODUCT)
    container.purchases.verify(alice, {"id": PRODUCT, "transaction": transaction})
    assert play.purchases[transaction["purchaseToken"]]["consumptionState"] == 0
    result = jobs.run(container, {"job": "retry_google_consumes"})
    assert result["result"] == {"consumed": 1, "failed": 0, "dropped": 0}
    assert play.purchases[transaction["purchaseToken"]]["consumptionState"] == 1


def test_recover_apple_notifications_job_applies_a_refund_we_never_received(
    container: Container, apple_store: LocalTestStore, app_store_api: FakeAppStoreServerApi, alice: Buyer
) -> None:
    jws, payload = apple_store.apple_transaction(PRODUCT)
    body = {"transaction": {"type": "apple-sk2", "id": PRODUCT, "jwsRepresentation": jws}}
    assert container.purchases.verify(alice, body)["ok"] is True
    app_store_api.notifications = [apple_store.apple_notification("REFUND", str(payload["transactionId"]))]
    first = jobs.run(container, {"job": "recover_apple_notifications"})["result"]
    assert first == {"seen": 2, "handled": 1, "rejected": 0}  # the fake answers both environments alike
    again = jobs.run(container, {"job": "recover_apple_notifications"})["result"]
    assert again == {"seen": 2, "handled": 0, "rejected": 0}
    assert ledger.balances(container.store, alice.id)["academic_speaking"] == 0
