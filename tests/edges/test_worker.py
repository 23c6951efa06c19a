"""The speaking worker over the local gateway's real WebSocket, with a model-free speech engine.

The client is ``ieltsprep speak``'s own; the speech engine is the test fake of tests/speech_fakes.py (the real local
engine runs in tests/speaking/test_speaking_e2e.py, marked slow).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from pathlib import Path

import pytest

from ieltsprep.billing import ledger
from ieltsprep.container import Container
from ieltsprep.edges.gateway.server import BackgroundServer
from ieltsprep.settings import Settings
from ieltsprep.speaking.cli import SpeakingClient, create_assessment
from ieltsprep.speaking.controller import sentences
from ieltsprep.speaking.sessions import SpeakingStore
from speech_fakes import FakeSpeechEngine, tone

ANSWERS = [
    "My name is Anna Smith and people call me Anna",
    "I come from Leeds which is a city in the north of England",
    "I play football every weekend because it keeps me fit and I enjoy it",
    "Yes I did and I was in the school team for three years",
    "I would like to try climbing because it looks exciting and challenging",
    "My teacher helped me when I was preparing for my final exams at school",
    "We still meet sometimes for coffee and talk about the old days",
    "People find it hard because they do not want to look weak in front of others",
    "I think schools should teach this because it builds a sense of community",
    "Probably yes because people are busier and they move house more often",
    "Family help is personal while professionals have training and experience",
    "I think governments should pay them because caring is real work",
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local settings with every speaking time limit shortened fifty times."""
    return Settings(
        stage="local", data_dir=tmp_path / "var", cookie_secure=False, test_store_enabled=True, speaking_time_scale=0.02
    )


def _candidate(container: Container) -> tuple[str, str]:
    user = container.accounts.register(
        "speaker@example.com", "correct horse battery staple", terms=True, age_16_plus=True
    )
    ledger.grant(container.store, user.id, "academic_speaking", 4, source="operator", idempotency_key="test")
    return user.id, container.accounts.login("speaker@example.com", "correct horse battery staple").token


def _run_test(server: BackgroundServer, token: str, answers: int = 12, speed: float = 4.0, seconds: float = 1.0):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        assessment_id = await create_assessment(server.base_url, token, "academic_speaking")
        client = SpeakingClient(
            server.base_url,
            token,
            [tone(seconds)] * answers,
            speed=speed,
            chunk_ms=250,
            trailing_silence=0.5,
            timeout=90,
        )
        return await client.run(assessment_id)

    return asyncio.run(main())


def test_a_whole_test_runs_through_the_worker_and_is_scored(
    live_server: BackgroundServer, container: Container
) -> None:
    engine = FakeSpeechEngine(ANSWERS)
    container.__dict__["speech_engine"] = engine
    user_id, token = _candidate(container)
    run = _run_test(live_server, token)
    container.invoker.drain(30)

    assert run.completed, run.errors
    assert run.transcript[0] == {
        "role": "examiner",
        "text": "Hello. My name is Maya. Can you tell me your full name, please?",
    }
    assert run.transcript[1] == {"role": "candidate", "text": ANSWERS[0]}
    phases = [(s["part"], s["phase"]) for s in run.states]
    for expected in [(1, "intro"), (1, "question"), (2, "prep"), (2, "talk"), (3, "discussion"), (3, "closing")]:
        assert expected in phases
    assert all(len(json.dumps({"type": "audio", "seq": 0, "data": ""})) < 32 * 1024 for _ in run.examiner_lines)
    assessment = run.result
    assert assessment is not None and assessment["status"] == "scored"
    result = assessment["result"]
    assert result["engine"] == "local"
    assert set(result["criteria"]) == {
        "fluency_coherence",
        "lexical_resource",
        "grammatical_range_accuracy",
        "pronunciation",
    }
    assert result["metrics"]["speech_rate_wpm"] > 0
    assert [t["role"] for t in result["transcript"][:2]] == ["examiner", "candidate"]
    stored = SpeakingStore(container.store).turns(user_id, run.assessment_id)
    assert [t.text for t in stored if t.role == "candidate"] == [
        m["text"] for m in run.transcript if m["role"] == "candidate"
    ]
    # Every answer's timing was measured in its audio (the fake engine's word timings are not what is scored).
    assert all(t.voiced for t in stored if t.role == "candidate")
    assert result["evidence"]["complete"] and result["evidence"]["parts_taken"] == [1, 2, 3]
    assert stored[-1].role == "examiner" and stored[-1].part == 3
    # Maya's stored turns are what the engine reported she said.
    said = {line for session in engine.sessions for line in session.said}
    assert all(s in said for t in stored if t.role == "examiner" for s in sentences(t.text))
    session = SpeakingStore(container.store).get(run.assessment_id)
    assert session is not None and session.finished
    # Maya's lines are prepared sentence by sentence ("... harder to use? Why?" is two).
    assert set(engine.prepared) >= {s for q in assessment["parts"][2]["questions"] for s in sentences(q)}
    assert engine.sessions[0].closed
    # Before each line the session is told the part its answer belongs to (the local engine's turn-taking uses it).
    parts = engine.sessions[0].parts
    assert len(parts) == len(engine.sessions[0].said)
    assert parts == sorted(parts) and set(parts) == {1, 2, 3}


