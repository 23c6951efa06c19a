"""End of turn from Smart Turn v3.2: the probability that an utterance sounds finished, judged from its audio.

The model (BSD-2, by Daily; the ONNX file shipped in the pinned ``pipecat-ai`` wheel) is a Whisper-tiny encoder with a
classifier head, trained on speech to hear whether the speaker has finished: falling or level pitch, a closed
phrase, against a trailing "because", "and", "the". It reads the last 8 seconds of the turn as 80-band Whisper
log-mel features; shorter audio is padded with silence in front. The features come from faster-whisper's own
extractor (identical, to float precision, to the transformers extractor the model was trained with); only the
waveform normalisation to zero mean and unit variance is done here, as ``WhisperFeatureExtractor(do_normalize=True)``
does. One judgement takes 10-90 ms on one core.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ieltsprep.adapters.speech.models import SMART_TURN, ModelUnavailable, packaged_model_path

RATE = 16000
SECONDS = 8
SAMPLES = RATE * SECONDS
NORM_EPSILON = 1e-7


class SmartTurn:
    """The loaded model; ``probability_complete`` is safe to call from several threads."""

    def __init__(self, path: Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(path or packaged_model_path(SMART_TURN)), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except ModelUnavailable:
            raise
        except Exception as exc:  # onnxruntime's own errors (a corrupt or incompatible file)
            raise ModelUnavailable(f"Smart Turn could not be loaded: {exc}") from exc
        self._features = FeatureExtractor(feature_size=80, sampling_rate=RATE, chunk_length=SECONDS)
        self.last_seconds = 0.0  # wall time of the latest judgement

    def features(self, pcm: np.ndarray) -> np.ndarray:
        """The model's input for 16 kHz 16-bit ``pcm``: (80, 800) log-mel of its last 8 seconds."""
        audio = pcm[-SAMPLES:].astype(np.float32) / 32768.0
        audio = np.pad(audio, (SAMPLES - audio.size, 0))
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + NORM_EPSILON)
        return np.asarray(self._features(audio, padding=0), dtype=np.float32)

    def probability_complete(self, pcm: np.ndarray) -> float:
        """How likely the turn in ``pcm`` (from its start, up to now, 16 kHz 16-bit) is finished, 0 to 1."""
        started = time.perf_counter()
        (probability,) = self._session.run(None, {"input_features": self.features(pcm)[None]})
        self.last_seconds = time.perf_counter() - started
        return float(np.asarray(probability).reshape(-1)[0])
