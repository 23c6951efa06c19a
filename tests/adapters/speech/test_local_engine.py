"""The local speech engine end to end: espeak-ng answers in, Nova Sonic events out (loads Whisper and Piper)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from speech_audio import RATE, silence, speak, trimmed, word_error_rate

from ieltsprep.adapters.speech.local import LocalSpeechEngine, LocalSpeechSession
from ieltsprep.speaking.protocol import (
    INTERRUPTED_TEXT,
    AssistantAudio,
    AssistantText,
    InputEvents,
    Interrupted,
    OutputTracker,
    ProtocolError,
    SessionConfig,
    UserTranscript,
    event_body,
    event_name,
    say_instruction,
)

pytestmark = pytest.mark.slow

ANSWERS = [
    "My name is Daniel Morgan, and I come from a small town in the north of England.",
    "I usually spend my weekends with my family, and sometimes we go walking in the hills.",
    "I think public transport in my city is quite reliable, although the buses are often crowded in the morning.",
]


class Harness:
    """Drives one session: sends events, collects raw output events and turn events."""

    def __init__(self, session: LocalSpeechSession) -> None:
        self.session = session
        self.build = InputEvents(session.prompt_name)
        self.raw: list[dict[str, Any]] = []
        self.turns: list[Any] = []
        self._tracker = OutputTracker()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for event in self.session.events():
            self.raw.append(event)
            self.turns += self._tracker.feed(event)

    async def audio(self, samples: np.ndarray, chunk: int = 512) -> None:
        for start in range(0, samples.size, chunk):
            await self.session.send(
                self.build.audio_input(self.session.audio_content_name, samples[start : start + chunk].tobytes())
            )
            await asyncio.sleep(0)

    async def say(self, line: str) -> None:
        for event in self.build.say(line):
            await self.session.send(event)

    async def until(self, done: Callable[[], bool], timeout: float = 120.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            assert loop.time() < deadline, "the engine did not produce the expected events"
            await asyncio.sleep(0.05)

    def finals(self) -> list[UserTranscript]:
        return [t for t in self.turns if isinstance(t, UserTranscript) and t.stage == "FINAL"]

    async def close(self) -> None:
        await self.session.close()
        await self._reader


def run(engine: LocalSpeechEngine, body: Callable[[Harness], Awaitable[None]]) -> Harness:
    async def main() -> Harness:
        session = await engine.open(SessionConfig(system_prompt="You are Maya, an IELTS examiner."))
        harness = Harness(session)
        try:
            await body(harness)
        finally:
            await harness.close()
        return harness

    return asyncio.run(main())


def test_candidate_answers_are_transcribed_within_15_percent_wer_one_final_per_turn(
    local_engine: LocalSpeechEngine,
) -> None:
    spoken = [trimmed(speak(text)) for text in ANSWERS]

    async def body(h: Harness) -> None:
        await h.audio(silence(1.0))
        for answer in spoken:
            await h.audio(answer)
            await h.audio(silence(1.5))
        await h.until(lambda: len(h.finals()) >= len(ANSWERS))

    h = run(local_engine, body)
    finals = h.finals()
    assert len(finals) == len(ANSWERS)
    reference = " ".join(ANSWERS)
    hypothesis = " ".join(f.text for f in finals)
    assert word_error_rate(reference, hypothesis) <= 0.15, hypothesis
    position = RATE * 1.0
    for final, answer in zip(finals, spoken, strict=True):
        asr = final.asr
        assert asr is not None and asr.words
        start_ms, end_ms = 1000 * position / RATE, 1000 * (position + answer.size) / RATE
        # Word timings are in session audio time, inside the answer, in order, with probabilities.
        assert start_ms - 300 <= asr.words[0].start_ms and asr.words[-1].end_ms <= end_ms + 300
        assert all(a.start_ms <= b.start_ms for a, b in zip(asr.words, asr.words[1:], strict=False))
        assert all(0.0 <= w.probability <= 1.0 for w in asr.words)
        assert abs(asr.end_ms - end_ms) <= 200
        assert asr.avg_logprob < 0
        position += answer.size + RATE * 1.5


def test_silence_produces_no_candidate_turn(local_engine: LocalSpeechEngine) -> None:
    async def body(h: Harness) -> None:
        await h.audio(silence(4.0))

    h = run(local_engine, body)
    assert [e for e in h.raw if event_name(e) not in ("completionStart", "completionEnd")] == []


def test_a_prerendered_line_plays_as_24khz_audio_and_is_final_once_played_out_on_the_audio_clock(
    local_engine: LocalSpeechEngine, data_dir: Path
) -> None:
    line = "Now let's talk about your home town."
    asyncio.run(local_engine.prerender([line]))
    _, voice = local_engine.load()
    cached = voice.cached(line)
    assert cached is not None and (data_dir / "speech-cache" / f"{voice.key(line)}.pcm").is_file()
    seconds = len(cached) / 2 / 24000

    async def body(h: Harness) -> None:
        await h.say(line)
        await h.until(
            lambda: any(event_name(e) == "contentEnd" and event_body(e).get("type") == "AUDIO" for e in h.raw)
        )
        await h.audio(silence(seconds * 0.8))
        assert AssistantText(line, "FINAL") not in h.turns  # still playing
        await h.audio(silence(seconds * 0.3))
        await h.until(lambda: AssistantText(line, "FINAL") in h.turns)

    h = run(local_engine, body)
    kinds = [t for t in h.turns if not isinstance(t, AssistantAudio)]
    assert kinds[0] == AssistantText(line, "SPECULATIVE")
    audio = [t for t in h.turns if isinstance(t, AssistantAudio)]
    assert b"".join(a.pcm for a in audio) == cached
    assert all(a.sample_rate == 24000 for a in audio)
    chunks = [event_body(e)["content"] for e in h.raw if event_name(e) == "audioOutput"]
    assert max(len(c) for c in chunks) <= 32 * 1024


def test_candidate_speech_over_the_examiner_interrupts_her_and_is_still_transcribed(
    local_engine: LocalSpeechEngine,
) -> None:
    line = "In this part of the test I'm going to give you a topic and I'd like you to talk about it."
    asyncio.run(local_engine.prerender([line]))
    interruption = "Sorry, could you repeat that please?"

    async def body(h: Harness) -> None:
        await h.audio(silence(0.5))
        await h.say(line)
        await h.until(lambda: any(event_name(e) == "audioOutput" for e in h.raw))
        await h.audio(silence(1.0))
        await h.audio(trimmed(speak(interruption)))
        await h.audio(silence(3.0))  # past the Part 1 ceiling: the turn ends whatever Smart Turn makes of it
        await h.until(lambda: len(h.finals()) >= 1)

    h = run(local_engine, body)
    assert sum(isinstance(t, Interrupted) for t in h.turns) == 1
    texts = [event_body(e)["content"] for e in h.raw if event_name(e) == "textOutput"]
    assert INTERRUPTED_TEXT in texts
    ends = [event_body(e).get("stopReason") for e in h.raw if event_name(e) == "contentEnd"]
    assert "INTERRUPTED" in ends
    assert AssistantText(line, "FINAL") not in h.turns  # she did not finish the line
    assert word_error_rate(interruption, h.finals()[0].text) <= 0.25


def test_speech_after_the_line_has_played_is_an_answer_not_an_interruption(local_engine: LocalSpeechEngine) -> None:
    line = "Do you work or are you a student?"
    asyncio.run(local_engine.prerender([line]))
    _, voice = local_engine.load()
    seconds = len(voice.render(line)) / 2 / 24000

    async def body(h: Harness) -> None:
        await h.say(line)
        await h.until(lambda: any(event_name(e) == "audioOutput" for e in h.raw))
        await h.audio(silence(seconds + 0.5))
        await h.audio(trimmed(speak("I am a student.")))
        await h.audio(silence(3.0))  # past the Part 1 ceiling: the turn ends whatever Smart Turn makes of it
        await h.until(lambda: len(h.finals()) >= 1)

    h = run(local_engine, body)
    assert not any(isinstance(t, Interrupted) for t in h.turns)
    assert AssistantText(line, "FINAL") in h.turns


def test_the_engine_refuses_input_it_cannot_honour(local_engine: LocalSpeechEngine) -> None:
    async def body(h: Harness) -> None:
        build = h.build
        free_text = build.text("USER", "Ask me anything you like.", interactive=True)
        await h.session.send(free_text[0])
        await h.session.send(free_text[1])
        with pytest.raises(ProtocolError, match="say_instruction"):
            await h.session.send(free_text[2])
        bad = build.audio_input(h.session.audio_content_name, b"")
        bad["event"]["audioInput"]["content"] = "not base64!"
        with pytest.raises(ProtocolError, match="base64"):
            await h.session.send(bad)
        with pytest.raises(ProtocolError, match="16-bit"):
            await h.session.send(build.audio_input(h.session.audio_content_name, b"\x00\x00\x00"))
        with pytest.raises(ProtocolError, match="promptName"):
            await h.session.send(InputEvents("someone-else").audio_input(h.session.audio_content_name, b"\x00\x00"))
        with pytest.raises(ProtocolError, match="tool"):
            await h.session.send(build.tool_result("t-1", {})[0])
        # The session is still usable after refused input.
        for event in build.say("Thank you."):
            await h.session.send(event)
        await h.until(lambda: any(event_name(e) == "audioOutput" for e in h.raw))

    run(local_engine, body)
    assert say_instruction("Thank you.")


def test_closing_ends_the_event_stream_and_later_input_is_refused(local_engine: LocalSpeechEngine) -> None:
    async def main() -> tuple[list[str], Exception | None]:
        session = await local_engine.open(SessionConfig(system_prompt="You are Maya."))
        names: list[str] = []

        async def read() -> None:
            async for event in session.events():
                names.append(event_name(event))

        reader = asyncio.create_task(read())
        await session.send(InputEvents(session.prompt_name).session_end())
        await reader
        try:
            await session.send(InputEvents(session.prompt_name).audio_input(session.audio_content_name, b"\x00\x00"))
        except ProtocolError as exc:
            return names, exc
        return names, None

    names, error = asyncio.run(main())
    assert names == ["completionStart", "completionEnd"]
    assert isinstance(error, ProtocolError)


def test_no_candidate_audio_is_written_to_disk(local_engine: LocalSpeechEngine, data_dir: Path) -> None:
    answer = trimmed(speak("I enjoy cooking for my friends."))

    async def body(h: Harness) -> None:
        await h.audio(np.concatenate([silence(0.5), answer, silence(1.2)]))
        await h.until(lambda: len(h.finals()) >= 1)

    run(local_engine, body)
    _, voice = local_engine.load()
    needle = answer[RATE // 2 : RATE // 2 + 800].tobytes()
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert path.parent.name == "speech-cache" and path.suffix == ".pcm"
            assert needle not in path.read_bytes()
            assert base64.b64encode(needle)[:200] not in path.read_bytes()
    assert voice.output_rate == 24000
