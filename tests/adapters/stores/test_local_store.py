"""The local test store: an Apple-like certificate chain made once under the data directory and reused."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
from cryptography import x509

from ieltsprep.adapters.stores.local_store import APPLE_INTERMEDIATE_OID, APPLE_LEAF_OID, LocalTestStore


def _store(directory: Path) -> LocalTestStore:
    return LocalTestStore(directory, bundle_id="com.example.app", app_apple_id=None)


def test_chain_is_created_once_and_reused_across_restarts(tmp_path: Path) -> None:
    first = _store(tmp_path / "ts")
    second = _store(tmp_path / "ts")
    assert first.root_der == second.root_der
    assert sorted(p.name for p in (tmp_path / "ts").glob("*.pem")) == [
        "intermediate.pem", "leaf-key.pem", "leaf.pem", "root.pem"
    ]  # fmt: skip
    # Only the signing key is kept, readable by the owner alone; the CA keys are thrown away.
    assert stat.S_IMODE((tmp_path / "ts" / "leaf-key.pem").stat().st_mode) == 0o600


def test_chain_carries_the_apple_oids_and_signs_es256_with_x5c(tmp_path: Path) -> None:
    store = _store(tmp_path / "ts")
    intermediate = x509.load_pem_x509_certificate((tmp_path / "ts" / "intermediate.pem").read_bytes())
    leaf = x509.load_pem_x509_certificate((tmp_path / "ts" / "leaf.pem").read_bytes())
    assert intermediate.extensions.get_extension_for_oid(APPLE_INTERMEDIATE_OID)
    assert leaf.extensions.get_extension_for_oid(APPLE_LEAF_OID)
    jws, payload = store.apple_transaction("pack", app_account_token="6a1f5d2e-0000-4000-8000-000000000001")
    header = jwt.get_unverified_header(jws)
    assert header["alg"] == "ES256" and len(header["x5c"]) == 3
    assert payload["type"] == "Consumable" and payload["environment"] == "Production"
    assert payload["appAccountToken"] == "6a1f5d2e-0000-4000-8000-000000000001"


def test_notifications_refer_to_issued_transactions_with_refund_fields(tmp_path: Path) -> None:
    store = _store(tmp_path / "ts")
    _, payload = store.apple_transaction("pack")
    signed = store.apple_notification("REFUND", str(payload["transactionId"]))
    claims = jwt.decode(signed, options={"verify_signature": False})
    nested = jwt.decode(claims["data"]["signedTransactionInfo"], options={"verify_signature": False})
    assert claims["notificationType"] == "REFUND" and claims["data"]["bundleId"] == "com.example.app"
    assert nested["transactionId"] == payload["transactionId"] and nested["revocationType"] == "REFUND_FULL"
