"""Test doubles of the WebSocket edge tests: recording stand-ins for @connections and the invoker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ieltsprep.edges.connections import ConnectionGone


@dataclass
class RecordingConnections:
    """Test double of ``Connections``: keeps what was posted; ids in ``gone`` answer like a 410."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    def post(self, connection_id: str, message: dict[str, Any]) -> None:
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        self.sent.append((connection_id, message))

    def to(self, connection_id: str) -> list[dict[str, Any]]:
        return [message for cid, message in self.sent if cid == connection_id]


@dataclass
class RecordingInvoker:
    """Test double of the invoker: keeps the invocations instead of running them."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke_async(self, target: str, payload: dict[str, Any]) -> None:
        self.calls.append((target, payload))

    def drain(self, timeout: float = 30.0) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class Candidate:
    user_id: str
    token: str
