"""Verifying store purchases and crediting them exactly once (the cordova-plugin-purchase v13 validator).

A purchase is claimed by writing, in ONE transaction, a claim item keyed by the purchase (``apple:<transactionId>``
or ``google:<purchaseToken>``, must not exist), the ledger grant entry and the balance update. The first account
to claim a purchase owns it; the same account retrying gets its original success; any other account gets ok:false.

Keys (LEDGER table; see docs/ARCHITECTURE.md, "Billing"):
- ``PURCHASE#<key>`` / ``CLAIM``: the claim (``user_id``, product, module, credits, state credited|refunded, ...),
  ``gsi1pk = PURCHASES#<user_id>`` so a user's purchases can be listed for export and pseudonymised on deletion.
- ``GOOGLE#CONSUME_PENDING`` / ``<purchaseToken>``: a credited Google purchase not yet consumed at Google (retried by
  the ``retry_google_consumes`` job until it succeeds).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ieltsprep.adapters.storage.port import (
    MUST_NOT_EXIST,
    Condition,
    ConditionFailed,
    Delete,
    Key,
    Operation,
    Put,
    Store,
    Table,
    Update,
)
from ieltsprep.adapters.stores import StoreRejected, StoreUnavailable
from ieltsprep.billing import ledger
from ieltsprep.billing.catalogue import Product, product
from ieltsprep.ids import now_iso

if TYPE_CHECKING:
    from ieltsprep.adapters.stores.apple import AppleServerApi, AppleTransaction, AppleVerifier
    from ieltsprep.adapters.stores.google import GooglePlay

log = logging.getLogger(__name__)

VERIFICATION_FAILED = 6777017  # cordova-plugin-purchase ErrorCode.VERIFICATION_FAILED
CLAIM_SK = "CLAIM"
CONSUME_PENDING_PK = "GOOGLE#CONSUME_PENDING"
SANDBOX = "Sandbox"


class Buyer(Protocol):
    """What billing needs to know about the signed-in account (``accounts.models.User`` satisfies it)."""

    @property
    def id(self) -> str: ...

    @property
    def is_tester(self) -> bool: ...

    @property
    def app_account_token(self) -> str: ...


class Refused(Exception):
    """This purchase will not be credited to this account; the message says why (shown to the client)."""


def claim_key(purchase_key: str) -> Key:
    """Key of the claim item of a purchase (``apple:<transactionId>`` or ``google:<purchaseToken>``)."""
    return Key(f"PURCHASE#{purchase_key}", CLAIM_SK)


def purchases_index(user_id: str) -> str:
    """``gsi1pk`` of a user's claims."""
    return f"PURCHASES#{user_id}"


def account_token_forms(token: str) -> set[str]:
    """Forms the client may have sent our account token in: as is, or obfuscated by cordova-plugin-purchase
    (MD5 hex on Google's legacy obfuscator, or that MD5 laid out as a UUID, with or without the v3 bits)."""
    if not token:
        return set()
    digest = bytearray(hashlib.md5(token.encode(), usedforsecurity=False).digest())
    plain = digest.hex()
    forms = {token.lower(), plain, _as_uuid(plain)}
    digest[6] = (digest[6] & 0x0F) | 0x30
    digest[8] = (digest[8] & 0x3F) | 0x80
    forms.add(_as_uuid(digest.hex()))
    return forms


def _as_uuid(hexdigits: str) -> str:
    h = hexdigits
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _short(purchase_key: str) -> str:
    # Purchase tokens are bearer-like secrets at Google: logs carry a prefix, enough to find the claim.
    return purchase_key if len(purchase_key) <= 32 else purchase_key[:32] + "..."


def _iso_from_ms(value: int | None) -> str:
    if value is None:
        return now_iso()
    return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Verified:
    """A purchase the store confirmed, ready to be claimed."""

    key: str  # idempotency key
    platform: str  # apple | google
    product: Product
    quantity: int
    transaction_id: str  # what cordova matches the collection entry on
    purchase_date: str
    environment: str
    details: Mapping[str, Any]


def failure(message: str) -> dict[str, Any]:
    """The validator's refusal body (HTTP 200)."""
    return {"ok": False, "code": VERIFICATION_FAILED, "message": message}


