"""Speech benchmark (local engine): model load times, transcription speed, and examiner response latency.

Run: ``.venv/bin/python bench/bench_speech.py [--turns N] [--pace 1.0]``. Prints figures; asserts nothing.
- load: assembling Whisper from its packages (first use), loading it, loading the Piper voice.
- transcription: real-time factor (recogniser seconds / audio seconds) of whole answers, and their WER.
- session: a scripted conversation through ``LocalSpeechEngine`` with candidate answers spoken by espeak-ng and fed
  in 32 ms chunks paced at ``--pace`` x real time (1.0 = live). After each answer the script does what the speaking
  controller does with a full answer: when the engine announces the end of the turn (the USER FINAL block opens
  with ``turn``), it sends the next (pre-rendered) examiner line; the words follow. The figure is
  the wall time from the end of the candidate's speech (the chunk holding the last voiced sample was sent) to the
  first examiner audio chunk, p50 and p95. Budget (DESIGN.md): p50 under 1.0 s.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ieltsprep.adapters.speech.local import LocalSpeechEngine  # noqa: E402
from ieltsprep.adapters.speech.models import whisper_model_dir  # noqa: E402
from ieltsprep.adapters.speech.stt import Transcriber, word_error_rate  # noqa: E402
from ieltsprep.adapters.speech.tts import ExaminerVoice, PiperSynthesizer  # noqa: E402
from ieltsprep.settings import Settings  # noqa: E402
from ieltsprep.speaking.protocol import (  # noqa: E402
    AssistantAudio,
    InputEvents,
    OutputTracker,
    SessionConfig,
    UserTranscript,
    UserTurnEnded,
)

RATE = 16000
CHUNK = 512  # 32 ms, as Nova Sonic clients send
P50_BUDGET_S = 1.0
SCRIPT = [
    ("Good morning. My name is Maya. Can you tell me your full name, please?", "My name is Daniel Morgan."),
    ("Thank you. And can you tell me where you're from?", "I come from a small town in the north of England."),
    (
        "Let's talk about your home town. What do you like most about it?",
        "I like the people, because they are friendly and the countryside around it is beautiful.",
    ),
    (
        "Is it a good place for young people to live?",
        "Not really, because there are not many jobs, so a lot of young people move to the city after school.",
    ),
    (
        "Let's move on to the topic of reading. How often do you read books?",
        "I read almost every evening, usually novels or books about history.",
    ),
    (
        "Did you read more when you were a child?",
        "Yes, I think so. My parents read to me every night and we had a lot of books at home.",
    ),
    (
        "Now let's talk about transport. How do you usually travel to work or school?",
        "I usually take the bus, although sometimes I cycle when the weather is good.",
    ),
    (
        "Do you think public transport in your country could be improved?",
        "Yes, definitely. The trains are often late and the tickets are quite expensive compared to other countries.",
    ),
]
CLOSING = "Thank you. That is the end of the speaking test."


def speak(text: str) -> np.ndarray:
    """espeak-ng at 150 words a minute, British voice, resampled to 16 kHz, trimmed to the voiced part."""
    import soxr

    raw = subprocess.run(
        ["espeak-ng", "-v", "en-gb", "-s", "150", "--stdout", text], capture_output=True, check=True
    ).stdout
    with wave.open(io.BytesIO(raw)) as wav:
        rate = wav.getframerate()
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    pcm = (np.clip(soxr.resample(audio, rate, RATE), -1, 1) * 32767).astype(np.int16)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 300)
    return pcm[loud[0] : loud[-1] + 1]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def bench_loads(cache: Path) -> dict[str, float]:
    started = time.perf_counter()
    model_dir = whisper_model_dir(cache)
    assemble = time.perf_counter() - started
    started = time.perf_counter()
    whisper_model_dir(cache)
    reuse = time.perf_counter() - started
    transcriber = Transcriber(model_dir)
    piper = PiperSynthesizer()
    return {
        "whisper_assemble_s": round(assemble, 3),
        "whisper_cached_lookup_s": round(reuse, 4),
        "whisper_load_s": round(transcriber.load_seconds, 3),
        "piper_load_s": round(piper.load_seconds, 3),
    }


def bench_transcription(transcriber: Transcriber, answers: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    audio_s = recog_s = 0.0
    heard = []
    pad = np.zeros(RATE // 5, dtype=np.float32)  # the 200 ms the endpointer keeps before and after a turn
    for _, pcm in answers:
        result = transcriber.transcribe(np.concatenate([pad, pcm.astype(np.float32) / 32768.0, pad]))
        audio_s += pcm.size / RATE
        recog_s += result.seconds
        heard.append(result.text)
    reference = " ".join(text for text, _ in answers)
    return {
        "rtf": round(recog_s / audio_s, 3),
        "audio_s": round(audio_s, 1),
        "wer": round(word_error_rate(reference, " ".join(heard)), 3),
    }


async def bench_session(engine: LocalSpeechEngine, answers: list[np.ndarray], pace: float) -> dict[str, Any]:
    lines = [question for question, _ in SCRIPT[: len(answers)]] + [CLOSING]
    await engine.prerender(lines)
    _, voice = engine.load()
    session = await engine.open(SessionConfig(system_prompt="You are Maya, an IELTS examiner."))
    build = InputEvents(session.prompt_name)
    loop = asyncio.get_running_loop()
    finals: list[str] = []
    first_audio: list[float] = []
    waiting_for_audio = asyncio.Event()
    final_seen = asyncio.Event()

    async def say(line: str) -> None:
        for event in build.say(line):
            await session.send(event)

    async def read() -> None:
        tracker = OutputTracker()  # the controller's own reading of the engine's events
        ended = 0
        async for event in session.events():
            for turn in tracker.feed(event):
                if isinstance(turn, UserTurnEnded):
                    # What the controller does with a full answer: the next examiner line, as the turn ends.
                    ended += 1
                    await say(lines[min(ended, len(lines) - 1)])
                    waiting_for_audio.set()
                elif isinstance(turn, UserTranscript) and turn.stage == "FINAL" and turn.text:
                    finals.append(turn.text)
                    final_seen.set()
                elif isinstance(turn, AssistantAudio) and waiting_for_audio.is_set():
                    first_audio.append(loop.time())
                    waiting_for_audio.clear()

    reader = asyncio.create_task(read())

    async def feed(samples: np.ndarray) -> float:
        """Send paced audio; returns the wall time the last chunk was sent."""
        sent_at = loop.time()
        started = loop.time()
        for offset in range(0, samples.size, CHUNK):
            await session.send(
                build.audio_input(session.audio_content_name, samples[offset : offset + CHUNK].tobytes())
            )
            sent_at = loop.time()
            due = started + (offset + CHUNK) / RATE / pace
            await asyncio.sleep(max(0.0, due - loop.time()))
        return sent_at

    latencies: list[float] = []
    await say(lines[0])
    for index, answer in enumerate(answers):
        line_seconds = len(voice.render(lines[index])) / 2 / 24000
        await feed(np.zeros(int((line_seconds + 0.5) * RATE), dtype=np.int16))  # Maya speaks, the candidate listens
        final_seen.clear()
        end_of_speech = await feed(answer)
        silence = np.zeros(CHUNK, dtype=np.int16)
        audio_before = len(first_audio)
        while len(first_audio) == audio_before:
            await feed(silence)  # the microphone keeps streaming silence until Maya answers
        latencies.append(first_audio[-1] - end_of_speech)
    for _ in range(300):  # the last answer's words come after Maya's line has started
        if len(finals) >= len(answers):
            break
        await feed(np.zeros(CHUNK, dtype=np.int16))
    await session.close()
    await reader
    reference = " ".join(text for _, text in SCRIPT[: len(answers)])
    return {
        "turns": len(latencies),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p95_s": round(percentile(latencies, 95), 3),
        "latency_max_s": round(max(latencies), 3),
        "latencies_s": [round(x, 3) for x in latencies],
        "session_wer": round(word_error_rate(reference, " ".join(finals)), 3),
        "misheard": [
            {"said": said, "heard": heard}
            for (_, said), heard in zip(SCRIPT, finals, strict=False)
            if word_error_rate(said, heard) > 0
        ],
        "p50_budget_s": P50_BUDGET_S,
        "p50_within_budget": statistics.median(latencies) < P50_BUDGET_S,
    }


def main() -> None:
    """Run the three benchmarks and print their figures (JSON on the last line)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=len(SCRIPT))
    parser.add_argument("--pace", type=float, default=1.0, help="audio speed: 1.0 = real time, 2.0 = twice as fast")
    args = parser.parse_args()
    answers = [(answer, speak(answer)) for _, answer in SCRIPT[: args.turns]]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        loads = bench_loads(root / "models")
        print("load:", json.dumps(loads))
        settings = Settings(stage="local", data_dir=root / "var", model_cache_dir=root / "models")
        engine = LocalSpeechEngine(settings)
        transcriber, _ = engine.load()
        transcription = bench_transcription(transcriber, answers)
        print("transcription:", json.dumps(transcription))
        session = asyncio.run(bench_session(engine, [pcm for _, pcm in answers], args.pace))
        print("session:", json.dumps(session))
        if not isinstance(engine.load()[1], ExaminerVoice):
            raise SystemExit("no examiner voice")
    # Other processes on a shared 2-core machine slow every figure down: the load average says how much.
    machine = {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps({"machine": machine, "load": loads, "transcription": transcription, "session": session}))


if __name__ == "__main__":
    main()
