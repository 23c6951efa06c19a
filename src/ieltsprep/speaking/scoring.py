"""Speaking scoring: the port, the measurable features of a transcript, and the local engine.

The four criteria are those of the public band descriptors (ielts_scoring.md 3.3), equally weighted:
- fluency and coherence: speech rate (words per minute of speaking time), pauses between words (from the
  recogniser's word timings), mean length of run (words between pauses), filled pauses, linking words;
- lexical resource: range (moving-average type-token ratio) and the share of less common words;
- grammatical range and accuracy: sentence length and complexity (subordination) and error heuristics;
- pronunciation: the recogniser's word confidence, a stated proxy: clear speech is recognised confidently, but
  confidence also drops with noise and accents the model has seen little of.
``SpeakingResult.model_dump()`` is the speaking ``result`` object of docs/API.md. Two engines implement the port:
``local`` (below) and ``bedrock`` (``scoring_bedrock``); ``build_speaking_scorer`` picks one from the settings.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ieltsprep.scoring.port import ScoringFailed
from ieltsprep.speaking.sessions import Turn

if TYPE_CHECKING:
    from ieltsprep.settings import Settings

CRITERIA: tuple[str, ...] = ("fluency_coherence", "lexical_resource", "grammatical_range_accuracy", "pronunciation")
LOCAL_ENGINE_VERSION = "speaking-local-1"
PAUSE_MS = 250  # a silent gap between words longer than this counts as a pause (a common threshold in fluency research)
COMMON_WORD_RANK = 4000  # words outside the 4,000 most frequent count as less common
FILLERS = frozenset({"um", "uh", "er", "erm", "hmm", "ah", "eh", "mm"})
LINKERS = frozenset(
    {
        "because",
        "so",
        "however",
        "although",
        "though",
        "but",
        "also",
        "actually",
        "whereas",
        "therefore",
        "moreover",
        "besides",
        "instead",
        "while",
        "unless",
        "since",
        "then",
        "firstly",
        "secondly",
        "finally",
        "example",
        "instance",
    }
)
SUBORDINATORS = frozenset(
    {"because", "although", "though", "which", "who", "whom", "whose", "that", "if", "when", "while", "whereas"}
    | {"unless", "since", "until", "where", "whether", "after", "before", "once"}
)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")
# Frequent spoken-grammar slips a recogniser transcribes faithfully (it does not correct grammar).
_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(he|she|it)\s+(don't|have|are|were|do)\b", re.I), "subject-verb agreement"),
    (re.compile(r"\b(i|you|we|they)\s+(doesn't|has|is|was)\b", re.I), "subject-verb agreement"),
    (re.compile(r"\b(i|you|we|they|he|she)\s+am\s+(?!\w+ing\b)", re.I), "verb form"),
    (re.compile(r"\b(more|most)\s+\w+er\b", re.I), "double comparative"),
    (re.compile(r"\ba\s+(?!one|once|uni|use|usu|eu)[aeiou]\w*", re.I), "article"),
    (re.compile(r"\b(informations|advices|furnitures|equipments|homeworks|knowledges)\b", re.I), "uncountable noun"),
    (re.compile(r"\b(\w+)\s+\1\b", re.I), "repetition"),
)


class CriterionResult(BaseModel):
    """A whole band 0-9 for one criterion, with feedback naming the evidence."""

    model_config = ConfigDict(extra="forbid")

    band: int = Field(ge=0, le=9)
    feedback: str


class TranscriptTurn(BaseModel):
    """One turn of the stored transcript, as the result shows it."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["examiner", "candidate"]
    part: int = Field(ge=1, le=3)
    text: str
    start_ms: int
    end_ms: int


class SpeakingResult(BaseModel):
    """The speaking ``result`` object of docs/API.md."""

    model_config = ConfigDict(extra="forbid")

    overall_band: float = Field(ge=0, le=9)
    engine: Literal["local", "bedrock"]
    engine_version: str
    criteria: dict[str, CriterionResult]
    metrics: dict[str, float | int]
    transcript: list[TranscriptTurn]


class SpeakingScorer(Protocol):
    """Scores one speaking test from its transcript turns."""

    engine: str

    def score(self, turns: Sequence[Turn]) -> SpeakingResult:
        """Score the candidate's turns; raises ScoringFailed."""
        ...


@dataclass(frozen=True)
class Metrics:
    """What can be measured in the candidate's speech."""

    words: int
    speaking_seconds: float
    speech_rate_wpm: float
    mean_length_of_run: float
    pause_ratio: float
    pauses_per_minute: float
    filled_pauses: int
    linkers_per_100_words: float
    type_token_ratio: float
    less_common_share: float
    mean_sentence_words: float
    subordinate_per_sentence: float
    errors_per_100_words: float
    mean_confidence: float | None
    low_confidence_share: float | None
    candidate_turns: int

    def public(self) -> dict[str, float | int]:
        """The metrics as the result shows them (rounded; missing values left out)."""
        out: dict[str, float | int] = {}
        for name, value in self.__dict__.items():
            if value is None:
                continue
            out[name] = value if isinstance(value, int) else round(float(value), 3)
        return out


