"""Speaking scoring: the port, the evidence rules, and the local engine.

The four criteria are those of the public band descriptors (ielts_scoring.md 3.3), equally weighted:
- fluency and coherence: speech rate, pauses and runs measured in the candidate's audio (speaking/measures.py),
  filled pauses, linking words; limited when answers do not answer their questions (speaking/relevance.py);
- lexical resource: range (moving-average type-token ratio) and the share of less common words;
- grammatical range and accuracy: sentence length and complexity (subordination) and the errors found;
- pronunciation: the recogniser's word confidence, a stated proxy, when the engine gives one; otherwise not measured,
  said so, and left out of the band (never a constant).

Evidence rules (both engines, ``result_from``): a test that did not reach the end of Part 3, or with under
``MIN_BAND_SECONDS`` of candidate speech, gets no ``overall_band``, only a ``provisional_band`` with every criterion
marked provisional; with (almost) no speech there is no band at all. ``SpeakingResult.model_dump()`` is the speaking
``result`` object of docs/API.md; ``build_speaking_scorer`` picks the engine (``local`` here, ``bedrock`` in
``scoring_bedrock``) from the settings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ieltsprep.scoring.port import ScoringFailed
from ieltsprep.speaking import feedback
from ieltsprep.speaking.measures import ErrorFinder, Metrics, measure, unsure_spans
from ieltsprep.speaking.relevance import Judgement, Similarity, installed_similarity, judge
from ieltsprep.speaking.sessions import Turn

if TYPE_CHECKING:
    from ieltsprep.settings import Settings

CRITERIA: tuple[str, ...] = ("fluency_coherence", "lexical_resource", "grammatical_range_accuracy", "pronunciation")
LOCAL_ENGINE_VERSION = "speaking-local-2"
MIN_BAND_SECONDS = 60  # less candidate speech than this gives a provisional band only
MIN_SCORED_WORDS = 20  # fewer words than this (or under MIN_SCORED_SECONDS) give no band at all
MIN_SCORED_SECONDS = 8
# Fluency and Coherence is capped by the share of judged answers that do not answer their question: half or more,
# band 4; a fifth or more, band 5; any, band 6 (the descriptors ask for answers that develop the topic).
RELEVANCE_CAPS: tuple[tuple[float, int], ...] = ((0.5, 4), (0.2, 5), (0.0, 6))


class CriterionResult(BaseModel):
    """A whole band 0-9 for one criterion (None: not measured, or too little speech), with feedback naming the
    evidence."""

    model_config = ConfigDict(extra="forbid")

    band: int | None = Field(ge=0, le=9)
    feedback: str
    measured: bool = True
    provisional: bool = False


class TranscriptTurn(BaseModel):
    """One turn of the stored transcript, as the result shows it."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["examiner", "candidate"]
    part: int = Field(ge=1, le=3)
    text: str
    start_ms: int
    end_ms: int
    unsure: list[dict[str, int]] = Field(default_factory=list)  # candidate words the recogniser was unsure of


class Evidence(BaseModel):
    """How much of the test the marks rest on."""

    model_config = ConfigDict(extra="forbid")

    complete: bool  # the test reached the end of Part 3
    parts_taken: list[int]  # parts in which the candidate spoke
    candidate_seconds: float  # the candidate's speaking time measured in their audio
    candidate_words: int
    missing: list[str]  # what was missing, in plain words ([] when nothing was)


class SpeakingResult(BaseModel):
    """The speaking ``result`` object of docs/API.md."""

    model_config = ConfigDict(extra="forbid")

    overall_band: float | None = Field(ge=0, le=9)
    provisional_band: float | None = Field(default=None, ge=0, le=9)
    engine: Literal["local", "bedrock"]
    engine_version: str
    evidence: Evidence
    criteria: dict[str, CriterionResult]
    figures: list[feedback.Figure]
    work_on: list[feedback.WorkOn]
    relevance: list[feedback.AnswerRelevance]
    metrics: dict[str, float | int]
    transcript: list[TranscriptTurn]


class SpeakingScorer(Protocol):
    """Scores one speaking test from its transcript turns."""

    engine: str

    def score(self, turns: Sequence[Turn], *, complete: bool) -> SpeakingResult:
        """Score the candidate's turns (``complete``: the test reached its closing line); raises ScoringFailed."""
        ...


