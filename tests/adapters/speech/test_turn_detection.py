"""Turn-taking from models: Silero VAD finds the voice, Smart Turn's judgement (scripted here) ends or holds a turn."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pytest
from speech_audio import RATE, silence, speak, trimmed, voiced_span
from turn_session import turn_ends as session_turn_ends

from ieltsprep.adapters.speech import local, models
from ieltsprep.adapters.speech.endpointing import SpeechEnded, SpeechStarted, VadEvent
from ieltsprep.adapters.speech.local import TurnModels, load_turn_models
from ieltsprep.adapters.speech.models import ModelUnavailable, packaged_model_path
from ieltsprep.adapters.speech.smart_turn import SmartTurn
from ieltsprep.adapters.speech.stt import Transcript
from ieltsprep.adapters.speech.turn_detection import ModelEndpointer, TurnPolicy
from ieltsprep.adapters.speech.vad import SileroVad, speech_frames
from ieltsprep.settings import Settings
from ieltsprep.speaking.protocol import UserTurnEnded, Word

POLICY = TurnPolicy(decision_ms=200, judge_ms=64, complete_threshold=0.5, ceiling_part1_ms=2000, ceiling_part2_ms=4000)


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


@pytest.fixture(scope="module")
def answer() -> np.ndarray:
    return trimmed(speak("I usually spend my weekends at home with my family."))


def run(
    endpointer: ModelEndpointer, audio: np.ndarray, judge: Callable[[np.ndarray], float], chunk: int = 320
) -> list[tuple[int, VadEvent]]:
    """Feed ``audio`` in chunks, answering each judgement with ``judge``; (sample when decided, event) pairs."""
    out: list[tuple[int, VadEvent]] = []
    verdict = 0.0
    for start in range(0, audio.size, chunk):
        events = endpointer.feed(audio[start : start + chunk])
        while True:
            out += [(endpointer.samples_seen, e) for e in events]
            wanted = endpointer.take_judgement()
            if wanted is not None:
                verdict = judge(wanted)
            if not endpointer.decision_due:
                break
            events = endpointer.decide(verdict) + endpointer.feed(np.zeros(0, dtype=np.int16))
    return out


def ends(events: list[tuple[int, VadEvent]]) -> list[tuple[int, SpeechEnded]]:
    return [(at, e) for at, e in events if isinstance(e, SpeechEnded)]


def test_speech_frames_finds_each_stretch_of_voice_near_its_true_bounds(vad: SileroVad, answer: np.ndarray) -> None:
    audio = np.concatenate([silence(1.0), answer, silence(1.5), answer, silence(1.0)])
    frames = speech_frames(audio, model=vad)
    second = RATE + answer.size + int(1.5 * RATE)
    truth = [(1000, 1000 + answer.size * 1000 // RATE), (second * 1000 // RATE, (second + answer.size) * 1000 // RATE)]
    assert len(frames) == 2
    for (start, end), (true_start, true_end) in zip(frames, truth, strict=True):
        assert abs(start - true_start) <= 100
        assert abs(end - true_end) <= 200
    assert speech_frames(silence(3.0), model=vad) == []


def test_a_turn_judged_finished_ends_at_the_decision_point(vad: SileroVad, answer: np.ndarray) -> None:
    audio = np.concatenate([silence(0.5), answer, silence(3.0)])
    endpointer = ModelEndpointer(vad.stream(), POLICY)
    judged: list[np.ndarray] = []
    events = run(endpointer, audio, lambda pcm: judged.append(pcm) or 0.9)
    (at, ended), *rest = ends(events)
    assert not rest
    voice_end = int(0.5 * RATE) + answer.size
    assert ended.is_speech(POLICY.min_speech_ms)
    assert abs(ended.end - voice_end) <= 0.15 * RATE  # where the voice stopped
    assert 0.2 * RATE <= at - voice_end <= 0.4 * RATE  # decided after 200 ms of silence (and Silero's tail)
    assert endpointer.judgements == 1
    # Smart Turn heard the turn from a little before its start, up to the decision.
    assert answer.size < judged[0].size <= answer.size + RATE
    assert isinstance(events[0][1], SpeechStarted)


def test_a_turn_judged_unfinished_waits_through_a_thinking_pause_and_carries_on(
    vad: SileroVad, answer: np.ndarray
) -> None:
    audio = np.concatenate([silence(0.5), answer, silence(1.5), answer, silence(0.3)])
    endpointer = ModelEndpointer(vad.stream(), POLICY)
    events = run(endpointer, audio, lambda pcm: 0.1)
    assert ends(events) == []  # no end in the 1.5 s pause, nor 0.3 s after the rest
    assert sum(isinstance(e, SpeechStarted) for _, e in events) == 1  # one turn, carried on
    assert endpointer.judgements == 2  # each pause judged afresh
    assert endpointer.in_speech


def test_an_unfinished_turn_ends_at_the_ceiling_of_its_part(vad: SileroVad, answer: np.ndarray) -> None:
    audio = np.concatenate([silence(0.5), answer, silence(5.0)])
    waited = {}
    for part in (1, 2):
        endpointer = ModelEndpointer(vad.stream(), POLICY)
        endpointer.set_part(part)
        [(at, ended)] = ends(run(endpointer, audio, lambda pcm: 0.1))
        waited[part] = (at - ended.end) / RATE  # silence after the voice
    assert 2.0 <= waited[1] < 2.04
    assert 4.0 <= waited[2] < 4.04


def test_chunk_size_does_not_change_the_turns(vad: SileroVad, answer: np.ndarray) -> None:
    audio = np.concatenate([silence(0.5), answer, silence(0.8), answer, silence(1.0)])
    verdicts = iter([0.2, 0.8, 0.2, 0.8])

    def results(chunk: int) -> list[VadEvent]:
        return [e for _, e in run(ModelEndpointer(vad.stream(), POLICY), audio, lambda pcm: next(verdicts), chunk)]

    small = results(160)
    assert small == results(16000)
    assert len([e for e in small if isinstance(e, SpeechEnded)]) == 1  # the pause held, the end ended it


def test_a_click_ends_without_a_judgement(vad: SileroVad) -> None:
    click = (np.random.default_rng(1).standard_normal(int(0.05 * RATE)) * 20000).clip(-32000, 32000).astype(np.int16)
    endpointer = ModelEndpointer(vad.stream(), POLICY)
    events = run(endpointer, np.concatenate([silence(0.5), click, silence(1.0)]), lambda pcm: 1.0)
    assert endpointer.judgements == 0
    assert all(not e.is_speech(POLICY.min_speech_ms) for _, e in ends(events))


def test_smart_turn_hears_a_finished_sentence_from_a_trailing_article() -> None:
    model = SmartTurn()
    pad = silence(0.5)
    finished = np.concatenate([pad, trimmed(speak("My name is Anna Smith.")), silence(0.2)])
    unfinished = np.concatenate([pad, trimmed(speak("I think the")), silence(0.2)])
    assert model.features(finished).shape == (80, 800)
    assert model.probability_complete(finished) > 0.8  # measured 0.97 with espeak-ng 1.51
    assert model.probability_complete(unfinished) < 0.2  # measured 0.03
    assert model.probability_complete(finished) == model.probability_complete(finished)


def test_a_model_file_that_does_not_match_its_pinned_digest_is_refused() -> None:
    with pytest.raises(ModelUnavailable, match="sha256"):
        packaged_model_path((models.SILERO_VAD[0], "0" * 64))
    with pytest.raises(ModelUnavailable, match="not installed"):
        packaged_model_path(models.SILERO_VAD, package="no-such-model-package")


def test_the_energy_endpointer_stands_in_when_the_models_cannot_load(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def missing() -> SileroVad:
        raise ModelUnavailable("the model package 'pipecat-ai' is not installed")

    monkeypatch.setattr(local, "SileroVad", missing)
    with caplog.at_level(logging.WARNING, logger=local.__name__):
        assert load_turn_models(Settings()) is None
    assert "falling back to the energy endpointer" in caplog.text
    assert load_turn_models(Settings(turn_detector="energy")) is None


class ScriptedJudge:
    """Stands in for Smart Turn: the same verdict for every pause."""

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.calls = 0

    def probability_complete(self, pcm: np.ndarray) -> float:
        self.calls += 1
        if self.probability < 0:
            raise RuntimeError("onnxruntime failed")
        return self.probability


def turn_ends(audio: np.ndarray, judge: ScriptedJudge, vad: SileroVad) -> list[UserTurnEnded]:
    """The turn ends a local session with the model endpointer (Smart Turn alone) announces for ``audio``."""
    return session_turn_ends(TurnModels(vad, judge, POLICY), audio)  # type: ignore[arg-type]


def test_the_local_engine_ends_turns_on_the_judgement(vad: SileroVad, answer: np.ndarray) -> None:
    audio = np.concatenate([silence(0.5), answer, silence(1.5), answer, silence(0.5)])
    first, last = voiced_span(audio)
    finished = ScriptedJudge(0.9)
    ended = turn_ends(audio, finished, vad)
    assert len(ended) == 2  # the pause ended the first answer: it was judged finished
    assert finished.calls == 2
    assert abs(ended[0].start_ms - first * 1000 // RATE) <= 300
    unfinished = ScriptedJudge(0.1)
    [whole] = turn_ends(np.concatenate([audio, silence(2.5)]), unfinished, vad)  # one turn, ended at the ceiling
    assert abs(whole.end_ms - last * 1000 // RATE) <= 150


def test_the_judgement_is_asked_for_before_the_decision_needs_it(vad: SileroVad, answer: np.ndarray) -> None:
    endpointer = ModelEndpointer(vad.stream(), POLICY)
    endpointer.feed(np.concatenate([silence(0.5), answer, silence(0.2)]))
    audio = endpointer.take_judgement()
    assert audio is not None and not endpointer.decision_due  # asked at judge_ms, due at decision_ms
    assert endpointer.take_judgement() is None  # once per pause
    endpointer.feed(silence(0.2))
    assert endpointer.decision_due
    assert endpointer.decide(0.9) and not endpointer.in_speech


def test_a_failed_judgement_ends_the_turn_instead_of_stalling(vad: SileroVad, answer: np.ndarray) -> None:
    audio = np.concatenate([silence(0.5), answer, silence(0.6)])
    [ended] = turn_ends(audio, ScriptedJudge(-1.0), vad)
    assert abs(ended.end_ms - voiced_span(audio)[1] * 1000 // RATE) <= 150


class RecordingRecogniser:
    """Stands in for Whisper: records where each call's audio starts and ends (ms), and answers one word."""

    busy = False

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def transcribe(self, audio: np.ndarray, *, offset_ms: int = 0, prompt: str | None = None) -> Transcript:
        self.calls.append((offset_ms, offset_ms + audio.size * 1000 // RATE))
        return Transcript((Word(" word", offset_ms + 10, offset_ms + 60, 0.9),), -0.1, 0.05)


def test_a_long_pause_held_open_is_never_sent_to_the_recogniser(vad: SileroVad, answer: np.ndarray) -> None:
    policy = TurnPolicy(decision_ms=200, judge_ms=64, complete_threshold=0.5, ceiling_part1_ms=4000)
    audio = np.concatenate([silence(0.5), answer, silence(2.5), answer, silence(5.0)])
    recogniser = RecordingRecogniser()
    [turn] = session_turn_ends(TurnModels(vad, ScriptedJudge(0.1), policy), audio, recogniser)  # held: one turn
    spoken = answer.size * 1000 // RATE
    stopped, resumed = 500 + spoken, 3000 + spoken
    assert turn.end_ms > resumed  # the pause was held open, as a thinking pause is
    assert len(recogniser.calls) >= 2
    # The call at the pause covers the first answer; every later call starts just before the voice came back:
    # Whisper is never handed the seconds of silence (it fills them with the turn's words again).
    assert recogniser.calls[0][1] <= stopped + 400
    assert all(start >= resumed - 400 for start, _ in recogniser.calls[1:]), recogniser.calls
