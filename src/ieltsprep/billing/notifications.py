"""Store notifications: App Store Server Notifications V2 and Google Play real-time developer notifications.

Each notification is handled once: a dedupe record (``NOTIFICATION#<store>:<id>`` / ``NOTIFICATION`` in the LEDGER
table, kept 180 days via ``expires_at``) is written in the same transaction as its effect, so a redelivery after a
lost response changes nothing. Effects on credits go through ``PurchaseService.revoke`` / ``reinstate``.

CONSUMPTION_REQUEST (a customer asked Apple to refund a consumable) is answered with the real share of the pack
used, only when the customer consented: the consent is the acceptance of the terms at registration, whose text
includes sharing consumption data with Apple for refund decisions (``consumption_data_consent``).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ieltsprep.adapters.storage.port import MUST_NOT_EXIST, ConditionFailed, Delete, Key, Put, Store, Table
from ieltsprep.adapters.stores import StoreRejected
from ieltsprep.billing import ledger
from ieltsprep.billing.purchases import PurchaseService, claim_key
from ieltsprep.ids import now_epoch, now_iso

if TYPE_CHECKING:
    from ieltsprep.adapters.stores.apple import AppleNotification, AppleServerApi, AppleVerifier

log = logging.getLogger(__name__)
DEDUPE_SECONDS = 180 * 24 * 3600  # longer than Apple's retry window (72 h) and Pub/Sub's retention (7 days)


@dataclass(frozen=True)
class Handled:
    """What a notification did (for logs and tests)."""

    kind: str
    outcome: str


def _dedupe(store_name: str, notification_id: str, kind: str) -> Put:
    item = {
        "pk": f"NOTIFICATION#{store_name}:{notification_id}",
        "sk": "NOTIFICATION",
        "kind": kind,
        "received_at": now_iso(),
        "expires_at": now_epoch() + DEDUPE_SECONDS,
    }
    return Put(Table.LEDGER, item, MUST_NOT_EXIST)


def consumed_share(store: Store, claim: dict[str, Any]) -> int:
    """Share of a pack used, in Apple's milliunits (0-100000): the module's uses since the purchase, capped."""
    credits = int(claim.get("credits") or 0)
    if credits < 1 or not claim.get("user_id"):
        return 0
    since = str(claim.get("created_at", ""))
    uses = sum(
        1
        for entry in ledger.entries(store, str(claim["user_id"]))
        if entry["kind"] == "use" and entry["module"] == claim.get("module") and str(entry["created_at"]) >= since
    )
    returns = sum(
        1
        for entry in ledger.entries(store, str(claim["user_id"]))
        if entry["kind"] == "return" and entry["module"] == claim.get("module") and str(entry["created_at"]) >= since
    )
    used = max(0, min(credits, uses - returns))
    return math.floor(used * 100_000 / credits)


class NotificationService:
    """Handles verified store notifications."""

    def __init__(
        self,
        store: Store,
        purchases: PurchaseService,
        *,
        apple: AppleVerifier | None,
        apple_api: AppleServerApi | None,
        consumption_data_consent: Callable[[str], bool],
        google_package_name: str,
    ) -> None:
        self.store = store
        self.purchases = purchases
        self.apple = apple
        self.apple_api = apple_api
        self.consent = consumption_data_consent
        self.google_package_name = google_package_name

    # --- Apple -----------------------------------------------------------------------------------------------
    def apple_notification(self, body: object) -> Handled:
        """Handle ``{"signedPayload"}``; StoreRejected for anything that does not verify."""
        if not isinstance(body, dict) or not isinstance(body.get("signedPayload"), str):
            raise StoreRejected('the body must be {"signedPayload": "<JWS>"}')
        if self.apple is None:
            raise StoreRejected("Apple notifications are not configured")
        n = self.apple.verify_notification(body["signedPayload"])
        dedupe = _dedupe("apple", n.notification_uuid, n.notification_type)
        try:
            outcome = self._apple_effect(n.notification_type, n, dedupe)
        except ConditionFailed:
            outcome = "duplicate"
        log.info("apple notification %s %s: %s", n.notification_type, n.notification_uuid, outcome)
        return Handled(n.notification_type, outcome)

    def _apple_effect(self, kind: str, n: AppleNotification, dedupe: Put) -> str:
        transaction = n.transaction
        if kind not in ("REFUND", "REFUND_REVERSED", "CONSUMPTION_REQUEST"):
            # TEST, REFUND_DECLINED and the rest need no action: record them so redeliveries are recognised.
            self.store.transact([dedupe])
            return "recorded"
        if transaction is None:
            raise StoreRejected(f"{kind} without signedTransactionInfo")
        if kind == "REFUND":
            count = None
            if transaction.revocation_type == "REFUND_PRORATED" and transaction.revocation_percentage:
                claim = self.store.get(Table.LEDGER, claim_key(f"apple:{transaction.transaction_id}")) or {}
                credits = int(claim.get("credits") or 0)
                count = math.ceil(credits * transaction.revocation_percentage / 100_000)
            return self.purchases.revoke(
                f"apple:{transaction.transaction_id}", ref=n.notification_uuid, count=count, extra=[dedupe]
            )
        if kind == "REFUND_REVERSED":
            return self.purchases.reinstate(
                f"apple:{transaction.transaction_id}", ref=n.notification_uuid, extra=[dedupe]
            )
        return self._consumption(transaction.transaction_id, n.environment, dedupe)

    def _consumption(self, transaction_id: str, environment: str, dedupe: Put) -> str:
        claim = self.store.get(Table.LEDGER, claim_key(f"apple:{transaction_id}"))
        if claim is None or not claim.get("user_id"):
            self.store.transact([dedupe])
            return "unknown_purchase"
        if not self.consent(str(claim["user_id"])):
            self.store.transact([dedupe])
            return "no_consent"
        if self.apple_api is None:
            log.error("CONSUMPTION_REQUEST not answered: the App Store Server API is not configured")
            self.store.transact([dedupe])
            return "not_configured"
        # Record first so that a concurrent redelivery does not answer twice; undo when sending fails so Apple's
        # retry (we answer 503) tries again.
        self.store.transact([dedupe])
        share = consumed_share(self.store, claim)
        try:
            self.apple_api.send_consumption(transaction_id, environment, consumption_percentage=share)
        except Exception:
            self.store.delete(Delete(Table.LEDGER, Key(str(dedupe.item["pk"]), str(dedupe.item["sk"]))))
            raise
        return f"answered:{share}"

    # --- Google ----------------------------------------------------------------------------------------------
    def google_notification(self, body: object) -> Handled:
        """Handle a Pub/Sub push body (after its OIDC token was checked); StoreRejected when malformed."""
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("data"), str):
            raise StoreRejected('the body must be a Pub/Sub push: {"message": {"data", "messageId"}}')
        message_id = str(message.get("messageId") or message.get("message_id") or "")
        if not message_id:
            raise StoreRejected("the Pub/Sub message has no messageId")
        try:
            notification = json.loads(base64.b64decode(message["data"], validate=True))
        except (binascii.Error, ValueError) as exc:
            raise StoreRejected("the Pub/Sub message data is not base64 JSON") from exc
        if not isinstance(notification, dict):
            raise StoreRejected("the developer notification is not a JSON object")
        if notification.get("packageName") != self.google_package_name:
            raise StoreRejected("the developer notification is for another package")
        dedupe = _dedupe("google", message_id, "rtdn")
        voided = notification.get("voidedPurchaseNotification")
        try:
            if isinstance(voided, dict) and isinstance(voided.get("purchaseToken"), str):
                if voided.get("productType", 2) != 2:
                    self.store.transact([dedupe])
                    return Handled("voided", "not_a_one_time_product")
                # Whatever the refund type, re-reading the purchase is not needed: a voided purchase is void.
                outcome = self.purchases.revoke(f"google:{voided['purchaseToken']}", ref="voided", extra=[dedupe])
                return Handled("voided", outcome)
            self.store.transact([dedupe])
        except ConditionFailed:
            return Handled("rtdn", "duplicate")
        # One-time purchased/cancelled and test notifications: the purchase flow is client → validator, which
        # reads the state from Google itself, so nothing to do beyond acknowledging.
        kind = (
            "test"
            if "testNotification" in notification
            else "one_time"
            if "oneTimeProductNotification" in notification
            else "other"
        )
        return Handled(kind, "recorded")
