"""When the candidate was speaking, measured from their own 16 kHz audio on every engine.

Nova Sonic gives words without timings, and a recogniser's word timings are its guess; the candidate's microphone
audio, which the worker receives whatever the engine, says when there was voice. A voice-activity detector is any
function from 16 kHz 16-bit mono PCM to the voiced segments in it (``VoiceActivity``); ``energy_voice_activity`` is
the one used today: frame energy against a noise floor estimated from the same stretch of audio. A model-based
detector (e.g. Silero VAD) can be passed to ``AudioTimeline`` instead. The worker runs this on AWS Lambda, whose
package has no numpy (docs/DEPLOY.md), so the arithmetic is the standard library's (``array`` and ``math``).

``AudioTimeline`` keeps the last few minutes of the candidate's audio in memory, on the test clock, so that when a
turn's words arrive the controller can ask for the voice in that turn's span. Only the segment times are kept
afterwards (they are stored with the turn); the audio itself is never stored.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Callable, Sequence
from operator import mul

from ieltsprep.speaking.clock import BYTES_PER_SAMPLE, INPUT_SAMPLE_RATE
from ieltsprep.stats import percentile

Segment = tuple[int, int]  # start and end in ms
VoiceActivity = Callable[[bytes], list[Segment]]  # 16 kHz PCM -> voiced segments, ms from the start of the PCM

FRAME_MS = 20
VOICE_RMS_MIN = 300.0  # a 16-bit frame quieter than this is never voice (a quiet room measures 30-150)
FLOOR_FACTOR = 3.0  # voice is this many times the noise floor's energy (about 10 dB)
FLOOR_PERCENTILE = 10  # the noise floor: the quietest tenth of the frames (there is silence between turns)
# ... but never above this: a stretch with no silence in it (a long, unbroken answer) would put speech there.
FLOOR_MAX = 500.0
BRIDGE_MS = 120  # shorter gaps are within a word (stop closures), not pauses
MIN_SEGMENT_MS = 60  # shorter bursts are clicks and knocks
KEEP_SECONDS = 300.0  # audio the timeline keeps: a whole Part 2 (preparation and talk) and some
MS_BYTES = INPUT_SAMPLE_RATE // 1000 * BYTES_PER_SAMPLE
CONTEXT_MS = 3000  # audio before a span that the detector also reads, so the noise floor includes some silence


def pcm_samples(pcm: bytes) -> array[int]:
    """The samples of 16-bit little-endian mono PCM (a trailing odd byte is dropped)."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // BYTES_PER_SAMPLE * BYTES_PER_SAMPLE])
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _sum_of_products(a: Sequence[int], b: Sequence[int]) -> float:
    return sum(map(mul, a, b))


_dot = getattr(math, "sumprod", _sum_of_products)  # math.sumprod (in C) where the runtime has it: Python 3.12, Lambda


def rms(samples: Sequence[int]) -> float:
    """Root mean square of ``samples`` (0.0 for none); 123 s of audio in 20 ms frames takes 0.18 s on Python 3.11."""
    return math.sqrt(_dot(samples, samples) / len(samples)) if samples else 0.0


def energy_voice_activity(pcm: bytes) -> list[Segment]:
    """Voiced segments of 16 kHz 16-bit mono PCM by frame energy against an adaptive noise floor."""
    samples = pcm_samples(pcm)
    frame = INPUT_SAMPLE_RATE * FRAME_MS // 1000
    frames = len(samples) // frame
    if frames == 0:
        return []
    energy = [rms(samples[i * frame : (i + 1) * frame]) for i in range(frames)]
    threshold = max(VOICE_RMS_MIN, FLOOR_FACTOR * min(FLOOR_MAX, percentile(energy, FLOOR_PERCENTILE)))
    segments: list[list[int]] = []
    for index, level in enumerate(energy):
        if level < threshold:
            continue
        start, end = index * FRAME_MS, (index + 1) * FRAME_MS
        if segments and start - segments[-1][1] < BRIDGE_MS:
            segments[-1][1] = end
        else:
            segments.append([start, end])
    return [(s, e) for s, e in segments if e - s >= MIN_SEGMENT_MS]


class AudioTimeline:
    """The candidate's recent audio on the test clock, and the voice in any span of it."""

    def __init__(
        self, start_ms: int = 0, detector: VoiceActivity = energy_voice_activity, keep_seconds: float = KEEP_SECONDS
    ) -> None:
        self.detector = detector
        self._start_ms = start_ms  # test time of the first byte kept
        self._audio = bytearray()
        self._keep = int(keep_seconds * INPUT_SAMPLE_RATE) * BYTES_PER_SAMPLE

    @property
    def end_ms(self) -> int:
        """Test time of the end of the audio received so far."""
        return self._start_ms + self._ms(len(self._audio))

    def feed(self, pcm: bytes) -> None:
        """Append a chunk of the candidate's audio (the test clock advances by its length)."""
        self._audio += pcm
        excess = len(self._audio) - self._keep
        if excess > 0:
            excess += -excess % MS_BYTES  # whole milliseconds, so the kept audio's start stays exact
            del self._audio[:excess]
            self._start_ms += self._ms(excess)

    def voiced(self, start_ms: int, end_ms: int) -> list[Segment]:
        """Voiced segments (test time, ms) within ``start_ms``-``end_ms``, as far as the audio is still kept."""
        read_from = max(self._start_ms, start_ms - CONTEXT_MS)
        read_to = min(self.end_ms, end_ms)
        if read_to <= max(read_from, start_ms):
            return []
        first = self._bytes(read_from - self._start_ms)
        last = self._bytes(read_to - self._start_ms)
        out: list[Segment] = []
        for s, e in self.detector(bytes(self._audio[first:last])):
            s, e = max(start_ms, read_from + s), min(end_ms, read_from + e)
            if e > s:
                out.append((s, e))
        return out

    @staticmethod
    def _ms(nbytes: int) -> int:
        return nbytes // BYTES_PER_SAMPLE * 1000 // INPUT_SAMPLE_RATE

    @staticmethod
    def _bytes(ms: int) -> int:
        return max(0, ms) * INPUT_SAMPLE_RATE // 1000 * BYTES_PER_SAMPLE
