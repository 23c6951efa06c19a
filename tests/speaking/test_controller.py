"""The speaking controller: the official flow, timing from audio samples, silence, short answers, barge-in."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import numpy as np

from ieltsprep.speaking.controller import (
    AUDIO_CHUNK_BYTES,
    FOLLOW_UPS,
    ORIGIN,
    Action,
    Controller,
    Finish,
    LineSpoken,
    SaveState,
    Say,
    StoreTurn,
    ToClient,
    script_sentences,
    sentences,
)
from ieltsprep.speaking.script import choose_parts

LONG_ANSWER = "I think it is a really interesting question and I would like to say quite a lot about it"


def _parts() -> list[dict[str, Any]]:
    return choose_parts(set(), random.Random(7))


def _silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(16000 * seconds)


def _voice(seconds: float) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()


def _asr(text: str) -> dict[str, Any]:
    return {
        "startMs": 0,
        "endMs": 900,
        "avgLogprob": -0.1,
        "words": [{"word": w, "startMs": 0, "endMs": 100, "probability": 0.9} for w in text.split()],
    }


def _user_final_start(content_id: str, **fields: Any) -> dict[str, Any]:
    """The contentStart of a USER FINAL text block, with ``fields`` in additionalModelFields."""
    body = {"contentId": content_id, "type": "TEXT", "role": "USER"}
    return {
        "event": {"contentStart": {**body, "additionalModelFields": json.dumps({"generationStage": "FINAL", **fields})}}
    }


def _final(text: str, content_id: str = "u1") -> list[dict[str, Any]]:
    return [
        _user_final_start(content_id, asr=_asr(text)),
        {"event": {"textOutput": {"contentId": content_id, "role": "USER", "content": text}}},
        {"event": {"contentEnd": {"contentId": content_id, "type": "TEXT", "stopReason": "END_TURN"}}},
    ]


def _turn_end(voiced_ms: int, content_id: str = "u1", end_ms: int = 900) -> list[dict[str, Any]]:
    """The local engine's announcement: the endpointer ended the turn, the words are still being recognised."""
    return [_user_final_start(content_id, turn={"startMs": 0, "endMs": end_ms, "voicedMs": voiced_ms})]


def _speak(controller: Controller, seconds: float, content_id: str = "u1") -> list[Action]:
    """The candidate speaks for ``seconds`` and the endpointer ends the turn after 500 ms of silence (engine times are
    the controller's clock, as for a test that started on this engine session)."""
    start_ms = int(controller.clock.now * 1000)
    actions = controller.on_audio(_voice(seconds))
    end_ms = int(controller.clock.now * 1000)
    actions += controller.on_audio(_silence(0.5))
    turn = {"startMs": start_ms, "endMs": end_ms, "voicedMs": int(seconds * 1000)}
    return actions + _feed(controller, [_user_final_start(content_id, turn=turn)])


def _barge_in(controller: Controller) -> list[Action]:
    """The engine stops Maya: the candidate spoke over her."""
    return _feed(
        controller,
        [
            {"event": {"contentStart": {"contentId": "b", "type": "TEXT", "role": "ASSISTANT"}}},
            {"event": {"textOutput": {"contentId": "b", "role": "ASSISTANT", "content": '{ "interrupted" : true }'}}},
            {"event": {"contentEnd": {"contentId": "b", "type": "TEXT", "stopReason": "INTERRUPTED"}}},
        ],
    )


def _words(text: str, content_id: str = "u1") -> list[dict[str, Any]]:
    """The rest of an announced turn's block: its words (none for noise), then its end with the word timings."""
    end = {"contentId": content_id, "type": "TEXT", "stopReason": "END_TURN"}
    if not text:
        return [{"event": {"contentEnd": end}}]
    return [
        {"event": {"textOutput": {"contentId": content_id, "role": "USER", "content": text}}},
        {"event": {"contentEnd": {**end, "additionalModelFields": json.dumps({"asr": _asr(text)})}}},
    ]


