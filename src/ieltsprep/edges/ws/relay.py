"""The relay between a candidate's connection and the speaking worker that holds the speech stream.

Records (SESSIONS table; see docs/ARCHITECTURE.md "WebSocket edge"):
- connection ``pk=CONN#<connection_id>, sk=CONN``: ``user_id``, ``role`` (candidate|worker), ``assessment_id``
  (a worker's from its token, a candidate's from its ``start``), ``connected_at``; TTL 2 h, API Gateway's longest
  connection.
- the speaking session (``ieltsprep.speaking.sessions``, owned by the speaking domain): which candidate and worker
  connections serve a test; the relay adds ``worker_invoked_at`` so a second ``start`` does not launch a twin.

Candidate ``audio``/``stop`` go to the worker's connection through ``container.connections``; the worker posts
everything the candidate receives itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ieltsprep.adapters.storage.port import MUST_EXIST, Delete, Key, Put, Table, Update
from ieltsprep.edges.connections import ConnectionGone
from ieltsprep.edges.ws import tokens
from ieltsprep.edges.ws.messages import (
    AudioMessage,
    CandidateDisconnected,
    CandidateReconnected,
    StartMessage,
    StopMessage,
)
from ieltsprep.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from ieltsprep.ids import now_epoch, now_iso
from ieltsprep.speaking.sessions import SpeakingStore, session_key

if TYPE_CHECKING:
    from ieltsprep.container import Container

Role = Literal["candidate", "worker"]
SPEAKING_MODULES = frozenset({"academic_speaking", "general_speaking"})
CONNECTION_TTL_SECONDS = 2 * 3600
WORKER_INVOKED_AT = "worker_invoked_at"
# A worker invoked this recently but not yet connected counts as alive: a second start must not launch a twin.
WORKER_CONNECT_GRACE_SECONDS = 30

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """A recorded WebSocket connection."""

    connection_id: str
    user_id: str
    role: Role
    assessment_id: str | None


def _connection_key(connection_id: str) -> Key:
    return Key(f"CONN#{connection_id}", "CONN")


def record_connection(
    container: Container, connection_id: str, *, user_id: str, role: Role, assessment_id: str | None = None
) -> Connection:
    """Remember who holds ``connection_id`` for the connection's lifetime."""
    item: dict[str, Any] = {
        "pk": f"CONN#{connection_id}",
        "sk": "CONN",
        "user_id": user_id,
        "role": role,
        "connected_at": now_iso(),
        "expires_at": now_epoch() + CONNECTION_TTL_SECONDS,
        # Lets account deletion find a user's live connections without a scan.
        "gsi1pk": f"USER#{user_id}",
        "gsi1sk": f"CONN#{connection_id}",
    }
    if assessment_id:
        item["assessment_id"] = assessment_id
    container.store.put(Put(Table.SESSIONS, item))
    return Connection(connection_id, user_id, role, assessment_id)


def load_connection(container: Container, connection_id: str) -> Connection | None:
    """The record of ``connection_id``, or None when unknown or expired."""
    item = container.store.get(Table.SESSIONS, _connection_key(connection_id))
    if item is None:
        return None
    return Connection(connection_id, str(item["user_id"]), item["role"], item.get("assessment_id"))


def forget_connection(container: Container, connection_id: str) -> None:
    """Delete the record of ``connection_id`` (no error when absent)."""
    container.store.delete(Delete(Table.SESSIONS, _connection_key(connection_id)))


def erase_user_connections(container: Container, user_id: str) -> None:
    """Delete every connection record of ``user_id`` (account deletion)."""
    for item in container.store.query(Table.SESSIONS, f"USER#{user_id}", index="gsi1", sk_prefix="CONN#"):
        container.store.delete(Delete(Table.SESSIONS, Key(item["pk"], item["sk"])))


def _sessions(container: Container) -> SpeakingStore:
    return SpeakingStore(container.store)


def _speaking_assessment(container: Container, user_id: str, assessment_id: str) -> dict[str, Any]:
    item = container.store.get(Table.ASSESSMENTS, Key(f"USER#{user_id}", f"ASSESSMENT#{assessment_id}"))
    if item is None:
        # Another user's id looks exactly like a missing one: nothing leaks about who owns what.
        raise NotFound("no such assessment", code="assessment_not_found")
    if item.get("module") not in SPEAKING_MODULES:
        raise Conflict("this assessment is not a speaking test", code="not_speaking")
    if item.get("status") != "in_progress":
        raise Conflict(f"this assessment is {item.get('status')}, not in progress", code="not_in_progress")
    return item


def _worker_starting(container: Container, assessment_id: str) -> bool:
    item = container.store.get(Table.SESSIONS, session_key(assessment_id)) or {}
    invoked = item.get(WORKER_INVOKED_AT)
    return isinstance(invoked, int | float) and now_epoch() - invoked < WORKER_CONNECT_GRACE_SECONDS


