"""The examiner's voice offline: Piper (espeak-ng as fallback), resampled to 24 kHz, with a cache of rendered lines.

The cache holds only the EXAMINER's lines (our own script in our own synthetic voice), never candidate audio. It
lives under ``<data_dir>/speech-cache/`` keyed by a hash of voice, rate and text, so a line the controller
pre-renders plays at once, and a restart keeps them.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ieltsprep.adapters.speech.models import ModelUnavailable, piper_voice_path

if TYPE_CHECKING:
    from piper import PiperVoice

OUTPUT_RATE = 24000
_MEMORY_LINES = 512


class Synthesizer(Protocol):
    """Turns text into mono float audio."""

    name: str

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """Float32 samples in [-1, 1] and their sample rate."""
        ...


class PiperSynthesizer:
    """Piper with the bundled joe (en_US, medium) voice."""

    def __init__(self, model_path: Path | None = None) -> None:
        from piper import PiperVoice

        path = model_path or piper_voice_path()
        started = time.perf_counter()
        self._voice: PiperVoice = PiperVoice.load(path)
        self.load_seconds = time.perf_counter() - started
        self.name = f"piper:{path.stem}"
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """One sentence after another, joined."""
        with self._lock:
            chunks = list(self._voice.synthesize(text))
        if not chunks:
            return np.zeros(0, dtype=np.float32), self._voice.config.sample_rate
        audio = np.concatenate([c.audio_float_array.astype(np.float32) for c in chunks])
        return audio, chunks[0].sample_rate


class EspeakSynthesizer:
    """espeak-ng (Debian package): robotic but always available; a British female variant for Maya."""

    def __init__(self, voice: str = "en-gb+f3", words_per_minute: int = 160) -> None:
        if shutil.which("espeak-ng") is None:
            raise ModelUnavailable("espeak-ng is not installed")
        self._voice = voice
        self._wpm = words_per_minute
        self.name = f"espeak-ng:{voice}:{words_per_minute}"
        self.load_seconds = 0.0

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """Runs espeak-ng with the text on stdin (never as an argument, so no text is read as an option)."""
        result = subprocess.run(
            ["espeak-ng", "-v", self._voice, "-s", str(self._wpm), "--stdout"],
            input=text.encode("utf-8"),
            capture_output=True,
            check=True,
            timeout=60,
        )
        with wave.open(io.BytesIO(result.stdout)) as wav:
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        return pcm.astype(np.float32) / 32768.0, rate


def build_synthesizer(prefer: str = "piper") -> Synthesizer:
    """Piper when its voice package loads, else espeak-ng."""
    if prefer == "piper":
        try:
            return PiperSynthesizer()
        except (ModelUnavailable, ImportError, OSError):
            pass
    return EspeakSynthesizer()


def to_pcm16(audio: np.ndarray, rate: int, output_rate: int = OUTPUT_RATE) -> bytes:
    """Float audio at ``rate`` as 16-bit little-endian PCM at ``output_rate`` (soxr, high quality)."""
    import soxr

    if rate != output_rate and audio.size:
        audio = soxr.resample(audio, rate, output_rate)
    clipped = np.clip(audio, -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


class ExaminerVoice:
    """Renders examiner lines to 24 kHz PCM, from memory, disk cache or synthesis (in that order)."""

    def __init__(self, synthesizer: Synthesizer, cache_dir: Path | None, output_rate: int = OUTPUT_RATE) -> None:
        self.synthesizer = synthesizer
        self.output_rate = output_rate
        self._dir = cache_dir
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, text: str) -> str:
        """Cache key of a line for this voice and output rate."""
        material = f"{self.synthesizer.name}\n{self.output_rate}\n{' '.join(text.split())}"
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def cached(self, text: str) -> bytes | None:
        """The rendered line if it is in memory or on disk, without synthesising."""
        key = self.key(text)
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
                return hit
        if self._dir is not None:
            path = self._dir / f"{key}.pcm"
            if path.is_file():
                data = path.read_bytes()
                self._remember(key, data)
                return data
        return None

    def render(self, text: str) -> bytes:
        """The line as 16-bit PCM at ``output_rate``; synthesised and cached on a miss."""
        hit = self.cached(text)
        if hit is not None:
            return hit
        audio, rate = self.synthesizer.synthesize(" ".join(text.split()))
        data = to_pcm16(audio, rate, self.output_rate)
        key = self.key(text)
        self._remember(key, data)
        if self._dir is not None:
            self._write(self._dir / f"{key}.pcm", data)
        return data

    def prerender(self, lines: Iterable[str]) -> int:
        """Render every line not yet cached; returns how many were synthesised."""
        made = 0
        for line in lines:
            if line.strip() and self.cached(line) is None:
                self.render(line)
                made += 1
        return made

    def _remember(self, key: str, data: bytes) -> None:
        with self._lock:
            self._memory[key] = data
            self._memory.move_to_end(key)
            while len(self._memory) > _MEMORY_LINES:
                self._memory.popitem(last=False)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        # Write then rename: a reader never sees half a line, and concurrent writers of one line agree.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".line-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
