"""What can be measured in a candidate's speech: timing from their audio, words, grammar, recogniser confidence.

Timing (speech rate, pauses, runs) comes from the voiced segments measured in each candidate turn's audio
(``Turn.voiced``, see speaking/timing.py), on every engine; only turns stored without them (older tests) fall back to
the recogniser's word timings. A pause is a silent gap longer than ``PAUSE_MS`` within a turn; a run is the speech
between pauses, and its words are the turn's words shared out by voiced time (by count with word timings).
Pronunciation evidence is the recogniser's word confidence, when the engine gives one (the local engine's Whisper
does, Nova Sonic does not): ``mean_confidence`` is None otherwise, and nothing stands in for it.

Grammar errors come from a pluggable finder (text to errors with ``start``, ``end``, ``type``, ``message``):
``ieltsprep.scoring.grammar.find_errors`` when that module is installed, else the frequent-slip patterns below.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from ieltsprep.speaking.sessions import Turn

PAUSE_MS = 250  # a silent gap longer than this counts as a pause (a common threshold in fluency research)
COMMON_WORD_RANK = 4000  # words outside the 4,000 most frequent count as less common
UNSURE_PROBABILITY = 0.5  # a word the recogniser gave less than this is one it was unsure of
FILLERS = frozenset({"um", "uh", "er", "erm", "hmm", "ah", "eh", "mm"})
LINKERS = frozenset(
    {"because", "so", "however", "although", "though", "but", "also", "actually", "whereas", "therefore"}
    | {"moreover", "besides", "instead", "while", "unless", "since", "then", "firstly", "secondly", "finally"}
    | {"example", "instance"}
)
SUBORDINATORS = frozenset(
    {"because", "although", "though", "which", "who", "whom", "whose", "that", "if", "when", "while", "whereas"}
    | {"unless", "since", "until", "where", "whether", "after", "before", "once"}
)
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
SENTENCE = re.compile(r"[^.!?]+[.!?]?")
# Frequent spoken-grammar slips a recogniser transcribes faithfully (it does not correct grammar).
_SLIPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(he|she|it)\s+(don't|have|are|were|do)\b", re.I), "subject-verb agreement"),
    (re.compile(r"\b(i|you|we|they)\s+(doesn't|has|is|was)\b", re.I), "subject-verb agreement"),
    (re.compile(r"\b(i|you|we|they|he|she)\s+am\s+(?!\w+ing\b)", re.I), "verb form"),
    (re.compile(r"\b(more|most)\s+\w+er\b", re.I), "double comparative"),
    (re.compile(r"\ba\s+(?!one|once|uni|use|usu|eu)[aeiou]\w*", re.I), "article"),
    (re.compile(r"\b(informations|advices|furnitures|equipments|homeworks|knowledges)\b", re.I), "uncountable noun"),
    (re.compile(r"\b(\w+)\s+\1\b", re.I), "repetition"),
)

TimingSource = Literal["audio", "recogniser"]


@dataclass(frozen=True)
class GrammarError:
    """One error found in a candidate turn (character offsets into its text)."""

    turn: int  # index of the turn in the transcript
    start: int
    end: int
    type: str
    message: str
    suggestion: str = ""


# text -> errors with start, end, type, message and optionally suggestion (attributes or keys)
ErrorFinder = Callable[[str], Sequence[Any]]


def slip_errors(text: str) -> list[dict[str, Any]]:
    """The frequent-slip patterns: the grammar finder used when no better one is installed."""
    return [
        {"start": m.start(), "end": m.end(), "type": kind, "message": f"likely {kind} error"}
        for pattern, kind in _SLIPS
        for m in pattern.finditer(text)
    ]


def default_error_finder() -> ErrorFinder:
    """``ieltsprep.scoring.grammar.find_errors`` where spaCy and its pipeline are installed, else ``slip_errors``.

    The grammar module imports without spaCy (it loads it on first use), so availability is asked of the parser.
    """
    from ieltsprep.scoring import syntax

    if not syntax.available():
        return slip_errors
    from ieltsprep.scoring.grammar import find_errors

    finder: ErrorFinder = find_errors
    return finder


def _field(error: Any, name: str, default: Any = None) -> Any:
    value = error.get(name, default) if isinstance(error, dict) else getattr(error, name, default)
    if value is None:
        raise TypeError(f"a grammar error without {name}")
    return value


@dataclass(frozen=True)
class Run:
    """Speech between two pauses."""

    turn: int  # index of the turn in the transcript
    words: float
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class Metrics:
    """What was measured in the candidate's speech (None: could not be measured)."""

    words: int
    candidate_turns: int
    speaking_seconds: float | None
    speech_rate_wpm: float | None
    mean_length_of_run: float | None
    longest_run_words: float | None
    pause_ratio: float | None
    pauses_per_minute: float | None
    filled_pauses: int
    linkers_per_100_words: float
    type_token_ratio: float
    less_common_share: float
    mean_sentence_words: float
    subordinate_per_sentence: float
    errors_per_100_words: float
    mean_confidence: float | None
    low_confidence_share: float | None
    timing: TimingSource | None = None
    runs: tuple[Run, ...] = field(default=(), repr=False)
    errors: tuple[GrammarError, ...] = field(default=(), repr=False)

    def public(self) -> dict[str, float | int]:
        """The numeric measures as the result shows them (rounded; unmeasured ones left out)."""
        out: dict[str, float | int] = {}
        for name, value in self.__dict__.items():
            if value is None or isinstance(value, (str, tuple)):
                continue
            out[name] = value if isinstance(value, int) else round(float(value), 3)
        return out

    @property
    def longest_run(self) -> Run | None:
        """The run with the most words."""
        return max(self.runs, key=lambda r: r.words, default=None)


