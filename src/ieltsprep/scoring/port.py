"""The writing-scorer port: what the assessments service hands a scorer and what it gets back.

``WritingResult.model_dump()`` is exactly the writing ``result`` object of docs/API.md. Two engines implement the
port (``local`` and ``bedrock``); ``scoring/factory.py`` picks one from the settings (the port names none of them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ieltsprep.errors import AppError

TaskKind = Literal["academic_chart", "general_letter", "essay"]
AnnotationKind = Literal["spelling", "grammar", "vocabulary", "cohesion", "length", "task"]
Flag = Literal[
    "under_length", "off_topic", "too_short", "empty", "non_english", "missing_bullets", "no_overview", "no_data"
]
# Grammar error types of scoring/grammar.py (named here so code without spaCy can count them).
GRAMMAR_TYPES: tuple[str, ...] = ("agreement", "article", "verb_form", "preposition", "noun_number", "word_form")
WRITING_MODULES: tuple[str, ...] = ("academic_writing", "general_writing")
TASK1_KEY = "task_achievement"
TASK2_KEY = "task_response"
COMMON_KEYS: tuple[str, ...] = ("coherence_cohesion", "lexical_resource", "grammatical_range_accuracy")


def criterion_keys(task: int) -> tuple[str, str, str, str]:
    """The four criterion keys of a task, in API.md order."""
    first = TASK1_KEY if task == 1 else TASK2_KEY
    return (first, *COMMON_KEYS)  # type: ignore[return-value]


@dataclass(frozen=True)
class WritingTask:
    """One answered writing task as the scorer sees it.

    ``bullets`` are the three points of a General Training letter; ``chart_facts`` are short strings naming what an
    Academic Task 1 chart shows (labels, years, key figures) so the scorer can check the data is reported.
    """

    task: int
    prompt: str
    text: str
    min_words: int
    kind: TaskKind
    bullets: Sequence[str] = field(default_factory=tuple)
    chart_facts: Sequence[str] = field(default_factory=tuple)
    visual: str = ""  # Academic Task 1: the chart type (line, bar, pie, table, process, map), for fitting feedback


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Annotation(_Model):
    """A span of the candidate's text ([start, end) character offsets) with a remark."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    kind: AnnotationKind
    message: str
    suggestion: str = ""


class FeedbackPoint(_Model):
    """One thing to work on: the candidate's own sentence ([start, end) in their text) and what to do about it."""

    quote: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    advice: str


class CriterionResult(_Model):
    """A whole band 0-9 for one criterion, ranked points quoting the text, and what the next band up needs.

    ``feedback`` is the same in one paragraph (the rules' reasons first) for clients that show plain text.
    """

    band: int = Field(ge=0, le=9)
    feedback: str
    points: list[FeedbackPoint] = Field(default_factory=list)
    next_band: str = ""
    limits: list[str] = Field(default_factory=list)  # the descriptor rules that held this band down


class TaskResult(_Model):
    """The scored task. ``band`` is an estimate: the criterion mean rounded like the official overall band."""

    task: int = Field(ge=1, le=2)
    band: float = Field(ge=0, le=9)
    # The range the scorer's cross-source error supports: at least 80 % of human bands fell inside it out of source.
    band_range: tuple[float, float] | None = None
    word_count: int = Field(ge=0)
    criteria: dict[str, CriterionResult]
    annotations: list[Annotation] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)


class WritingResult(_Model):
    """The writing ``result`` object of docs/API.md."""

    overall_band: float = Field(ge=0, le=9)
    engine: Literal["local", "bedrock"]
    engine_version: str
    tasks: list[TaskResult]


class ScoringFailed(AppError):
    """A scorer could not produce a valid result; ``retryable`` says whether trying again may help."""

    status = 502
    code = "scoring_failed"

    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class WritingScorer(Protocol):
    """Scores the tasks of one writing assessment."""

    engine: str

    def score(self, module: str, tasks: list[WritingTask]) -> WritingResult:
        """Score both tasks of ``module`` (academic_writing or general_writing); raises ScoringFailed."""
        ...
