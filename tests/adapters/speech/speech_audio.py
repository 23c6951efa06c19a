"""Candidate audio for speech tests: answers spoken by espeak-ng at the client's microphone format (16 kHz)."""

from __future__ import annotations

import io
import subprocess
import wave

import numpy as np
import soxr

from ieltsprep.adapters.speech.stt import word_error_rate

RATE = 16000
__all__ = ["RATE", "silence", "speak", "trimmed", "voiced_span", "word_error_rate"]


def speak(text: str, *, voice: str = "en-gb", words_per_minute: int = 150) -> np.ndarray:
    """``text`` spoken by espeak-ng, as 16 kHz 16-bit mono samples (the client's microphone format)."""
    raw = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with wave.open(io.BytesIO(raw)) as wav:
        rate = wav.getframerate()
        audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).astype(np.float32) / 32768.0
    resampled = soxr.resample(audio, rate, RATE)
    return (np.clip(resampled, -1.0, 1.0) * 32767.0).astype(np.int16)


def trimmed(audio: np.ndarray) -> np.ndarray:
    """Only the voiced part (espeak-ng pads its output with silence)."""
    first, last = voiced_span(audio)
    return audio[first : last + 1]


def silence(seconds: float) -> np.ndarray:
    """Digital silence."""
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def voiced_span(audio: np.ndarray, threshold: int = 300) -> tuple[int, int]:
    """First and last sample louder than ``threshold`` (where the speech really is)."""
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > threshold)
    return int(loud[0]), int(loud[-1])