@lru_cache(maxsize=1)
def _word_ranks() -> dict[str, int]:
    from spellchecker import SpellChecker

    counts = SpellChecker().word_frequency.dictionary
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return {word: rank for rank, (word, _) in enumerate(ranked)}


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _mattr(words: Sequence[str], window: int = 50) -> float:
    """Moving-average type-token ratio: lexical range that does not fall just because a text is long."""
    if not words:
        return 0.0
    if len(words) <= window:
        return len(set(words)) / len(words)
    ratios = [len(set(words[i : i + window])) / window for i in range(len(words) - window + 1)]
    return sum(ratios) / len(ratios)


def measure(turns: Sequence[Turn]) -> Metrics:
    """The fluency, lexical, grammatical and confidence measures of the candidate's turns."""
    candidate = [t for t in turns if t.role == "candidate" and t.text.strip()]
    words: list[str] = []
    speaking_ms = 0
    pause_ms = 0
    pauses = 0
    runs: list[int] = []
    probabilities: list[float] = []
    sentences: list[str] = []
    errors = 0
    for turn in candidate:
        turn_words = _words(turn.text)
        words += turn_words
        sentences += [s.strip() for s in _SENTENCE.findall(turn.text) if _words(s)]
        errors += sum(len(pattern.findall(turn.text)) for pattern, _ in _ERRORS)
        timed = [w for w in turn.words if w.get("end_ms", 0) >= w.get("start_ms", 0)]
        if timed:
            speaking_ms += max(1, int(timed[-1]["end_ms"]) - int(timed[0]["start_ms"]))
            run = 1
            for before, after in itertools.pairwise(timed):
                gap = int(after["start_ms"]) - int(before["end_ms"])
                if gap > PAUSE_MS:
                    pause_ms += gap
                    pauses += 1
                    runs.append(run)
                    run = 1
                else:
                    run += 1
            runs.append(run)
            probabilities += [float(w.get("probability", 0.0)) for w in timed]
        else:
            # No word timings (e.g. Nova Sonic): fall back to the turn's span and assume no measurable pauses.
            speaking_ms += max(1, turn.end_ms - turn.start_ms)
            runs.append(len(turn_words))
            if turn.confidence is not None:
                probabilities += [turn.confidence] * len(turn_words)
    minutes = speaking_ms / 60_000
    ranks = _word_ranks() if words else {}
    content = [w for w in words if w not in FILLERS]
    less_common = [w for w in content if len(w) > 3 and ranks.get(w, COMMON_WORD_RANK + 1) > COMMON_WORD_RANK]
    sentence_words = [len(_words(s)) for s in sentences] or [0]
    subordinate = sum(1 for w in words if w in SUBORDINATORS)
    return Metrics(
        words=len(words),
        speaking_seconds=speaking_ms / 1000,
        speech_rate_wpm=len(words) / minutes if minutes > 0 else 0.0,
        mean_length_of_run=sum(runs) / len(runs) if runs else 0.0,
        pause_ratio=pause_ms / speaking_ms if speaking_ms else 0.0,
        pauses_per_minute=pauses / minutes if minutes > 0 else 0.0,
        filled_pauses=sum(1 for w in words if w in FILLERS),
        linkers_per_100_words=100 * sum(1 for w in words if w in LINKERS) / len(words) if words else 0.0,
        type_token_ratio=_mattr(content),
        less_common_share=len(less_common) / len(content) if content else 0.0,
        mean_sentence_words=sum(sentence_words) / len(sentence_words),
        subordinate_per_sentence=subordinate / max(1, len(sentences)),
        errors_per_100_words=100 * errors / len(words) if words else 0.0,
        mean_confidence=sum(probabilities) / len(probabilities) if probabilities else None,
        low_confidence_share=sum(1 for p in probabilities if p < 0.5) / len(probabilities) if probabilities else None,
        candidate_turns=len(candidate),
    )


def _scale(value: float, low: float, high: float) -> float:
    """0 at ``low``, 1 at ``high``, clipped (either direction)."""
    if high == low:
        return 0.0
    return min(1.0, max(0.0, (value - low) / (high - low)))


def _band(fraction: float, floor: int = 2) -> int:
    """A whole band from a 0-1 score; a candidate who speaks at all is at least at ``floor``."""
    return round(floor + (9 - floor) * min(1.0, max(0.0, fraction)))


def overall_band(bands: Sequence[int]) -> float:
    """The mean of the criterion bands rounded to the nearest half band (a .25 or .75 mean rounds up)."""
    mean = sum(bands) / len(bands)
    return math.floor(mean * 2 + 0.5) / 2


