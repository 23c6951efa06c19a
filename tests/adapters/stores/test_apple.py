"""The Apple adapter: only PRODUCTION and SANDBOX verifiers exist, and nested notification data is verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from ieltsprep.adapters.stores import StoreRejected
from ieltsprep.adapters.stores.apple import AppleVerifier
from ieltsprep.adapters.stores.local_store import LocalTestStore

BUNDLE = "com.example.app"


@pytest.fixture
def store(tmp_path: Path) -> LocalTestStore:
    return LocalTestStore(tmp_path / "ts", bundle_id=BUNDLE, app_apple_id=42)


def _verifier(store: LocalTestStore, environments: list[str], app_id: int | None = 42) -> AppleVerifier:
    return AppleVerifier(
        [store.root_der], bundle_id=BUNDLE, app_apple_id=app_id, environments=environments, online_checks=False
    )


def test_xcode_and_local_testing_are_never_verifiers_even_when_configured(store: LocalTestStore) -> None:
    verifier = _verifier(store, ["XCODE", "LOCAL_TESTING", "SANDBOX"])
    jws, _ = store.apple_transaction("pack", environment="Xcode")
    with pytest.raises(StoreRejected, match="not accepted"):
        verifier.verify_transaction(jws)
    sandbox, _ = store.apple_transaction("pack", environment="Sandbox")
    assert verifier.verify_transaction(sandbox).environment == "Sandbox"


def test_production_without_an_app_id_is_refused_not_skipped(store: LocalTestStore) -> None:
    verifier = _verifier(store, ["PRODUCTION", "SANDBOX"], app_id=None)
    jws, _ = store.apple_transaction("pack", environment="Production")
    with pytest.raises(StoreRejected, match="not accepted"):
        verifier.verify_transaction(jws)


def test_notification_for_another_app_id_is_rejected(tmp_path: Path, store: LocalTestStore) -> None:
    other_app = LocalTestStore(store.directory, bundle_id=BUNDLE, app_apple_id=7)
    _, payload = other_app.apple_transaction("pack")
    with pytest.raises(StoreRejected, match="invalid_app_identifier"):
        _verifier(store, ["PRODUCTION"]).verify_notification(
            other_app.apple_notification("TEST", payload["transactionId"])
        )


def test_nested_transaction_of_a_notification_is_verified_too(tmp_path: Path, store: LocalTestStore) -> None:
    verifier = _verifier(store, ["PRODUCTION"])
    _, payload = store.apple_transaction("pack")
    genuine = verifier.verify_notification(store.apple_notification("REFUND", payload["transactionId"]))
    assert genuine.transaction is not None and genuine.transaction.revocation_type == "REFUND_FULL"
    # A notification signed by the trusted chain whose nested transaction comes from a foreign one is refused.
    foreign = LocalTestStore(tmp_path / "foreign", bundle_id=BUNDLE, app_apple_id=42)
    foreign_jws, foreign_payload = foreign.apple_transaction("pack")
    claims = {
        "notificationType": "REFUND", "notificationUUID": "u-1", "version": "2.0", "signedDate": foreign_payload["signedDate"],
        "data": {"appAppleId": 42, "bundleId": BUNDLE, "environment": "Production", "signedTransactionInfo": foreign_jws},
    }  # fmt: skip
    with pytest.raises(StoreRejected, match="verification failed"):
        verifier.verify_notification(store._sign(claims))
