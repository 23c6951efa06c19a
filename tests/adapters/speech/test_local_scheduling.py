"""When the local engine calls the recogniser (with a recording fake recogniser, so no model is loaded)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import numpy as np

from ieltsprep.adapters.speech.local import LocalSpeechSession
from ieltsprep.adapters.speech.stt import Transcript
from ieltsprep.adapters.speech.tts import EspeakSynthesizer, ExaminerVoice
from ieltsprep.speaking.controller import RESUME_GRACE_MS
from ieltsprep.speaking.protocol import (
    InputEvents,
    OutputTracker,
    SessionConfig,
    TurnEvent,
    UserTranscript,
    UserTurnEnded,
    Word,
)

RATE = 16000


class RecordingRecogniser:
    """Answers each call with one word named after the call, and says it took ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls: list[tuple[int, int]] = []  # (start ms, duration ms) of the audio it was given
        self.busy = False

    def transcribe(self, audio: np.ndarray, *, offset_ms: int = 0, prompt: str | None = None) -> Transcript:
        self.calls.append((offset_ms, audio.size * 1000 // RATE))
        word = Word(f" w{len(self.calls)}", offset_ms + 10, offset_ms + audio.size * 1000 // RATE - 10, 0.9)
        return Transcript((word,), -0.1, self.seconds)


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def run_session(
    recogniser: RecordingRecogniser, audio: np.ndarray, after_audio: Callable[[], None] = lambda: None
) -> tuple[list[TurnEvent], list[TurnEvent]]:
    """Stream ``audio`` into a session; the turn events seen once it is all sent, and all of them in the end."""

    async def main() -> tuple[list[TurnEvent], list[TurnEvent]]:
        session = LocalSpeechSession(
            SessionConfig(system_prompt="You are Maya."), recogniser, ExaminerVoice(EspeakSynthesizer(), None)
        )
        session.start()
        build = InputEvents(session.prompt_name)
        tracker = OutputTracker()
        seen: list[TurnEvent] = []

        async def read() -> None:
            async for event in session.events():
                seen.extend(tracker.feed(event))

        reader = asyncio.create_task(read())
        for start in range(0, audio.size, 512):
            await session.send(build.audio_input(session.audio_content_name, audio[start : start + 512].tobytes()))
            await asyncio.sleep(0.001)  # the recogniser task runs between chunks, as it does on a live stream
        await asyncio.sleep(0.05)
        at_end_of_audio = list(seen)
        after_audio()
        for _ in range(100):
            await asyncio.sleep(0.01)
        await session.close()
        await reader
        return at_end_of_audio, seen

    return asyncio.run(main())


def drive(recogniser: RecordingRecogniser, audio: np.ndarray) -> list[UserTranscript]:
    """The FINAL candidate transcripts of a session fed ``audio``."""
    _, seen = run_session(recogniser, audio)
    return [t for t in seen if isinstance(t, UserTranscript) and t.stage == "FINAL"]


def test_a_pause_inside_a_turn_is_transcribed_while_the_candidate_is_silent_and_the_end_adds_the_rest() -> None:
    recogniser = RecordingRecogniser(seconds=0.2)
    finals = drive(recogniser, np.concatenate([silence(0.5), tone(1.5), silence(0.4), tone(1.0), silence(1.0)]))
    assert len(recogniser.calls) == 2
    (first_start, first_len), (second_start, _) = recogniser.calls
    assert first_start <= 500 and first_start + first_len <= 2000 + 150  # up to the pause (plus a little padding)
    assert second_start >= 2000  # the end-of-turn call starts where the pause call stopped
    assert [f.text for f in finals] == ["w1 w2"]
    asr = finals[0].asr
    assert asr is not None and [w.word.strip() for w in asr.words] == ["w1", "w2"]
    assert abs(asr.end_ms - 3400) <= 40  # where the voice stopped


def test_a_busy_machine_gets_one_call_per_turn() -> None:
    recogniser = RecordingRecogniser(seconds=3.0)
    turn = np.concatenate([tone(1.5), silence(0.4), tone(1.0), silence(1.0)])
    finals = drive(recogniser, np.concatenate([silence(0.5), turn, turn]))
    # The first pause call shows the machine is slow; from then on each turn is transcribed once, at its end.
    assert len(recogniser.calls) == 3
    assert len(finals) == 2


def test_a_pause_soon_after_the_start_waits_for_more_words() -> None:
    recogniser = RecordingRecogniser(seconds=0.2)
    finals = drive(recogniser, np.concatenate([silence(0.5), tone(0.5), silence(0.4), tone(1.5), silence(1.0)]))
    assert len(recogniser.calls) == 1  # half a second is too little for Whisper to hear well: one call at the end
    assert [f.text for f in finals] == ["w1"]


def test_a_click_costs_no_recogniser_call() -> None:
    recogniser = RecordingRecogniser(seconds=0.2)
    finals = drive(recogniser, np.concatenate([silence(0.5), tone(0.1), silence(1.0)]))
    assert recogniser.calls == [] and finals == []


class HeldRecogniser(RecordingRecogniser):
    """A recogniser that answers only once the test lets it (a slow Whisper call, under the test's control)."""

    def __init__(self) -> None:
        super().__init__(seconds=0.2)
        self.release = threading.Event()

    def transcribe(self, audio: np.ndarray, *, offset_ms: int = 0, prompt: str | None = None) -> Transcript:
        self.release.wait(10)
        return super().transcribe(audio, offset_ms=offset_ms, prompt=prompt)


def test_the_end_of_the_turn_is_announced_before_the_words_are_recognised() -> None:
    recogniser = HeldRecogniser()
    audio = np.concatenate([silence(0.5), tone(2.0), silence(0.6)])
    before_words, seen = run_session(recogniser, audio, after_audio=recogniser.release.set)
    (ended,) = [e for e in before_words if isinstance(e, UserTurnEnded)]
    assert not any(isinstance(e, UserTranscript) for e in before_words)
    assert abs(ended.end_ms - 2500) <= 40 and abs(ended.voiced_ms - 2000) <= 60
    finals = [e for e in seen if isinstance(e, UserTranscript) and e.stage == "FINAL"]
    assert [f.text for f in finals] == ["w1"] and finals[0].asr is not None
    assert seen.index(ended) < seen.index(finals[0])


def test_a_thinking_pause_past_the_hangover_ends_a_turn_and_the_next_start_falls_in_the_grace_window() -> None:
    # The controller takes Maya's early line back when the next turn starts within RESUME_GRACE_MS of the previous
    # turn's voice end: both times are audio sample time, so audio fed faster than real time measures the same.
    audio = np.concatenate([silence(0.5), tone(2.0), silence(0.8), tone(1.5), silence(2.0), tone(1.5), silence(0.6)])
    _, seen = run_session(RecordingRecogniser(0.0), audio)
    first, resumed, later = [e for e in seen if isinstance(e, UserTurnEnded)]
    assert abs(first.end_ms - 2500) <= 40 and abs(resumed.end_ms - 4800) <= 40
    assert resumed.start_ms - first.end_ms <= RESUME_GRACE_MS  # the 0.8 s pause: the same answer going on
    assert later.start_ms - resumed.end_ms > RESUME_GRACE_MS  # 2 s: a new turn
