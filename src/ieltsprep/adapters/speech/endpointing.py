"""Endpointing: finds where the candidate starts and stops speaking in 16 kHz audio, in audio sample time.

An energy detector with an adaptive noise floor: a 20 ms frame is voiced when its level is ``threshold_db`` above
the noise floor (and above an absolute minimum). The floor is a low percentile of the last few seconds of frame
levels: speech always has quiet gaps between syllables, so the percentile follows the room (a fan, traffic, a noisy
microphone), not the voice. Speech starts after ``onset_ms`` of voice; a pause is reported
after ``pause_ms`` of silence (the recogniser may transcribe up to there while we wait), and the turn ends after
``hangover_ms`` of silence. Everything counts samples, never the wall clock, so audio fed faster than real time
(tests, the CLI's ``--fast``) is endpointed exactly as live audio.

The hangover is the floor of the examiner's response time, so it is as short as live voice systems make it (500 ms
at MEDIUM, as WebRTC-style endpointers and the OpenAI Realtime server VAD default to), and aware of how much has
been said: a turn with less than ``short_turn_ms`` of voice so far ("Well...", "Hmm, let me think") is most likely a
candidate gathering their thoughts, so it needs ``short_turn_hangover_ms`` of silence to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ieltsprep.adapters.speech.last_words import Verdict
from ieltsprep.speaking.protocol import Sensitivity

# Silence needed to end a turn, per Nova Sonic endpointingSensitivity (HIGH = quickest to answer), after a turn with
# some substance and after a turn of a word or a hesitation.
HANGOVER_MS: dict[Sensitivity, int] = {"HIGH": 400, "MEDIUM": 500, "LOW": 800}
SHORT_TURN_HANGOVER_MS: dict[Sensitivity, int] = {"HIGH": 800, "MEDIUM": 1000, "LOW": 1500}


@dataclass(frozen=True)
class VadConfig:
    """Endpointing parameters (milliseconds of audio; levels in dBFS)."""

    sample_rate: int = 16000
    frame_ms: int = 20
    onset_ms: int = 60
    pause_ms: int = 200
    hangover_ms: int = 500
    short_turn_ms: int = 600
    short_turn_hangover_ms: int = 1000
    min_speech_ms: int = 200
    pre_roll_ms: int = 200
    threshold_db: float = 10.0
    min_level_db: float = -48.0
    initial_floor_db: float = -60.0
    floor_window_ms: int = 3000
    floor_percentile: float = 10.0

    @classmethod
    def for_sensitivity(cls, sensitivity: Sensitivity, sample_rate: int = 16000) -> VadConfig:
        """Parameters for a Nova Sonic endpointing sensitivity."""
        return cls(
            sample_rate=sample_rate,
            hangover_ms=HANGOVER_MS[sensitivity],
            short_turn_hangover_ms=SHORT_TURN_HANGOVER_MS[sensitivity],
        )

    def hangover_frames(self, voiced_frames: int) -> int:
        """Silent frames that end a turn holding ``voiced_frames`` of voice."""
        short = voiced_frames < self.frames(self.short_turn_ms)
        return self.frames(self.short_turn_hangover_ms if short else self.hangover_ms)

    @property
    def frame_samples(self) -> int:
        """Samples per analysis frame."""
        return self.sample_rate * self.frame_ms // 1000

    def frames(self, ms: int) -> int:
        """Whole frames covering ``ms`` milliseconds."""
        return max(1, -(-ms // self.frame_ms))


@dataclass(frozen=True)
class SpeechStarted:
    """Voice began; ``start`` includes a little pre-roll so the recogniser hears the first phoneme."""

    start: int


@dataclass(frozen=True)
class PauseStarted:
    """Silence of ``pause_ms`` inside a turn; ``at`` is the sample where voice stopped."""

    at: int


@dataclass(frozen=True)
class PauseEnded:
    """Voice came back after a ``PauseStarted`` in the same turn; ``at`` is the sample where it began again."""

    at: int


@dataclass(frozen=True)
class SpeechEnded:
    """The turn ended (the hangover of silence); ``end`` is where voice stopped; ``voiced_ms`` its amount."""

    end: int
    voiced_ms: int

    def is_speech(self, min_speech_ms: int) -> bool:
        """False for a blip too short to be an answer (a cough, a click)."""
        return self.voiced_ms >= min_speech_ms


VadEvent = SpeechStarted | PauseStarted | PauseEnded | SpeechEnded


class Endpointer(Protocol):
    """What the local engine needs of an endpointer: this energy one, or ``turn_detection.ModelEndpointer``.

    ``take_judgement()`` and ``take_reading()`` may hand out audio whose end-of-turn judgement (Smart Turn) and last
    words (``last_words``) the caller should start, and ``feed`` may stop where the turn's end needs them
    (``decision_due``): the caller then calls ``decide`` with the probability that the turn is finished and the
    verdict of its words, and feeds on.
    """

    samples_seen: int
    in_speech: bool
    last_voiced_end: int
    decision_due: bool

    @property
    def voiced_ms_in_turn(self) -> int:
        """Voice heard in the current turn so far (0 outside speech)."""
        ...

    @property
    def min_speech_ms(self) -> int:
        """Less voice than this in a turn is a click or a cough."""
        ...

    def feed(self, pcm: np.ndarray) -> list[VadEvent]:
        """Consume samples; return the events they complete."""
        ...

    def take_judgement(self) -> np.ndarray | None:
        """Audio to judge for the coming decision, once (None when nothing new is wanted)."""
        ...

    def take_reading(self) -> np.ndarray | None:
        """Audio whose last words to read for the coming decision, once (None when nothing new is wanted)."""
        ...

    def decide(self, probability_complete: float, words: Verdict = Verdict.OPEN) -> list[VadEvent]:
        """Apply the judgement (and what the last words say); the events it completes."""
        ...

    def set_part(self, part: int) -> None:
        """The part of the test under way."""
        ...


class EnergyVad:
    """Streaming voice activity detector; feed it 16-bit PCM in any chunk size. It needs no judgements."""

    decision_due = False

    def __init__(self, config: VadConfig | None = None) -> None:
        self.config = config or VadConfig()
        self.floor_db = self.config.initial_floor_db
        self._levels = np.zeros(self.config.frames(self.config.floor_window_ms))
        self._level_count = 0
        self.samples_seen = 0  # samples consumed into whole frames
        self.in_speech = False
        self.last_voiced_end = 0  # sample just after the last voiced frame
        self._carry = np.zeros(0, dtype=np.int16)
        self._voiced_run = 0
        self._silent_run = 0
        self._voiced_frames = 0
        self._run_start = 0
        self._pause_reported = False

    def feed(self, pcm: np.ndarray) -> list[VadEvent]:
        """Consume samples; return the events they complete, in order."""
        size = self.config.frame_samples
        data = np.concatenate([self._carry, pcm.astype(np.int16, copy=False)]) if self._carry.size else pcm
        whole = (data.size // size) * size
        self._carry = np.array(data[whole:], dtype=np.int16)
        if whole == 0:
            return []
        frames = data[:whole].astype(np.float32).reshape(-1, size) / 32768.0
        levels = 10.0 * np.log10(np.mean(frames * frames, axis=1) + 1e-10)
        events: list[VadEvent] = []
        for level in levels:
            self._frame(float(level), events)
        return events

    @property
    def voiced_ms_in_turn(self) -> int:
        """Voice heard in the current turn so far (0 outside speech)."""
        return self._voiced_frames * self.config.frame_ms if self.in_speech else 0

    @property
    def min_speech_ms(self) -> int:
        """Less voice than this in a turn is a click or a cough."""
        return self.config.min_speech_ms

    def take_judgement(self) -> np.ndarray | None:
        """Never wanted: the hangover alone ends a turn."""
        return None

    def take_reading(self) -> np.ndarray | None:
        """Never wanted: the hangover alone ends a turn."""
        return None

    def decide(self, probability_complete: float, words: Verdict = Verdict.OPEN) -> list[VadEvent]:
        """Never due: the hangover alone ends a turn."""
        raise RuntimeError("the energy endpointer makes no end-of-turn judgements")

    def set_part(self, part: int) -> None:
        """The hangover is the same in every part."""

    def level_is_voice(self, level_db: float) -> bool:
        """Whether a frame at ``level_db`` counts as voice against the current noise floor."""
        return level_db > max(self.floor_db + self.config.threshold_db, self.config.min_level_db)

    def _frame(self, level: float, events: list[VadEvent]) -> None:
        cfg = self.config
        start = self.samples_seen
        self.samples_seen += cfg.frame_samples
        self._adapt_floor(level)
        voiced = self.level_is_voice(level)
        if voiced:
            if self._voiced_run == 0:
                self._run_start = start
            self._voiced_run += 1
            self._silent_run = 0
            self.last_voiced_end = self.samples_seen
            if self.in_speech:
                self._voiced_frames += 1
                if self._pause_reported:
                    events.append(PauseEnded(start))
                self._pause_reported = False
            elif self._voiced_run >= cfg.frames(cfg.onset_ms):
                self.in_speech = True
                self._voiced_frames = self._voiced_run
                self._pause_reported = False
                pre_roll = cfg.sample_rate * cfg.pre_roll_ms // 1000
                events.append(SpeechStarted(max(0, self._run_start - pre_roll)))
            return
        self._voiced_run = 0
        if not self.in_speech:
            return
        self._silent_run += 1
        if not self._pause_reported and self._silent_run >= cfg.frames(cfg.pause_ms):
            self._pause_reported = True
            events.append(PauseStarted(self.last_voiced_end))
        if self._silent_run >= cfg.hangover_frames(self._voiced_frames):
            self.in_speech = False
            events.append(SpeechEnded(self.last_voiced_end, self._voiced_frames * cfg.frame_ms))
            self._voiced_frames = 0

    def _adapt_floor(self, level: float) -> None:
        # Only levels actually heard count, so a noisy microphone is learnt from its first frames.
        self._levels[self._level_count % self._levels.size] = max(level, -90.0)
        self._level_count += 1
        seen = self._levels[: min(self._level_count, self._levels.size)]
        self.floor_db = min(-20.0, float(np.percentile(seen, self.config.floor_percentile)))
