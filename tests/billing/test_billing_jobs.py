"""The scheduled billing jobs, run through the jobs dispatcher as the schedule does."""

from __future__ import annotations

from ieltsprep.adapters.stores.local_store import FakePlayApi
from ieltsprep.billing import ledger
from ieltsprep.billing.purchases import Buyer
from ieltsprep.container import Container
from ieltsprep.edges import jobs

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
