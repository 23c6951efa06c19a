"""The last words of a turn, read fast, and what they say about whether the candidate has finished.

Smart Turn hears how a turn ends; the words say it too. "I enjoy living in my city because" is unfinished whatever
its intonation, and a thinking speaker stops exactly there: after "because", "and", "the". Voice agents that do not
cut people off read the transcript as well as the audio (a text end-of-utterance model beside the acoustic one).

``LastWords.read`` transcribes the last few seconds of the turn with the Whisper base model the recogniser already
uses (a second CTranslate2 instance, one thread, so it never queues behind a full transcription). Whisper normally
encodes a 30 s window (about 1 s here); CTranslate2 also takes a shorter one, so the turn's tail plus a second of
silence is encoded alone: about 0.1 s for 3 s of speech on one quiet core (0.13 s for 4 s, with the same figures on
the thinking-pause set, so 3 s since stop 19). The text is only for the decision, never the transcript:
the recogniser's words (``stt.py``) are what the candidate said.

``verdict(text)`` reads that text:
- ``UNFINISHED``: it ends with a word no English sentence ends with: an article, a possessive determiner, a
  conjunction ("because", "and", "although") or "than" (whatever Whisper's punctuation, the speaker is
  mid-sentence); or with a filler ("um"); or Whisper wrote "..." (it heard the voice trail off) or a broken word;
  or Whisper could not make out the last word (it gave it less than ``UNSURE_WORD``, in two windows, below): a
  voice that stops mid-phrase, level and drawn out, is read as a guess that often closes a sentence ("We walk along
  the riverland." for "... the river and", "I plead for the son's heart of the moon." for "I play tennis on
  Saturdays and"), while the last word of a finished answer is nearly always read with confidence.
- ``FINISHED``: it ends with a full stop, question or exclamation mark (not "..."): Whisper, trained on punctuated
  speech, heard the sentence close.
- ``OPEN``: neither (no closing punctuation, a comma, or no words), or a closing hedge ("..., I think."); the
  acoustic judgement decides.

A last word read as a guess gets a second look: the last ``SECOND_LOOK_SECONDS`` alone, a window Whisper reads
differently. If that read is sure of its last word, or hears the phrase dangle, it stands ("My full name is Anna
Smith.", in espeak-ng's voice: a 4 s window read "... Ottersmith." at 0.02, the last 2 s "... Alice Smith." at 0.79:
a sure close, so the turn ends); a guess twice holds the turn, up to the part's ceiling.

On a short window Whisper sometimes starts the clip again once it has read it ("My favourite place is the library
near my house. My favourite place is"); such a restart is cut before the verdict.
"""

from __future__ import annotations

