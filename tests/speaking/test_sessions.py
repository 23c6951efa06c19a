"""Speaking session records and transcript turns in the store."""

from __future__ import annotations

import pytest

from ieltsprep.container import Container
from ieltsprep.errors import NotFound
from ieltsprep.speaking.sessions import SpeakingStore, Turn


def test_open_records_the_candidate_and_a_reconnect_repoints_it(container: Container) -> None:
    sessions = SpeakingStore(container.store)
    first = sessions.open("u1", "a1", "c1")
    assert (first.user_id, first.candidate_connection_id, first.state) == ("u1", "c1", {})
    sessions.save_state("a1", {"stage": "part1"})
    again = sessions.open("u1", "a1", "c2")
    assert again.candidate_connection_id == "c2"
    assert again.state == {"stage": "part1"}


def test_worker_is_alive_only_after_attaching_and_until_finished(container: Container) -> None:
    sessions = SpeakingStore(container.store)
    sessions.open("u1", "a1", "c1")
    assert not sessions.get("a1").worker_alive()  # type: ignore[union-attr]
    sessions.attach_worker("a1", "w1")
    assert sessions.get("a1").worker_alive()  # type: ignore[union-attr]
    sessions.finish("a1")
    session = sessions.get("a1")
    assert session is not None and session.finished and not session.worker_alive()


def test_updating_an_unknown_session_is_not_found(container: Container) -> None:
    with pytest.raises(NotFound):
        SpeakingStore(container.store).attach_worker("nope", "w1")


def test_turns_are_stored_in_the_users_partition_in_order(container: Container) -> None:
    sessions = SpeakingStore(container.store)
    words = ({"word": "hello", "start_ms": 0, "end_ms": 300, "probability": 0.8},)
    sessions.append_turn("u1", "a1", 1, Turn("candidate", 1, "hello", 0, 300, words, 0.8))
    sessions.append_turn("u1", "a1", 0, Turn("examiner", 1, "Good morning.", 0, 0))
    sessions.append_turn("u1", "a2", 0, Turn("examiner", 1, "Other test.", 0, 0))
    turns = sessions.turns("u1", "a1")
    assert [t.text for t in turns] == ["Good morning.", "hello"]
    assert turns[1].words == words and turns[1].confidence == 0.8
    assert turns[0].public() == {"role": "examiner", "part": 1, "text": "Good morning.", "start_ms": 0, "end_ms": 0}
    assert sessions.turns("u2", "a1") == []
