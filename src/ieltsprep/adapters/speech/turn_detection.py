"""Turn detection from models: Silero VAD hears where the voice is, Smart Turn judges whether a pause ends the turn.

The same events as the energy endpointer (``endpointing.SpeechStarted``, ``PauseStarted``, ``SpeechEnded``), in
audio sample time, so the local engine drives either one alike. Policy (``TurnPolicy``, from settings):
- Voice: a 32 ms window whose Silero probability is at least ``speech_threshold`` is voice; once speaking, windows
  stay voice down to ``speech_threshold - 0.15`` (Silero's own hysteresis: without it, the short gaps of a comma
  reached the decision and 10% of finished answers on the thinking-pause set were cut off at a comma, against 3%;
  the reply time was the same). Speech starts after ``onset_ms``.
- At ``judge_ms`` of silence the turn so far (from ``context_ms`` before its start, at most its last 8 s) is put
  to Smart Turn; at ``decision_ms`` its verdict is applied. Finished (probability at least ``complete_threshold``):
  the turn ends there (after a word or two, less than ``short_turn_ms`` of voice, only after
  ``short_turn_silence_ms``, as the energy endpointer does: "Sorry," is a whole turn to Smart Turn). Unfinished: it
  waits
  for more voice, up to the ceiling of silence for the part of the test under way (``set_part``; the Part 2 long turn
  waits longest), then ends. Voice in the pause simply continues the turn, and its next pause is judged afresh.
  Asking earlier than the decision hides the judgement's 40-150 ms of compute in the wait, but the model then hears
  less silence after the voice and calls fewer turns finished (figures in docs/ARCHITECTURE.md). With the last words
  read, Smart Turn mostly only vetoes a turn whose words close a sentence, so it is asked at 128 ms, hearing about
  0.2 s of silence (Silero's tail included), and the false cut-offs of the thinking-pause set stay as they were.
- The judgement is asked for, not made, here: ``take_judgement()`` hands out the audio to judge (the caller runs
  ``SmartTurn.probability_complete`` on it in a thread), ``feed`` stops at the decision point with ``decision_due``
  set, and the caller then calls ``decide`` with that verdict. Audio fed meanwhile waits, so the result is the same
  whatever the chunking and the wall clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ieltsprep.adapters.speech.endpointing import PauseEnded, PauseStarted, SpeechEnded, SpeechStarted, VadEvent
from ieltsprep.adapters.speech.last_words import Verdict
from ieltsprep.adapters.speech.vad import RATE, WINDOW, WINDOW_MS, VoiceStream

JUDGED_SAMPLES = 8 * RATE  # Smart Turn hears the last 8 s of a turn
HYSTERESIS = 0.15


@dataclass(frozen=True)
class TurnPolicy:
    """Thresholds of the model endpointer (milliseconds of audio); see the module docstring and settings."""

    speech_threshold: float = 0.5
    decision_ms: int = 192  # six Silero windows: the 200 ms the issue aims at, to the window
    judge_ms: int = 128  # when the judgement is asked for: 64 ms of its compute hidden in the wait (ARCHITECTURE.md)
    # When the last words are read. Whisper needs little silence after them, but at 64 ms the end of a fricative can
    # still be in Silero's tail: "... walking in the hills." read "hills" at 0.24 (a guess, so the turn was held).
    read_ms: int = 96
    complete_threshold: float = 0.9
    # Words that close a sentence end the turn unless Smart Turn is at least this sure it is unfinished.
    veto_threshold: float = 0.05
    ceiling_part1_ms: int = 3500
    ceiling_part2_ms: int = 5000
    ceiling_part3_ms: int = 4000
    onset_ms: int = 64
    pause_ms: int = 200
    pre_roll_ms: int = 200
    context_ms: int = 300  # with the pre-roll, 0.5 s before the voice, as pipecat gives Smart Turn
    min_speech_ms: int = 200
    # As in the energy endpointer: after less voice than this ("Sorry,", "Well...", "Hmm") a turn judged finished
    # still needs this much silence; the controller waits for the words of so short a turn anyway.
    short_turn_ms: int = 600
    short_turn_silence_ms: int = 1000

    def ceiling_ms(self, part: int) -> int:
        """Silence that ends a turn judged unfinished, in ``part`` (the introduction counts as Part 1)."""
        return {2: self.ceiling_part2_ms, 3: self.ceiling_part3_ms}.get(part, self.ceiling_part1_ms)


def _windows(ms: int) -> int:
    return max(1, -(-ms // WINDOW_MS))


class ModelEndpointer:
    """Streaming turn detection on Silero VAD probabilities with Smart Turn decisions; feed 16-bit PCM."""

    def __init__(self, voice: VoiceStream, policy: TurnPolicy | None = None, *, part: int = 1) -> None:
        self.policy = policy or TurnPolicy()
        self._voice = voice
        self._part = part
        self.samples_seen = 0  # samples consumed into whole windows
        self.in_speech = False
        self.last_voiced_end = 0
        self.decision_due = False
        self.judgements = 0
        self._carry = np.zeros(0, dtype=np.int16)  # less than a window
        self._queue: deque[tuple[float, np.ndarray]] = deque()  # judged windows waiting while a decision is due
        self._turn = np.zeros(0, dtype=np.int16)  # recent audio: the turn so far and its context
        self._voiced_run = 0
        self._silent_run = 0
        self._voiced_windows = 0
        self._run_start = 0
        self._turn_start = 0
        self._pause_reported = False
        self._judged_unfinished = False
        self._short_finished = False
        self._asked = False  # this pause's judgement has been asked for
        self._wanted: np.ndarray | None = None  # its audio, until the caller takes it
        self._read = False  # this pause's last words have been asked for
        self._to_read: np.ndarray | None = None  # their audio, until the caller takes it

    @property
    def min_speech_ms(self) -> int:
        """Less voice than this is a click or a cough, not an answer."""
        return self.policy.min_speech_ms

    @property
    def voiced_ms_in_turn(self) -> int:
        """Voice heard in the current turn so far (0 outside speech)."""
        return self._voiced_windows * WINDOW_MS if self.in_speech else 0

    def set_part(self, part: int) -> None:
        """The part of the test under way: it sets the ceiling for turns judged unfinished."""
        self._part = part

    def feed(self, pcm: np.ndarray) -> list[VadEvent]:
        """Consume samples up to the next decision (if any); return the events they complete, in order."""
        data = np.concatenate([self._carry, pcm.astype(np.int16, copy=False)])
        whole = data.size // WINDOW * WINDOW
        self._carry = data[whole:]
        if whole:
            # Silero hears everything at once (its state does not depend on our decisions); the policy takes the
            # windows in order and stops at a decision.
            probabilities = self._voice.feed(data[:whole])
            self._queue.extend((float(p), data[i * WINDOW : (i + 1) * WINDOW]) for i, p in enumerate(probabilities))
        events: list[VadEvent] = []
        while self._queue and not self.decision_due:
            probability, samples = self._queue.popleft()
            self._window(probability, samples, events)
        return events

    def take_judgement(self) -> np.ndarray | None:
        """The audio Smart Turn should judge for the coming decision, once per pause (None when nothing new): the
        turn from ``context_ms`` before its start up to ``judge_ms`` of silence, at most its last 8 s."""
        audio, self._wanted = self._wanted, None
        return audio

    def take_reading(self) -> np.ndarray | None:
        """The audio whose last words should be read for the coming decision (``last_words.LastWords``), once per
        pause, at ``read_ms`` of silence (None when nothing new)."""
        audio, self._to_read = self._to_read, None
        return audio

    def _judgement_audio(self) -> np.ndarray:
        context = RATE * self.policy.context_ms // 1000
        start = max(0, self._turn_start - context - (self.samples_seen - self._turn.size))
        return self._turn[start:][-JUDGED_SAMPLES:]

    def decide(self, probability_complete: float, words: Verdict = Verdict.OPEN) -> list[VadEvent]:
        """Apply the judgement of the pause reached, Smart Turn's ``probability_complete`` with what the last
        ``words`` say (``last_words.verdict``); returns the end of the turn if it is finished."""
        if not self.decision_due:
            raise RuntimeError("no end-of-turn decision is due")
        self.decision_due = False
        self.judgements += 1
        if words is Verdict.UNFINISHED:
            finished = False
        elif words is Verdict.FINISHED:
            finished = probability_complete >= self.policy.veto_threshold
        else:
            finished = probability_complete >= self.policy.complete_threshold
        if not finished:
            self._judged_unfinished = True
        elif self._voiced_windows * WINDOW_MS < self.policy.short_turn_ms:
            self._short_finished = True  # a word or two: ends after the short-turn silence unless voice returns
        else:
            return [self._end()]
        return []

    def _window(self, probability: float, samples: np.ndarray, events: list[VadEvent]) -> None:
        policy = self.policy
        start = self.samples_seen
        self.samples_seen += WINDOW
        self._remember(samples)
        threshold = policy.speech_threshold - (HYSTERESIS if self.in_speech else 0.0)
        if probability >= threshold:
            if self._voiced_run == 0:
                self._run_start = start
            self._voiced_run += 1
            self._silent_run = 0
            self.last_voiced_end = self.samples_seen
            if self.in_speech:
                self._voiced_windows += 1
                if self._pause_reported:
                    events.append(PauseEnded(self._run_start))
                self._forget_pause()
            elif self._voiced_run >= _windows(policy.onset_ms):
                self.in_speech = True
                self._voiced_windows = self._voiced_run
                self._forget_pause()
                pre_roll = RATE * policy.pre_roll_ms // 1000
                self._turn_start = max(0, self._run_start - pre_roll)
                events.append(SpeechStarted(self._turn_start))
            return
        self._voiced_run = 0
        if not self.in_speech:
            return
        self._silent_run += 1
        silent_ms = self._silent_run * WINDOW_MS
        if not self._pause_reported and silent_ms >= policy.pause_ms:
            self._pause_reported = True
            events.append(PauseStarted(self.last_voiced_end))
        if self._judged_unfinished or self._short_finished:
            wait = policy.short_turn_silence_ms if self._short_finished else policy.ceiling_ms(self._part)
            if silent_ms >= wait:
                events.append(self._end())
            return
        if self._voiced_windows * WINDOW_MS < policy.min_speech_ms:
            if silent_ms >= policy.decision_ms:
                events.append(self._end())  # a click or a cough: nothing to judge
            return
        if not self._read and silent_ms >= min(policy.read_ms, policy.decision_ms):
            self._read = True
            self._to_read = self._judgement_audio()
        if not self._asked and silent_ms >= min(policy.judge_ms, policy.decision_ms):
            self._asked = True
            self._wanted = self._judgement_audio()
        if silent_ms >= policy.decision_ms:
            self.decision_due = True

    def _end(self) -> SpeechEnded:
        self.in_speech = False
        ended = SpeechEnded(self.last_voiced_end, self._voiced_windows * WINDOW_MS)
        self._voiced_windows = 0
        self._forget_pause()
        return ended

    def _forget_pause(self) -> None:
        # Voice came back, or the turn ended: what was judged, asked for or read of the last pause no longer holds.
        self._pause_reported = self._judged_unfinished = self._short_finished = self._asked = self._read = False
        self._wanted = self._to_read = None

    def _remember(self, samples: np.ndarray) -> None:
        # Keep the turn (and its context) while speaking, and only the context's worth of audio otherwise.
        policy = self.policy
        lead_ms = policy.context_ms + policy.pre_roll_ms + policy.onset_ms
        keep = JUDGED_SAMPLES + RATE if self.in_speech else RATE * lead_ms // 1000 + 2 * WINDOW
        self._turn = np.concatenate([self._turn, samples])[-keep:]
