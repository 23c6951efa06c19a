"""Speaking turn latency over the whole platform: the local gateway, the WebSocket relay, the speaking worker, the
controller and the local speech engine, driven by ``ieltsprep speak``'s client.

Run: ``.venv/bin/python bench/bench_speaking_turns.py [--speed 1.0] [--time-scale 0.1] [--turn-detector both]
[--sessions 1]``. Prints figures; asserts nothing. By default the test runs twice in one go, with the energy endpointer
and with the model turn detection (Silero VAD + Smart Turn), so the two are compared under the same machine load.
``--sessions N`` runs the test N times per detector (alternating between detectors) and also prints the figures over
all N sessions' turns: a p50 over one session's ten turns moves by tens of milliseconds between runs.
- turn latency: wall time from the end of each candidate answer (the last chunk of its voiced audio was sent) to the
  first examiner audio message the client receives, p50 and p95. Budget (DESIGN.md): p50 under 1.0 s. The client
  streams at ``--speed`` x real time (1.0 = live, as a candidate would); endpointing (silence after the answer)
  is included in the figure, as the budget says. Only a live run (speed 1.0) measures it faithfully: faster, the
  endpointer's silence (audio time) passes in a fraction of the wall time. The same figures are also printed for
  the question-and-answer turns alone: the Part 2 long turn ends only after a 3 s pause (a talk, not an answer).
- transcription real-time factor: the engine's recogniser on the same answers (recogniser seconds / audio seconds).
- decision wait (model detector): wall time each end-of-turn decision waited for its judgements (the last words'
  read and Smart Turn) after the decision point of the silence (the engine's debug log).
Candidate answers are spoken by espeak-ng (en-gb, 150 words a minute) and trimmed to their voiced part.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ieltsprep.billing import ledger  # noqa: E402
from ieltsprep.container import Container  # noqa: E402
from ieltsprep.edges.gateway.server import BackgroundServer  # noqa: E402
from ieltsprep.settings import Settings  # noqa: E402
from ieltsprep.speaking.cli import SpeakingClient, create_assessment, read_wav_16k  # noqa: E402

ANSWERS = [
    "My full name is Anna Smith.",
    "I come from Leeds, a large city in the north of England.",
    "I usually get up early and go for a run before breakfast because it gives me energy.",
    "Yes, I have played the piano since I was a child and I still practise every week.",
    "Most people I know spend the weekend with their families or their friends.",
    "I would like to describe my grandmother, who taught me to cook when I was young. She was patient and kind.",
    "Yes, we still talk on the phone every Sunday evening.",
    "Many people find it hard because they want to show that they are independent.",
    "I believe schools should teach children to help their neighbours and their community.",
    "Technology makes it easier to stay in touch, but it can also make people feel lonely.",
    "In my opinion the government should support families who care for older relatives.",
    "Overall I think people are kind when they have the time to help others.",
]
PASSWORD = "correct horse battery staple"


def spoken(text: str, directory: Path, index: int) -> bytes:
    """``text`` spoken by espeak-ng as 16 kHz PCM, trimmed to its voiced part."""
    path = directory / f"{index:02d}.wav"
    subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "150", "-w", str(path), text], check=True, timeout=60)
    audio = np.frombuffer(read_wav_16k(path), dtype="<i2")
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > 300)
    return audio[int(loud[0]) : int(loud[-1]) + 1].tobytes()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def transcription_rtf(container: Container, answers: list[bytes]) -> tuple[float, float]:
    """Recogniser seconds per audio second over ``answers`` (after one warm-up), and the audio seconds."""
    from ieltsprep.adapters.speech.local import LocalSpeechEngine

    engine = container.speech_engine
    assert isinstance(engine, LocalSpeechEngine)
    transcriber, _ = engine.load()
    clips = [np.frombuffer(a, dtype="<i2").astype(np.float32) / 32768 for a in answers]
    transcriber.transcribe(clips[0])
    started = time.perf_counter()
    for clip in clips:
        transcriber.transcribe(clip)
    spent = time.perf_counter() - started
    audio_seconds = sum(len(c) for c in clips) / 16000
    return spent / audio_seconds, audio_seconds


class DecisionWaits(logging.Handler):
    """Collects the local engine's debug line for each end-of-turn decision: the wait in ms."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.waits: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("turn decision waited") and isinstance(record.args, tuple):
            self.waits.append(float(record.args[0]))