@dataclass(frozen=True)
class Scale:
    """How one measure maps onto 0-1 in the local engine: 0 at ``low``, 1 at ``high`` (reversed when ``lower``
    is better). The same scale gives the values a criterion band of 6 or 7 expects of the measure alone."""

    low: float
    high: float
    lower_is_better: bool = False

    def fraction(self, value: float) -> float:
        """0-1, clipped."""
        f = min(1.0, max(0.0, (value - self.low) / (self.high - self.low)))
        return 1 - f if self.lower_is_better else f

    def at_band(self, band: int) -> float:
        """The value whose fraction gives ``band`` on its own."""
        f = (band - BAND_FLOOR) / (9 - BAND_FLOOR)
        f = 1 - f if self.lower_is_better else f
        return self.low + f * (self.high - self.low)


BAND_FLOOR = 2  # a candidate who speaks at all is at least at band 2
SCALES: dict[str, Scale] = {
    "speech_rate_wpm": Scale(60, 150),
    "mean_length_of_run": Scale(2, 12),
    "longest_run_words": Scale(5, 30),
    "pause_ratio": Scale(0.05, 0.45, lower_is_better=True),
    "pauses_per_minute": Scale(6, 24, lower_is_better=True),
    "linkers_per_100_words": Scale(0.5, 5),
    "type_token_ratio": Scale(0.45, 0.8),
    "less_common_share": Scale(0.02, 0.15),
    "mean_sentence_words": Scale(5, 18),
    "subordinate_per_sentence": Scale(0.1, 1.2),
    "errors_per_100_words": Scale(0, 4, lower_is_better=True),
    "mean_confidence": Scale(0.45, 0.95),
    "low_confidence_share": Scale(0, 0.3, lower_is_better=True),
}


def _part(m: Metrics, name: str) -> float | None:
    value = getattr(m, name)
    return None if value is None else SCALES[name].fraction(float(value))


def _weighted(parts: Sequence[tuple[float, float | None]]) -> float | None:
    """Weighted mean of the measured parts (unmeasured ones left out of the weights)."""
    known = [(w, f) for w, f in parts if f is not None]
    if not known:
        return None
    return sum(w * f for w, f in known) / sum(w for w, _ in known)


def _band(fraction: float) -> int:
    return round(BAND_FLOOR + (9 - BAND_FLOOR) * min(1.0, max(0.0, fraction)))


def overall_band(bands: Sequence[int]) -> float:
    """The mean of the criterion bands rounded to the nearest half band (a .25 or .75 mean rounds up)."""
    mean = sum(bands) / len(bands)
    return math.floor(mean * 2 + 0.5) / 2


def relevance_cap(judgements: Sequence[Judgement]) -> int | None:
    """The highest Fluency and Coherence band the answers' relevance allows (None: no limit)."""
    return cap_for(sum(1 for j in judgements if j.verdict != "relevant"), len(judgements))


def cap_for(off_topic: int, judged: int) -> int | None:
    """The Fluency and Coherence cap for ``off_topic`` answers out of ``judged`` (None: no limit)."""
    if judged == 0 or off_topic == 0:
        return None
    share = off_topic / judged
    return next(cap for least, cap in RELEVANCE_CAPS if share >= least)


def _relevance_note(judgements: Sequence[Judgement], cap: int | None) -> str:
    off = [j for j in judgements if j.verdict != "relevant"]
    if not off:
        return ""
    first = off[0]
    quote = feedback.opening(first.exchange.answer)
    kind = "repeated a prepared answer" if first.verdict == "memorised" else "did not answer the question"
    return (
        f' {len(off)} of your {len(judgements)} answers did not answer what was asked: to "{first.exchange.question}"'
        f' you said "{quote}", which {kind}. Answer the question you are asked; this limits the band to {cap}.'
    )