def start(container: Container, connection: Connection, message: StartMessage) -> None:
    """Candidate ``start``: (re)bind the speaking session to this connection and make sure a worker runs it."""
    if connection.role != "candidate":
        raise Forbidden("only a candidate can start a test", code="forbidden")
    assessment_id = message.assessment_id
    _speaking_assessment(container, connection.user_id, assessment_id)
    record_connection(
        container, connection.connection_id, user_id=connection.user_id, role="candidate", assessment_id=assessment_id
    )
    sessions = _sessions(container)
    session = sessions.open(connection.user_id, assessment_id, connection.connection_id)
    if session.worker_alive() and session.worker_connection_id:
        try:
            notice = CandidateReconnected(connection_id=connection.connection_id).dump()
            container.connections.post(session.worker_connection_id, notice)
            return
        except ConnectionGone:
            _drop_worker(container, assessment_id, session.worker_connection_id)  # and launch a new one below
    elif session.worker_connection_id is None and _worker_starting(container, assessment_id):
        return  # the worker is still starting; it reads the candidate connection from the session
    # Mark the launch before invoking, so a quick second start does not launch a twin.
    container.store.update(
        Update(Table.SESSIONS, session_key(assessment_id), set={WORKER_INVOKED_AT: now_epoch()}, condition=MUST_EXIST)
    )
    token = tokens.issue_worker_token(container.settings, assessment_id=assessment_id, user_id=connection.user_id)
    container.invoker.invoke_async(
        "speaking_worker",
        {
            "assessment_id": assessment_id,
            "user_id": connection.user_id,
            "candidate_connection_id": connection.connection_id,
            "worker_token": token,
        },
    )


def worker_connected(container: Container, connection_id: str, claims: tokens.WorkerClaims) -> Connection:
    """A worker joined: record it and point its speaking session at it."""
    session = _sessions(container).get(claims.assessment_id)
    if session is None or session.user_id != claims.user_id or session.finished:
        raise Forbidden("no open speaking session for this worker", code="no_session")
    connection = record_connection(
        container, connection_id, user_id=claims.user_id, role="worker", assessment_id=claims.assessment_id
    )
    _sessions(container).attach_worker(claims.assessment_id, connection_id)
    # The launch is over: from now on liveness is the worker's heartbeat.
    container.store.update(
        Update(Table.SESSIONS, session_key(claims.assessment_id), remove=(WORKER_INVOKED_AT,), condition=MUST_EXIST)
    )
    return connection


def disconnected(container: Container, connection_id: str) -> None:
    """A connection closed: forget it, and unhook it from its speaking session."""
    connection = load_connection(container, connection_id)
    forget_connection(container, connection_id)
    if connection is None or connection.assessment_id is None:
        return
    session = _sessions(container).get(connection.assessment_id)
    if session is None:
        return
    if connection.role == "worker":
        if session.worker_connection_id == connection_id:
            _sessions(container).detach_worker(connection.assessment_id)
        return
    if session.candidate_connection_id == connection_id and session.worker_connection_id:
        _to_worker(
            container,
            connection.assessment_id,
            session.worker_connection_id,
            CandidateDisconnected(connection_id=connection_id).dump(),
        )


def forward(container: Container, connection: Connection, message: AudioMessage | StopMessage) -> bool:
    """Candidate ``audio``/``stop`` → the worker; False when no worker is connected yet (audio is dropped)."""
    if connection.role != "candidate":
        raise Forbidden("workers post to the candidate through @connections", code="forbidden")
    session = _sessions(container).get(connection.assessment_id) if connection.assessment_id else None
    if session is None:
        raise Conflict("send start first", code="not_started")
    if session.candidate_connection_id != connection.connection_id:
        raise Conflict("this test continues on a newer connection", code="superseded")
    if not session.worker_connection_id:
        if isinstance(message, StopMessage):
            raise ServiceUnavailable("the examiner is not connected yet", code="worker_unavailable")
        return False
    _to_worker(container, session.assessment_id, session.worker_connection_id, message.dump())
    return True


def _drop_worker(container: Container, assessment_id: str, worker_id: str) -> None:
    # The worker died without a clean $disconnect: clear it so the next start launches a new one.
    logger.warning("speaking worker connection %s is gone", worker_id)
    forget_connection(container, worker_id)
    session = _sessions(container).get(assessment_id)
    if session is not None and session.worker_connection_id == worker_id:
        _sessions(container).detach_worker(assessment_id)


def _to_worker(container: Container, assessment_id: str, worker_id: str, payload: dict[str, Any]) -> None:
    try:
        container.connections.post(worker_id, payload)
    except ConnectionGone:
        _drop_worker(container, assessment_id, worker_id)
        raise ServiceUnavailable("the examiner has left; send start to resume", code="worker_unavailable") from None