def run_test(detector: str, answers: list[bytes], args: argparse.Namespace, work: Path) -> list[tuple[str, float]]:
    """One scripted speaking test with the local engine's turn detection set to ``detector``; prints its figures and
    returns each turn's (phase, latency)."""
    settings = Settings(
        stage="local",
        data_dir=Path(tempfile.mkdtemp(prefix=f"var-{detector}-", dir=work)),
        cookie_secure=False,
        speaking_time_scale=args.time_scale,
        turn_detector=detector,
    )
    container = Container(settings)
    load_started = time.perf_counter()
    rtf, audio_seconds = transcription_rtf(container, answers)
    print(f"[{detector}] models loaded and warmed in {time.perf_counter() - load_started:.1f} s")
    print(f"[{detector}] transcription real-time factor: {rtf:.3f} over {audio_seconds:.1f} s of answers")
    user = container.accounts.register("bench@example.com", PASSWORD, terms=True, age_16_plus=True)
    ledger.grant(container.store, user.id, "academic_speaking", 4, source="operator", idempotency_key="bench")
    token = container.accounts.login("bench@example.com", PASSWORD).token
    waits = DecisionWaits()
    engine_log = logging.getLogger("ieltsprep.adapters.speech.local")
    engine_log.addHandler(waits)
    engine_log.setLevel(logging.DEBUG)
    with BackgroundServer(container) as server:

        async def run_test():  # type: ignore[no-untyped-def]
            assessment_id = await create_assessment(server.base_url, token, "academic_speaking")
            client = SpeakingClient(server.base_url, token, answers, speed=args.speed, timeout=1800)
            return await client.run(assessment_id)

        run = asyncio.run(run_test())
        container.invoker.drain(120)
    container.close()
    engine_log.removeHandler(waits)
    if waits.waits:
        print(
            f"[{detector}] decision wait after the decision point: p50 {statistics.median(waits.waits):.0f} ms, "
            f"p95 {percentile(waits.waits, 95):.0f} ms over {len(waits.waits)} decisions"
        )
    latencies = [t.latency for t in run.timings if t.latency is not None]
    print(
        f"[{detector}] session: completed={run.completed}, {run.answers_sent} answers, "
        f"{len(run.examiner_lines)} examiner lines, {run.audio_seconds_sent:.0f} s of audio in {run.wall_seconds:.0f} s "
        f"wall (speed {args.speed}), {run.interrupted} interruptions, errors {run.errors}"
    )
    if latencies:
        print(
            f"[{detector}] end of answer -> first examiner audio: p50 {statistics.median(latencies):.3f} s, "
            f"p95 {percentile(latencies, 95):.3f} s, max {max(latencies):.3f} s over {len(latencies)} turns "
            f"(budget p50 < 1.0 s)"
        )
        qa = [t.latency for t in run.timings if t.latency is not None and t.phase != "talk"]
        talks = [f"{t.latency:.3f} s" for t in run.timings if t.latency is not None and t.phase == "talk"]
        if qa:
            print(
                f"[{detector}] question-and-answer turns only: p50 {statistics.median(qa):.3f} s, "
                f"p95 {percentile(qa, 95):.3f} s, max {max(qa):.3f} s over {len(qa)} turns; "
                f"Part 2 long turn: {', '.join(talks) or 'none'}"
            )
    result = (run.result or {}).get("result", {})
    evidence = result.get("evidence", {})
    print(
        f"[{detector}] result: {(run.result or {}).get('status')} overall band {result.get('overall_band')} "
        f"(provisional {result.get('provisional_band')}; {evidence.get('candidate_seconds')} s of candidate speech "
        f"measured in the audio, parts {evidence.get('parts_taken')})"
    )
    return [(t.phase, latency) for t in run.timings if (latency := t.latency) is not None]


def print_pooled(detector: str, turns: list[tuple[str, float]], sessions: int) -> None:
    """The latency figures over every session's turns."""
    qa = [latency for phase, latency in turns if phase != "talk"]
    if not qa:
        return
    print(
        f"[{detector}] over {sessions} sessions, question-and-answer turns: p50 {statistics.median(qa):.3f} s, "
        f"p95 {percentile(qa, 95):.3f} s, max {max(qa):.3f} s over {len(qa)} turns; all turns p50 "
        f"{statistics.median([latency for _, latency in turns]):.3f} s"
    )


def main() -> None:
    """Run one scripted speaking test per turn detector, one after the other, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=1.0, help="audio seconds streamed per wall second")
    parser.add_argument("--time-scale", type=float, default=0.1, help="IELTSPREP_SPEAKING_TIME_SCALE for the test")
    parser.add_argument("--sessions", type=int, default=1, help="speaking tests per detector, figures pooled")
    parser.add_argument(
        "--turn-detector",
        choices=("energy", "model", "both"),
        default="both",
        help="the local engine's turn detection (IELTSPREP_TURN_DETECTOR); both: energy, then model, in one run",
    )
    args = parser.parse_args()
    print(f"machine load (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    detectors = ("energy", "model") if args.turn_detector == "both" else (args.turn_detector,)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        answers = [spoken(text, work, i) for i, text in enumerate(ANSWERS)]
        turns: dict[str, list[tuple[str, float]]] = {detector: [] for detector in detectors}
        for _ in range(args.sessions):
            for detector in detectors:
                turns[detector] += run_test(detector, answers, args, work)
        if args.sessions > 1:
            for detector in detectors:
                print_pooled(detector, turns[detector], args.sessions)
    print(f"machine load (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