def _local_criteria(m: Metrics, judgements: Sequence[Judgement]) -> dict[str, CriterionResult]:
    amount = min(1.0, max(0.0, (m.words - 20) / 380))  # a handful of words cannot show a range of anything
    fluency = _weighted(
        [
            (0.35, _part(m, "speech_rate_wpm")),
            (0.15, _part(m, "mean_length_of_run")),
            (0.1, _part(m, "longest_run_words")),
            (0.1, _part(m, "pause_ratio")),
            (0.1, _part(m, "pauses_per_minute")),
            (0.2, _part(m, "linkers_per_100_words")),
        ]
    )
    assert fluency is not None  # linking words are always counted
    fluency = fluency * (0.6 + 0.4 * amount) - 0.02 * min(10, m.filled_pauses)
    lexical = (0.5 * _part_value(m, "type_token_ratio") + 0.5 * _part_value(m, "less_common_share")) * (
        0.5 + 0.5 * amount
    )
    grammar = (
        0.35 * _part_value(m, "mean_sentence_words")
        + 0.35 * _part_value(m, "subordinate_per_sentence")
        + 0.3 * _part_value(m, "errors_per_100_words")
    ) * (0.6 + 0.4 * amount)
    cap = relevance_cap(judgements)
    fc_band = _band(fluency) if cap is None else min(cap, _band(fluency))
    if m.timing is None:
        timing = "Your speech could not be timed (no audio measure was stored), so only linking was counted. "
    else:
        timing = (
            f"You spoke at about {round(m.speech_rate_wpm or 0)} words a minute, with about "
            f"{round(m.pauses_per_minute or 0)} pauses a minute and runs of {m.mean_length_of_run or 0:.1f} words "
            f"between them (longest {round(m.longest_run_words or 0)}); you used {m.filled_pauses} filled pauses. "
        )
    linking = (
        "Keep answers going with linking words such as 'because' or 'for example'."
        if m.linkers_per_100_words < 2
        else "You linked ideas with connecting words, which helps coherence."
    )
    criteria = {
        "fluency_coherence": CriterionResult(
            band=fc_band, feedback=timing + linking + _relevance_note(judgements, cap)
        ),
        "lexical_resource": CriterionResult(
            band=_band(lexical),
            feedback=(
                f"About {round(50 * m.type_token_ratio)} of every 50 words you used were different words, and "
                f"{round(100 * m.less_common_share)}% were less common ones. "
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
                f"{m.subordinate_per_sentence:.1f} subordinate clauses each; {len(m.errors)} likely errors were "
                f"found ({m.errors_per_100_words:.1f} per 100 words). "
                + (
                    "Use more complex structures, e.g. clauses with 'which', 'although' or 'if'."
                    if m.subordinate_per_sentence < 0.6
                    else "You mixed simple and complex sentences."
                )
            ),
        ),
        "pronunciation": _pronunciation(m),
    }
    return criteria


def _part_value(m: Metrics, name: str) -> float:
    return SCALES[name].fraction(float(getattr(m, name)))


def not_measured() -> CriterionResult:
    """Pronunciation when the speech engine gives no recogniser confidence (Nova Sonic)."""
    return CriterionResult(
        band=None,
        measured=False,
        feedback=(
            "Not measured: the speech engine of this test gives no measure of how clearly each word was "
            "recognised, so pronunciation is left out of the band rather than guessed."
        ),
    )


def _pronunciation(m: Metrics) -> CriterionResult:
    if m.mean_confidence is None:
        return not_measured()
    fraction = 0.7 * SCALES["mean_confidence"].fraction(m.mean_confidence) + 0.3 * SCALES[
        "low_confidence_share"
    ].fraction(m.low_confidence_share or 0.0)
    unsure = round(100 * (m.low_confidence_share or 0.0))
    return CriterionResult(
        band=_band(fraction),
        feedback=(
            f"Measured as a proxy from speech-recognition confidence ({m.mean_confidence:.2f} on average, {unsure}% "
            "of words unclear; they are highlighted in the transcript); this is not a judgement of accent. Clear "
            "stress and chunking make words easier to recognise."
        ),
    )


class LocalSpeakingScorer:
    """Scores from features measured in the candidate's audio and words; no network."""

    engine = "local"

    def __init__(self, similarity: Similarity | None = None, find_errors: ErrorFinder | None = None) -> None:
        self._similarity = similarity
        self._find_errors = find_errors

    def score(self, turns: Sequence[Turn], *, complete: bool) -> SpeakingResult:
        """Score the candidate's turns from measured features."""
        metrics = measure(turns, self._find_errors)
        similarity = self._similarity or installed_similarity()
        judgements = judge(turns, similarity) if similarity is not None else []
        criteria = _local_criteria(metrics, judgements)
        return result_from(
            criteria,
            metrics,
            turns,
            engine="local",
            version=LOCAL_ENGINE_VERSION,
            complete=complete,
            judgements=judgements,
            relevance_judged=similarity is not None,
        )