def test_no_candidate_audio_reaches_disk_store_or_logs(
    live_server: BackgroundServer, container: Container, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    container.__dict__["speech_engine"] = FakeSpeechEngine(ANSWERS)
    user_id, token = _candidate(container)
    run = _run_test(live_server, token, answers=4)
    container.invoker.drain(30)
    assert run.audio_seconds_sent > 5
    answer = tone(1.0)
    # Any stored or logged fragment of the candidate's audio would contain this run of samples, raw or in base64.
    raw_probe = answer[3200:3264]
    b64_probe = base64.b64encode(answer[3000:3300]).decode()[8:72]
    b64_any = re.compile(r"[A-Za-z0-9+/]{400,}")
    for path in settings.data_dir.rglob("*"):
        if path.is_file() and "speech-cache" not in path.parts:
            data = path.read_bytes()
            assert raw_probe not in data, path
            assert b64_probe.encode() not in data, path
    from ieltsprep.adapters.storage.port import Table

    for table in Table:
        for item in container.store.query(table, f"USER#{user_id}"):
            text = json.dumps(item)
            assert b64_probe not in text and not b64_any.search(text), item.get("sk")
    assert b64_probe not in caplog.text and not b64_any.search(caplog.text)


def test_stop_scores_what_was_said(live_server: BackgroundServer, container: Container) -> None:
    container.__dict__["speech_engine"] = FakeSpeechEngine(ANSWERS)
    _, token = _candidate(container)
    run = _run_test(live_server, token, answers=3)  # the client sends stop when its answers run out
    container.invoker.drain(30)
    assert run.completed
    assert run.transcript[-1]["text"] == "Thank you. We will stop the test here."
    assert run.result is not None and run.result["status"] == "scored"
    candidate_turns = [t for t in run.result["result"]["transcript"] if t["role"] == "candidate"]
    assert [t["text"] for t in candidate_turns] == ANSWERS[:3]
    # Stopped in Part 1: no full band, the missing parts named, and the closing line belongs to Part 1.
    result = run.result["result"]
    assert result["overall_band"] is None and not result["evidence"]["complete"]
    assert "Part 2 and Part 3 were not taken." in result["evidence"]["missing"]
    assert result["transcript"][-1]["part"] == 1


def test_words_that_arrive_after_maya_has_moved_on_are_stored_in_their_place_and_scored(
    live_server: BackgroundServer, container: Container
) -> None:
    # The engine announces each turn's end at once and sends its words a second of audio later, by which time the
    # controller has asked the next question; the last answer's words come after the closing line has been produced.
    container.__dict__["speech_engine"] = FakeSpeechEngine(ANSWERS, words_after=0.25)
    user_id, token = _candidate(container)
    run = _run_test(live_server, token, seconds=2.0)
    container.invoker.drain(30)
    assert run.completed, run.errors
    assert run.result is not None and run.result["status"] == "scored"
    stored = SpeakingStore(container.store).turns(user_id, run.assessment_id)
    answered = [t.text for t in stored if t.role == "candidate"]
    assert answered == ANSWERS[: run.answers_sent]
    roles = [t.role for t in stored]
    # Each answer sits between the question it answers and the line it led to, never after Maya's next line.
    assert all(roles[i - 1] == "examiner" for i, role in enumerate(roles) if role == "candidate")
    assert [t["text"] for t in run.result["result"]["transcript"] if t["role"] == "candidate"] == answered
    # The client shows each answer in the same place (Parts 1 and 3; in Part 2 Maya may cut the long turn off
    # before it has ended, and then the store has it after her line, where the words arrived).
    shown = [(m["role"], m["text"]) for m in run.transcript]
    for i, turn in enumerate(stored):
        if turn.role == "candidate" and turn.part != 2:
            at = shown.index(("candidate", turn.text))
            assert shown[at - 1] == (stored[i - 1].role, stored[i - 1].text)


def test_a_bad_invocation_payload_is_rejected_without_running(container: Container) -> None:
    from ieltsprep.edges.worker import run

    assert run(container, {"assessment_id": "a1"}) == {"status": "rejected"}


def test_audio_is_put_back_in_seq_order() -> None:
    from ieltsprep.edges.worker import AudioReorderer

    reorder = AudioReorderer(window=2)
    assert reorder.push(0, "a") == ["a"]
    assert reorder.push(2, "c") == []
    assert reorder.push(1, "b") == ["b", "c"]
    assert reorder.push(1, "b") == []  # a late duplicate
    assert reorder.push(4, "e") == []
    assert reorder.push(5, "f") == []
    assert reorder.push(6, "g") == ["e", "f", "g"]  # 3 was lost: given up once the window overflowed


def test_a_failing_engine_tells_the_candidate_and_frees_the_session(
    live_server: BackgroundServer, container: Container
) -> None:
    class BrokenEngine(FakeSpeechEngine):
        async def open(self, config):  # type: ignore[no-untyped-def]
            raise RuntimeError("models missing")

    container.__dict__["speech_engine"] = BrokenEngine([])
    _, token = _candidate(container)

    async def main():  # type: ignore[no-untyped-def]
        import aiohttp

        assessment_id = await create_assessment(live_server.base_url, token, "academic_speaking")
        async with aiohttp.ClientSession() as http, http.ws_connect(live_server.ws_url, params={"token": token}) as ws:
            await ws.send_json({"action": "nova-sonic-stream", "type": "start", "assessment_id": assessment_id})
            message = await ws.receive_json(timeout=30)
        return assessment_id, message

    assessment_id, message = asyncio.run(main())
    container.invoker.drain(30)
    assert message["type"] == "error" and message["code"] == "examiner_unavailable"
    session = SpeakingStore(container.store).get(assessment_id)
    assert session is not None and session.worker_connection_id is None and not session.finished


def test_the_local_speech_engine_is_the_default(container: Container) -> None:
    from ieltsprep.adapters.speech.local import LocalSpeechEngine

    assert isinstance(container.speech_engine, LocalSpeechEngine)  # built lazily: no model is loaded here


def test_worker_hands_over_before_the_lambda_timeout(live_server: BackgroundServer, container: Container) -> None:
    """A worker near its timeout stops and tells the client; the client's new start resumes with a new worker."""
    import ieltsprep.edges.worker as worker_module

    class Context:
        def __init__(self) -> None:
            self.calls = 0

        def get_remaining_time_in_millis(self) -> int:
            self.calls += 1
            return 10_000 if self.calls > 1 else 900_000  # the first worker runs out after its first heartbeat

    original_run = worker_module.run
    contexts: list[Context] = []

    def run_with_short_context(container: Container, event: dict, context: object = None) -> dict:  # type: ignore[type-arg]
        contexts.append(Context())
        return original_run(container, event, contexts[-1] if len(contexts) == 1 else None)

    worker_module.HEARTBEAT_SECONDS = 0.5
    worker_module.run = run_with_short_context  # type: ignore[assignment]
    try:
        container.__dict__["speech_engine"] = FakeSpeechEngine(ANSWERS)
        _, token = _candidate(container)
        run = _run_test(live_server, token, answers=6)
        container.invoker.drain(30)
    finally:
        worker_module.run = original_run
        worker_module.HEARTBEAT_SECONDS = 10.0
    # Audio sent while the examiner changes over may also be answered with worker_unavailable; either way the
    # client starts again, and the WebSocket edge launches exactly one new worker.
    assert run.errors[0]["code"] == "examiner_restart"
    assert {e["code"] for e in run.errors} <= {"examiner_restart", "worker_unavailable"}
    assert run.restarts >= 1 and len(contexts) == 2
    assert run.completed and run.result is not None and run.result["status"] == "scored"
    examiner = [t["text"] for t in run.transcript if t["role"] == "examiner"]
    assert any(line.startswith("Welcome back.") for line in examiner)
