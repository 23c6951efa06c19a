"""HTTP routes of the billing domain: products, the purchase validator, and store notifications.

The validator answers HTTP 200 for every outcome, as the cordova-plugin-purchase v13 contract requires (any other
status is a COMMUNICATION error whose body the plugin ignores). A request without a valid session gets
``{"ok": false, "code": 6777017, "message", "status": 401}``: the plugin caches only successes, so the purchase is
verified again once the user has signed in.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from ieltsprep.adapters.stores import StoreRejected, StoreUnavailable
from ieltsprep.billing.catalogue import PRODUCTS
from ieltsprep.edges.http.auth import current_user
from ieltsprep.edges.http.context import container_of
from ieltsprep.errors import AppError, ServiceUnavailable, Unauthorized, ValidationFailed

router = APIGatewayHttpRouter()


def _json_body() -> object:
    raw = router.current_event.decoded_body
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _failure(message: str) -> dict[str, Any]:
    # Imported on first use: the purchases module is not needed by the cold start of the other routes.
    from ieltsprep.billing.purchases import failure

    return failure(message)


def _ok(payload: dict[str, Any]) -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=json.dumps(payload))


@router.get("/api/products", summary="Credit packs on sale", responses={200: {"description": "The four packs"}})
def products() -> dict[str, Any]:
    """The credit packs on sale, and whether purchases here go to the local test store (no money is charged)."""
    return {
        "products": [p.as_json() for p in PRODUCTS],
        "test_store": container_of(router).local_test_store is not None,
    }


@router.post(
    "/api/purchases/verify",
    summary="cordova-plugin-purchase v13 validator",
    responses={
        200: {"description": '{"ok": true, "data": {...}} or {"ok": false, "code": 6777017, "message", "status"?}'},
    },
)
def verify_purchase() -> Response[str]:
    """cordova-plugin-purchase v13 validator: always 200, with ok:true or ok:false."""
    try:
        user = current_user(router)
    except Unauthorized as exc:
        return _ok({**_failure(f"sign in first: {exc.message}"), "status": 401})
    body = _json_body()
    if body is None:
        return _ok(_failure("the body must be JSON"))
    return _ok(container_of(router).purchases.verify(user, body))


@router.post(
    "/api/purchases/apple/notifications",
    summary="App Store Server Notifications V2",
    responses={
        200: {"description": "Handled (or a recognised redelivery)"},
        400: {"description": "Not a verifiable signedPayload"},
        503: {"description": "Apple could not be reached; Apple retries"},
    },
)
def apple_notification() -> dict[str, Any]:
    """App Store Server Notifications V2 (signed; verified before anything happens)."""
    try:
        handled = container_of(router).store_notifications.apple_notification(_json_body())
    except StoreRejected as exc:
        raise AppError(str(exc), code="invalid_notification", status=400) from exc
    except StoreUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    return {"received": True, "type": handled.kind}


@router.post(
    "/api/purchases/google/notifications",
    summary="Google Play real-time developer notifications (Pub/Sub push)",
    responses={
        204: {"description": "Handled (or a recognised redelivery)"},
        401: {"description": "Missing or invalid Pub/Sub OIDC token"},
        422: {"description": "Not a developer notification for this app"},
        503: {"description": "Not configured, or Google unreachable; Pub/Sub retries"},
    },
)
def google_notification() -> Response[str]:
    """Google Play real-time developer notifications via Pub/Sub push (OIDC token checked first)."""
    container = container_of(router)
    verifier = container.pubsub_verifier
    if verifier is None:
        raise ServiceUnavailable("Google notifications are not configured")
    headers = router.current_event.headers
    try:
        verifier.verify(headers.get("authorization") or headers.get("Authorization"))
    except StoreRejected as exc:
        raise Unauthorized(str(exc)) from exc
    try:
        container.store_notifications.google_notification(_json_body())
    except StoreRejected as exc:
        raise ValidationFailed(str(exc), code="invalid_notification") from exc
    except StoreUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from exc
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body="")
