"""Scheduled billing jobs (registered in ``ieltsprep.edges.jobs.JOBS``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ieltsprep.container import Container

# Google keeps voided purchases listable for 30 days; a daily sweep looking back that far catches any RTDN that was
# lost, and revoking is idempotent, so re-reading the same entries every day costs nothing but a read.
VOIDED_LOOKBACK_MS = 30 * 24 * 3600 * 1000


def sweep_google_voided(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """Revoke the credits of every Google purchase voided (refunded, charged back) in the last 30 days."""
    since = int(time.time() * 1000) - VOIDED_LOOKBACK_MS
    return container.purchases.sweep_google_voided(since)


def retry_google_consumes(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """Consume at Google every credited purchase whose consume failed (Google refunds unconsumed ones after 3 days)."""
    if container.google_play is None:
        return {"consumed": 0, "failed": 0, "dropped": 0}
    return container.purchases.retry_google_consumes()


# Apple retries a failed notification for 72 hours (production; sandbox sends once); a daily sweep of the last
# four days through the same handler (deduplicated on notificationUUID) picks up whatever we missed.
APPLE_HISTORY_LOOKBACK_MS = 4 * 24 * 3600 * 1000


def recover_apple_notifications(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """Replay App Store notifications of the last days from Apple's notification history."""
    from ieltsprep.adapters.stores import StoreRejected

    api = container.apple_server_api
    if api is None:
        return {"seen": 0, "handled": 0, "rejected": 0}
    end = int(time.time() * 1000)
    seen = handled = rejected = 0
    for environment in ("Production", "Sandbox"):
        for signed in api.notification_history(environment, start_ms=end - APPLE_HISTORY_LOOKBACK_MS, end_ms=end):
            seen += 1
            try:
                outcome = container.store_notifications.apple_notification({"signedPayload": signed}).outcome
            except StoreRejected:
                rejected += 1  # e.g. a sandbox notification where only production is accepted
                continue
            if outcome != "duplicate":
                handled += 1
    return {"seen": seen, "handled": handled, "rejected": rejected}