def _audio_block(seconds: float, content_id: str = "a1") -> list[dict[str, Any]]:
    pcm = b"\x01\x00" * int(24000 * seconds)
    return [
        {"event": {"contentStart": {"contentId": content_id, "type": "AUDIO", "role": "ASSISTANT"}}},
        {"event": {"audioOutput": {"contentId": content_id, "content": base64.b64encode(pcm).decode()}}},
        {"event": {"contentEnd": {"contentId": content_id, "type": "AUDIO", "stopReason": "END_TURN"}}},
    ]


def _play(controller: Controller, actions: list[Action], seconds: float) -> list[Action]:
    """The engine speaks every sentence of ``actions`` (one audio block each), ``seconds`` in all."""
    says = [a for a in actions if isinstance(a, Say)]
    out: list[Action] = []
    for i, _ in enumerate(says):
        out += _feed(controller, _audio_block(seconds / len(says), f"play-{controller.turn_index}-{i}"))
    return out


def _feed(controller: Controller, events: list[dict[str, Any]]) -> list[Action]:
    actions: list[Action] = []
    for event in events:
        actions += controller.on_engine_event(event)
    return actions


def _said(actions: list[Action]) -> list[str]:
    """Maya's lines as the candidate's transcript shows them (each is spoken sentence by sentence)."""
    return [m["text"] for m in _messages(actions, "transcript") if m["role"] == "examiner" and not m["final"]]


def _messages(actions: list[Action], kind: str) -> list[dict[str, Any]]:
    return [a.message for a in actions if isinstance(a, ToClient) and a.message["type"] == kind]


def _answer(controller: Controller, text: str = LONG_ANSWER) -> list[Action]:
    return [*controller.on_audio(_voice(0.5)), *_feed(controller, _final(text)), *controller.on_audio(_silence(0.2))]


def test_lines_are_spoken_sentence_by_sentence_and_all_can_be_prepared() -> None:
    parts = _parts()
    controller = Controller("a1", parts)
    actions = controller.begin()
    assert [a.text for a in actions if isinstance(a, Say)] == [
        "Hello.",
        "My name is Maya.",
        "Can you tell me your full name, please?",
    ]
    prepared = set(script_sentences(parts))
    spoken: list[str] = []
    for _ in range(60):
        step = _answer(controller) if controller.awaiting_answer else controller.on_audio(_silence(0.5))
        spoken += [a.text for a in step if isinstance(a, Say)]
    assert spoken and set(spoken) <= prepared


def test_begins_with_ready_and_a_greeting_that_fits_any_time_of_day_then_the_identity_check() -> None:
    controller = Controller("a1", _parts())
    actions = controller.begin()
    assert _messages(actions, "ready") == [{"type": "ready", "assessment_id": "a1"}]
    assert _said(actions) == ["Hello. My name is Maya. Can you tell me your full name, please?"]
    assert _messages(actions, "state")[0] == {"type": "state", "part": 1, "phase": "intro"}
    assert _messages(actions, "transcript")[0]["role"] == "examiner"


def test_runs_the_whole_test_in_order_and_finishes() -> None:
    parts = _parts()
    controller = Controller("a1", parts, time_scale=0.02)
    lines = _said(controller.begin())
    phases = []
    finish: list[Finish] = []
    for _ in range(200):
        actions = _answer(controller) if controller.awaiting_answer else controller.on_audio(_silence(0.5))
        actions += controller.on_audio(_voice(0.3)) if controller.stage == "talk" else []
        lines += _said(actions)
        phases += [(m["part"], m["phase"]) for m in _messages(actions, "state")]
        finish += [a for a in actions if isinstance(a, Finish)]
        if finish:
            break
    assert finish == [Finish("completed")]
    assert lines[1] == "Thank you. And can you tell me where you're from?"
    assert parts[0]["topics"][0]["questions"][0] in lines[2]
    card_line = next(line for line in lines if "Here is your topic" in line)
    assert parts[1]["cue_card"]["topic"] in card_line
    assert any(parts[2]["questions"][0] in line for line in lines)
    assert lines[-1] == "Thank you. That is the end of the speaking test."
    order = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
    assert [p for p in order if p[1] in ("prep", "talk", "discussion", "closing")][:4] == [
        (2, "prep"),
        (2, "talk"),
        (3, "discussion"),
        (3, "closing"),
    ]


