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
