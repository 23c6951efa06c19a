"""Posting to WebSocket connections through API Gateway's management API (``@connections``).

The same boto3 ``apigatewaymanagementapi`` client talks to AWS or to the local gateway, which serves the same API on
loopback; only the endpoint (and, locally, dummy credentials) differ.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from ieltsprep.errors import AppError, ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

    from ieltsprep.settings import Settings

# API Gateway refuses @connections payloads above 128 KB (PayloadTooLargeException).
MAX_POST_BYTES = 128 * 1024


class ConnectionGone(AppError):
    """The connection no longer exists (API Gateway answered 410 GoneException)."""

    status = 410
    code = "connection_gone"

    def __init__(self, connection_id: str) -> None:
        super().__init__(f"connection {connection_id} is gone")
        self.connection_id = connection_id


class Connections:
    """Sends JSON messages to WebSocket clients by connection id."""

    def __init__(self, settings: Settings, client: ApiGatewayManagementApiClient | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> ApiGatewayManagementApiClient:
        """The boto3 management API client, built on first use (boto3 import is not free at Lambda init)."""
        with self._lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> ApiGatewayManagementApiClient:
        settings = self._settings
        endpoint = settings.ws_management_endpoint
        if not endpoint:
            raise ServiceUnavailable("no WebSocket management endpoint configured", code="not_configured")
        import boto3
        from botocore.config import Config

        # Short timeouts: a message to a live socket answers in milliseconds; retries would reorder audio.
        config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})
        # The local gateway does not check signatures, but botocore insists on signing with something.
        access_key, secret_key = ("local", "local") if settings.is_local else (None, None)
        return boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=endpoint,
            region_name=settings.region,
            config=config,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )

    def post(self, connection_id: str, message: dict[str, Any]) -> None:
        """Send ``message`` as one JSON text frame; raises ``ConnectionGone`` when the client has left."""
        data = json.dumps(message, separators=(",", ":")).encode()
        if len(data) > MAX_POST_BYTES:
            raise AppError(
                f"message of {len(data)} bytes exceeds {MAX_POST_BYTES}", code="payload_too_large", status=413
            )
        client = self.client
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException as exc:
            raise ConnectionGone(connection_id) from exc

    def is_connected(self, connection_id: str) -> bool:
        """Whether API Gateway still holds ``connection_id``."""
        client = self.client
        try:
            client.get_connection(ConnectionId=connection_id)
        except client.exceptions.GoneException:
            return False
        return True

    def disconnect(self, connection_id: str) -> None:
        """Close ``connection_id`` (no error when it is already gone)."""
        client = self.client
        try:
            client.delete_connection(ConnectionId=connection_id)
        except client.exceptions.GoneException:
            return
