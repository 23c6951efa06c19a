"""Rules from the official band descriptors, applied in code after either engine has proposed criterion bands.

Sources (../shared/reference/ielts_scoring.md section 3.1): 20 words or fewer is band 1 on every criterion; band 0
for no attempt or non-English throughout; bolded negative features limit a rating; the Writing band weights Task 2
twice and is rounded like the overall band (.25 up to the half band, .75 up to the whole band).

Caps chosen here where the descriptors only say "not enough evidence" are documented on the constants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ieltsprep.scoring.features import Analysis
from ieltsprep.scoring.port import WritingTask, criterion_keys

# Below this share of English words (dictionary words, checked against English function words) the answer is
# "non-English throughout" (band 0). English answers with many misspellings stay above 0.6 in the training data.
NON_ENGLISH_BELOW = 0.35
TOO_SHORT_WORDS = 20
# Under-length caps on the task criterion (TA/TR). The descriptors give no deduction per missing word; an
# under-length answer cannot show that it "addresses all parts of the task" (band 6), so it is held at band 5; under
# two thirds of the minimum it is treated as "main parts incompletely addressed"/"tangential" (band 4); under one
# third the LR and GRA band-3 descriptors ("significantly underlength", "length may be insufficient") apply to all.
UNDER_LENGTH_TASK_CAP = 5
SHORT_TASK_CAP = 4
VERY_SHORT_CAP = 3
# Off-topic: TR band 3 "ideas ... largely irrelevant"; LR band 4 "unrelated to the task"; CC band 2 (bold)
# "the entire response may be off-topic". Thresholds on prompt-word coverage are fitted on the essays CSV
# (scripts/fit_writing_scorer.py) and shipped in the model parameters.
OFF_TOPIC_TASK_CAP = 3
OFF_TOPIC_LR_CAP = 4
ENTIRELY_OFF_TOPIC_CC_CAP = 2
# GT letters: a missing bullet point is a bold cap at band 4. ``analysis.bullet_coverage`` says which bullets the
# letter deals with: one of its content words (lightly stemmed) used, a request made for a request bullet
# (features.py), or, in the local engine, some sentence close to it in the encoder's topic space (relevance.py).
MISSING_BULLET_CAP = 4
# Academic Task 1: "a clear overview" is needed for band 7, so without one the task criterion stops at 6.
NO_OVERVIEW_CAP = 6
# Academic Task 1: "there may be no data to support the description" is a bold band-5 feature; checked only when
# the platform knows the chart's key items (names, end points, extremes), so process and map tasks are judged too.
NO_DATA_CAP = 5
# Task 2 CC: "no paragraphing" is a band-5 feature; only applied to answers long enough to need paragraphs.
NO_PARAGRAPHS_CC_CAP = 5
PARAGRAPHS_EXPECTED_FROM_WORDS = 150
# Error density limits a band, as the descriptors word it: Lexical Resource 7 allows "occasional errors" in spelling,
# 6 "some errors", 5 "noticeable errors"; Grammatical Range and Accuracy 7 has "frequent error-free sentences", 6
# "some errors", 5 "frequent errors". Per 100 words, (rate above which, highest band) from the strictest down. On the
# essays CSV, misspellings above 1.8 per 100 words occur in 6 % of band 8-9 scripts (above 3.5: 1 %); grammar
# errors found (the checker prefers silence to a guess) above 1.0 in 2 % of them, above 1.5 in none.
SPELLING_CAPS: tuple[tuple[float, int], ...] = ((3.5, 5), (2.5, 6), (1.8, 7))
GRAMMAR_CAPS: tuple[tuple[float, int], ...] = ((2.5, 5), (1.5, 6), (1.0, 7))
# Part of the answer about something else (words in off-topic paragraphs, scoring/relevance.py): Task Response 6
# allows that "some details may be irrelevant", 5 "may be ... irrelevant detail", 4 is "tangential". Starting at a
# quarter of the words instead of 15 % would gain 0.005 MAE on the first file (an own paragraph is sometimes
# misjudged) but let two of the validity battery's half-replaced essays (18 % and 24 % flagged) gain a band.
OFF_TOPIC_SHARE_CAPS: tuple[tuple[float, int], ...] = ((0.6, 4), (0.35, 5), (0.15, 6))


@dataclass(frozen=True)
class OffTopicThresholds:
    """Prompt-coverage thresholds (share of the prompt's content words used in the answer)."""

    off_topic: float = 0.15
    entirely: float = 0.0


@dataclass
class RuledTask:
    """Criterion bands after the rules, with the flags and reasons that changed them."""

    criteria: dict[str, int]
    flags: list[str] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    final: bool = False  # band 0/1 cases: nothing else to say

    def cap(self, key: str, limit: int, reason: str) -> None:
        """Limit one criterion and remember why."""
        if self.criteria[key] > limit:
            self.criteria[key] = limit
            self.reasons.setdefault(key, []).append(reason)

    def flag(self, name: str) -> None:
        """Add a flag once."""
        if name not in self.flags:
            self.flags.append(name)


def round_half_band(value: float) -> float:
    """The official overall-band rounding: floor(2x + 0.5) / 2 (.25 → .5, .75 → next whole band)."""
    return math.floor(2 * value + 0.5 + 1e-9) / 2


def whole_band(value: float) -> int:
    """A criterion band: the nearest whole band within 0-9."""
    return int(min(9, max(0, math.floor(value + 0.5))))


def task_band(criteria: Mapping[str, int]) -> float:
    """Per-task band, an estimate: the mean of the four criteria rounded like the overall band."""
    return round_half_band(sum(criteria.values()) / len(criteria))


def writing_band(task_bands: Mapping[int, float]) -> float:
    """Writing band: (Task 1 + 2 x Task 2) / 3 rounded officially; a lone task counts alone."""
    if 1 in task_bands and 2 in task_bands:
        return round_half_band((task_bands[1] + 2 * task_bands[2]) / 3)
    return round_half_band(sum(task_bands.values()) / len(task_bands))


def effective_words(analysis: Analysis) -> int:
    """Words that count toward the minimum: text copied from the prompt is discounted (descriptor rule)."""
    return max(0, analysis.word_count - round(analysis.copied_share * len(analysis.tokens)))


def apply_rules(
    task: WritingTask,
    analysis: Analysis,
    proposed: Mapping[str, float],
    thresholds: OffTopicThresholds,
) -> RuledTask:
    """Turn an engine's proposed criterion bands into final whole bands under the descriptor rules."""
    keys = criterion_keys(task.task)
    first = keys[0]
    ruled = RuledTask({k: whole_band(proposed[k]) for k in keys})
    if analysis.word_count == 0:
        return _all(ruled, 0, "empty", "No answer was written.")
    if analysis.english_share < NON_ENGLISH_BELOW:
        return _all(ruled, 0, "non_english", "The answer is not written in English.")
    words = effective_words(analysis)
    if words <= TOO_SHORT_WORDS:
        return _all(ruled, 1, "too_short", f"Only {words} words count toward the task (20 or fewer is band 1).")

    ratio = words / max(task.min_words, 1)
    if ratio < 1:
        ruled.flag("under_length")
        limit = UNDER_LENGTH_TASK_CAP if ratio >= 2 / 3 else SHORT_TASK_CAP
        ruled.cap(first, limit, f"{words} words is under the minimum of {task.min_words}.")
        if ratio < 1 / 3:
            for key in keys:
                ruled.cap(key, VERY_SHORT_CAP, f"At {words} words there is too little evidence for a higher band.")

    coverage = analysis.prompt_coverage
    if coverage <= thresholds.off_topic:
        ruled.flag("off_topic")
        ruled.cap(first, OFF_TOPIC_TASK_CAP, "The answer does not address the question asked.")
        ruled.cap("lexical_resource", OFF_TOPIC_LR_CAP, "Much of the vocabulary is unrelated to the task.")
        if coverage <= thresholds.entirely:
            ruled.cap("coherence_cohesion", ENTIRELY_OFF_TOPIC_CC_CAP, "The entire response is off-topic.")

    if task.kind == "general_letter" and task.bullets:
        missing = [b for b, c in zip(task.bullets, analysis.bullet_coverage, strict=True) if c == 0]
        if missing:
            ruled.flag("missing_bullets")
            ruled.cap(first, MISSING_BULLET_CAP, "Not every bullet point is covered: " + "; ".join(missing) + ".")
    if task.kind == "academic_chart" and analysis.chart_fact_coverage == 0:
        ruled.flag("no_data")
        ruled.cap(first, NO_DATA_CAP, "The report mentions none of the chart's figures or items.")
    if task.kind == "academic_chart" and not analysis.overview_phrases:
        ruled.flag("no_overview")
        ruled.cap(first, NO_OVERVIEW_CAP, "There is no clear overview of the main trends.")
    _density_caps(ruled, first, analysis)
    if task.task == 2 and analysis.paragraphs <= 1 and words >= PARAGRAPHS_EXPECTED_FROM_WORDS:
        ruled.cap("coherence_cohesion", NO_PARAGRAPHS_CC_CAP, "The essay is not divided into paragraphs.")
    return ruled


def _first_cap(value: float, caps: tuple[tuple[float, int], ...]) -> int | None:
    return next((band for above, band in caps if value > above), None)


def _density_caps(ruled: RuledTask, first: str, analysis: Analysis) -> None:
    n = max(len(analysis.tokens), 1)
    spelling = _first_cap(100 * len(analysis.misspelled) / n, SPELLING_CAPS)
    if spelling is not None:
        ruled.cap("lexical_resource", spelling, "Spelling errors are frequent enough to limit this band.")
    grammar = _first_cap(100 * analysis.grammar_errors / n, GRAMMAR_CAPS)
    if grammar is not None:
        ruled.cap("grammatical_range_accuracy", grammar, "Grammar errors are frequent enough to limit this band.")
    off_topic = _first_cap(analysis.off_topic_share, OFF_TOPIC_SHARE_CAPS)
    if off_topic is not None:
        ruled.cap(first, off_topic, "Part of the answer is about something other than the question.")


def _all(ruled: RuledTask, band: int, flag: str, reason: str) -> RuledTask:
    for key in ruled.criteria:
        ruled.criteria[key] = band
        ruled.reasons[key] = [reason]
    ruled.flag(flag)
    ruled.final = True
    return ruled


def flags_in_order(flags: Iterable[str]) -> list[str]:
    """Flags without duplicates, in first-seen order."""
    return list(dict.fromkeys(flags))
