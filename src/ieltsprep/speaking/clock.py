"""The speaking test clock: time is audio sample time, not wall-clock time.

The candidate's client streams microphone audio continuously (silence included), so the number of samples received
is the test's time base. Official limits (Part 1 four to five minutes, one minute of preparation, ...) are multiplied
by ``settings.speaking_time_scale`` so tests can shorten the whole test; reactions to silence are not scaled because
they are about how people talk, not about the test's schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

INPUT_SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2


@dataclass
class AudioClock:
    """Seconds of candidate audio received so far, with the test's time scale."""

    scale: float = 1.0
    samples: int = 0
    offset_seconds: float = 0.0  # time already spent before a resumption

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError("the time scale must be positive")

    def feed(self, pcm_bytes: int) -> float:
        """Advance by a chunk of 16-bit mono PCM of ``pcm_bytes`` bytes; returns the new time."""
        self.samples += pcm_bytes // BYTES_PER_SAMPLE
        return self.now

    @property
    def now(self) -> float:
        """Seconds of audio since the test began (including earlier connections)."""
        return self.offset_seconds + self.samples / INPUT_SAMPLE_RATE

    def limit(self, official_seconds: float) -> float:
        """An official time limit in audio seconds, shortened by the time scale."""
        return official_seconds * self.scale