def test_short_answer_gets_one_follow_up_question() -> None:
    controller = Controller("a1", _parts())
    controller.begin()
    _answer(controller, "Anna Smith")
    _answer(controller, "I am from Leeds in the north of England")
    follow = _said(_answer(controller, "Yes"))
    assert follow in (["Why is that?"], ["Can you tell me a little more about that?"])
    again = _said(_answer(controller, "No"))
    assert again and again[0] not in ("Why is that?", "Can you tell me a little more about that?")


def test_silence_repeats_the_question_then_moves_on() -> None:
    parts = _parts()
    controller = Controller("a1", parts)
    controller.begin()
    _answer(controller, "Anna Smith")
    _answer(controller, "I am from Leeds in the north of England")
    first = parts[0]["topics"][0]["questions"][0]
    lines: list[str] = []
    for _ in range(40):
        lines += _said(controller.on_audio(_silence(1.0)))
    assert lines[0] == f"Let me ask that again. {first}"
    assert lines[1] == parts[0]["topics"][0]["questions"][1]


def test_silence_is_not_counted_before_mayas_audio_arrives() -> None:
    controller = Controller("a1", _parts())
    greeting = controller.begin()
    waiting = [line for _ in range(15) for line in _said(controller.on_audio(_silence(1.0)))]
    assert waiting == []  # 15 s without audio from the engine: she has not asked anything yet
    _feed(controller, _audio_block(1.0, "first"))
    waiting = [line for _ in range(15) for line in _said(controller.on_audio(_silence(1.0)))]
    assert waiting == []  # nor while the rest of her line is still being produced
    _play(controller, greeting[1:], 2.0)
    asked = [line for _ in range(10) for line in _said(controller.on_audio(_silence(1.0)))]
    assert asked == ["Let me ask that again. Can you tell me your full name, please?"]


def test_preparation_minute_is_timed_from_the_end_of_the_cue_card() -> None:
    controller = Controller("a1", _parts(), time_scale=0.1)  # 6 s of preparation
    _play(controller, controller.begin(), 1.0)
    controller.stage = "part1"
    controller.part_started_at = -1000.0
    controller.topic_index = len(controller.parts[0]["topics"]) - 1
    controller.question_index = 3
    controller.awaiting_answer = True
    actions = _answer(controller)
    assert any("Here is your topic" in line for line in _said(actions))
    _play(controller, actions, 4.0)  # Maya reads the card for 4 s
    started = controller.clock.now
    talk_at = None
    for _ in range(200):
        if _said(controller.on_audio(_silence(0.1))):
            talk_at = controller.clock.now
            break
    assert controller.stage == "talk"
    assert talk_at is not None and abs(talk_at - started - 4.0 - 6.0) <= 0.25


def test_long_turn_is_stopped_at_two_minutes() -> None:
    controller = Controller("a1", _parts(), time_scale=0.1)  # talk max 12 s
    _play(controller, controller.begin(), 1.0)
    controller.stage = "prep"
    controller.phase_started_at = controller.clock.now - 100
    start_actions = controller.on_audio(_silence(0.1))
    assert controller.stage == "talk"
    assert "Can you start speaking now" in _said(start_actions)[0]
    _play(controller, start_actions, 2.0)
    talk_started = controller.phase_started_at
    assert talk_started == controller.clock.now + 2.0
    lines: list[str] = []
    for _ in range(300):
        lines += _said(controller.on_audio(_voice(0.2)))
        if lines:
            break
    assert controller.stage == "rounding"
    assert lines[0].startswith("Thank you. ")
    assert 12.0 <= controller.clock.now - talk_started <= 12.3


def test_barge_in_is_reported_once() -> None:
    controller = Controller("a1", _parts())
    controller.begin()
    events = [
        {
            "event": {
                "contentStart": {
                    "contentId": "t1",
                    "type": "TEXT",
                    "role": "ASSISTANT",
                    "additionalModelFields": '{"generationStage":"SPECULATIVE"}',
                }
            }
        },
        {"event": {"textOutput": {"contentId": "t1", "role": "ASSISTANT", "content": '{ "interrupted" : true }'}}},
        {"event": {"contentEnd": {"contentId": "t1", "type": "TEXT", "stopReason": "INTERRUPTED"}}},
    ]
    actions = _feed(controller, events)
    assert _messages(actions, "interrupted") == [{"type": "interrupted"}]


