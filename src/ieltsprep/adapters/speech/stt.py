"""Speech to text with faster-whisper (Whisper base, int8, CPU): words with timings and probabilities."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ieltsprep.speaking.protocol import Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

# Measured on this project's machines (docs/ARCHITECTURE.md, feasibility): int8 + greedy keeps WER at float32's
# level at half the time; two threads match the two cores of the target machine.
COMPUTE_TYPE = "int8"
CPU_THREADS = 2
BEAM_SIZE = 1
# Whisper invents text for silence and noise; segments that look like that are dropped.
NO_SPEECH_PROB = 0.6
HALLUCINATION_LOGPROB = -1.0


@dataclass(frozen=True)
class Transcript:
    """Recognised words of one piece of audio, in ms of session audio time."""

    words: tuple[Word, ...]
    avg_logprob: float
    seconds: float  # wall-clock time the recogniser took

    @property
    def text(self) -> str:
        """The words joined into text."""
        return "".join(w.word for w in self.words).strip()


class Transcriber:
    """One loaded Whisper model; calls are serialised (the model uses both cores per call)."""

    def __init__(self, model_dir: Path, *, cpu_threads: int = CPU_THREADS) -> None:
        from faster_whisper import WhisperModel

        started = time.perf_counter()
        self._model: WhisperModel = WhisperModel(
            str(model_dir), device="cpu", compute_type=COMPUTE_TYPE, cpu_threads=cpu_threads
        )
        self.load_seconds = time.perf_counter() - started
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """True while a transcription runs."""
        return self._lock.locked()

    def transcribe(self, audio: np.ndarray, *, offset_ms: int = 0, prompt: str | None = None) -> Transcript:
        """Transcribe float32 16 kHz mono audio; ``offset_ms`` places the words in session time."""
        started = time.perf_counter()
        with self._lock:
            segments, _info = self._model.transcribe(
                audio.astype(np.float32, copy=False),
                language="en",
                beam_size=BEAM_SIZE,
                # faster-whisper's default temperature fallback stays on: greedy alone turned a clean short answer
                # into an invented sentence in our benchmark, and the fallback (only on a poor decode) fixed it.
                word_timestamps=True,
                condition_on_previous_text=False,
                vad_filter=False,
                initial_prompt=prompt or None,
            )
            kept = [
                s for s in segments if not (s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob < HALLUCINATION_LOGPROB)
            ]
        words = tuple(
            Word(
                word=w.word,
                start_ms=offset_ms + round(w.start * 1000),
                end_ms=offset_ms + round(w.end * 1000),
                probability=float(w.probability),
            )
            for segment in kept
            for w in (segment.words or [])
        )
        durations = [max(s.end - s.start, 0.01) for s in kept]
        avg = float(np.average([s.avg_logprob for s in kept], weights=durations)) if kept else 0.0
        return Transcript(words, avg, time.perf_counter() - started)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference length (case and punctuation ignored)."""

    def words(text: str) -> list[str]:
        return "".join(c.lower() if c.isalnum() or c in " '" else " " for c in text).split()

    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))
