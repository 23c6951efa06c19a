"""Speaking data in the account export and gone after account deletion."""

from __future__ import annotations

from ieltsprep.accounts import privacy
from ieltsprep.adapters.storage.port import Put, Table
from ieltsprep.container import Container
from ieltsprep.speaking.privacy import erase_speaking_sessions, export_speaking_sessions
from ieltsprep.speaking.sessions import SpeakingStore, Turn


def test_session_records_are_exported_and_erased_with_the_account(container: Container) -> None:
    user = container.accounts.register("p@example.com", "correct horse battery staple", terms=True, age_16_plus=True)
    container.store.put(
        Put(
            Table.ASSESSMENTS,
            {"pk": f"USER#{user.id}", "sk": "ASSESSMENT#a1", "module": "academic_speaking", "status": "in_progress"},
        )
    )
    sessions = SpeakingStore(container.store)
    sessions.open(user.id, "a1", "c1")
    sessions.save_state("a1", {"stage": "part1"})
    sessions.append_turn(user.id, "a1", 0, Turn("candidate", 1, "hello there", 0, 500))
    assert export_speaking_sessions(container, user.id) == [
        {"assessment_id": "a1", "finished": False, "state": {"stage": "part1"}}
    ]
    document = privacy.export_user(container, user)
    assert document["domains"]["speaking_sessions"][0]["assessment_id"] == "a1"
    assert any(i.get("text") == "hello there" for i in document["tables"]["assessments"])
    privacy.erase_user(container, user)
    assert sessions.get("a1") is None
    assert sessions.turns(user.id, "a1") == []


def test_erasing_leaves_other_users_sessions(container: Container) -> None:
    sessions = SpeakingStore(container.store)
    sessions.open("u2", "a2", "c2")
    erase_speaking_sessions(container, "u1")
    assert sessions.get("a2") is not None