@lru_cache(maxsize=1)
def word_ranks() -> dict[str, int]:
    from spellchecker import SpellChecker

    counts = SpellChecker().word_frequency.dictionary
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return {word: rank for rank, (word, _) in enumerate(ranked)}


def words_of(text: str) -> list[str]:
    """The words of a text, lower-cased."""
    return [w.lower() for w in WORD.findall(text)]


def mattr(words: Sequence[str], window: int = 50) -> float:
    """Moving-average type-token ratio: lexical range that does not fall just because a text is long."""
    if not words:
        return 0.0
    if len(words) <= window:
        return len(set(words)) / len(words)
    ratios = [len(set(words[i : i + window])) / window for i in range(len(words) - window + 1)]
    return sum(ratios) / len(ratios)


def _segments(turn: Turn) -> tuple[list[tuple[int, int]], list[float], TimingSource | None]:
    """A turn's speech as segments with weights (voiced ms from audio, one per word from the recogniser)."""
    if turn.voiced:
        segments = sorted((int(s), int(e)) for s, e in turn.voiced if e > s)
        return segments, [float(e - s) for s, e in segments], "audio"
    timed = [
        (int(w["start_ms"]), int(w["end_ms"]))
        for w in turn.words
        if "start_ms" in w and w.get("end_ms", 0) >= w["start_ms"]
    ]
    if timed:
        return timed, [1.0] * len(timed), "recogniser"
    return [], [], None


def measure(turns: Sequence[Turn], find_errors: ErrorFinder | None = None) -> Metrics:
    """The fluency, lexical, grammatical and confidence measures of the candidate's turns."""
    finder = find_errors or default_error_finder()
    words: list[str] = []
    timed_words = 0
    speaking_ms = pause_ms = pauses = 0
    runs: list[Run] = []
    probabilities: list[float] = []
    sentences: list[str] = []
    errors: list[GrammarError] = []
    sources: set[TimingSource] = set()
    candidate = 0
    for index, turn in enumerate(turns):
        if turn.role != "candidate" or not turn.text.strip():
            continue
        candidate += 1
        turn_words = words_of(turn.text)
        words += turn_words
        sentences += [s.strip() for s in SENTENCE.findall(turn.text) if words_of(s)]
        for e in finder(turn.text):
            start, end = int(_field(e, "start")), int(_field(e, "end"))
            kind, message, suggestion = _field(e, "type"), _field(e, "message"), _field(e, "suggestion", "")
            errors.append(GrammarError(index, start, end, str(kind), str(message), str(suggestion or "")))
        probabilities += [float(w["probability"]) for w in turn.words if "probability" in w]
        if not turn.words and turn.confidence is not None:
            probabilities += [turn.confidence] * len(turn_words)
        segments, weights, source = _segments(turn)
        if source is None:
            continue
        sources.add(source)
        timed_words += len(turn_words)
        speaking_ms += max(1, segments[-1][1] - segments[0][0])
        per_weight = len(turn_words) / sum(weights) if sum(weights) else 0.0
        group = [0]
        for i in range(1, len(segments) + 1):
            gap = segments[i][0] - segments[i - 1][1] if i < len(segments) else None
            if gap is not None and gap <= PAUSE_MS:
                group.append(i)
                continue
            if gap is not None:
                pause_ms += gap
                pauses += 1
            run_words = per_weight * sum(weights[j] for j in group)
            runs.append(Run(index, run_words, segments[group[0]][0], segments[group[-1]][1]))
            group = [i]
    minutes = speaking_ms / 60_000
    timed = minutes > 0
    ranks = word_ranks() if words else {}
    content = [w for w in words if w not in FILLERS]
    less_common = [w for w in content if len(w) > 3 and ranks.get(w, COMMON_WORD_RANK + 1) > COMMON_WORD_RANK]
    sentence_words = [len(words_of(s)) for s in sentences] or [0]
    return Metrics(
        words=len(words),
        candidate_turns=candidate,
        speaking_seconds=speaking_ms / 1000 if timed else None,
        speech_rate_wpm=timed_words / minutes if timed else None,
        mean_length_of_run=sum(r.words for r in runs) / len(runs) if runs else None,
        longest_run_words=max(r.words for r in runs) if runs else None,
        pause_ratio=pause_ms / speaking_ms if timed else None,
        pauses_per_minute=pauses / minutes if timed else None,
        filled_pauses=sum(1 for w in words if w in FILLERS),
        linkers_per_100_words=100 * sum(1 for w in words if w in LINKERS) / len(words) if words else 0.0,
        type_token_ratio=mattr(content),
        less_common_share=len(less_common) / len(content) if content else 0.0,
        mean_sentence_words=sum(sentence_words) / len(sentence_words),
        subordinate_per_sentence=sum(1 for w in words if w in SUBORDINATORS) / max(1, len(sentences)),
        errors_per_100_words=100 * len(errors) / len(words) if words else 0.0,
        mean_confidence=sum(probabilities) / len(probabilities) if probabilities else None,
        low_confidence_share=(
            sum(1 for p in probabilities if p < UNSURE_PROBABILITY) / len(probabilities) if probabilities else None
        ),
        timing="audio" if "audio" in sources else "recogniser" if sources else None,
        runs=tuple(runs),
        errors=tuple(errors),
    )


def unsure_spans(turn: Turn) -> list[dict[str, int]]:
    """Character spans in a candidate turn's text of the words the recogniser was unsure of."""
    spans: list[dict[str, int]] = []
    at = 0
    for w in turn.words:
        word = str(w.get("word", "")).strip()
        found = turn.text.find(word, at) if word else -1
        if found < 0:
            continue
        at = found + len(word)
        if float(w.get("probability", 1.0)) < UNSURE_PROBABILITY:
            spans.append({"start": found, "end": at})
    return spans