def scorable(metrics: Metrics) -> bool:
    """Whether there is enough of the candidate's speech to mark at all."""
    return metrics.words >= MIN_SCORED_WORDS and round(metrics.speaking_seconds or 0.0, 1) >= MIN_SCORED_SECONDS


def evidence_of(metrics: Metrics, turns: Sequence[Turn], *, complete: bool) -> Evidence:
    """How much of the test there is to mark, and what is missing, in plain words."""
    parts = sorted({t.part for t in turns if t.role == "candidate" and t.text.strip()})
    seconds = round(metrics.speaking_seconds or 0.0, 1)
    complete = complete and parts == [1, 2, 3]
    missing: list[str] = []
    not_taken = [str(p) for p in (1, 2, 3) if p not in parts]
    if not_taken:
        names = " and ".join(f"Part {p}" for p in not_taken)
        missing.append(f"{names} {'was' if len(not_taken) == 1 else 'were'} not taken.")
    elif not complete:
        missing.append("The test ended before the end of Part 3.")
    if metrics.words < MIN_SCORED_WORDS or seconds < MIN_SCORED_SECONDS:
        missing.append(
            f"Only {metrics.words} words ({seconds:.0f} seconds) of your speech were heard: too little to mark."
        )
    elif seconds < MIN_BAND_SECONDS:
        missing.append(
            f"Only {seconds:.0f} seconds of your speech were heard; a band needs at least {MIN_BAND_SECONDS}."
        )
    return Evidence(
        complete=complete, parts_taken=parts, candidate_seconds=seconds, candidate_words=metrics.words, missing=missing
    )


def result_from(
    criteria: dict[str, CriterionResult],
    metrics: Metrics,
    turns: Sequence[Turn],
    *,
    engine: str,
    version: str,
    complete: bool,
    judgements: Sequence[Judgement] = (),
    relevance_judged: bool = True,
) -> SpeakingResult:
    """Assemble the API.md result: the evidence rules over the criterion bands, figures, advice and transcript."""
    if set(criteria) != set(CRITERIA):
        raise ScoringFailed(f"criteria must be exactly {', '.join(CRITERIA)}", retryable=True)
    evidence = evidence_of(metrics, turns, complete=complete)
    marks = scorable(metrics)
    provisional = not (evidence.complete and evidence.candidate_seconds >= MIN_BAND_SECONDS)
    marked: dict[str, CriterionResult] = {}
    for key in CRITERIA:
        c = criteria[key]
        if not marks:
            c = CriterionResult(
                band=None, measured=c.measured, feedback="Too little of your speech was heard to mark this."
            )
        elif provisional and c.band is not None:
            c = c.model_copy(update={"provisional": True})
        marked[key] = c
    bands = [c.band for c in marked.values() if c.band is not None]
    band = overall_band(bands) if marks and bands else None
    return SpeakingResult(
        overall_band=None if provisional else band,
        provisional_band=band if provisional else None,
        engine="bedrock" if engine == "bedrock" else "local",
        engine_version=version,
        evidence=evidence,
        criteria=marked,
        figures=feedback.figures(metrics, SCALES),
        work_on=feedback.work_on(metrics, turns, judgements, SCALES) if marks else [],
        relevance=feedback.relevance(judgements) if relevance_judged else [],
        metrics=metrics.public(),
        transcript=[
            TranscriptTurn(**t.public(), unsure=unsure_spans(t) if t.role == "candidate" else [])
            for t in turns
            if t.text.strip()  # a line Maya never said (dropped after a barge-in) is stored empty
        ],
    )


def build_speaking_scorer(settings: Settings) -> SpeakingScorer:
    """The engine named by ``settings.speaking_scorer``."""
    if settings.speaking_scorer == "bedrock":
        from ieltsprep.speaking.scoring_bedrock import BedrockSpeakingScorer

        return BedrockSpeakingScorer.from_settings(settings)
    return LocalSpeakingScorer()
