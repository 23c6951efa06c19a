"""A speaking result that teaches: plain figures beside what band 6 and 7 expect, and the three things to work on
first, each quoting the candidate's own words.

The band 6 and band 7 values beside each figure are the values at which that measure alone gives the band on the
local engine's scale (``scoring.SCALES``): what this scorer expects, stated as such, not a published norm.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from ieltsprep.speaking.measures import (
    FILLERS,
    LINKERS,
    SENTENCE,
    SUBORDINATORS,
    WORD,
    Metrics,
    unsure_spans,
    words_of,
)
from ieltsprep.speaking.relevance import Judgement
from ieltsprep.speaking.sessions import Turn

if TYPE_CHECKING:
    from ieltsprep.speaking.scoring import Scale

QUOTE_WORDS = 12  # a quote is at most this many of the candidate's words
# General words that a more precise one usually improves on.
VAGUE_WORDS = frozenset(
    {"good", "nice", "bad", "thing", "things", "stuff", "very", "really", "great", "big", "lot", "lots", "okay"}
    | {"interesting", "beautiful", "amazing", "important", "many", "get", "got", "fine"}
)
SHORT_ANSWER_WORDS = 12  # a Part 1 or Part 3 answer shorter than this is worth developing


class Figure(BaseModel):
    """One plain measure beside what band 6 and band 7 expect of it."""

    model_config = ConfigDict(extra="forbid")

    key: str
    label: str
    value: float | None  # None: not measured
    unit: str
    band_6: float
    band_7: float
    better: Literal["higher", "lower"]


class WorkOn(BaseModel):
    """One thing to work on, with the candidate's own words that show it."""

    model_config = ConfigDict(extra="forbid")

    criterion: str
    title: str
    quote: str  # the candidate's words, verbatim
    part: int
    advice: str


class AnswerRelevance(BaseModel):
    """How one answer related to the question it answered."""

    model_config = ConfigDict(extra="forbid")

    part: int
    question: str
    answer: str  # the answer's opening words
    verdict: Literal["relevant", "off_topic", "memorised"]
    similarity: float


@dataclass(frozen=True)
class _FigureSpec:
    key: str  # the Metrics field and its scale
    label: str
    unit: str
    factor: float  # shown value = measure x factor


_FIGURES = (
    _FigureSpec("speech_rate_wpm", "Speech rate", "words a minute", 1),
    _FigureSpec("pauses_per_minute", "Pauses", "a minute", 1),
    _FigureSpec("longest_run_words", "Longest fluent run", "words", 1),
    _FigureSpec("type_token_ratio", "Range of vocabulary", "different words in every 50", 50),
    _FigureSpec("less_common_share", "Less common words", "% of your words", 100),
    _FigureSpec("errors_per_100_words", "Grammar errors found", "per 100 words", 1),
)


def figures(metrics: Metrics, scales: Mapping[str, Scale]) -> list[Figure]:
    """The six plain figures (speech rate, pauses, longest run, vocabulary range and share, grammar errors)."""
    out: list[Figure] = []
    for spec in _FIGURES:
        value = getattr(metrics, spec.key)
        scale = scales[spec.key]
        out.append(
            Figure(
                key=spec.key,
                label=spec.label,
                value=None if value is None else round(float(value) * spec.factor, 1),
                unit=spec.unit,
                band_6=round(scale.at_band(6) * spec.factor, 1),
                band_7=round(scale.at_band(7) * spec.factor, 1),
                better="lower" if scale.lower_is_better else "higher",
            )
        )
    return out


def opening(text: str, words: int = QUOTE_WORDS) -> str:
    """The first ``words`` words of a text, verbatim (with "..." when cut)."""
    found = list(WORD.finditer(text))
    if len(found) <= words:
        return text.strip()
    return text[: found[words - 1].end()].strip() + "..."