def _local_criteria(m: Metrics) -> dict[str, CriterionResult]:
    if m.words == 0:
        empty = "No speech from the candidate was recognised, so this criterion cannot be credited."
        return {key: CriterionResult(band=0, feedback=empty) for key in CRITERIA}
    # How much was said matters: a handful of words cannot show a range of anything.
    amount = _scale(m.words, 20, 400)
    fluency = (
        0.35 * _scale(m.speech_rate_wpm, 60, 150)
        + 0.3 * _scale(m.mean_length_of_run, 2, 12)
        + 0.2 * (1 - _scale(m.pause_ratio, 0.05, 0.45))
        + 0.15 * _scale(m.linkers_per_100_words, 0.5, 5)
    ) * (0.6 + 0.4 * amount) - 0.02 * min(10, m.filled_pauses)
    lexical = (0.5 * _scale(m.type_token_ratio, 0.45, 0.8) + 0.5 * _scale(m.less_common_share, 0.02, 0.15)) * (
        0.5 + 0.5 * amount
    )
    grammar = (
        0.35 * _scale(m.mean_sentence_words, 5, 18)
        + 0.35 * _scale(m.subordinate_per_sentence, 0.1, 1.2)
        + 0.3 * (1 - _scale(m.errors_per_100_words, 0, 4))
    ) * (0.6 + 0.4 * amount)
    confidence = m.mean_confidence if m.mean_confidence is not None else 0.75
    pronunciation = 0.7 * _scale(confidence, 0.45, 0.95) + 0.3 * (1 - _scale(m.low_confidence_share or 0.0, 0, 0.3))
    rate, run, pause = round(m.speech_rate_wpm), round(m.mean_length_of_run, 1), round(100 * m.pause_ratio)
    return {
        "fluency_coherence": CriterionResult(
            band=_band(fluency),
            feedback=(
                f"You spoke at about {rate} words a minute with runs of {run} words between pauses; "
                f"{pause}% of your speaking time was pausing and you used {m.filled_pauses} filled pauses. "
                + (
                    "Keep answers going with linking words such as 'because' or 'for example'."
                    if m.linkers_per_100_words < 2
                    else "You linked ideas with connecting words, which helps coherence."
                )
            ),
        ),
        "lexical_resource": CriterionResult(
            band=_band(lexical),
            feedback=(
                f"Your word range score was {m.type_token_ratio:.2f} and {round(100 * m.less_common_share)}% of "
                "your words were less common ones. "
                + (
                    "Try more precise and topic-specific vocabulary instead of general words."
                    if m.less_common_share < 0.08
                    else "You used a good share of less common vocabulary."
                )
            ),
        ),
        "grammatical_range_accuracy": CriterionResult(
            band=_band(grammar),
            feedback=(
                f"Your sentences averaged {m.mean_sentence_words:.1f} words with "
                f"{m.subordinate_per_sentence:.1f} subordinate clauses each, and about "
                f"{m.errors_per_100_words:.1f} likely errors per 100 words. "
                + (
                    "Use more complex structures, e.g. clauses with 'which', 'although' or 'if'."
                    if m.subordinate_per_sentence < 0.6
                    else "You mixed simple and complex sentences."
                )
            ),
        ),
        "pronunciation": CriterionResult(
            band=_band(pronunciation),
            feedback=(
                f"Measured as a proxy from speech-recognition confidence ({confidence:.2f} on average"
                + (
                    f", {round(100 * m.low_confidence_share)}% of words unclear"
                    if m.low_confidence_share is not None
                    else ""
                )
                + "); this is not a judgement of accent. Clear stress and chunking make words easier to recognise."
            ),
        ),
    }


class LocalSpeakingScorer:
    """Scores from measured features of the transcript and word timings; no network, no model."""

    engine = "local"

    def score(self, turns: Sequence[Turn]) -> SpeakingResult:
        """Score the candidate's turns from measured features."""
        metrics = measure(turns)
        criteria = _local_criteria(metrics)
        return result_from(criteria, metrics, turns, engine="local", version=LOCAL_ENGINE_VERSION)


def result_from(
    criteria: dict[str, CriterionResult], metrics: Metrics, turns: Sequence[Turn], *, engine: str, version: str
) -> SpeakingResult:
    """Assemble the API.md result from criterion bands, metrics and the transcript."""
    if set(criteria) != set(CRITERIA):
        raise ScoringFailed(f"criteria must be exactly {', '.join(CRITERIA)}", retryable=True)
    return SpeakingResult(
        overall_band=overall_band([criteria[key].band for key in CRITERIA]),
        engine="bedrock" if engine == "bedrock" else "local",
        engine_version=version,
        criteria={key: criteria[key] for key in CRITERIA},
        metrics=metrics.public(),
        transcript=[TranscriptTurn(**t.public()) for t in turns],
    )


def build_speaking_scorer(settings: Settings) -> SpeakingScorer:
    """The engine named by ``settings.speaking_scorer``."""
    if settings.speaking_scorer == "bedrock":
        from ieltsprep.speaking.scoring_bedrock import BedrockSpeakingScorer

        return BedrockSpeakingScorer.from_settings(settings)
    return LocalSpeakingScorer()
