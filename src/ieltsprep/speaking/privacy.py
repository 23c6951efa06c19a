"""Export and erasure of speaking data that is not in the user's partition: the speaking session records.

Transcript turns live in ``USER#<id>`` (ASSESSMENTS table) and are exported and erased generically; the session
record of each speaking test (SESSIONS table, ``SPEAKING#<assessment_id>``) is found through the user's assessments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ieltsprep.accounts.privacy import register_eraser, register_exporter
from ieltsprep.adapters.storage.port import Delete, Table
from ieltsprep.speaking.sessions import SpeakingStore, session_key

if TYPE_CHECKING:
    from ieltsprep.container import Container


def _assessment_ids(container: Container, user_id: str) -> list[str]:
    items = container.store.query(Table.ASSESSMENTS, f"USER#{user_id}", sk_prefix="ASSESSMENT#")
    return [str(item["sk"]).removeprefix("ASSESSMENT#") for item in items]


def export_speaking_sessions(container: Container, user_id: str) -> list[dict[str, Any]]:
    """The speaking session records of the user's tests (where each test got to)."""
    sessions = SpeakingStore(container.store)
    out = []
    for assessment_id in _assessment_ids(container, user_id):
        session = sessions.get(assessment_id)
        if session is not None and session.user_id == user_id:
            out.append({"assessment_id": assessment_id, "finished": session.finished, "state": session.state})
    return out


def erase_speaking_sessions(container: Container, user_id: str) -> None:
    """Delete the speaking session records of the user's tests."""
    for assessment_id in _assessment_ids(container, user_id):
        container.store.delete(Delete(Table.SESSIONS, session_key(assessment_id)))


register_exporter("speaking_sessions", export_speaking_sessions)
register_eraser(erase_speaking_sessions)
