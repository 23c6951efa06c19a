"""Voice activity from Silero VAD: the probability of speech in each 32 ms of 16 kHz audio.

The model is the ONNX file shipped in the pinned ``pipecat-ai`` wheel (``models.packaged_model_path``), run with
onnxruntime on one thread: a window takes well under a millisecond. It is recurrent: each window is judged with the
model's state and the last 64 samples of the window before, so a stream is fed in order (``VoiceStream``), in any
chunk size. During clear silence the state is reset every two seconds, as Silero's own streaming code and pipecat do:
after long silence or noise a stale state can miss the speech that follows.

``speech_frames(pcm)`` is the one-call form for finished audio: where voice is, as (start_ms, end_ms) spans, with the
hysteresis of Silero's ``get_speech_timestamps`` (speech starts above ``threshold`` and ends below ``threshold`` -
0.15 held for ``min_silence_ms``).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from ieltsprep.adapters.speech.models import SILERO_VAD, ModelUnavailable, packaged_model_path

RATE = 16000
WINDOW = 512  # samples per judgement at 16 kHz (32 ms): the only size the model takes at this rate
WINDOW_MS = WINDOW * 1000 // RATE
CONTEXT = 64  # samples of the previous window the model sees with each one
RESET_EVERY = 2 * RATE // WINDOW  # windows between state resets (two seconds), done only in clear silence
RESET_QUIET_WINDOWS = 5
RESET_QUIET_PROBABILITY = 0.1


class SileroVad:
    """The loaded model; one per process, shared by any number of streams."""

    def __init__(self, path: Path | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(path or packaged_model_path(SILERO_VAD)), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except ModelUnavailable:
            raise
        except Exception as exc:  # onnxruntime's own errors (a corrupt or incompatible file)
            raise ModelUnavailable(f"Silero VAD could not be loaded: {exc}") from exc
        self._rate = np.array(RATE, dtype=np.int64)

    def stream(self) -> VoiceStream:
        """A new stream of audio to judge (its own recurrent state)."""
        return VoiceStream(self)

    def run(self, window: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        """Speech probability of one ``CONTEXT + WINDOW`` float32 window, and the next state."""
        probability, next_state = self._session.run(None, {"input": window[None, :], "state": state, "sr": self._rate})
        return float(probability[0, 0]), next_state


class VoiceStream:
    """Speech probabilities of one audio stream, one per 32 ms window, fed 16-bit PCM in any chunk size."""

    def __init__(self, model: SileroVad) -> None:
        self._model = model
        self._carry = np.zeros(0, dtype=np.int16)
        self.windows_seen = 0
        self._state: np.ndarray = np.zeros((2, 1, 128), dtype=np.float32)
        self._context: np.ndarray = np.zeros(CONTEXT, dtype=np.float32)
        self._since_reset = 0
        self._quiet = 0

    def feed(self, pcm: np.ndarray) -> np.ndarray:
        """The probabilities of the whole windows that ``pcm`` completes (the rest waits for more audio)."""
        data = np.concatenate([self._carry, pcm.astype(np.int16, copy=False)]) if self._carry.size else pcm
        whole = data.size // WINDOW * WINDOW
        self._carry = np.array(data[whole:], dtype=np.int16)
        samples = data[:whole].astype(np.float32) / 32768.0
        probabilities = np.empty(whole // WINDOW, dtype=np.float32)
        for i in range(probabilities.size):
            window = np.concatenate([self._context, samples[i * WINDOW : (i + 1) * WINDOW]])
            probabilities[i], self._state = self._model.run(window, self._state)
            self._context = window[-CONTEXT:]
            self._after(float(probabilities[i]))
        self.windows_seen += probabilities.size
        return probabilities

    def _after(self, probability: float) -> None:
        self._since_reset += 1
        self._quiet = self._quiet + 1 if probability < RESET_QUIET_PROBABILITY else 0
        if self._since_reset >= RESET_EVERY and self._quiet >= RESET_QUIET_WINDOWS:
            self._reset()

    def _reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._since_reset = 0
        self._quiet = 0


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _shared_model() -> SileroVad:
    with _load_lock:
        return SileroVad()


def speech_frames(
    pcm: np.ndarray,
    *,
    threshold: float = 0.5,
    min_silence_ms: int = 100,
    min_speech_ms: int = 64,
    model: SileroVad | None = None,
) -> list[tuple[int, int]]:
    """Where there is voice in 16 kHz 16-bit ``pcm``: (start_ms, end_ms) spans in the audio's own time, in order.

    A span starts at the first window above ``threshold`` and ends at the last window above ``threshold - 0.15``
    before at least ``min_silence_ms`` below it; spans with less than ``min_speech_ms`` of voice are dropped.
    Raises ``ModelUnavailable`` when the model package is not installed.
    """
    probabilities = (model or _shared_model()).stream().feed(np.asarray(pcm, dtype=np.int16))
    off = threshold - 0.15
    spans: list[tuple[int, int]] = []
    start: int | None = None
    last_voiced = 0
    for i, p in enumerate(probabilities):
        if start is None:
            if p >= threshold:
                start, last_voiced = i, i
            continue
        if p >= off:
            last_voiced = i
        elif (i - last_voiced) * WINDOW_MS >= min_silence_ms:
            spans.append((start, last_voiced))
            start = None
    if start is not None:
        spans.append((start, last_voiced))
    return [(s * WINDOW_MS, (e + 1) * WINDOW_MS) for s, e in spans if (e + 1 - s) * WINDOW_MS >= min_speech_ms]
