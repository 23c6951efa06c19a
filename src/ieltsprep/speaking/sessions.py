"""Speaking sessions and transcripts in the store (keys in docs/ARCHITECTURE.md, "Speaking").

- SESSIONS table, pk ``SPEAKING#<assessment_id>`` sk ``SESSION``: which candidate and worker connections serve a
  test, the controller's resumable state, a worker heartbeat; carries ``user_id`` and a TTL (``expires_at``).
- ASSESSMENTS table, pk ``USER#<user_id>`` sk ``TRANSCRIPT#<assessment_id>#<turn:05d>``: one final transcript turn
  (role, part, text, start/end in ms of test audio time, and for candidate turns the recogniser's word timings and
  confidences and the voiced segments measured in their audio). Only text is ever stored: never audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ieltsprep.adapters.storage.port import MUST_EXIST, MUST_NOT_EXIST, ConditionFailed, Key, Put, Store, Table, Update
from ieltsprep.errors import NotFound
from ieltsprep.ids import now_epoch

SESSION_TTL_SECONDS = 3 * 3600  # a test lasts 15 minutes; keep the record long enough to resume after a drop
WORKER_STALE_SECONDS = 30  # a worker that has not beaten for this long is presumed dead


def session_key(assessment_id: str) -> Key:
    """Key of a speaking session record."""
    return Key(f"SPEAKING#{assessment_id}", "SESSION")


def transcript_prefix(assessment_id: str) -> str:
    """Sort-key prefix of an assessment's transcript turns."""
    return f"TRANSCRIPT#{assessment_id}#"


@dataclass
class SpeakingSession:
    """Who is connected to one speaking test, and where the test has got to."""

    assessment_id: str
    user_id: str
    candidate_connection_id: str | None = None
    worker_connection_id: str | None = None
    worker_seen_at: int | None = None
    state: dict[str, Any] = field(default_factory=dict)
    finished: bool = False

    def worker_alive(self, now: int | None = None) -> bool:
        """True while a worker has connected and beaten recently."""
        if self.worker_connection_id is None or self.worker_seen_at is None or self.finished:
            return False
        return (now if now is not None else now_epoch()) - self.worker_seen_at < WORKER_STALE_SECONDS


@dataclass(frozen=True)
class Turn:
    """One final transcript turn."""

    role: str  # "examiner" | "candidate"
    part: int
    text: str
    start_ms: int
    end_ms: int
    words: tuple[dict[str, Any], ...] = ()  # recogniser word timings (candidate turns): word, start_ms, end_ms, prob
    confidence: float | None = None  # recogniser confidence in [0, 1], when the engine gives one
    voiced: tuple[tuple[int, int], ...] = ()  # candidate turns: voiced segments measured in their audio (ms)

    def public(self) -> dict[str, Any]:
        """The turn as API.md's result transcript shows it."""
        return {
            "role": self.role,
            "part": self.part,
            "text": self.text,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
        }


def _from_item(item: dict[str, Any]) -> SpeakingSession:
    return SpeakingSession(
        assessment_id=item["assessment_id"],
        user_id=item["user_id"],
        candidate_connection_id=item.get("candidate_connection_id"),
        worker_connection_id=item.get("worker_connection_id"),
        worker_seen_at=item.get("worker_seen_at"),
        state=dict(item.get("state") or {}),
        finished=bool(item.get("finished", False)),
    )


class SpeakingStore:
    """Speaking sessions and transcript turns, written against the store port."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, assessment_id: str) -> SpeakingSession | None:
        """The session of a test, or None."""
        item = self._store.get(Table.SESSIONS, session_key(assessment_id))
        return _from_item(item) if item else None

    def open(self, user_id: str, assessment_id: str, candidate_connection_id: str) -> SpeakingSession:
        """Record (or re-point, on reconnect) the candidate connection of a test; returns the session."""
        key = session_key(assessment_id)
        try:
            self._store.put(
                Put(
                    Table.SESSIONS,
                    {
                        "pk": key.pk,
                        "sk": key.sk,
                        "assessment_id": assessment_id,
                        "user_id": user_id,
                        "candidate_connection_id": candidate_connection_id,
                        "state": {},
                        "finished": False,
                        "expires_at": now_epoch() + SESSION_TTL_SECONDS,
                    },
                    condition=MUST_NOT_EXIST,
                )
            )
        except ConditionFailed:
            self._update(assessment_id, {"candidate_connection_id": candidate_connection_id})
        session = self.get(assessment_id)
        assert session is not None  # written just above
        return session

    def attach_worker(self, assessment_id: str, worker_connection_id: str) -> None:
        """Record the worker's own connection (candidate audio is forwarded to it)."""
        self._update(assessment_id, {"worker_connection_id": worker_connection_id, "worker_seen_at": now_epoch()})

    def heartbeat(self, assessment_id: str) -> None:
        """Mark the worker as alive."""
        self._update(assessment_id, {"worker_seen_at": now_epoch()})

    def save_state(self, assessment_id: str, state: dict[str, Any]) -> None:
        """Persist the controller's resumable state (and beat the worker heartbeat)."""
        self._update(assessment_id, {"state": state, "worker_seen_at": now_epoch()})

    def finish(self, assessment_id: str) -> None:
        """Mark the test as over; a later ``start`` no longer resumes it."""
        self._update(assessment_id, {"finished": True}, remove=("worker_connection_id",))

    def detach_worker(self, assessment_id: str) -> None:
        """Forget the worker connection (it ended without finishing the test)."""
        self._update(assessment_id, {}, remove=("worker_connection_id", "worker_seen_at"))

    def _update(self, assessment_id: str, values: dict[str, Any], remove: tuple[str, ...] = ()) -> None:
        try:
            self._store.update(
                Update(
                    Table.SESSIONS,
                    session_key(assessment_id),
                    set={**values, "expires_at": now_epoch() + SESSION_TTL_SECONDS},
                    remove=remove,
                    condition=MUST_EXIST,
                )
            )
        except ConditionFailed as exc:
            raise NotFound(f"no speaking session for assessment {assessment_id}") from exc

    # --- transcripts -------------------------------------------------------------------------------------------
    def append_turn(self, user_id: str, assessment_id: str, index: int, turn: Turn) -> None:
        """Store one final turn (idempotent per index: a replay rewrites the same item)."""
        item: dict[str, Any] = {
            "pk": f"USER#{user_id}",
            "sk": f"{transcript_prefix(assessment_id)}{index:05d}",
            "kind": "speaking_turn",
            "assessment_id": assessment_id,
            "role": turn.role,
            "part": turn.part,
            "text": turn.text,
            "start_ms": turn.start_ms,
            "end_ms": turn.end_ms,
            "words": [dict(w) for w in turn.words],
            "voiced": [list(segment) for segment in turn.voiced],
        }
        if turn.confidence is not None:
            item["confidence"] = turn.confidence
        self._store.put(Put(Table.ASSESSMENTS, item))

    def turns(self, user_id: str, assessment_id: str) -> list[Turn]:
        """Every stored turn of a test, in order."""
        items = self._store.query(Table.ASSESSMENTS, f"USER#{user_id}", sk_prefix=transcript_prefix(assessment_id))
        return [
            Turn(
                role=i["role"],
                part=int(i["part"]),
                text=i["text"],
                start_ms=int(i["start_ms"]),
                end_ms=int(i["end_ms"]),
                words=tuple(i.get("words") or ()),
                confidence=i.get("confidence"),
                voiced=tuple((int(s), int(e)) for s, e in i.get("voiced") or ()),
            )
            for i in items
        ]
