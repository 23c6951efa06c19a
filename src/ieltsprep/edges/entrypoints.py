"""The four Lambda entry points, each importing only its own edge so cold starts stay small."""

from __future__ import annotations

from typing import Any


def http(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """HTTP API payload 2.0 → the Powertools resolver."""
    from ieltsprep.edges.http.app import handle

    return handle(event, context)


def websocket(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """WebSocket API event → the WebSocket edge."""
    from ieltsprep.edges.ws.handler import handle

    return handle(event, context)


def speaking_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Asynchronous invocation that runs one speaking test."""
    from ieltsprep.edges.worker import handle

    return handle(event, context)


def jobs(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled or asynchronous job."""
    from ieltsprep.edges.jobs import handle

    return handle(event, context)