import enum
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000
SECONDS = 3.0  # the tail of the turn that is read: enough for the last clause
SILENCE_SECONDS = 1.0  # appended, so the model hears that the voice stopped
SECOND_LOOK_SECONDS = 2.0  # the shorter tail read again when the last word of the first read was a guess
TOKENS_PER_SECOND = 6  # a cap on the decoded length (fast speech is about 4 tokens a second)
# Whisper's special tokens (multilingual vocabulary): start of transcript, English, transcribe, no timestamps.
PROMPT = ["<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]

# Words that cannot end an English sentence: articles, possessive determiners, conjunctions, "than". Prepositions
# are not among them ("the people I work with."), nor "so" ("I think so.") nor "I think" ("It is good, I think.").
DANGLING = frozenset(
    [
        "a",
        "an",
        "the",
        "my",
        "your",
        "our",
        "their",
        "its",
        "every",
        "because",
        "and",
        "but",
        "or",
        "nor",
        "although",
        "though",
        "whereas",
        "unless",
        "whether",
        "if",
        "than",
        "since",
        "while",
    ]
)
# Except where a sentence can end on them after all: "even though." is rare, "though." closes a clause
# ("It was cold, though."), "since." ("ever since."), "while." ("for a while.").
CAN_CLOSE_AFTER_PUNCTUATION = frozenset(["though", "since", "while"])
FILLERS = frozenset(["um", "uh", "er", "erm", "hmm", "mm", "ah"])
# A hedge after a comma ("When I was a child, I think.") may close a sentence ("It is good, I think.") or hold the
# floor while the speaker finds the rest ("In my opinion, I think ... children should"), as second-language
# speakers often do: the words cannot tell, so the audio decides.
HEDGES = ("i think", "i mean", "i guess", "i believe", "you know")
CLOSING = (".", "?", "!")
# A last word Whisper gave less than this probability is a guess. On the thinking-pause set (six makings) the last
# words of finished answers were read at 0.5 or more but for three answers (0.36-0.49: "nurse", "better",
# "greener"); the misreadings of a cue word before a pause ("riverland", "moon") at 0.1-0.4.
UNSURE_WORD = 0.5
TRAILING = ("...", "\u2026", "-")  # Whisper's mark of a voice that trails off, or a word broken off
WORD = re.compile(r"[a-z']+")


class Verdict(enum.Enum):
    """What the words of a turn so far say about its end."""

    UNFINISHED = "unfinished"
    FINISHED = "finished"
    OPEN = "open"


def without_restart(text: str) -> str:
    """``text`` cut where Whisper starts reading the clip again: where three words recur that it has read before
    (from where the recurrence lines up with the clip's first word, when it does: "I liked that feature because I
    like that feature because I" is cut after "because"), or its first two words just after a sentence end."""
    tokens = text.split()
    plain = [w.lower().strip(",.?!") for w in tokens]
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(tokens)):
        if i >= 3:
            seen.setdefault(tuple(plain[i - 3 : i]), i - 3)
        first = seen.get(tuple(plain[i : i + 3]))
        if first is not None:
            start = i - first  # where the restart begins if it read the clip from its first word again
            return " ".join(tokens[: start if 0 < start < i and plain[start] == plain[0] else i])
        if i >= 2 and tokens[i - 1].endswith(CLOSING) and plain[i : i + 2] == plain[:2]:
            return " ".join(tokens[:i])
    return text.strip()


def verdict(text: str, last_word_probability: float = 1.0, unsure_below: float = UNSURE_WORD) -> Verdict:
    """Whether the words of the turn so far (as read by ``LastWords``) end it, given how sure Whisper was of the
    last word it kept (a guess below ``unsure_below``); see the module docstring."""
    text = without_restart(text)
    words = WORD.findall(text.lower())
    if not words:
        return Verdict.OPEN
    last = words[-1]
    trailing = text.endswith(TRAILING)
    closed = text.endswith(CLOSING) and not trailing
    if trailing or last in FILLERS or (last in DANGLING and not (closed and last in CAN_CLOSE_AFTER_PUNCTUATION)):
        return Verdict.UNFINISHED
    if last_word_probability < unsure_below:
        return Verdict.UNFINISHED  # a last word Whisper could not make out
    if not closed or " ".join(words[-2:]) in HEDGES:
        return Verdict.OPEN
    return Verdict.FINISHED


@dataclass(frozen=True)
class Reading:
    """What ``LastWords.read`` heard: the text, and how sure Whisper was of each of its words."""

    text: str
    probabilities: tuple[float, ...] = ()  # one per word of ``text.split()`` (empty: not known)
    unsure_below: float = UNSURE_WORD  # a last word less probable than this is a guess

    @property
    def last_word_probability(self) -> float:
        """The probability of the last word kept once a restart is cut (1.0 when not known)."""
        kept = len(without_restart(self.text).split())
        return self.probabilities[kept - 1] if 0 < kept <= len(self.probabilities) else 1.0

    @property
    def guessed(self) -> bool:
        """Whisper could not make out the last word, and only that would hold the turn."""
        return self.last_word_probability < self.unsure_below and verdict(self.text) is not Verdict.UNFINISHED

    def verdict(self) -> Verdict:
        """``verdict`` of the text, with the probability of its last word."""
        return verdict(self.text, self.last_word_probability, self.unsure_below)


