"""A local session driven by scripted turn models: which turn ends it announces for some candidate audio."""

from __future__ import annotations

import asyncio

import numpy as np

from ieltsprep.adapters.speech.local import LocalSpeechSession, TurnModels
from ieltsprep.adapters.speech.stt import Transcript
from ieltsprep.adapters.speech.tts import EspeakSynthesizer, ExaminerVoice
from ieltsprep.speaking.protocol import InputEvents, OutputTracker, SessionConfig, UserTurnEnded, Word


class OneWordRecogniser:
    """Stands in for Whisper: one word for any audio."""

    busy = False

    def transcribe(self, audio: np.ndarray, *, offset_ms: int = 0, prompt: str | None = None) -> Transcript:
        return Transcript((Word(" word", offset_ms, offset_ms + 100, 0.9),), -0.1, 0.01)


def turn_ends(models: TurnModels, audio: np.ndarray, recogniser: object | None = None) -> list[UserTurnEnded]:
    """The turn ends a local session with these turn models announces for ``audio`` (sent in 20 ms chunks)."""

    async def main() -> list[UserTurnEnded]:
        session = LocalSpeechSession(
            SessionConfig(system_prompt="You are Maya."),
            recogniser or OneWordRecogniser(),  # type: ignore[arg-type]
            ExaminerVoice(EspeakSynthesizer(), None),
            models,
        )
        session.start()
        build = InputEvents(session.prompt_name)
        tracker, seen = OutputTracker(), []

        async def collect() -> None:
            async for event in session.events():
                seen.extend(tracker.feed(event))

        collector = asyncio.create_task(collect())
        for start in range(0, audio.size, 640):
            await session.send(build.audio_input(session.audio_content_name, audio[start : start + 640].tobytes()))
            await asyncio.sleep(0)  # the recogniser task runs between chunks, as on a live stream
        await asyncio.sleep(0.1)
        await session.close()
        await collector
        return [e for e in seen if isinstance(e, UserTurnEnded)]

    return asyncio.run(main())
