"""The speaking test controller: the official test flow, owned by our code, not by the speech model.

It is a plain state machine fed with three kinds of input, so it can be tested without sockets or models:
- ``on_audio(pcm)``: candidate microphone audio (16 kHz, silence included). It drives the clock (audio sample time)
  and the silence timers.
- ``on_engine_event(event)``: Nova Sonic output events from the speech engine (candidate transcripts, the examiner's
  audio, interruptions, errors).
- ``stop()`` / ``reconnected()``: the candidate's ``stop`` message, a reconnect.
Each call returns ``Action``s for the worker to carry out: messages to the candidate (API.md), a line for Maya to
speak (the engine is told it verbatim), transcript turns and state to store, and the end of the test.

Latency: when the engine says the candidate's turn has ended before it has their words (``UserTurnEnded``, the local
engine's endpointer), Maya's next line is chosen at once: the next question needs no words, and whether a Part 1 or
Part 3 answer was short enough for a follow-up is judged from how long the candidate spoke. The turn's place in the
transcript is reserved then, and its words are stored in that place when they arrive. Only where the words decide
(a turn too short to tell a cough from a word, or an answer whose length is between short and full) does the
controller wait for them. Engines that send their words at once (Nova Sonic) go the same way, words first.

An early line can be taken back: candidates pause to think for longer than the endpointer's hangover. When the next
turn starts within ``RESUME_GRACE_MS`` (audio time) of the voice end of a turn answered early, the candidate was not
done: Maya's line is un-asked (the script's counters go back to where they were, her line is never stored), the new
turn joins the answer, and the next line is chosen again when it ends. Until the grace window has passed, the early
line's transcript turn is held back, so a withdrawn line never reaches the store.

Flow (ielts_scoring.md 3.3): greeting and identity check; Part 1, four to five minutes over two or three familiar
topics; Part 2, instructions and the cue card, one minute of preparation, one to two minutes of talk (stopped at two
minutes), a rounding-off question; Part 3, four to five minutes of discussion linked to the cue card; closing.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from ieltsprep.speaking.clock import AudioClock
from ieltsprep.speaking.protocol import (
    AsrDetails,
    AssistantAudio,
    AssistantAudioEnd,
    AssistantText,
    Failed,
    Interrupted,
    OutputTracker,
    TurnEvent,
    UserTranscript,
    UserTurnEnded,
)
from ieltsprep.speaking.script import EXAMINER_NAME
from ieltsprep.speaking.sessions import Turn
from ieltsprep.speaking.timing import AudioTimeline, Segment, pcm_samples, rms

Phase = Literal["intro", "question", "prep", "talk", "discussion", "closing"]
Stage = Literal["intro_name", "intro_origin", "part1", "part2_card", "prep", "talk", "rounding", "part3", "closing"]

# One WebSocket message carries at most 32 KB: 22,800 raw bytes are 30,400 base64 characters plus the envelope.
AUDIO_CHUNK_BYTES = 22_800
# Official timings in seconds (multiplied by the time scale).
PART1_MIN, PART1_MAX = 4 * 60, 5 * 60
PREP_SECONDS = 60
TALK_MIN, TALK_MAX = 60, 120
PART3_MIN, PART3_MAX = 4 * 60, 5 * 60
# Reactions to silence, in real audio seconds (not scaled).
SILENCE_PROMPT_SECONDS = 6.0
SILENCE_MOVE_ON_SECONDS = 12.0
TALK_PAUSE_SECONDS = 3.0
SHORT_ANSWER_WORDS = 5
# The same judgement from the endpointer's measure of voice, for choosing the next line before the words are known.
# Measured on espeak-ng answers at 110-150 words a minute: about 250-430 ms of voice per word, so fewer than 1.2 s is
# under five words, more than 1.8 s is over five. Under 0.6 s it may be a cough or an "um": wait for the words.
EARLY_MIN_VOICED_MS = 600
SHORT_ANSWER_VOICED_MS = 1200
FULL_ANSWER_VOICED_MS = 1800
# A turn that starts this soon after the voice end of a turn answered early carries that answer on (a thinking pause,
# not the end of the answer). Engine times: the start may include the endpointer's pre-roll (0.2 s locally).
RESUME_GRACE_MS = 1200
PRE_ROLL_SECONDS = 0.2
# Voice this long after the voice end is the candidate resuming, not the tail of the turn (under the hangover).
RESUME_VOICE_SECONDS = 0.3
# The early line's turn is stored once the grace window, and the engine's confirmation of a barge-in, have passed.
EARLY_SETTLE_SECONDS = RESUME_GRACE_MS / 1000 + 0.3
# Timers wait until the engine has produced all of Maya's line (a busy engine may take a while to synthesise it); if
# the audio stops coming, they start this long after the last of it.
AUDIO_WAIT_SECONDS = 20.0
STATE_EVERY_SECONDS = 1.0
# A recogniser's turn times are its estimate: the voice measured in the audio is looked for this much either side.
TURN_MARGIN_MS = 250
# Energy above which a 16-bit frame counts as voice, when the room is quiet; rises with the noise floor.
VOICE_RMS_MIN = 400.0

FOLLOW_UPS = ("Why is that?", "Can you tell me a little more about that?")
# The examiner's fixed wording (ours), kept in one place so the engine can prepare every sentence ahead of time.
# "Hello", not "Good morning": the client does not tell us the candidate's local time (API.md's start carries only
# the assessment id), and a morning greeting at night sounds like a recording.
GREETING = "Hello. My name is {name}. Can you tell me your full name, please?"
ORIGIN = "Thank you. And can you tell me where you're from?"
PART1_LEAD = "Thank you. In this first part, I'd like to ask you some questions about yourself."
TOPIC_LEAD = "Let's talk about {title}."
PART2_INTRO = (
    "Thank you. Now, in this second part, I'm going to give you a topic and I'd like you to talk about it for one "
    "to two minutes. Before you talk, you'll have one minute to think about what you're going to say. You can make "
    "some notes if you wish. Here is your topic."
)
TALK_START = (
    "All right? Remember you have one to two minutes for this. Don't worry if I stop you. I'll tell you when the "
    "time is up. Can you start speaking now, please?"
)
PART3_LEAD = (
    "Thank you. We've been talking about {topic}, and I'd like to discuss with you one or two more general "
    "questions related to this. Let's consider first of all {theme}."
)
THANKS = "Thank you."
ALL_RIGHT = "That's all right."
MORE = "Can you tell me a little more about that?"
REPEAT = "Let me ask that again."
MOVE_ON = "Let's move on."
WELCOME_BACK = "Welcome back. Let's carry on where we stopped."
SORRY = "Sorry about that."
KEEP_PREPARING = "You still have a little time to prepare your talk."
CARRY_ON = "Please carry on with your talk."
CLOSING = "Thank you. That is the end of the speaking test."
STOPPED = "Thank you. We will stop the test here."
_SENTENCE_BREAK = re.compile(r"(?<=[.?!])\s+(?=[A-Z])")


def sentences(line: str) -> list[str]:
    """A line split into sentences: the unit Maya speaks (and the engine caches) at a time."""
    return [part for part in _SENTENCE_BREAK.split(" ".join(line.split())) if part]


def card_line(card: dict[str, Any]) -> str:
    """The cue card as Maya reads it out."""
    points = " ".join(f"{p.rstrip('.')}," for p in card.get("points", []))
    return f"{card.get('topic', '')} You should say: {points} {card.get('explain', '')}"


def _card_subject(card: dict[str, Any]) -> str:
    return str(card.get("topic", "")).removeprefix("Describe ").rstrip(".")


def script_sentences(parts: list[dict[str, Any]]) -> list[str]:
    """Every sentence Maya may say in a test of ``parts``, in the order she is likely to need them (so the engine
    prepares the next ones first)."""
    part1 = next((p for p in parts if p.get("part") == 1), {})
    part2 = next((p for p in parts if p.get("part") == 2), {})
    part3 = next((p for p in parts if p.get("part") == 3), {})
    card = dict(part2.get("cue_card", {}))
    lines = [GREETING.format(name=EXAMINER_NAME), ORIGIN, PART1_LEAD]
    for topic in part1.get("topics", []):
        lines.append(TOPIC_LEAD.format(title=str(topic.get("title", "")).lower()))
        lines += list(topic.get("questions", []))
    lines += [THANKS, *FOLLOW_UPS, REPEAT, PART2_INTRO, card_line(card), TALK_START, ALL_RIGHT]
    lines += list(part2.get("rounding_off", []))
    lines.append(PART3_LEAD.format(topic=_card_subject(card), theme=str(part3.get("theme", "this topic")).lower()))
    lines += [*part3.get("questions", []), CLOSING, MOVE_ON, STOPPED]
    out: list[str] = []
    for line in lines:
        out += [s for s in sentences(line) if s not in out]
    return out


@dataclass(frozen=True)
class ToClient:
    """A message for the candidate's connection."""

    message: dict[str, Any]


