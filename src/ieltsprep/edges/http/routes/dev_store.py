"""The local test store's HTTP API (stage local with the test store on; 404 everywhere else).

It only makes store-side artefacts (signed transactions, signed notifications, Play purchases on the loopback
fake); crediting still happens through ``POST /api/purchases/verify`` and the notification endpoints.
"""

from __future__ import annotations

import json
from typing import Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import ConfigDict, Field

from ieltsprep.container import Container
from ieltsprep.edges.http.context import container_of
from ieltsprep.edges.http.schema import ApiModel
from ieltsprep.errors import NotFound

router = APIGatewayHttpRouter()

_PRODUCT_ID = r"^[A-Za-z0-9._-]{1,200}$"
_NOTIFICATION_TYPES = Literal["REFUND", "REFUND_REVERSED", "REFUND_DECLINED", "CONSUMPTION_REQUEST", "TEST"]


class TestTransactionRequest(ApiModel):
    """POST /api/dev/test-store/transactions."""

    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(pattern=_PRODUCT_ID)
    platform: Literal["apple", "google"]
    app_account_token: str | None = Field(None, max_length=64)
    # Extras for testing the validator's refusals: an Apple sandbox purchase, a Google pending/cancelled one.
    environment: Literal["Production", "Sandbox"] = "Production"
    google_state: Literal["purchased", "cancelled", "pending"] = "purchased"


class TestNotificationRequest(ApiModel):
    """POST /api/dev/test-store/notifications."""

    model_config = ConfigDict(extra="forbid")
    platform: Literal["apple"]
    notification_type: _NOTIFICATION_TYPES
    transaction_id: str = Field(min_length=1, max_length=64)


def _enabled() -> Container:
    container = container_of(router)
    if container.local_test_store is None:
        raise NotFound("no such endpoint")
    return container


def _created(payload: dict[str, object]) -> Response[str]:
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=json.dumps(payload))


@router.post(
    "/api/dev/test-store/transactions",
    responses={201: {"description": "A store transaction"}, 404: {"description": "Not the local stage"}},
)
def create_transaction(body: TestTransactionRequest) -> Response[str]:
    """A purchase made in the local test store, as the app would hand it to the validator."""
    container = _enabled()
    if body.platform == "apple":
        store = container.local_test_store
        assert store is not None
        jws, payload = store.apple_transaction(
            body.product_id, app_account_token=body.app_account_token, environment=body.environment
        )
        transaction = {
            "type": "apple-sk2",
            "id": body.product_id,
            "jwsRepresentation": jws,
            "transactionId": payload["transactionId"],
        }
        return _created({"transaction": transaction})
    fake = container.fake_play_api
    if fake is None:
        raise NotFound("the Google test store is off (a Play API root is configured)")
    state = {"purchased": 0, "cancelled": 1, "pending": 2}[body.google_state]
    return _created(
        {"transaction": fake.add_purchase(body.product_id, obfuscated_account_id=body.app_account_token, state=state)}
    )


@router.post(
    "/api/dev/test-store/notifications",
    responses={
        201: {"description": "A notification body"},
        404: {"description": "Not the local stage, or no such test-store transaction"},
    },
)
def create_notification(body: TestNotificationRequest) -> Response[str]:
    """A signed App Store Server Notification V2 about a test-store transaction."""
    container = _enabled()
    store = container.local_test_store
    assert store is not None
    try:
        signed = store.apple_notification(body.notification_type, body.transaction_id)
    except KeyError as exc:
        raise NotFound("the test store issued no such transaction") from exc
    return _created({"body": {"signedPayload": signed}})