def word_probabilities(pieces: list[str], probabilities: list[float]) -> list[float]:
    """Whisper's word pieces joined into words (a piece opening with a space starts one), the probability of each:
    the product of the probabilities of its pieces that hold a letter or digit (punctuation does not make a word
    less sure)."""
    words: list[float] = []
    for piece, probability in zip(pieces, probabilities, strict=True):
        sure = probability if any(c.isalnum() for c in piece) else 1.0
        if piece.startswith(" ") or not words:
            words.append(sure)
        else:
            words[-1] *= sure
    return words


class LastWords:
    """Whisper base on the tail of a turn, one thread; ``read`` is safe to call from several threads."""

    def __init__(self, model_dir: Path, *, threads: int = 1, unsure_word: float = UNSURE_WORD) -> None:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor

        self._ct2 = ctranslate2
        self._model = ctranslate2.models.Whisper(
            str(model_dir), device="cpu", compute_type="int8", intra_threads=threads
        )
        self._tokenizer = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._prompt = [self._tokenizer.token_to_id(t) for t in PROMPT]
        self._end_of_text = self._tokenizer.token_to_id("<|endoftext|>")
        self._features = FeatureExtractor(feature_size=80)
        self.unsure_word = unsure_word  # a last word less probable than this is a guess (settings.turn_unsure_word)
        self.last_seconds = 0.0  # wall time of the latest read

    def read(self, pcm: np.ndarray) -> Reading:
        """The words of the last ``SECONDS`` of 16 kHz 16-bit ``pcm`` (the turn so far), with Whisper's punctuation
        and the probability it gave each word. A last word read as a guess gets a second look at the last
        ``SECOND_LOOK_SECONDS`` alone; that reading stands if it is sure of its last word or hears the phrase
        dangle, else the first (a guess twice: unfinished)."""
        started = time.perf_counter()
        reading = self._read(pcm, SECONDS)
        if reading.guessed:
            second = self._read(pcm, SECOND_LOOK_SECONDS)
            if not second.guessed:
                reading = second
        self.last_seconds = time.perf_counter() - started
        return reading

    def _read(self, pcm: np.ndarray, seconds: float) -> Reading:
        tail = pcm[-int(seconds * RATE) :].astype(np.float32) / 32768.0
        audio = np.concatenate([tail, np.zeros(int(SILENCE_SECONDS * RATE), dtype=np.float32)])
        features = np.asarray(self._features(audio, padding=0), dtype=np.float32)
        frames = features.shape[-1] // 2 * 2  # the encoder halves the frames: an even count
        batch = np.ascontiguousarray(features[None, :, :frames])
        encoded = self._model.encode(self._ct2.StorageView.from_array(batch), to_cpu=False)
        (result,) = self._model.generate(
            encoded,
            [self._prompt],
            beam_size=1,
            max_length=len(self._prompt) + int(tail.size / RATE * TOKENS_PER_SECOND) + 4,
            suppress_blank=True,
            return_logits_vocab=True,
        )
        tokens, probabilities = [], []
        for token, logits in zip(result.sequences_ids[0], result.logits[0], strict=False):  # logits: + the end step
            if token < self._end_of_text:
                scores = np.asarray(logits, dtype=np.float64).ravel()
                tokens.append(token)
                probabilities.append(float(1.0 / np.exp(scores - scores[token]).sum()))
        text = str(self._tokenizer.decode(tokens)).strip()
        words = word_probabilities([str(self._tokenizer.decode([t])) for t in tokens], probabilities)
        if len(words) != len(text.split()):  # a piece that is only a space: the words cannot be lined up
            return Reading(text, unsure_below=self.unsure_word)
        return Reading(text, tuple(words), self.unsure_word)