@dataclass(frozen=True)
class Say:
    """A line Maya speaks next, word for word."""

    text: str


@dataclass(frozen=True)
class StoreTurn:
    """A final transcript turn to store."""

    index: int
    turn: Turn


@dataclass(frozen=True)
class SaveState:
    """The resumable state to persist."""

    state: dict[str, Any]


@dataclass(frozen=True)
class LineSpoken:
    """The engine has sent all the audio of Maya's current line."""


@dataclass(frozen=True)
class Finish:
    """The test is over. ``reason``: "completed" or "stopped" (score what was said) or "error:<code>" (the worker
    gives up this connection without scoring, so that ``start`` resumes the test with a new worker)."""

    reason: str


@dataclass
class _PendingTurn:
    """A candidate turn the endpointer has ended and whose words are still being recognised."""

    index: int
    part: int
    answered: bool  # the next line has already been chosen: the words only need storing
    start_ms: int  # the endpointer's turn span (engine time)
    end_ms: int
    joins: _PendingTurn | None = None  # the earlier turn of the same answer (the candidate paused, then went on)
    words: int = 0  # words of the answer up to and including this turn, once known


@dataclass
class _EarlyLine:
    """Maya's line chosen at the end of a turn, before the words; taken back if the candidate carries on."""

    pending: _PendingTurn  # the turn it answered
    end_ms: int  # where that turn's voice ended (engine time)
    voiced_ms: int  # voice in the whole answer so far
    before: dict[str, Any]  # the script's state before the line
    turn_index: int  # the line's first transcript place
    held: list[StoreTurn]  # the line's transcript turns, stored once it stands
    resumed: bool = False  # the candidate may have carried on: wait for their turn's start to decide
    interrupted: bool = False  # the engine stopped Maya (a barge-in)


