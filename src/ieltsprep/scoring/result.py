"""The API task result, shared by both engines: bands after the rules, feedback points that quote the text, the
band range, annotations on the candidate's words and the flags."""

from __future__ import annotations

from ieltsprep.scoring import rules
from ieltsprep.scoring.features import Analysis, stem
from ieltsprep.scoring.feedback import as_paragraph, criterion_feedback
from ieltsprep.scoring.port import Annotation, AnnotationKind, CriterionResult, TaskResult, WritingTask, criterion_keys
from ieltsprep.scoring.spelling import speller

MAX_ANNOTATIONS = 80


def build_task_result(
    task: WritingTask,
    analysis: Analysis,
    ruled: rules.RuledTask,
    *,
    annotate: bool = True,
    model_feedback: dict[str, str] | None = None,
    band_range: tuple[float, float] | None = None,
) -> TaskResult:
    """The API task result: bands after rules, ranked feedback points, annotations, flags and the band range."""
    keys = criterion_keys(task.task)
    band = rules.task_band(ruled.criteria)
    criteria = {}
    if ruled.final:
        for key in keys:
            criteria[key] = CriterionResult(band=ruled.criteria[key], feedback=" ".join(ruled.reasons.get(key, [])))
        return TaskResult(
            task=task.task,
            band=band,
            word_count=analysis.word_count,
            criteria=criteria,
            flags=rules.flags_in_order(ruled.flags),
        )
    found = criterion_feedback(task, analysis, ruled.criteria, ruled.flags)
    for key in keys:
        points, next_band = found[key]
        reasons = list(ruled.reasons.get(key, []))
        if model_feedback and model_feedback.get(key):
            reasons.append(model_feedback[key])
        criteria[key] = CriterionResult(
            band=ruled.criteria[key],
            feedback=as_paragraph(points, next_band, reasons),
            points=points,
            next_band=next_band,
            limits=list(ruled.reasons.get(key, [])),
        )
    notes = build_annotations(task, analysis, ruled) if annotate else []
    return TaskResult(
        task=task.task,
        band=band,
        band_range=_containing(band_range, band),
        word_count=analysis.word_count,
        criteria=criteria,
        annotations=notes,
        flags=rules.flags_in_order(ruled.flags),
    )


def _containing(band_range: tuple[float, float] | None, band: float) -> tuple[float, float] | None:
    """The range moved to hold the band the rules gave (a cap can take the band below the model's range)."""
    if band_range is None:
        return None
    low, high = band_range
    width = high - low
    if band < low or band > high:
        low = max(0.0, min(band, 9.0 - width) - width / 2)
        high = min(9.0, low + width)
    return (low, high)


def build_annotations(task: WritingTask, analysis: Analysis, ruled: rules.RuledTask) -> list[Annotation]:
    """Spans in the candidate's text: misspellings, grammar slips, repetition, overlong sentences, task issues."""
    text = task.text
    notes: list[Annotation] = []
    for token in analysis.misspelled[:25]:
        fix = analysis.corrections.get(token.lower) or speller().suggest(token.lower)
        notes.append(
            Annotation(
                start=token.start,
                end=token.end,
                kind="spelling",
                message=f"'{token.text}' is not a recognised English spelling.",
                suggestion=fix,
            )
        )
    for hit in analysis.grammar[:25]:
        notes.append(
            Annotation(start=hit.start, end=hit.end, kind="grammar", message=hit.message, suggestion=hit.suggestion)
        )
    for start, end, words in analysis.overlong[:5]:
        notes.append(
            Annotation(
                start=start,
                end=end,
                kind="grammar",
                message=f"This sentence runs to {words} words.",
                suggestion="Split it into two or three sentences.",
            )
        )
    for word, count in analysis.repeated:
        occurrences = [t for t in analysis.tokens if stem(t.lower) == word][3:8]
        for t in occurrences:
            notes.append(
                Annotation(
                    start=t.start,
                    end=t.end,
                    kind="vocabulary",
                    message=f"'{t.text}' and its forms appear {count} times.",
                    suggestion="Use a synonym or a pronoun.",
                )
            )
    whole = (0, len(text))
    # (condition, span, kind, message, suggestion): notes on the whole answer or a whole paragraph.
    spans: list[tuple[bool, tuple[int, int], AnnotationKind, str, str]] = [
        (
            "under_length" in ruled.flags,
            whole,
            "length",
            f"{analysis.word_count} words: the task asks for at least {task.min_words}.",
            f"Add about {task.min_words - analysis.word_count} words of relevant content.",
        ),
        *(
            (
                True,
                paragraph,
                "task",
                "This paragraph is about something other than the question.",
                "Replace it with a point that answers the question.",
            )
            for paragraph in analysis.off_topic_paragraphs
        ),
        (
            "off_topic" in ruled.flags,
            whole,
            "task",
            "The answer does not seem to address this question.",
            "Re-read the question and answer every part of it.",
        ),
        (
            task.task == 2 and analysis.paragraphs <= 1 and analysis.word_count >= rules.PARAGRAPHS_EXPECTED_FROM_WORDS,
            whole,
            "cohesion",
            "The essay is one block of text.",
            "Use an introduction, two or three body paragraphs and a conclusion.",
        ),
    ]
    for applies, (start, end), kind, message, suggestion in spans:
        if applies:
            notes.append(Annotation(start=start, end=end, kind=kind, message=message, suggestion=suggestion))
    notes.sort(key=lambda n: (n.start, n.end))
    return notes[:MAX_ANNOTATIONS]
