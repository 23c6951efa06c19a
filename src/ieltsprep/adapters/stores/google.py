"""Google Play: the Play Developer API (androidpublisher v3, google-api-python-client) with a service account, and
the OIDC token check of Pub/Sub push (real-time developer notifications)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import google.auth.transport.requests
from google.auth import exceptions as google_auth_errors
from google.oauth2 import id_token, service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from ieltsprep.adapters.stores import StoreRejected, StoreUnavailable

# googleapiclient logs every request URL at DEBUG, and the Play API puts the purchase token in the path: keep that
# logger above DEBUG whatever the platform's level, so a purchase token never reaches the logs.
logging.getLogger("googleapiclient.discovery").setLevel(logging.INFO)

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")

# ProductPurchase.purchaseState
PURCHASED, CANCELED, PENDING = 0, 1, 2


@dataclass(frozen=True)
class GooglePurchase:
    """The fields of a ProductPurchase that billing needs."""

    product_id: str
    purchase_token: str
    order_id: str | None
    purchase_state: int
    consumption_state: int
    quantity: int
    obfuscated_account_id: str | None
    purchase_time_ms: int | None
    is_test: bool  # purchaseType 0: a license tester's purchase, no money moved


@dataclass(frozen=True)
class VoidedPurchase:
    """One entry of voidedpurchases.list."""

    purchase_token: str
    order_id: str | None
    voided_time_ms: int | None


def _http_failure(exc: HttpError, what: str) -> Exception:
    status = int(getattr(exc.resp, "status", 0) or 0)
    if status == 429 or status >= 500 or status in (401, 403):
        # 401/403 means our credentials or Play Console permissions are wrong: an operator must fix it, and the
        # purchase must stay retryable rather than be refused to the customer.
        return StoreUnavailable(f"Google Play API could not {what} ({status})")
    return StoreRejected(f"Google Play refused to {what} ({status})")


class GooglePlay:
    """The calls billing makes to the Play Developer API for one package."""

    def __init__(
        self,
        *,
        package_name: str,
        service_account_info: dict[str, Any],
        api_root: str | None = None,
        num_retries: int = 2,
    ) -> None:
        self.package_name = package_name
        self._num_retries = num_retries  # the client library's own retries of 5xx/429, with exponential backoff
        self._service_account_info = service_account_info
        self._api_root = api_root

    @cached_property
    def _service(self) -> Any:
        # Built on first use: parsing the bundled discovery document costs a few hundred milliseconds.
        credentials = service_account.Credentials.from_service_account_info(self._service_account_info, scopes=[SCOPE])
        options = {"api_endpoint": self._api_root} if self._api_root else None
        return build(
            "androidpublisher", "v3", credentials=credentials, client_options=options, static_discovery=True,
            cache_discovery=False,
        )  # fmt: skip

    def _execute(self, request: Any, what: str) -> Any:
        try:
            return request.execute(num_retries=self._num_retries)
        except HttpError as exc:
            raise _http_failure(exc, what) from exc
        except (OSError, google_auth_errors.TransportError, google_auth_errors.RefreshError) as exc:
            raise StoreUnavailable(f"Google Play API unreachable while trying to {what}") from exc

    def get_purchase(self, product_id: str, purchase_token: str) -> GooglePurchase:
        """purchases.products.get: the state of one purchase as Google knows it."""
        products = self._service.purchases().products()
        body = self._execute(
            products.get(packageName=self.package_name, productId=product_id, token=purchase_token), "read the purchase"
        )
        if not isinstance(body, dict):
            raise StoreUnavailable("Google Play API answered with something that is not a purchase")
        time_ms = body.get("purchaseTimeMillis")
        return GooglePurchase(
            product_id=product_id,
            purchase_token=purchase_token,
            order_id=body.get("orderId"),
            purchase_state=int(body.get("purchaseState", -1)),
            consumption_state=int(body.get("consumptionState", 0)),
            quantity=int(body.get("quantity") or 1),
            obfuscated_account_id=body.get("obfuscatedExternalAccountId"),
            purchase_time_ms=int(time_ms) if time_ms is not None else None,
            is_test=body.get("purchaseType") == 0,
        )

    def consume(self, product_id: str, purchase_token: str) -> None:
        """purchases.products.consume: marks the purchase used (also acknowledges it, so Google will not refund it)."""
        products = self._service.purchases().products()
        self._execute(
            products.consume(packageName=self.package_name, productId=product_id, token=purchase_token), "consume"
        )

    def voided_purchases(self, start_time_ms: int) -> list[VoidedPurchase]:
        """purchases.voidedpurchases.list for one-time products since ``start_time_ms`` (at most 30 days back)."""
        voided = self._service.purchases().voidedpurchases()
        result: list[VoidedPurchase] = []
        page_token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"packageName": self.package_name, "startTime": str(start_time_ms), "type": 0}
            if page_token:
                kwargs["token"] = page_token
            body = self._execute(voided.list(**kwargs), "list voided purchases") or {}
            for entry in body.get("voidedPurchases", []):
                if entry.get("purchaseToken"):
                    millis = entry.get("voidedTimeMillis")
                    result.append(
                        VoidedPurchase(entry["purchaseToken"], entry.get("orderId"), int(millis) if millis else None)
                    )
            page_token = (body.get("tokenPagination") or {}).get("nextPageToken")
            if not page_token:
                return result


def parse_service_account(text: str) -> dict[str, Any]:
    """Service-account JSON as stored in the secret parameter."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError("the Google service account is not JSON") from exc
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError("the Google service account JSON is not a service_account key")
    return info


class PubSubTokenVerifier:
    """Checks the ``Authorization: Bearer`` OIDC token Pub/Sub push attaches (audience, issuer, service account)."""

    def __init__(self, *, audience: str, service_account_email: str, certs_url: str | None = None) -> None:
        self.audience = audience
        self.service_account_email = service_account_email
        self._certs_url = certs_url  # None = Google's public certificates; tests point it at a loopback server
        self._request = google.auth.transport.requests.Request()

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims; StoreRejected when the header is missing or the token is not from our push."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise StoreRejected("missing bearer token")
        try:
            if self._certs_url:
                claims = id_token.verify_token(token, self._request, audience=self.audience, certs_url=self._certs_url)
            else:
                claims = id_token.verify_oauth2_token(token, self._request, audience=self.audience)
        except (ValueError, google_auth_errors.GoogleAuthError) as exc:
            raise StoreRejected(f"invalid push token: {exc}") from exc
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise StoreRejected("push token not issued by Google")
        if claims.get("email") != self.service_account_email or claims.get("email_verified") is not True:
            raise StoreRejected("push token not from the configured service account")
        return dict(claims)
