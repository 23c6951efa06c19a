"""A test-only speech engine that speaks the Nova Sonic protocol without models: it "recognises" each candidate
utterance (voice followed by a pause) as the next of a list of given texts, and "speaks" each examiner line as a
short tone. With ``words_after`` it behaves like the local engine: it announces the end of the turn at once and
sends the words that many seconds later. It lets the worker, gateway and client be tested in seconds; the real engine is tested in the slow test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import numpy as np

from ieltsprep.speaking.protocol import Event, SessionConfig, event_body, event_name, parse_say_instruction

PAUSE_SECONDS = 0.3


def tone(seconds: float, rate: int = 16000, level: int = 6000) -> bytes:
    """A voiced-looking stand-in for speech (a 220 Hz tone)."""
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 220 * t) * level).astype("<i2").tobytes()


class FakeSpeechSession:
    """One fake conversation."""

    def __init__(self, answers: list[str], seconds_per_word: float, words_after: float | None = None) -> None:
        self.prompt_name = str(uuid.uuid4())
        self.audio_content_name = str(uuid.uuid4())
        self._answers = answers
        self._seconds_per_word = seconds_per_word
        self._words_after = words_after
        self._out: asyncio.Queue[Event | None] = asyncio.Queue()
        self._voiced = 0.0
        self._pause = 0.0
        self._now = 0.0
        self.said: list[str] = []
        self.parts: list[int] = []  # the part the worker said was under way before each line (port.PartAware)
        self.audio_bytes_in = 0
        self.closed = False

    def set_part(self, part: int) -> None:
        self.parts.append(part)

    async def send(self, event: Mapping[str, Any]) -> None:
        name = event_name(event)
        body = event_body(event)
        if name == "textInput":
            line = parse_say_instruction(str(body.get("content", "")))
            if line is not None:
                self.said.append(line)
                self._speak(line)
        elif name == "audioInput":
            pcm = base64.b64decode(body["content"])
            self.audio_bytes_in += len(pcm)
            self._hear(pcm)

    def _emit(self, name: str, body: dict[str, Any]) -> None:
        self._out.put_nowait({"event": {name: body}})

    def _speak(self, line: str) -> None:
        content_id = str(uuid.uuid4())
        pcm = tone(self._seconds_per_word * len(line.split()), rate=24000, level=2000)
        self._emit("contentStart", {"contentId": content_id, "type": "AUDIO", "role": "ASSISTANT"})
        self._emit("audioOutput", {"contentId": content_id, "content": base64.b64encode(pcm).decode()})
        self._emit("contentEnd", {"contentId": content_id, "type": "AUDIO", "stopReason": "END_TURN"})
        # What Maya said, as both real engines report it once the line is out.
        text_id = str(uuid.uuid4())
        fields = json.dumps({"generationStage": "FINAL"})
        self._emit(
            "contentStart", {"contentId": text_id, "type": "TEXT", "role": "ASSISTANT", "additionalModelFields": fields}
        )
        self._emit("textOutput", {"contentId": text_id, "role": "ASSISTANT", "content": line})
        self._emit("contentEnd", {"contentId": text_id, "type": "TEXT", "stopReason": "END_TURN"})

    def _hear(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
        seconds = len(samples) / 16000
        start = self._now
        self._now += seconds
        if samples.size and float(np.sqrt(np.mean(samples * samples))) > 1000:
            if self._voiced == 0:
                self._started = start
            self._voiced += seconds
            self._pause = 0.0
            return
        if self._voiced > 0:
            self._pause += seconds
            if self._pause >= PAUSE_SECONDS:
                self._final(self._started, self._now - self._pause)
                self._voiced = 0.0

    def _final(self, start: float, end: float) -> None:
        text = self._answers.pop(0) if self._answers else "I have nothing more to say about that topic"
        words = text.split()
        step = (end - start) / max(1, len(words))
        asr = {
            "startMs": int(start * 1000),
            "endMs": int(end * 1000),
            "avgLogprob": -0.2,
            "words": [
                {
                    "word": w,
                    "startMs": int((start + i * step) * 1000),
                    "endMs": int((start + (i + 1) * step) * 1000),
                    "probability": 0.9,
                }
                for i, w in enumerate(words)
            ],
        }
        content_id = str(uuid.uuid4())
        start_fields: dict[str, Any] = {"generationStage": "FINAL", "asr": asr}
        if self._words_after is not None:
            voiced = int((end - start) * 1000)
            start_fields = {
                "generationStage": "FINAL",
                "turn": {"startMs": asr["startMs"], "endMs": asr["endMs"], "voicedMs": voiced},
            }
        fields = json.dumps(start_fields)
        self._emit(
            "contentStart", {"contentId": content_id, "type": "TEXT", "role": "USER", "additionalModelFields": fields}
        )

        def words() -> None:
            self._emit("textOutput", {"contentId": content_id, "role": "USER", "content": text})
            end_fields = {"additionalModelFields": json.dumps({"asr": asr})} if self._words_after is not None else {}
            self._emit("contentEnd", {"contentId": content_id, "type": "TEXT", "stopReason": "END_TURN", **end_fields})

        if self._words_after is None:
            words()
        else:
            asyncio.get_running_loop().call_later(self._words_after, words)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            event = await self._out.get()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        self.closed = True
        self._out.put_nowait(None)


class FakeSpeechEngine:
    """Opens fake sessions; records what was prepared and what each session heard and said."""

    name = "fake"

    def __init__(
        self, answers: Iterable[str], seconds_per_word: float = 0.02, words_after: float | None = None
    ) -> None:
        self.answers = list(answers)
        self.seconds_per_word = seconds_per_word
        self.words_after = words_after
        self.sessions: list[FakeSpeechSession] = []
        self.prepared: list[str] = []
        self.configs: list[SessionConfig] = []

    async def open(self, config: SessionConfig) -> FakeSpeechSession:
        self.configs.append(config)
        session = FakeSpeechSession(self.answers, self.seconds_per_word, self.words_after)
        self.sessions.append(session)
        return session

    async def prerender(self, lines: Iterable[str], voice_id: str = "amy") -> None:
        self.prepared += list(lines)

    def close(self) -> None:
        self.sessions.clear()