def test_examiner_audio_is_split_into_messages_of_at_most_32_kb() -> None:
    controller = Controller("a1", _parts())
    controller.begin()
    actions = _feed(controller, _audio_block(3.0))
    assert not any(isinstance(a, LineSpoken) for a in actions)  # two more sentences of the greeting to come
    actions += _feed(controller, _audio_block(0.2, "a2")) + _feed(controller, _audio_block(0.2, "a3"))
    audio = _messages(actions, "audio")[:-2]
    assert len(audio) == -(-(3 * 24000 * 2) // AUDIO_CHUNK_BYTES)
    assert _messages(actions, "audio")[-1]["seq"] == len(audio) + 1
    assert [m["seq"] for m in audio] == list(range(len(audio)))
    assert all(len(json.dumps(m)) <= 32 * 1024 for m in audio)
    assert b"".join(base64.b64decode(m["data"]) for m in audio) == b"\x01\x00" * 72000
    assert isinstance(actions[-1], LineSpoken)
    done = _messages(actions, "transcript")
    assert done == [
        {
            "type": "transcript",
            "role": "examiner",
            "final": True,
            "text": "Hello. My name is Maya. Can you tell me your full name, please?",
        }
    ]


def test_transcript_turns_are_stored_in_order_with_word_timings() -> None:
    controller = Controller("a1", _parts())
    stored = [a for a in controller.begin() if isinstance(a, StoreTurn)]
    stored += [a for a in _answer(controller, "Anna Smith") if isinstance(a, StoreTurn)]
    assert [s.index for s in stored] == [0, 1, 2]
    assert [s.turn.role for s in stored] == ["examiner", "candidate", "examiner"]
    assert stored[1].turn.text == "Anna Smith"
    assert stored[1].turn.words[0]["word"] == "Anna"
    assert stored[1].turn.confidence == 0.9


def test_snapshot_and_restore_resume_the_current_question() -> None:
    parts = _parts()
    controller = Controller("a1", parts)
    controller.begin()
    _answer(controller, "Anna Smith")
    actions = _answer(controller, "I am from Leeds in the north of England")
    state = [a for a in actions if isinstance(a, SaveState)][-1].state
    resumed = Controller.restore("a1", parts, state)
    assert resumed.turn_index == state["turn_index"]
    lines = _said(resumed.begin())
    assert lines == [f"Welcome back. Let's carry on where we stopped. {parts[0]['topics'][0]['questions'][0]}"]
    assert resumed.clock.now == state["clock"]


def test_stop_finishes_with_what_was_said() -> None:
    controller = Controller("a1", _parts())
    controller.begin()
    actions = controller.stop()
    assert isinstance(actions[-1], Finish) and actions[-1].reason == "stopped"
    assert controller.stop() == []


def test_engine_error_is_reported_and_ends_this_worker_without_scoring() -> None:
    controller = Controller("a1", _parts())
    controller.begin()
    actions = controller.on_engine_event({"event": {"error": {"code": "ModelTimeoutException", "message": "late"}}})
    assert _messages(actions, "error")[0]["code"] == "speech_engine_error"
    assert [a for a in actions if isinstance(a, Finish)] == [Finish("error:ModelTimeoutException")]


def test_a_line_issued_before_the_previous_is_complete_finalises_the_previous_in_the_transcript() -> None:
    controller = Controller("a1", _parts())
    controller.begin()
    actions = controller.stop()  # Maya's greeting has not been produced yet
    transcripts = _messages(actions, "transcript")
    assert [(m["final"], m["text"][:12]) for m in transcripts] == [(True, "Hello. My na"), (False, "Thank you. W")]


def _at_first_question(parts: list[dict[str, Any]]) -> Controller:
    controller = Controller("a1", parts)
    controller.begin()
    _answer(controller, "Anna Smith")
    _answer(controller, "I am from Leeds in the north of England")
    return controller


def test_the_next_line_is_issued_when_the_turn_ends_and_the_words_are_stored_in_its_place_later() -> None:
    parts = _parts()
    controller = _at_first_question(parts)
    at_end = _speak(controller, 2.5)
    question = parts[0]["topics"][0]["questions"][1]
    assert _said(at_end) == [question]  # before any word of the answer is known
    assert not any(isinstance(a, StoreTurn) for a in at_end)  # Maya's line is stored once the grace window passes
    (examiner,) = [a for a in controller.on_audio(_silence(1.5)) if isinstance(a, StoreTurn)]
    assert examiner.turn.text == question
    assert controller.transcripts_pending
    later = _feed(controller, _words(LONG_ANSWER))
    (candidate,) = [a for a in later if isinstance(a, StoreTurn)]
    assert candidate.index == examiner.index - 1  # the answer keeps its place before the question it led to
    assert candidate.turn.role == "candidate" and candidate.turn.text == LONG_ANSWER and candidate.turn.part == 1
    assert candidate.turn.words[0]["word"] == "I"
    assert _said(later) == []  # the words arrive after the decision: nothing is asked twice
    assert _messages(later, "transcript") == [
        {"type": "transcript", "role": "candidate", "text": LONG_ANSWER, "final": True}
    ]
    assert not controller.transcripts_pending


def test_an_answer_the_endpointer_measured_as_short_gets_the_follow_up_at_once() -> None:
    controller = _at_first_question(_parts())
    controller.on_audio(_voice(1.0))
    at_end = _feed(controller, _turn_end(900))
    assert _said(at_end) in (["Why is that?"], ["Can you tell me a little more about that?"])
    assert [a.turn.text for a in _feed(controller, _words("Yes I do")) if isinstance(a, StoreTurn)] == ["Yes I do"]


def test_when_the_words_decide_the_controller_waits_for_them() -> None:
    parts = _parts()
    controller = _at_first_question(parts)
    controller.on_audio(_voice(1.5))
    assert _said(_feed(controller, _turn_end(1500))) == []  # about five words: count them
    assert _said(_feed(controller, _words("Yes I like it"))) in (
        ["Why is that?"],
        ["Can you tell me a little more about that?"],
    )
    controller.on_audio(_voice(0.4))
    assert _said(_feed(controller, _turn_end(400, "u2"))) == []  # a cough or an "um" looks like this
    follow_on = _said(_feed(controller, _words("Because it is fun and I meet my friends there", "u2")))
    assert follow_on == [parts[0]["topics"][0]["questions"][1]]


def test_a_turn_that_was_only_noise_stores_nothing_and_leaves_the_question_open() -> None:
    controller = _at_first_question(_parts())
    controller.on_audio(_voice(0.4))
    actions = _feed(controller, _turn_end(400)) + _feed(controller, _words(""))
    assert not [a for a in actions if isinstance(a, StoreTurn)]
    # The live transcript marked the candidate's line when the turn ended, and withdraws it.
    assert [(m["text"], m["final"]) for m in _messages(actions, "transcript")] == [("…", False), ("", True)]
    assert controller.awaiting_answer and not controller.transcripts_pending


def test_engines_that_send_the_words_at_once_still_answer_on_the_words() -> None:
    parts = _parts()
    controller = _at_first_question(parts)
    actions = _answer(controller)
    stored = [a for a in actions if isinstance(a, StoreTurn)]
    assert [s.turn.role for s in stored] == ["candidate", "examiner"]
    assert stored[0].index + 1 == stored[1].index
    assert _said(actions) == [parts[0]["topics"][0]["questions"][1]]


def test_the_long_turn_ends_three_seconds_after_the_voice_stops_however_late_the_words_come() -> None:
    controller = Controller("a1", _parts(), time_scale=0.1)  # talk at least 6 s
    _play(controller, controller.begin(), 1.0)
    controller.stage = "prep"
    controller.phase_started_at = controller.clock.now - 100
    _play(controller, controller.on_audio(_silence(0.1)), 2.0)
    lines: list[str] = []
    for _ in range(40):  # 8 s of talk: past the minimum
        lines += _said(controller.on_audio(_voice(0.2)))
    voice_end_ms = int(controller.clock.now * 1000)
    lines += _said(controller.on_audio(_silence(0.5)))
    lines += _said(_feed(controller, _turn_end(8000, end_ms=voice_end_ms)))
    for _ in range(20):  # the words take 2 s to come
        lines += _said(controller.on_audio(_silence(0.1)))
    lines += _said(_feed(controller, _words(LONG_ANSWER)))
    while not lines:
        lines += _said(controller.on_audio(_silence(0.1)))
    assert lines[0].startswith("Thank you. ")
    assert 3.0 <= controller.clock.now - voice_end_ms / 1000 <= 3.2


def _stored(actions: list[Action]) -> list[tuple[int, str, str]]:
    return [(a.index, a.turn.role, a.turn.text) for a in actions if isinstance(a, StoreTurn)]


def test_a_candidate_who_carries_on_within_the_grace_window_takes_the_early_line_back() -> None:
    parts = _parts()
    questions = parts[0]["topics"][0]["questions"]
    controller = _at_first_question(parts)
    before = controller.snapshot()
    first = controller.turn_index
    actions = _speak(controller, 2.5)
    assert _said(actions) == [questions[1]] and controller.question_index == 1
    actions += _play(controller, actions, 3.0)
    actions += controller.on_audio(_silence(0.3))  # 0.8 s after the voice stopped, the candidate goes on
    actions += _barge_in(controller)
    resumed = _speak(controller, 3.0, "u2")
    # Maya's line is un-asked and asked again once the answer is over, as a whole: one question on, not two.
    assert _said(resumed) == [questions[1]]
    assert controller.question_index == 1
    assert controller.answered_in_part == before["answered_in_part"] + 1
    assert _messages(actions + resumed, "interrupted") == [{"type": "interrupted"}]  # the engine's, once
    actions += resumed
    actions += _feed(controller, _words("I like my job because", "u1"))
    actions += _feed(controller, _words("it lets me travel a lot", "u2"))
    actions += controller.on_audio(_silence(2.0))
    # The cut line is never stored; the answer's two turns are consecutive, each stored once, before the question.
    assert _stored(actions) == [
        (first, "candidate", "I like my job because"),
        (first + 1, "candidate", "it lets me travel a lot"),
        (first + 2, "examiner", questions[1]),
    ]
    assert controller.turn_index == first + 3 and not controller.transcripts_pending


def test_taking_back_a_follow_up_restores_the_question_and_the_words_of_both_turns_decide() -> None:
    controller = _at_first_question(_parts())
    state = (controller.question_index, controller.answered_in_part, controller.followed_up)
    assert _said(_speak(controller, 0.9)) in (list(FOLLOW_UPS[:1]), list(FOLLOW_UPS[1:]))  # a short answer so far
    controller.on_audio(_silence(0.2))
    resumed = _speak(controller, 0.5, "u2")
    assert (controller.question_index, controller.answered_in_part, controller.followed_up) == state
    assert controller.awaiting_answer and _said(resumed) == []  # 1.4 s of voice in all: count the words
    assert _messages(resumed, "interrupted") == [{"type": "interrupted"}]  # no barge-in came: the client stops her
    assert _said(_feed(controller, _words("Yes", "u1"))) == []
    assert _said(_feed(controller, _words("I do", "u2"))) in (list(FOLLOW_UPS[:1]), list(FOLLOW_UPS[1:]))
    assert controller.followed_up


def test_a_candidate_who_starts_after_the_grace_window_answers_the_new_question() -> None:
    parts = _parts()
    questions = parts[0]["topics"][0]["questions"]
    controller = _at_first_question(parts)
    first = controller.turn_index
    actions = _speak(controller, 2.5)
    actions += _play(controller, actions, 3.0)
    actions += controller.on_audio(_silence(1.5))  # 2 s after the voice stopped: the early line stands
    assert _stored(actions) == [(first + 1, "examiner", questions[1])]
    actions += _barge_in(controller)
    later = _speak(controller, 2.5, "u2")
    assert _said(later) == [questions[2]] and controller.question_index == 2
    actions += later + _feed(controller, _words(LONG_ANSWER, "u1")) + _feed(controller, _words(LONG_ANSWER, "u2"))
    assert sorted(i for i, _, _ in _stored(actions)) == [first, first + 1, first + 2]
    assert _messages(actions, "interrupted") == [{"type": "interrupted"}]


def test_a_line_chosen_on_the_words_is_not_taken_back_for_engines_that_send_them_at_once() -> None:
    parts = _parts()
    questions = parts[0]["topics"][0]["questions"]
    controller = _at_first_question(parts)
    first = controller.turn_index
    actions = _answer(controller)
    assert _stored(actions) == [(first, "candidate", LONG_ANSWER), (first + 1, "examiner", questions[1])]
    actions = _barge_in(controller) + _answer(controller, "and I also like the people I work with")
    assert _said(actions) == [questions[2]] and controller.question_index == 2
    assert _stored(actions) == [
        (first + 2, "candidate", "and I also like the people I work with"),
        (first + 3, "examiner", questions[2]),
    ]


def test_a_candidate_who_answers_a_short_line_heard_out_within_the_window_answers_it() -> None:
    parts = _parts()
    controller = _at_first_question(parts)
    actions = _speak(controller, 0.9)
    assert _said(actions) in (list(FOLLOW_UPS[:1]), list(FOLLOW_UPS[1:]))
    _play(controller, actions, 0.5)
    controller.on_audio(_silence(0.6))  # "Why is that?" has played out; the candidate answers 0.6 s after stopping
    assert _said(_speak(controller, 2.5, "u2")) == [parts[0]["topics"][0]["questions"][1]]
    assert controller.question_index == 1 and controller.followed_up is False


def _examiner_text(words: list[str], content_id: str, *, interrupted: bool = False) -> list[dict[str, Any]]:
    """The engine's final text of one of Maya's sentences (with the barge-in notice when she was spoken over)."""
    fields = json.dumps({"generationStage": "FINAL"})
    start = {"contentId": content_id, "type": "TEXT", "role": "ASSISTANT", "additionalModelFields": fields}
    events = [{"event": {"contentStart": start}}]
    events += [{"event": {"textOutput": {"contentId": content_id, "role": "ASSISTANT", "content": w}}} for w in words]
    if interrupted:
        notice = '{ "interrupted" : true }'
        events.append({"event": {"textOutput": {"contentId": content_id, "role": "ASSISTANT", "content": notice}}})
    stop = "INTERRUPTED" if interrupted else "END_TURN"
    return [*events, {"event": {"contentEnd": {"contentId": content_id, "type": "TEXT", "stopReason": stop}}}]


def test_maya_s_turn_is_stored_as_the_engine_said_it_in_its_place_and_part() -> None:
    controller = Controller("a1", _parts())
    begun = controller.begin()
    (greeting,) = [a for a in begun if isinstance(a, StoreTurn)]
    assert greeting.turn.text.startswith("Hello. My name is Maya.")  # as asked, until the engine reports it
    said = ["Hello.", "My name is Maya.", "Could you tell me your full name, please?"]  # the model's own words
    actions = _feed(controller, _audio_block(3.0))
    for i, sentence in enumerate(said):
        actions += _feed(controller, _examiner_text([sentence], f"t{i}"))
    assert _stored(actions) == [(greeting.index, "examiner", " ".join(said))]
    assert [a.turn.part for a in actions if isinstance(a, StoreTurn)] == [1]


def test_what_was_said_of_a_line_cut_short_is_stored_and_a_line_never_said_is_stored_empty() -> None:
    controller = Controller("a1", _parts())
    controller.begin()
    _feed(controller, _audio_block(3.0))
    _feed(controller, [e for i, s in enumerate(sentences(GREETING_TEXT)) for e in _examiner_text([s], f"g{i}")])
    controller.on_audio(_silence(4.0))
    actions = _speak(controller, 2.0) + _feed(controller, _words("My name is Anna Smith"))
    actions += controller.on_audio(_silence(2.0))  # Maya's early line stands once the grace window has passed
    origin = [a for a in actions if isinstance(a, StoreTurn) and a.turn.role == "examiner"]
    assert [a.turn.text for a in origin] == [ORIGIN]
    # The candidate speaks over Maya's "Thank you.": the engine reports the words she got out.
    actions = _feed(controller, _audio_block(1.0, "a2"))
    actions += _feed(controller, _examiner_text(["Thank"], "o1", interrupted=True))
    assert _stored(actions) == [(origin[0].index, "examiner", "Thank")]


GREETING_TEXT = "Hello. My name is Maya. Can you tell me your full name, please?"
