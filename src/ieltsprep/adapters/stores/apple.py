"""Apple: StoreKit 2 signed data (app-store-server-library ``SignedDataVerifier``) and the App Store Server API.

Only PRODUCTION and SANDBOX verifiers are ever built: the library skips signature checks entirely for XCODE and
LOCAL_TESTING, so such payloads must be refused, never verified. The unverified ``environment`` claim is used only to
pick one of those two verifiers; the chosen verifier then checks the signature chain against our trusted roots, the
bundle id (and app id for notifications) and that the environment really is the one it was built for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from appstoreserverlibrary.api_client import APIException, AppStoreServerAPIClient, GetTransactionHistoryVersion
from appstoreserverlibrary.models.ConsumptionRequest import ConsumptionRequest
from appstoreserverlibrary.models.DeliveryStatus import DeliveryStatus
from appstoreserverlibrary.models.Environment import Environment
from appstoreserverlibrary.models.JWSTransactionDecodedPayload import JWSTransactionDecodedPayload
from appstoreserverlibrary.models.NotificationHistoryRequest import NotificationHistoryRequest
from appstoreserverlibrary.models.TransactionHistoryRequest import TransactionHistoryRequest
from appstoreserverlibrary.receipt_utility import ReceiptUtility
from appstoreserverlibrary.signed_data_verifier import SignedDataVerifier, VerificationException, VerificationStatus

from ieltsprep.adapters.stores import StoreRejected, StoreUnavailable

log = logging.getLogger(__name__)

# Settings name the environments as the library's enum members; the payloads carry the enum values.
ACCEPTED_ENVIRONMENTS: Mapping[str, Environment] = {
    "PRODUCTION": Environment.PRODUCTION,
    "SANDBOX": Environment.SANDBOX,
}


@dataclass(frozen=True)
class AppleTransaction:
    """The fields of a verified StoreKit 2 transaction that billing needs."""

    transaction_id: str
    original_transaction_id: str | None
    product_id: str
    bundle_id: str
    environment: str  # "Production" or "Sandbox"
    type: str | None
    quantity: int
    app_account_token: str | None
    purchase_date_ms: int | None
    revocation_date_ms: int | None
    revocation_type: str | None
    revocation_percentage: int | None


@dataclass(frozen=True)
class AppleNotification:
    """A verified App Store Server Notification V2 (with its nested transaction verified too)."""

    notification_uuid: str
    notification_type: str
    subtype: str | None
    environment: str
    transaction: AppleTransaction | None
    consumption_request_reason: str | None


def _transaction(decoded: JWSTransactionDecodedPayload) -> AppleTransaction:
    if not decoded.transactionId or not decoded.productId:
        raise StoreRejected("the transaction has no id or product")
    return AppleTransaction(
        transaction_id=decoded.transactionId,
        original_transaction_id=decoded.originalTransactionId,
        product_id=decoded.productId,
        bundle_id=decoded.bundleId or "",
        environment=decoded.rawEnvironment or "",
        type=decoded.rawType,
        quantity=decoded.quantity or 1,
        app_account_token=decoded.appAccountToken,
        purchase_date_ms=decoded.purchaseDate,
        revocation_date_ms=decoded.revocationDate,
        revocation_type=decoded.rawRevocationType,
        revocation_percentage=decoded.revocationPercentage,
    )


def _failure(exc: VerificationException) -> Exception:
    if exc.status == VerificationStatus.RETRYABLE_VERIFICATION_FAILURE:
        return StoreUnavailable("Apple certificate status could not be checked; try again")
    return StoreRejected(f"Apple signature verification failed ({exc.status.name.lower()})")


class AppleVerifier:
    """Verifies StoreKit 2 transactions and V2 notifications against the configured roots."""

    def __init__(
        self,
        root_certificates: Iterable[bytes],
        *,
        bundle_id: str,
        app_apple_id: int | None,
        environments: Iterable[str],
        online_checks: bool,
    ) -> None:
        roots = list(root_certificates)
        self._verifiers: dict[str, SignedDataVerifier] = {}
        for name in environments:
            environment = ACCEPTED_ENVIRONMENTS.get(name)
            if environment is None:
                continue  # XCODE / LOCAL_TESTING would skip the signature check: never build them
            if environment == Environment.PRODUCTION and app_apple_id is None:
                log.warning("no Apple app id configured: production purchases cannot be verified")
                continue
            self._verifiers[environment.value] = SignedDataVerifier(
                roots, online_checks, environment, bundle_id, app_apple_id
            )

    def _pick(self, environment: object) -> SignedDataVerifier:
        verifier = self._verifiers.get(environment) if isinstance(environment, str) else None
        if verifier is None:
            raise StoreRejected(f"Apple environment {environment!r} is not accepted")
        return verifier

    @staticmethod
    def _claims(signed: str) -> dict[str, Any]:
        if not isinstance(signed, str) or signed.count(".") != 2:
            raise StoreRejected("not a signed Apple payload (JWS)")
        try:
            claims = jwt.decode(signed, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise StoreRejected("not a signed Apple payload (JWS)") from exc
        return claims if isinstance(claims, dict) else {}

    def verify_transaction(self, signed_transaction: str) -> AppleTransaction:
        """The verified transaction, or StoreRejected / StoreUnavailable."""
        verifier = self._pick(self._claims(signed_transaction).get("environment"))
        try:
            return _transaction(verifier.verify_and_decode_signed_transaction(signed_transaction))
        except VerificationException as exc:
            raise _failure(exc) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreRejected("malformed Apple transaction") from exc

    def verify_notification(self, signed_payload: str) -> AppleNotification:
        """The verified notification, its nested signedTransactionInfo verified by the same verifier."""
        data = self._claims(signed_payload).get("data")
        verifier = self._pick(data.get("environment") if isinstance(data, dict) else None)
        try:
            decoded = verifier.verify_and_decode_notification(signed_payload)
            transaction = None
            if decoded.data is not None and decoded.data.signedTransactionInfo:
                nested = verifier.verify_and_decode_signed_transaction(decoded.data.signedTransactionInfo)
                transaction = _transaction(nested)
        except VerificationException as exc:
            raise _failure(exc) from exc
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreRejected("malformed Apple notification") from exc
        if not decoded.notificationUUID or not decoded.rawNotificationType:
            raise StoreRejected("the notification has no UUID or type")
        return AppleNotification(
            notification_uuid=decoded.notificationUUID,
            notification_type=decoded.rawNotificationType,
            subtype=decoded.rawSubtype,
            environment=(decoded.data.rawEnvironment or "") if decoded.data else "",
            transaction=transaction,
            consumption_request_reason=decoded.data.rawConsumptionRequestReason if decoded.data else None,
        )


def transaction_id_from_receipt(app_receipt: str) -> str:
    """A transaction id from a StoreKit 1 app receipt (unvalidated: it only tells us what to ask Apple)."""
    try:
        found = ReceiptUtility().extract_transaction_id_from_app_receipt(app_receipt)
    except (ValueError, TypeError) as exc:
        raise StoreRejected("the app receipt is not a valid receipt") from exc
    if not found:
        raise StoreRejected("the app receipt holds no in-app purchase")
    return found


class AppleServerApi:
    """The App Store Server API (transaction history V2, consumption information) for both environments."""

    def __init__(
        self,
        *,
        signing_key: bytes,
        key_id: str,
        issuer_id: str,
        bundle_id: str,
        base_urls: Mapping[str, str] | None = None,
    ) -> None:
        self._clients: dict[str, AppStoreServerAPIClient] = {}
        for environment in (Environment.PRODUCTION, Environment.SANDBOX):
            client = AppStoreServerAPIClient(signing_key, key_id, issuer_id, bundle_id, environment)
            if base_urls and environment.value in base_urls:
                # Only for offline tests and the local stage: a loopback fake of the API.
                client._base_url = base_urls[environment.value].rstrip("/")
            self._clients[environment.value] = client

    @staticmethod
    def _error(exc: APIException) -> Exception:
        if exc.http_status_code in (429,) or exc.http_status_code >= 500:
            return StoreUnavailable(f"App Store Server API unavailable ({exc.http_status_code})")
        return StoreRejected(f"App Store Server API refused the request ({exc.http_status_code})")

    def transaction_history(self, any_transaction_id: str) -> list[str]:
        """Every signed transaction of the customer who owns ``any_transaction_id`` (production first, then sandbox)."""
        last: Exception = StoreRejected("the App Store has no such transaction")
        for environment in (Environment.PRODUCTION.value, Environment.SANDBOX.value):
            client = self._clients[environment]
            signed: list[str] = []
            revision: str | None = None
            try:
                while True:
                    page = client.get_transaction_history(
                        any_transaction_id, revision, TransactionHistoryRequest(), GetTransactionHistoryVersion.V2
                    )
                    signed.extend(page.signedTransactions or [])
                    revision = page.revision
                    if not page.hasMore or not revision:
                        return signed
            except APIException as exc:
                if exc.http_status_code == 404:
                    continue  # not a transaction of this environment: try the other one
                last = self._error(exc)
                break
            except OSError as exc:
                raise StoreUnavailable("App Store Server API unreachable") from exc
        raise last

    def notification_history(self, environment: str, *, start_ms: int, end_ms: int) -> list[str]:
        """The signed payloads of every notification Apple tried to send between the two times (failed or not)."""
        client = self._clients.get(environment)
        if client is None:
            raise StoreRejected(f"unknown Apple environment {environment!r}")
        request = NotificationHistoryRequest(startDate=start_ms, endDate=end_ms)
        payloads: list[str] = []
        token: str | None = None
        try:
            while True:
                page = client.get_notification_history(token, request)
                payloads.extend(item.signedPayload for item in page.notificationHistory or [] if item.signedPayload)
                token = page.paginationToken
                if not page.hasMore or not token:
                    return payloads
        except APIException as exc:
            raise self._error(exc) from exc
        except OSError as exc:
            raise StoreUnavailable("App Store Server API unreachable") from exc

    def send_consumption(self, transaction_id: str, environment: str, *, consumption_percentage: int) -> None:
        """Answer a CONSUMPTION_REQUEST with real usage (call only when the customer consented)."""
        client = self._clients.get(environment)
        if client is None:
            raise StoreRejected(f"unknown Apple environment {environment!r}")
        request = ConsumptionRequest(
            customerConsented=True,
            sampleContentProvided=False,
            deliveryStatus=DeliveryStatus.DELIVERED,
            consumptionPercentage=max(0, min(100_000, consumption_percentage)),
        )
        try:
            client.send_consumption_information(transaction_id, request)
        except APIException as exc:
            raise self._error(exc) from exc
        except OSError as exc:
            raise StoreUnavailable("App Store Server API unreachable") from exc