class PurchaseService:
    """``POST /api/purchases/verify``: verify with the store, then claim and credit once."""

    def __init__(
        self,
        store: Store,
        *,
        apple: AppleVerifier | None,
        apple_api: AppleServerApi | None,
        google: GooglePlay | None,
        test_store: bool = False,
    ) -> None:
        self.store = store
        self.apple = apple
        self.apple_api = apple_api
        self.google = google
        # The local test store is on (local stage only): its signed transactions verify like real ones, so every
        # claim is labelled as a test-store purchase (no money was charged), in the export and on the site.
        self.test_store = test_store

    # --- the validator ---------------------------------------------------------------------------------------
    def verify(self, buyer: Buyer, body: object) -> dict[str, Any]:
        """The validator response for ``body``: ``{"ok": true, "data"}`` or ``{"ok": false, "code", "message"}``."""
        if not isinstance(body, dict) or not isinstance(body.get("transaction"), dict):
            return failure('the body must be a JSON object with a "transaction" object')
        transaction: dict[str, Any] = body["transaction"]
        kind = transaction.get("type")
        try:
            if kind == "apple-sk2":
                verified = self._apple_sk2(buyer, transaction)
            elif kind == "ios-appstore":
                verified = self._apple_receipt(buyer, transaction)
            elif kind == "android-playstore":
                verified = self._google(buyer, body, transaction)
            else:
                return failure(f"unsupported transaction type {kind!r}")
            claim = self._claim(buyer, verified)
            if verified.platform == "google":
                self._consume_now(claim)
        except Refused as exc:
            log.info("purchase refused: %s", exc)
            return failure(str(exc))
        except StoreRejected as exc:
            log.info("purchase rejected by the store check: %s", exc)
            return failure(str(exc))
        except StoreUnavailable as exc:
            log.warning("store unavailable during verification: %s", exc)
            return failure(f"{exc}; the purchase is kept and will be verified on the next attempt")
        return self._success(kind, claim)

    @staticmethod
    def _success(kind: str, claim: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "data": {
                "id": claim["product_id"],
                "latest_receipt": True,
                "transaction": {"type": kind, "id": claim["transaction_id"]},
                "collection": [
                    {
                        "id": claim["product_id"],
                        "transactionId": claim["transaction_id"],
                        "purchaseDate": claim["purchase_date"],
                        "isConsumed": True,
                        "isAcknowledged": True,
                    }
                ],
                "date": now_iso(),
            },
        }

    # --- Apple -----------------------------------------------------------------------------------------------
    def _apple_sk2(self, buyer: Buyer, transaction: Mapping[str, Any]) -> Verified:
        jws = transaction.get("jwsRepresentation")
        if not isinstance(jws, str) or not jws:
            raise Refused("apple-sk2 transaction without jwsRepresentation")
        if self.apple is None:
            raise StoreUnavailable("Apple purchases are not configured")
        return self._apple_checked(buyer, self.apple.verify_transaction(jws))

    def _apple_receipt(self, buyer: Buyer, transaction: Mapping[str, Any]) -> Verified:
        from ieltsprep.adapters.stores.apple import transaction_id_from_receipt

        receipt = transaction.get("appStoreReceipt")
        if not isinstance(receipt, str) or not receipt:
            raise Refused("ios-appstore transaction without appStoreReceipt")
        if self.apple is None or self.apple_api is None:
            raise StoreUnavailable("the App Store Server API is not configured")
        receipt_id = transaction_id_from_receipt(receipt)
        # cordova sends the purchase's transaction id; anything else (e.g. a bundle id) falls back to the receipt's.
        given = str(transaction.get("id") or "")
        wanted = given if given.isdigit() else receipt_id
        for signed in self.apple_api.transaction_history(receipt_id):
            try:
                candidate = self.apple.verify_transaction(signed)
            except StoreRejected:
                continue  # e.g. another environment's transaction in the same history: not the one we want
            if candidate.transaction_id == wanted:
                return self._apple_checked(buyer, candidate)
        raise Refused(f"transaction {wanted} is not in this customer's App Store history")

    @staticmethod
    def _apple_checked(buyer: Buyer, t: AppleTransaction) -> Verified:
        pack = product(t.product_id)
        if pack is None:
            raise Refused(f"unknown product {t.product_id!r}")
        if t.type != "Consumable":
            raise Refused(f"product type {t.type!r} is not a consumable pack")
        if t.app_account_token and t.app_account_token.lower() not in account_token_forms(buyer.app_account_token):
            raise Refused("this purchase was made for another account")
        if t.environment == SANDBOX and not buyer.is_tester:
            raise Refused("sandbox purchases credit only tester accounts")
        if t.revocation_date_ms is not None:
            raise Refused("this purchase was refunded")
        return Verified(
            key=f"apple:{t.transaction_id}",
            platform="apple",
            product=pack,
            quantity=max(1, t.quantity),
            transaction_id=t.transaction_id,
            purchase_date=_iso_from_ms(t.purchase_date_ms),
            environment=t.environment,
            details={"original_transaction_id": t.original_transaction_id, "app_account_token": t.app_account_token},
        )

    # --- Google ----------------------------------------------------------------------------------------------
    def _google(self, buyer: Buyer, body: Mapping[str, Any], transaction: Mapping[str, Any]) -> Verified:
        from ieltsprep.adapters.stores.google import CANCELED, PENDING, PURCHASED

        token = transaction.get("purchaseToken")
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise Refused("android-playstore transaction without a valid purchaseToken")
        product_id = self._google_product_id(body, transaction)
        pack = product(product_id)
        if pack is None:
            raise Refused(f"unknown product {product_id!r}")
        if self.google is None:
            raise StoreUnavailable("Google Play purchases are not configured")
        p = self.google.get_purchase(product_id, token)
        if p.purchase_state == PENDING:
            raise Refused("the payment is still pending; credits are added once Google confirms it")
        if p.purchase_state == CANCELED:
            raise Refused("this purchase was cancelled")
        if p.purchase_state != PURCHASED:
            raise Refused(f"unexpected purchase state {p.purchase_state}")
        if p.obfuscated_account_id and p.obfuscated_account_id.lower() not in account_token_forms(
            buyer.app_account_token
        ):
            raise Refused("this purchase was made for another account")
        if p.is_test and not buyer.is_tester:
            raise Refused("test purchases credit only tester accounts")
        return Verified(
            key=f"google:{token}",
            platform="google",
            product=pack,
            quantity=max(1, p.quantity),
            transaction_id=p.order_id or token,  # cordova's Google transactionId = orderId || purchaseToken
            purchase_date=_iso_from_ms(p.purchase_time_ms),
            environment="Test" if p.is_test else "Production",
            details={"purchase_token": token, "order_id": p.order_id},
        )

    @staticmethod
    def _google_product_id(body: Mapping[str, Any], transaction: Mapping[str, Any]) -> str:
        receipt = transaction.get("receipt")
        if isinstance(receipt, str) and receipt:
            try:
                parsed = json.loads(receipt)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and isinstance(parsed.get("productId"), str):
                return str(parsed["productId"])
        if isinstance(body.get("id"), str):
            return str(body["id"])  # cordova sends the product id as the body's id
        raise Refused("android-playstore transaction without a product id")

    # --- claiming --------------------------------------------------------------------------------------------
    def _claim(self, buyer: Buyer, verified: Verified) -> dict[str, Any]:
        key = claim_key(verified.key)
        credits = verified.product.credits * verified.quantity
        claim: dict[str, Any] = {
            "pk": key.pk,
            "sk": key.sk,
            "gsi1pk": purchases_index(buyer.id),
            "gsi1sk": now_iso(),
            "purchase_key": verified.key,
            "user_id": buyer.id,
            "platform": verified.platform,
            "product_id": verified.product.product_id,
            "module": verified.product.module,
            "credits": credits,
            "transaction_id": verified.transaction_id,
            "purchase_date": verified.purchase_date,
            "environment": verified.environment,
            "test_store": self.test_store,
            "state": "credited",
            "created_at": now_iso(),
            **{k: v for k, v in verified.details.items() if v is not None},
        }
        ops: list[Operation] = [
            Put(Table.LEDGER, claim, MUST_NOT_EXIST),
            *ledger.grant_ops(
                buyer.id,
                verified.product.module,
                credits,
                source="apple" if verified.platform == "apple" else "google",
                idempotency_key=verified.key,
                product_id=verified.product.product_id,
            ),
        ]
        if verified.platform == "google":
            token = str(verified.details["purchase_token"])
            ops.append(
                Put(
                    Table.LEDGER,
                    {"pk": CONSUME_PENDING_PK, "sk": token, "product_id": verified.product.product_id,
                     "user_id": buyer.id, "created_at": now_iso()},
                )
            )  # fmt: skip
        try:
            self.store.transact(ops)
            log.info(
                "credited %s credits of %s to %s (%s)", credits, verified.product.module, buyer.id, _short(verified.key)
            )
            return claim
        except ConditionFailed:
            existing = self.store.get(Table.LEDGER, key)
            if existing is None:
                raise StoreUnavailable("the purchase could not be recorded") from None
            if existing.get("user_id") == buyer.id:
                return existing  # a retry by the owner: the original success, nothing credited twice
            if existing.get("state") == "refunded" and not existing.get("user_id"):
                raise Refused("this purchase was refunded") from None
            log.warning("purchase %s presented by %s but owned by another account", _short(verified.key), buyer.id)
            raise Refused("this purchase was already claimed by another account") from None

    # --- Google consumption ----------------------------------------------------------------------------------
    def _consume_now(self, claim: Mapping[str, Any]) -> None:
        token = claim.get("purchase_token")
        if not token or self.google is None or claim.get("consumed"):
            return
        try:
            self._consume(str(claim["product_id"]), str(token))
        except StoreUnavailable as exc:
            log.warning("consume of a credited purchase failed, will retry: %s", exc)

    def _consume(self, product_id: str, token: str) -> None:
        assert self.google is not None
        self.google.consume(product_id, token)
        self.store.transact(
            [
                Delete(Table.LEDGER, Key(CONSUME_PENDING_PK, token)),
                Update(Table.LEDGER, claim_key(f"google:{token}"), set={"consumed": True, "consumed_at": now_iso()}),
            ]
        )

    def retry_google_consumes(self) -> dict[str, int]:
        """Consume every credited Google purchase whose consume has not succeeded yet."""
        done = failed = dropped = 0
        for item in self.store.query(Table.LEDGER, CONSUME_PENDING_PK):
            token, product_id = str(item["sk"]), str(item["product_id"])
            try:
                self._consume(product_id, token)
                done += 1
            except StoreRejected as exc:
                # Google will never accept it (voided, or consumed elsewhere): stop retrying, keep the claim.
                log.warning("dropping the pending consume of a purchase: %s", exc)
                self.store.delete(Delete(Table.LEDGER, Key(CONSUME_PENDING_PK, token)))
                dropped += 1
            except StoreUnavailable as exc:
                log.warning("consume still failing: %s", exc)
                failed += 1
        return {"consumed": done, "failed": failed, "dropped": dropped}

    # --- refunds ---------------------------------------------------------------------------------------------
    def revoke(
        self, purchase_key: str, *, ref: str, count: int | None = None, extra: list[Operation] | None = None
    ) -> str:
        """Take back a purchase's credits after a refund (once); returns what happened.

        ``extra`` operations (a notification's dedupe record) join the same transaction. A refund of a purchase
        never claimed leaves a refunded claim behind, so the purchase can never be credited afterwards.
        """
        return self._retrying(lambda: self._revoke_once(purchase_key, ref=ref, count=count, extra=extra or []))

    def _retrying(self, attempt: Callable[[], str | None]) -> str:
        # None = the claim changed between our read and our write (a concurrent claim or refund): read it again.
        for _ in range(3):
            outcome = attempt()
            if outcome is not None:
                return outcome
        raise StoreUnavailable("the purchase kept changing; try again")

    def _transact(self, ops: list[Operation], extra: list[Operation], done: str) -> str | None:
        try:
            self.store.transact(ops)
        except ConditionFailed:
            if any(
                isinstance(op, Put) and self.store.get(op.table, Key(str(op.item["pk"]), str(op.item["sk"])))
                for op in extra
            ):
                return "duplicate"
            return None
        return done

    def _revoke_once(self, purchase_key: str, *, ref: str, count: int | None, extra: list[Operation]) -> str | None:
        key = claim_key(purchase_key)
        claim = self.store.get(Table.LEDGER, key)
        if claim is None:
            stub = {"pk": key.pk, "sk": key.sk, "purchase_key": purchase_key, "state": "refunded",
                    "refunded_at": now_iso(), "credits": 0}  # fmt: skip
            return self._transact([*extra, Put(Table.LEDGER, stub, MUST_NOT_EXIST)], extra, "unclaimed")
        if claim.get("state") != "credited" or not claim.get("user_id"):
            self._record(extra)
            return "already_refunded"
        credits = int(claim.get("credits", 0))
        revoked = max(1, min(credits, count if count is not None else credits))
        ops: list[Operation] = [
            *extra,
            Update(
                Table.LEDGER,
                key,
                set={"state": "refunded", "refunded_at": now_iso(), "revoked": revoked},
                condition=Condition(equals={"state": "credited"}),
            ),
            *ledger.revoke_ops(
                str(claim["user_id"]), str(claim["module"]), revoked, source="refund",
                idempotency_key=f"{purchase_key}#refund#{ref}",
            ),
        ]  # fmt: skip
        outcome = self._transact(ops, extra, "revoked")
        if outcome == "revoked":
            log.info("revoked %s credits of %s after a refund", revoked, _short(purchase_key))
        return outcome

    def reinstate(self, purchase_key: str, *, ref: str, extra: list[Operation] | None = None) -> str:
        """Give back the credits a refund took when the refund is reversed (once)."""
        return self._retrying(lambda: self._reinstate_once(purchase_key, ref=ref, extra=extra or []))

    def _reinstate_once(self, purchase_key: str, *, ref: str, extra: list[Operation]) -> str | None:
        key = claim_key(purchase_key)
        claim = self.store.get(Table.LEDGER, key)
        if claim is None or claim.get("state") != "refunded" or not claim.get("user_id"):
            self._record(extra)
            return "nothing_to_reinstate"
        revoked = int(claim.get("revoked") or claim.get("credits") or 0)
        if revoked < 1:
            self._record(extra)
            return "nothing_to_reinstate"
        ops: list[Operation] = [
            *extra,
            Update(
                Table.LEDGER,
                key,
                set={"state": "credited", "reinstated_at": now_iso()},
                remove=("revoked",),
                condition=Condition(equals={"state": "refunded"}),
            ),
            *ledger.grant_ops(
                str(claim["user_id"]), str(claim["module"]), revoked, source="google" if claim.get("platform") == "google" else "apple",
                idempotency_key=f"{purchase_key}#reinstated#{ref}",
            ),
        ]  # fmt: skip
        return self._transact(ops, extra, "reinstated")

    def sweep_google_voided(self, since_ms: int) -> dict[str, int]:
        """Revoke every Google purchase on the voided list since ``since_ms`` (RTDN may have been lost)."""
        if self.google is None:
            return {"checked": 0, "revoked": 0}
        voided = self.google.voided_purchases(since_ms)
        revoked = 0
        for entry in voided:
            if self.revoke(f"google:{entry.purchase_token}", ref="voided") == "revoked":
                revoked += 1
        return {"checked": len(voided), "revoked": revoked}

    def _record(self, ops: list[Operation]) -> None:
        if ops:
            self.store.transact(ops)

    # --- export / deletion -----------------------------------------------------------------------------------
    def claims_of(self, user_id: str) -> list[dict[str, Any]]:
        """A user's purchase claims (for the export)."""
        hidden = {"pk", "sk", "gsi1pk", "gsi1sk"}
        return [
            {k: v for k, v in item.items() if k not in hidden}
            for item in self.store.query(Table.LEDGER, purchases_index(user_id), index="gsi1")
        ]

    def pseudonymise(self, user_id: str) -> int:
        """Detach a deleted user's claims from them, keeping the claims so the purchases cannot be replayed."""
        count = 0
        for item in self.store.query(Table.LEDGER, purchases_index(user_id), index="gsi1"):
            self.store.update(
                Update(
                    Table.LEDGER,
                    Key(str(item["pk"]), str(item["sk"])),
                    set={"user_id": "", "account_deleted_at": now_iso()},
                    remove=("gsi1pk", "gsi1sk", "app_account_token"),
                )
            )
            count += 1
        for item in self.store.query(Table.LEDGER, CONSUME_PENDING_PK):
            if item.get("user_id") == user_id:
                self.store.update(Update(Table.LEDGER, Key(CONSUME_PENDING_PK, str(item["sk"])), set={"user_id": ""}))
        return count