@dataclass
class _SpokenLine:
    """A line Maya was asked to say, stored as asked until the engine reports what she actually said."""

    index: int  # its transcript place
    part: int
    start_ms: int
    sentences: tuple[str, ...]  # as asked
    heard: list[str]  # the engine's final text of it so far
    withdrawn: bool = False  # taken back: whatever the engine reports of it is not stored
    cut: bool = False  # pending at a barge-in: cut short (its next final text is all that was said) or dropped


Action = ToClient | Say | StoreTurn | SaveState | LineSpoken | Finish


@dataclass
class Controller:
    """Runs one speaking test for one assessment (see the module docstring)."""

    assessment_id: str
    parts: list[dict[str, Any]]
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        self.clock = AudioClock(scale=self.time_scale)
        self.stage: Stage = "intro_name"
        self.topic_index = 0
        self.question_index = 0
        self.followed_up = False  # a follow-up or repeat was already used on the current question
        self.repeated = False
        self.part_started_at = 0.0
        self.phase_started_at = 0.0
        self.awaiting_answer = False
        self.answered_in_part = 0
        self.more_prompted = False
        self.line_ends_at = 0.0  # audio time when Maya's current line has finished playing
        self.last_voice_at = 0.0
        self.heard_since_line = False
        self.talk_words = 0
        self.turn_index = 0
        self.audio_seq = 0
        self.finished = False
        self.started = False
        self._noise_floor = 100.0
        self._next_state_at = 0.0
        self._tracker = OutputTracker()
        self._line_has_audio = False
        self._sentences_pending = 0  # sentences sent to the engine whose audio has not been produced yet
        self._last_audio_at = 0.0
        self._line_text: str | None = None  # the line being produced, until all of its audio has been
        self._anchor_phase = False  # the prep/talk countdown starts when Maya finishes the line that opens it
        self._pending: list[_PendingTurn] = []  # ended candidate turns awaiting their words, oldest first
        self._candidate_line_shown = False  # a partial transcript has shown the candidate's current turn
        self._early: _EarlyLine | None = None  # Maya's line chosen at the end of a turn, while it may be taken back
        self.timeline = AudioTimeline()  # the candidate's recent audio, for the voice in each of their turns
        self._voice_from_ms = 0  # where the next candidate turn's voice may begin (the end of the last one's span)
        self._closing_part = 3  # the part the test ended in (the closing line belongs to it)
        self._spoken: list[_SpokenLine] = []  # Maya's lines awaiting the engine's final text, oldest first
        self._engine_reports_text = False  # the engine sends the final text of Maya's lines (both real ones do)

    # --- the script ----------------------------------------------------------------------------------------------
    @property
    def _part1_topics(self) -> list[dict[str, Any]]:
        return list(self._part(1).get("topics", []))

    @property
    def _card(self) -> dict[str, Any]:
        return dict(self._part(2).get("cue_card", {}))

    @property
    def _rounding(self) -> list[str]:
        return list(self._part(2).get("rounding_off", []))

    @property
    def _part3_questions(self) -> list[str]:
        return list(self._part(3).get("questions", []))

    def _part(self, number: int) -> dict[str, Any]:
        return next((p for p in self.parts if p.get("part") == number), {})

    @property
    def part(self) -> int:
        """The part of the test under way (the introduction counts as Part 1, as in the real test)."""
        if self.stage in ("part2_card", "prep", "talk", "rounding"):
            return 2
        if self.stage == "closing":
            return self._closing_part
        if self.stage == "part3":
            return 3
        return 1

    @property
    def phase(self) -> Phase:
        """The API.md phase of the current stage."""
        phases: dict[str, Phase] = {
            "intro_name": "intro",
            "intro_origin": "intro",
            "part1": "question",
            "part2_card": "prep",
            "prep": "prep",
            "talk": "talk",
            "rounding": "question",
            "part3": "discussion",
            "closing": "closing",
        }
        return phases[self.stage]

    # --- entry points --------------------------------------------------------------------------------------------
    def begin(self) -> list[Action]:
        """The first actions of a connection: ready, and either the greeting or the resumption of the test."""
        actions: list[Action] = [ToClient({"type": "ready", "assessment_id": self.assessment_id})]
        if not self.started:
            self.started = True
            actions += self._ask(GREETING.format(name=EXAMINER_NAME))
        else:
            actions += self._resume_line(WELCOME_BACK)
        return actions

    def reconnected(self) -> list[Action]:
        """The candidate came back on a new connection while this worker was still running."""
        if self.finished:
            return [ToClient({"type": "ready", "assessment_id": self.assessment_id})]
        return [
            ToClient({"type": "ready", "assessment_id": self.assessment_id}),
            *self._resume_line(SORRY),
        ]

    def stop(self) -> list[Action]:
        """The candidate ended the test early: what was said so far is scored."""
        if self.finished:
            return []
        return self._finish("stopped", STOPPED)

    def on_audio(self, pcm: bytes) -> list[Action]:
        """Candidate microphone audio: advances the clock and the timers."""
        if self.finished or not pcm:
            return []
        self.clock.feed(len(pcm))
        self.timeline.feed(pcm)
        now = self.clock.now
        actions: list[Action] = []
        if self._is_voice(pcm):
            self.last_voice_at = now
            if now >= self.line_ends_at:
                self.heard_since_line = True
        if self._early is not None:
            voice_end = self._on_clock(self._early.end_ms)
            if self.last_voice_at >= voice_end + RESUME_VOICE_SECONDS:
                self._early.resumed = True
            elif now >= voice_end + EARLY_SETTLE_SECONDS:
                actions += self._settle_early()
        return actions + self._on_tick(now)

    def on_engine_event(self, event: dict[str, Any]) -> list[Action]:
        """One Nova Sonic output event from the speech engine."""
        actions: list[Action] = []
        for turn_event in self._tracker.feed(event):
            actions += self._on_turn_event(turn_event)
        return actions

    # --- persistence ---------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The state a new worker needs to resume this test."""
        return {
            "stage": self.stage,
            "topic_index": self.topic_index,
            "question_index": self.question_index,
            "clock": round(self.clock.now, 3),
            "part_started_at": self.part_started_at,
            "phase_started_at": self.phase_started_at,
            "answered_in_part": self.answered_in_part,
            "turn_index": self.turn_index,
            "talk_words": self.talk_words,
            "finished": self.finished,
            "closing_part": self._closing_part,
        }

    @classmethod
    def restore(
        cls, assessment_id: str, parts: list[dict[str, Any]], state: dict[str, Any], time_scale: float = 1.0
    ) -> Controller:
        """A controller that resumes from a ``snapshot``."""
        controller = cls(assessment_id=assessment_id, parts=parts, time_scale=time_scale)
        if state:
            controller.started = True
            controller.stage = state.get("stage", "intro_name")
            controller.topic_index = int(state.get("topic_index", 0))
            controller.question_index = int(state.get("question_index", 0))
            controller.clock.offset_seconds = float(state.get("clock", 0.0))
            controller.part_started_at = float(state.get("part_started_at", 0.0))
            controller.phase_started_at = float(state.get("phase_started_at", 0.0))
            controller.answered_in_part = int(state.get("answered_in_part", 0))
            controller.turn_index = int(state.get("turn_index", 0))
            controller.talk_words = int(state.get("talk_words", 0))
            controller.finished = bool(state.get("finished", False))
            controller._closing_part = int(state.get("closing_part", 3))
            now = controller.clock.now
            controller.timeline = AudioTimeline(start_ms=int(now * 1000))
            controller._voice_from_ms = int(now * 1000)
            controller.line_ends_at = controller.last_voice_at = controller._next_state_at = now
        return controller

    # --- engine events -------------------------------------------------------------------------------------------
    @property
    def transcripts_pending(self) -> bool:
        """True while a candidate turn has ended and its words have not arrived yet (they must be stored)."""
        return bool(self._pending)

    def _on_turn_event(self, event: TurnEvent) -> list[Action]:
        if isinstance(event, UserTurnEnded):
            return self._on_candidate_turn_end(event)
        if isinstance(event, UserTranscript):
            if event.stage == "FINAL":
                return self._on_candidate_final(event.text, event.asr)
            self._candidate_line_shown = True
            return [ToClient({"type": "transcript", "role": "candidate", "text": event.text, "final": False})]
        if isinstance(event, AssistantAudio):
            return self._on_examiner_audio(event.pcm, event.sample_rate)
        if isinstance(event, AssistantText):
            return self._on_examiner_text(event.text) if event.stage == "FINAL" else []
        if isinstance(event, AssistantAudioEnd):
            self._sentences_pending = max(0, self._sentences_pending - 1)
            return self._line_complete() if self._sentences_pending == 0 else []
        if isinstance(event, Interrupted):
            if self._early is not None:
                self._early.resumed = self._early.interrupted = True
            self.line_ends_at = min(self.line_ends_at, self.clock.now)  # Maya has stopped talking
            self._sentences_pending = 0  # the engine drops what it had not yet said
            if self._engine_reports_text:
                for line in self._spoken:  # the one being spoken ends early; the engine drops the ones after it
                    line.cut = True
            return [ToClient({"type": "interrupted"}), *self._line_complete()]
        if isinstance(event, Failed):
            return self._on_error(event.code, event.message)
        return []  # our own lines' text, usage, tool calls, completion ends: nothing for the test flow

    def _on_error(self, code: str, message: str) -> list[Action]:
        actions: list[Action] = [
            *self._settle_early(),
            ToClient(
                {"type": "error", "code": "speech_engine_error", "message": message or "the speech engine failed"}
            ),
        ]
        if not self.finished:
            self.finished = True
            actions += [SaveState(self.snapshot()), Finish(f"error:{code}")]
        return actions

    def _on_examiner_audio(self, pcm: bytes, sample_rate: int) -> list[Action]:
        if self.finished and self.stage != "closing":
            return []
        now = self.clock.now
        self._last_audio_at = now
        # The client plays Maya's audio in real time: she is speaking until the line's audio has played out.
        if not self._line_has_audio:
            self._line_has_audio = True
            self.line_ends_at = now
        self.line_ends_at = max(self.line_ends_at, now) + len(pcm) / (2 * sample_rate)
        if self._anchor_phase:
            self.phase_started_at = self.line_ends_at
        actions: list[Action] = []
        for start in range(0, len(pcm), AUDIO_CHUNK_BYTES):
            chunk = pcm[start : start + AUDIO_CHUNK_BYTES]
            actions.append(
                ToClient({"type": "audio", "seq": self.audio_seq, "data": base64.b64encode(chunk).decode("ascii")})
            )
            self.audio_seq += 1
        return actions

    # --- candidate turns -----------------------------------------------------------------------------------------
    def _on_candidate_turn_end(self, ended: UserTurnEnded) -> list[Action]:
        early, self._early = self._early, None
        actions: list[Action] = []
        joins: _PendingTurn | None = None
        voiced = ended.voiced_ms
        if early is not None and not self.finished and self._carries_on(early, ended):
            actions += self._take_back(early)
            joins, voiced = early.pending, voiced + early.voiced_ms
        elif early is not None:
            actions += early.held
        # The transcript keeps the order things were said in: this turn's place comes before Maya's next line.
        pending = _PendingTurn(self.turn_index, self.part, False, ended.start_ms, ended.end_ms, joins=joins)
        self._pending.append(pending)
        self.turn_index += 1
        if not self._candidate_line_shown:
            # The live transcript shows the candidate's line in its place; the words fill it in when they arrive.
            actions.append(ToClient({"type": "transcript", "role": "candidate", "text": "…", "final": False}))
        self._candidate_line_shown = False  # a partial transcript from now on belongs to the next turn
        if self.finished:
            return actions
        self._heard(ended.end_ms)
        if self.stage in ("talk", "prep", "part2_card") or not self.awaiting_answer:
            return actions  # the long turn, thinking aloud, talk between questions: the words decide nothing
        follow_up_possible = self.stage in ("part1", "part3") and not self.followed_up
        if voiced < EARLY_MIN_VOICED_MS:
            return actions  # a cough or an "um" looks like this too: the words decide
        if follow_up_possible and SHORT_ANSWER_VOICED_MS <= voiced < FULL_ANSWER_VOICED_MS:
            return actions  # about five words: count them
        pending.answered = True
        before, turn_index = self._decision_state(), self.turn_index
        decided = self._answered(short=follow_up_possible and voiced < SHORT_ANSWER_VOICED_MS)
        if self.finished:
            return actions + decided  # the closing line is not taken back: the test is being scored
        held = [a for a in decided if isinstance(a, StoreTurn)]
        self._early = _EarlyLine(pending, ended.end_ms, voiced, before, turn_index, held)
        # Fed faster than real time, the candidate may already have carried on by the time the turn's end is heard.
        self._early.resumed = self.last_voice_at >= self._on_clock(ended.end_ms) + RESUME_VOICE_SECONDS
        return actions + [a for a in decided if not isinstance(a, StoreTurn)]

    def _carries_on(self, early: _EarlyLine, ended: UserTurnEnded) -> bool:
        """Whether ``ended`` goes on with the answer ``early`` answered: it began soon after, over Maya's line (once
        she has said all of it, even a short "Why is that?", what follows answers her)."""
        soon = ended.start_ms <= early.end_ms + RESUME_GRACE_MS
        return soon and (early.interrupted or self._on_clock(ended.start_ms) + PRE_ROLL_SECONDS < self.line_ends_at)

    def _take_back(self, early: _EarlyLine) -> list[Action]:
        """Un-ask Maya's early line: the candidate carried on with the answer after a pause."""
        actions: list[Action] = []
        if not early.interrupted:
            # The engine had not stopped her (she may not have started yet): the client stops playing her line.
            actions.append(ToClient({"type": "interrupted"}))
        actions += self._line_complete()
        self._sentences_pending = 0
        for line in self._spoken:
            line.withdrawn = line.withdrawn or line.index >= early.turn_index
        for name, value in early.before.items():
            setattr(self, name, value)
        self.turn_index = early.turn_index  # the line's place goes to the rest of the answer
        return [*actions, self._state(), SaveState(self.snapshot())]

    def _decision_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _DECISION_FIELDS}

    def _settle_early(self) -> list[Action]:
        """The early line stands (the grace window passed, or something else happened): store its turns."""
        early, self._early = self._early, None
        return list(early.held) if early is not None else []

    def _heard(self, end_ms: int | None) -> None:
        """The candidate spoke until ``end_ms`` (engine time), or until now when the engine does not say."""
        self.heard_since_line = True
        if end_ms is None:
            self.last_voice_at = self.clock.now
        else:
            self.last_voice_at = max(self.last_voice_at, min(self._on_clock(end_ms), self.clock.now))

    def _on_clock(self, engine_ms: int) -> float:
        """An engine time (ms since this engine session began) on the controller's clock (a resumed test's too)."""
        return engine_ms / 1000 + self.clock.offset_seconds

    def _answered(self, *, short: bool) -> list[Action]:
        """The candidate answered the question Maya asked: a follow-up for a short answer, else what comes next."""
        self.awaiting_answer = False
        if short:
            self.followed_up = True
            follow_up = FOLLOW_UPS[(self.topic_index + self.question_index) % len(FOLLOW_UPS)]
            return self._ask(follow_up, keep_question=True)
        self.answered_in_part += 1
        return self._next_after_answer()

    def _on_candidate_final(self, text: str, asr: AsrDetails | None) -> list[Action]:
        pending = self._pending.pop(0) if self._pending else None
        if not text:
            # The turn was noise (no words): nothing to store or answer; the line marked for it is withdrawn.
            return [ToClient({"type": "transcript", "role": "candidate", "text": "", "final": True})] if pending else []
        now_ms = int(self.clock.now * 1000)
        # Recogniser times count from the engine session's start; a resumed test started earlier.
        offset = int(self.clock.offset_seconds * 1000)
        words = tuple(
            {
                "word": w.word.strip(),
                "start_ms": w.start_ms + offset,
                "end_ms": w.end_ms + offset,
                "probability": round(w.probability, 4),
            }
            for w in (asr.words if asr else ())
        )
        span = (asr.start_ms, asr.end_ms) if asr else (pending.start_ms, pending.end_ms) if pending else None
        voiced = self._voice_in(None if span is None else (span[0] + offset, span[1] + offset), now_ms)
        if span is not None:
            start_ms, end_ms = span[0] + offset, span[1] + offset
        else:
            # No times from the engine (Nova Sonic): the turn lasted from its first to its last voice in the audio.
            start_ms, end_ms = (voiced[0][0], voiced[-1][1]) if voiced else (now_ms, now_ms)
        confidence = _confidence(asr, words)
        part = pending.part if pending else self.part
        turn = Turn("candidate", part, text, start_ms, end_ms, words, confidence, tuple(voiced))
        index = pending.index if pending else self.turn_index
        if pending is None:
            self.turn_index += 1
            self._candidate_line_shown = False
        actions: list[Action] = [
            ToClient({"type": "transcript", "role": "candidate", "text": text, "final": True}),
            StoreTurn(index, turn),
        ]
        word_count = len(text.split())
        if self.stage == "talk":
            self.talk_words += word_count
        if pending is not None:
            # The answer's words so far: a turn that carries on an answer after a pause counts the earlier ones too.
            pending.words = word_count + (pending.joins.words if pending.joins else 0)
            word_count = pending.words
        if self.finished or (pending is not None and pending.answered):
            return actions
        self._heard(asr.end_ms if asr else None)
        if self.stage in ("talk", "prep", "part2_card") or not self.awaiting_answer:
            # The long turn goes on until a pause after the minimum or the two-minute limit; thinking aloud during
            # preparation, or talk between questions, is noted, not answered.
            return actions
        short = self.stage in ("part1", "part3") and word_count < SHORT_ANSWER_WORDS and not self.followed_up
        return actions + self._answered(short=short)

    def _voice_in(self, span: tuple[int, int] | None, now_ms: int) -> list[Segment]:
        """The voiced segments of a candidate turn, measured in their audio: within the engine's span of the turn
        (widened by a margin) when it gives one, else since the previous turn's span ended."""
        if span is None:
            start, end = self._voice_from_ms, now_ms
        else:
            start, end = max(self._voice_from_ms, span[0] - TURN_MARGIN_MS), span[1] + TURN_MARGIN_MS
        self._voice_from_ms = max(self._voice_from_ms, min(end, now_ms))
        return self.timeline.voiced(start, min(end, now_ms))

    def _next_after_answer(self) -> list[Action]:
        now = self.clock.now
        elapsed = now - self.part_started_at
        if self.stage == "intro_name":
            self.stage = "intro_origin"
            return self._ask(ORIGIN)
        if self.stage == "intro_origin":
            return self._start_part1(PART1_LEAD)
        if self.stage == "part1":
            topics = self._part1_topics
            questions = topics[self.topic_index]["questions"] if topics else []
            at_topic_end = self.question_index + 1 >= len(questions)
            out_of_time = elapsed >= self.clock.limit(PART1_MAX) or (
                at_topic_end and elapsed >= self.clock.limit(PART1_MIN)
            )
            if out_of_time or (at_topic_end and self.topic_index + 1 >= len(topics)):
                return self._start_part2()
            if at_topic_end:
                self.topic_index += 1
                self.question_index = 0
                return self._ask_current(f"{THANKS} ", new_topic=True)
            self.question_index += 1
            return self._ask_current("")
        if self.stage == "rounding":
            self.question_index += 1
            if self.question_index < len(self._rounding) and elapsed < self.clock.limit(PREP_SECONDS + TALK_MAX + 60):
                return self._ask(self._rounding[self.question_index])
            return self._start_part3()
        if self.stage == "part3":
            done = self.question_index + 1 >= len(self._part3_questions)
            if done or elapsed >= self.clock.limit(PART3_MIN):
                return self._finish("completed", CLOSING)
            self.question_index += 1
            return self._ask_current("")
        return []

    # --- transitions ---------------------------------------------------------------------------------------------
    def _start_part1(self, lead: str) -> list[Action]:
        self.stage = "part1"
        self.topic_index = self.question_index = self.answered_in_part = 0
        self.part_started_at = self.clock.now
        return self._ask_current(lead + " ", new_topic=True)

    def _start_part2(self) -> list[Action]:
        self.stage = "part2_card"
        self.part_started_at = self.clock.now
        self.question_index = self.answered_in_part = 0
        actions = self._say(f"{PART2_INTRO} {card_line(self._card)}")
        self.phase_started_at = self.line_ends_at
        self._anchor_phase = True
        self.stage = "prep"
        self.awaiting_answer = False
        return [*actions, self._state()]

    def _start_talk(self) -> list[Action]:
        self.stage = "talk"
        self.talk_words = 0
        self.more_prompted = False
        actions = self._say(TALK_START)
        self.phase_started_at = self.line_ends_at
        self._anchor_phase = True
        self.heard_since_line = False
        return [*actions, self._state()]

    def _end_talk(self, lead: str) -> list[Action]:
        self.stage = "rounding"
        self.question_index = 0
        rounding = self._rounding
        if not rounding:
            return self._start_part3()
        return self._ask(f"{lead} {rounding[0]}")

    def _start_part3(self) -> list[Action]:
        self.stage = "part3"
        self.part_started_at = self.clock.now
        self.question_index = self.answered_in_part = 0
        theme = str(self._part(3).get("theme", "this topic")).lower()
        return self._ask_current(PART3_LEAD.format(topic=_card_subject(self._card), theme=theme) + " ")

    def _finish(self, reason: str, line: str) -> list[Action]:
        self._closing_part = self.part
        self.stage = "closing"
        self.awaiting_answer = False
        actions = self._say(line)
        self.finished = True
        return [*actions, self._state(), SaveState(self.snapshot()), Finish(reason)]

    # --- asking --------------------------------------------------------------------------------------------------
    def _current_question(self) -> str:
        if self.stage == "part1":
            topics = self._part1_topics
            if not topics:
                return ""
            return str(topics[self.topic_index]["questions"][self.question_index])
        if self.stage == "part3":
            questions = self._part3_questions
            return str(questions[self.question_index]) if questions else ""
        if self.stage == "rounding":
            rounding = self._rounding
            return rounding[self.question_index] if self.question_index < len(rounding) else ""
        if self.stage == "intro_name":
            return "Can you tell me your full name, please?"
        if self.stage == "intro_origin":
            return "Can you tell me where you're from?"
        return ""

    def _ask_current(self, lead: str, *, new_topic: bool = False) -> list[Action]:
        question = self._current_question()
        if new_topic and self.stage == "part1":
            title = str(self._part1_topics[self.topic_index]["title"]).lower()
            lead = f"{lead}{TOPIC_LEAD.format(title=title)} "
        if not question:
            return self._next_after_answer() if self.stage != "part1" else self._start_part2()
        return self._ask(f"{lead}{question}")

    def _ask(self, line: str, *, keep_question: bool = False) -> list[Action]:
        if not keep_question:
            self.followed_up = False
            self.repeated = False
        actions = self._say(line)
        self.awaiting_answer = True
        return [*actions, self._state(), SaveState(self.snapshot())]

    def _say(self, line: str) -> list[Action]:
        text = " ".join(line.split())
        now = self.clock.now
        turn = Turn("examiner", self.part, text, int(now * 1000), int(now * 1000))
        # Until the engine's audio arrives, assume Maya speaks at about 150 words a minute.
        self.line_ends_at = now + 0.4 * len(text.split())
        self._line_has_audio = False
        self._last_audio_at = now
        self._anchor_phase = False
        self.heard_since_line = False
        # A line issued before the previous one is complete: the previous one is final as far as the transcript goes.
        earlier = [*self._settle_early(), *(a for a in self._line_complete() if isinstance(a, ToClient))]
        says: list[Action] = [Say(sentence) for sentence in sentences(text)]
        self._spoken.append(_SpokenLine(self.turn_index, self.part, int(now * 1000), tuple(sentences(text)), []))
        self._sentences_pending += len(says)
        actions: list[Action] = [*earlier, *says]
        self._line_text = text
        actions += [
            # Like Nova Sonic's SPECULATIVE text: what Maya is about to say; final once all of it has been produced.
            ToClient({"type": "transcript", "role": "examiner", "text": text, "final": False}),
            StoreTurn(self.turn_index, turn),
        ]
        self.turn_index += 1
        return actions

    def _on_examiner_text(self, text: str) -> list[Action]:
        """The engine's final text of (part of) one of Maya's lines: what she actually said is what is stored."""
        if not text.strip() or not self._spoken:
            return []
        # The text belongs to the oldest line it begins a sentence of (lines before it were never voiced), else to
        # the oldest line (the model's words may differ from what it was asked to say).
        self._engine_reports_text = True
        said = _opening_words(text)
        line = next((ln for ln in self._spoken if any(_opening_words(s) == said for s in ln.sentences)), None)
        actions: list[Action] = []
        if line is None:
            line = self._spoken[0]
        else:
            while self._spoken[0] is not line:
                # A line it went past after a barge-in was dropped, never said; any other stays as asked.
                skipped = self._spoken[0]
                actions += self._examiner_said(skipped, unsaid=skipped.cut and not skipped.heard)
        line.heard.append(text.strip())
        asked_words = len(" ".join(line.sentences).split())
        if line.cut or len(line.heard) >= len(line.sentences) or len(" ".join(line.heard).split()) >= asked_words:
            actions += self._examiner_said(line)
        return actions

    def _examiner_said(self, line: _SpokenLine, *, unsaid: bool = False) -> list[Action]:
        """Store what the engine said of ``line`` in its transcript place (as asked while it has reported nothing;
        empty when it was never said)."""
        self._spoken.remove(line)
        if line.withdrawn or (not line.heard and not unsaid):
            return []
        turn = Turn("examiner", line.part, " ".join(line.heard), line.start_ms, int(self.clock.now * 1000))
        store = StoreTurn(line.index, turn)
        if self._early is not None:
            for i, held in enumerate(self._early.held):
                if held.index == line.index:
                    self._early.held[i] = store  # the early line is not stored until it stands
                    return []
        return [store]

    def _line_complete(self) -> list[Action]:
        if self._line_text is None:
            return []
        text, self._line_text = self._line_text, None
        return [ToClient({"type": "transcript", "role": "examiner", "text": text, "final": True}), LineSpoken()]

    def _resume_line(self, lead: str) -> list[Action]:
        if self.finished:
            return []
        if self.stage in ("prep", "part2_card"):
            actions = self._say(f"{lead} {KEEP_PREPARING}")
            self.stage = "prep"
            return [*actions, self._state()]
        if self.stage == "talk":
            actions = self._say(f"{lead} {CARRY_ON}")
            return [*actions, self._state()]
        return self._ask(f"{lead} {self._current_question()}", keep_question=True)

    # --- time ----------------------------------------------------------------------------------------------------
    def _on_tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        producing = self._sentences_pending > 0 or not self._line_has_audio
        if producing and now - self._last_audio_at < AUDIO_WAIT_SECONDS:
            if now >= self._next_state_at and self.stage in ("prep", "talk"):
                actions.append(self._state())
            return actions  # the engine is still producing Maya's line: nothing is late yet
        if self.stage == "prep" and now >= self.phase_started_at + self.clock.limit(PREP_SECONDS):
            actions += self._start_talk()
        elif self.stage == "talk" and now >= self.line_ends_at:
            talked = now - self.phase_started_at
            if talked >= self.clock.limit(TALK_MAX):
                actions += self._end_talk(THANKS)
            elif self.heard_since_line and now - self.last_voice_at >= TALK_PAUSE_SECONDS:
                if talked >= self.clock.limit(TALK_MIN) or self.more_prompted:
                    actions += self._end_talk(THANKS)
                else:
                    self.more_prompted = True
                    actions += self._say(MORE)
                    self.heard_since_line = False
            elif not self.heard_since_line and now - self.line_ends_at >= SILENCE_MOVE_ON_SECONDS:
                actions += self._end_talk(ALL_RIGHT)
        elif self.awaiting_answer and now >= self.line_ends_at and not self.heard_since_line:
            silent_for = now - max(self.line_ends_at, self.last_voice_at)
            if silent_for >= SILENCE_MOVE_ON_SECONDS and self.repeated:
                self.awaiting_answer = False
                if self.stage in ("intro_name", "intro_origin"):
                    actions += self._start_part1(MOVE_ON)
                else:
                    actions += self._next_after_answer()
            elif silent_for >= SILENCE_PROMPT_SECONDS and not self.repeated:
                self.repeated = True
                actions += self._ask(f"{REPEAT} {self._current_question()}", keep_question=True)
        if now >= self._next_state_at and self.stage in ("prep", "talk"):
            actions.append(self._state())
        return actions

    def _state(self) -> ToClient:
        now = self.clock.now
        self._next_state_at = now + STATE_EVERY_SECONDS
        message: dict[str, Any] = {"type": "state", "part": self.part, "phase": self.phase}
        left: float | None = None
        if self.stage == "prep":
            left = self.phase_started_at + self.clock.limit(PREP_SECONDS) - now
        elif self.stage == "talk":
            left = self.phase_started_at + self.clock.limit(TALK_MAX) - now
        elif self.stage == "part1":
            left = self.part_started_at + self.clock.limit(PART1_MAX) - now
        elif self.stage == "part3":
            left = self.part_started_at + self.clock.limit(PART3_MAX) - now
        if left is not None:
            message["seconds_left"] = max(0, round(left))
        return ToClient(message)

    def _is_voice(self, pcm: bytes) -> bool:
        samples = pcm_samples(pcm)
        if not samples:
            return False
        level = rms(samples)
        threshold = max(VOICE_RMS_MIN, 3.0 * self._noise_floor)
        if level < threshold:
            # The floor follows quiet frames slowly, so steady room noise does not count as speech.
            self._noise_floor = 0.95 * self._noise_floor + 0.05 * level
            return False
        return True


# What choosing Maya's next line changes, restored when an early line is taken back. The engine-side fields (audio of
# the line being produced) are not: the taken-back line is over.
_DECISION_FIELDS = (
    "stage",
    "topic_index",
    "question_index",
    "followed_up",
    "repeated",
    "part_started_at",
    "phase_started_at",
    "awaiting_answer",
    "answered_in_part",
    "more_prompted",
    "line_ends_at",
    "heard_since_line",
    "talk_words",
    "_line_has_audio",
    "_last_audio_at",
    "_anchor_phase",
)


def _opening_words(text: str, count: int = 3) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z']+", text.lower())[:count])


def _confidence(asr: AsrDetails | None, words: tuple[dict[str, Any], ...]) -> float | None:
    if words:
        return round(sum(w["probability"] for w in words) / len(words), 4)
    if asr is not None:
        return round(math.exp(asr.avg_logprob), 4)
    return None