def _around(text: str, start: int, end: int, words: int = QUOTE_WORDS) -> str:
    """The candidate's words around ``start``-``end`` of a turn's text, verbatim."""
    found = list(WORD.finditer(text))
    inside = [i for i, m in enumerate(found) if m.end() > start and m.start() < end] or [0]
    first = max(0, inside[0] - (words - len(inside)) // 2)
    last = min(len(found) - 1, first + words - 1)
    if not found:
        return text.strip()
    quote = text[found[first].start() : found[last].end()]
    return ("..." if first > 0 else "") + quote + ("..." if last < len(found) - 1 else "")


def _candidate(turns: Sequence[Turn]) -> list[tuple[int, Turn]]:
    return [(i, t) for i, t in enumerate(turns) if t.role == "candidate" and t.text.strip()]


def work_on(
    metrics: Metrics, turns: Sequence[Turn], judgements: Sequence[Judgement], scales: Mapping[str, Scale]
) -> list[WorkOn]:
    """The three things to work on first: the weakest measures that the candidate's own words show."""
    said = _candidate(turns)
    if not said:
        return []
    options: list[tuple[float, WorkOn]] = []
    off = [j for j in judgements if j.verdict != "relevant"]
    if off:
        j = off[0]
        options.append(
            (
                -1.0,
                WorkOn(
                    criterion="fluency_coherence",
                    title="Answer the question you are asked",
                    quote=opening(j.exchange.answer),
                    part=j.exchange.part,
                    advice=(
                        f'Maya asked "{j.exchange.question}". '
                        + (
                            "This answer repeats one you gave to another question: it sounds prepared in advance."
                            if j.verdict == "memorised"
                            else "Your answer was about something else. Start with a direct answer, then add a "
                            "reason or an example."
                        )
                    ),
                ),
            )
        )
    if metrics.errors:
        e = metrics.errors[0]
        turn = turns[e.turn]
        options.append(
            (
                scales["errors_per_100_words"].fraction(metrics.errors_per_100_words),
                WorkOn(
                    criterion="grammatical_range_accuracy",
                    title="Check your grammar",
                    quote=_around(turn.text, e.start, e.end),
                    part=turn.part,
                    advice=f'{e.message[:1].upper()}{e.message[1:]} in "{turn.text[e.start : e.end]}"'
                    + (f' (better: "{e.suggestion}")' if e.suggestion else "")
                    + f". {len(metrics.errors)} likely errors were found in all.",
                ),
            )
        )
    if metrics.speech_rate_wpm is not None or metrics.mean_length_of_run is not None:
        halting = [r for r in metrics.runs if r.words < 4]
        by_turn = Counter(r.turn for r in halting)
        fraction = min(
            scales["speech_rate_wpm"].fraction(metrics.speech_rate_wpm or 0.0),
            scales["mean_length_of_run"].fraction(metrics.mean_length_of_run or 0.0),
        )
        if by_turn:
            index, stops = by_turn.most_common(1)[0]
            turn = turns[index]
            options.append(
                (
                    fraction,
                    WorkOn(
                        criterion="fluency_coherence",
                        title="Speak in longer stretches",
                        quote=opening(turn.text),
                        part=turn.part,
                        advice=f"In this answer you paused {stops} times after only a few words. Plan the next "
                        "idea while you finish the current one, and join ideas with 'and', 'because' or 'so'.",
                    ),
                )
            )
    if metrics.linkers_per_100_words < 2 and metrics.words >= 30:
        index, turn = max(said, key=lambda it: len(words_of(it[1].text)))
        if not any(w in LINKERS for w in words_of(opening(turn.text))):
            options.append(
                (
                    scales["linkers_per_100_words"].fraction(metrics.linkers_per_100_words),
                    WorkOn(
                        criterion="fluency_coherence",
                        title="Link your ideas",
                        quote=opening(turn.text),
                        part=turn.part,
                        advice="Your ideas came one after another without linking words. Say how they connect: "
                        "'because', 'so', 'however', 'for example'.",
                    ),
                )
            )
    repeated = _repeated_general_word(said)
    if repeated is not None:
        word, count, turn = repeated
        at = next(m for m in WORD.finditer(turn.text) if m.group().lower() == word)
        options.append(
            (
                scales["less_common_share"].fraction(metrics.less_common_share),
                WorkOn(
                    criterion="lexical_resource",
                    title="Use more precise words",
                    quote=_around(turn.text, at.start(), at.end()),
                    part=turn.part,
                    advice=f"You said '{word}' {count} times. Try a more precise word for what you mean.",
                ),
            )
        )
    fillers = [(i, t, m) for i, t in said for m in WORD.finditer(t.text) if m.group().lower() in FILLERS]
    if len(fillers) >= 3:
        _, turn, m = fillers[0]
        options.append(
            (
                0.5,
                WorkOn(
                    criterion="fluency_coherence",
                    title="Fewer filled pauses",
                    quote=_around(turn.text, m.start(), m.end()),
                    part=turn.part,
                    advice=f"You said 'um' or 'er' {len(fillers)} times. A short silent pause sounds more fluent.",
                ),
            )
        )
    if metrics.mean_confidence is not None:
        unclear = [(t, span) for _, t in said for span in unsure_spans(t)]
        if unclear:
            turn, span = unclear[0]
            options.append(
                (
                    scales["mean_confidence"].fraction(metrics.mean_confidence),
                    WorkOn(
                        criterion="pronunciation",
                        title="Say unclear words more clearly",
                        quote=_around(turn.text, span["start"], span["end"]),
                        part=turn.part,
                        advice=f'The recogniser was unsure of "{turn.text[span["start"] : span["end"]]}" and '
                        f"{len(unclear) - 1} other words (highlighted in the transcript). Stress the key syllable.",
                    ),
                )
            )
    answers = [(i, t) for i, t in said if t.part in (1, 3) and len(words_of(t.text)) < SHORT_ANSWER_WORDS]
    if answers:
        _, turn = min(answers, key=lambda it: len(words_of(it[1].text)))
        options.append(
            (
                0.6,
                WorkOn(
                    criterion="fluency_coherence",
                    title="Develop your answers",
                    quote=turn.text.strip(),
                    part=turn.part,
                    advice="This answer stopped after a few words. Add a reason and an example: 'because...', "
                    "'for example...'.",
                ),
            )
        )
    sentences = [
        (t, m)
        for _, t in said
        for m in SENTENCE.finditer(t.text)
        if len(words_of(m.group())) >= 3 and not SUBORDINATORS.intersection(words_of(m.group()))
    ]
    if sentences:
        turn, m = min(sentences, key=lambda tm: len(words_of(tm[1].group())))
        options.append(
            (
                scales["subordinate_per_sentence"].fraction(metrics.subordinate_per_sentence),
                WorkOn(
                    criterion="grammatical_range_accuracy",
                    title="Use more complex sentences",
                    quote=m.group().strip(),
                    part=turn.part,
                    advice="Join a simple sentence like this one to the next idea with 'which', 'although', 'if' "
                    "or 'when' to show a range of structures.",
                ),
            )
        )
    _, turn = max(said, key=lambda it: len(words_of(it[1].text)))
    options.append(
        (
            scales["less_common_share"].fraction(metrics.less_common_share),
            WorkOn(
                criterion="lexical_resource",
                title="Widen your vocabulary",
                quote=opening(turn.text),
                part=turn.part,
                advice=f"{round(100 * metrics.less_common_share)}% of your words were less common ones. In answers "
                "like this, name things precisely and use topic words and collocations.",
            ),
        )
    )
    options.sort(key=lambda o: o[0])
    # Weakest first, one per criterion while there are others to choose from.
    chosen: list[WorkOn] = []
    for _, item in options:
        if len(chosen) < 3 and item.criterion not in {c.criterion for c in chosen}:
            chosen.append(item)
    for _, item in options:
        if len(chosen) < 3 and item not in chosen:
            chosen.append(item)
    return chosen


def _repeated_general_word(said: Sequence[tuple[int, Turn]]) -> tuple[str, int, Turn] | None:
    counts: Counter[str] = Counter()
    for _, turn in said:
        counts.update(w for w in words_of(turn.text) if w in VAGUE_WORDS)
    if not counts:
        return None
    word, count = counts.most_common(1)[0]
    if count < 3:
        return None
    _, turn = max(said, key=lambda it: words_of(it[1].text).count(word))
    return word, count, turn


def relevance(judgements: Sequence[Judgement]) -> list[AnswerRelevance]:
    """Each judged answer with its question and verdict."""
    return [
        AnswerRelevance(
            part=j.exchange.part,
            question=j.exchange.question,
            answer=opening(j.exchange.answer),
            verdict=j.verdict,
            similarity=round(j.similarity, 3),
        )
        for j in judgements
    ]
