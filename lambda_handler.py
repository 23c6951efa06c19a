"""AWS Lambda entry points (thin): each handler hands the event to its edge in ``ieltsprep.edges``."""

from __future__ import annotations

from typing import Any

from ieltsprep.edges import entrypoints


def http_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """HTTP API (payload 2.0)."""
    return entrypoints.http(event, context)


def ws_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """WebSocket API: $connect, $disconnect, $default and nova-sonic-stream."""
    return entrypoints.websocket(event, context)


def speaking_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Asynchronous speaking worker: holds one speaking test's speech stream."""
    return entrypoints.speaking_worker(event, context)


def jobs_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled and asynchronous jobs (scoring, store sweeps)."""
    return entrypoints.jobs(event, context)
