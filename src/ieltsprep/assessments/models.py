"""The writing question bank's item shapes and the assessment's domain vocabulary.

Question files under ``ieltsprep/content/writing/`` are validated by these models when loaded, so a typo in the data
fails the load (and the test suite) instead of reaching a candidate.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ieltsprep.assessments.limits import MAX_ANSWER_CHARS as MAX_ANSWER_CHARS  # re-exported

# --- assessments --------------------------------------------------------------------------------------------------
Status = Literal["in_progress", "scoring", "scored", "failed"]
WRITING_MODULES: tuple[str, ...] = ("academic_writing", "general_writing")
SPEAKING_MODULES: tuple[str, ...] = ("academic_speaking", "general_speaking")
TASK_LIMITS: dict[int, tuple[int, int]] = {1: (150, 20), 2: (250, 40)}  # task -> (min_words, minutes)

# Wording of the instructions is ours; the data files carry only what differs between items.
ACADEMIC_TASK1_INSTRUCTION = (
    "Describe the main features of the information and compare figures where it is relevant. Write at least 150 words."
)
TASK2_INSTRUCTION = (
    "Support your answer with reasons and with examples from your own knowledge or experience. "
    "Write at least 250 words."
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- charts -------------------------------------------------------------------------------------------------------
ChartType = Literal["line", "bar", "pie", "table", "process", "map"]
FeatureKind = Literal["building", "road", "path", "park", "water", "car_park", "housing", "open_space"]


class Series(_Model):
    """One named row of figures, aligned with the chart's categories."""

    name: str = Field(min_length=1, max_length=60)
    values: list[float] = Field(min_length=1)


class ProcessStep(_Model):
    """One stage of a process diagram."""

    label: str = Field(min_length=1, max_length=40)
    detail: str = Field("", max_length=80)


class MapFeature(_Model):
    """A labelled area of a map panel on a 0-100 grid (x right, y down)."""

    name: str = Field(min_length=1, max_length=40)
    kind: FeatureKind
    x: float = Field(ge=0, le=100)
    y: float = Field(ge=0, le=100)
    w: float = Field(gt=0, le=100)
    h: float = Field(gt=0, le=100)

    @model_validator(mode="after")
    def _inside_grid(self) -> MapFeature:
        if self.x + self.w > 100 or self.y + self.h > 100:
            raise ValueError(f"map feature {self.name!r} extends beyond the 100x100 grid")
        return self


class MapPanel(_Model):
    """One state of a place (e.g. "1995" or "Today")."""

    label: str = Field(min_length=1, max_length=30)
    features: list[MapFeature] = Field(min_length=2)


class Chart(_Model):
    """The data of an Academic Task 1 visual.

    line and bar: x categories and one series per line or bar colour; pie: slices are categories, one pie per
    series; table: columns are categories, rows are series; process: ordered steps; map: two or more panels.
    """

    type: ChartType
    title: str = Field(min_length=1, max_length=120)
    unit: str = Field("", max_length=40)
    period: str = Field("", max_length=40)
    x_label: str = Field("", max_length=40)
    y_label: str = Field("", max_length=40)
    categories: list[str] = Field(default_factory=list)
    series: list[Series] = Field(default_factory=list)
    steps: list[ProcessStep] = Field(default_factory=list)
    cyclic: bool = False
    panels: list[MapPanel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Chart:
        if self.type in ("line", "bar", "pie", "table"):
            if len(self.categories) < 2 or not self.series:
                raise ValueError(f"a {self.type} chart needs at least two categories and one series")
            if not self.unit:
                raise ValueError(f"a {self.type} chart needs a unit")
            for series in self.series:
                if len(series.values) != len(self.categories):
                    raise ValueError(
                        f"series {series.name!r} has {len(series.values)} values for {len(self.categories)} categories"
                    )
                if any(value < 0 for value in series.values):
                    raise ValueError(f"series {series.name!r} has a negative value")
            if self.type == "pie" and self.unit == "%":
                for series in self.series:
                    if abs(sum(series.values) - 100) > 0.5:
                        raise ValueError(f"pie {series.name!r} sums to {sum(series.values)}%, not 100%")
        elif self.type == "process" and len(self.steps) < 3:
            raise ValueError("a process diagram needs at least three steps")
        elif self.type == "map" and len(self.panels) < 2:
            raise ValueError("a map needs at least two panels to compare")
        return self

    def facts(self) -> list[str]:
        """The key items a report should mention (names, end points, extreme figures), for the scorer to look for.

        Each is a short atom a candidate would write verbatim ("Northbridge", "1990", "182"), not a sentence, because
        the scorer matches figures literally and names by their words.
        """
        facts: list[str] = [series.name for series in self.series]
        categories = self.categories if len(self.categories) <= 6 else [self.categories[0], self.categories[-1]]
        facts += categories
        for series in self.series:
            facts += [f"{max(series.values):g}", f"{min(series.values):g}"]
        facts += [step.label for step in self.steps]
        for panel in self.panels:
            facts.append(panel.label)
            facts += [feature.name for feature in panel.features]
        return list(dict.fromkeys(facts))


# --- question bank items ------------------------------------------------------------------------------------------
class _Question(_Model):
    """What every writing question has: a stable id (the key of "seen" records) and a topic."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,79}$")
    topic: str = Field(min_length=1)


class AcademicTask1Item(_Question):
    """An Academic Task 1 question: a chart and the sentence introducing it."""

    summary: str = Field(min_length=20)
    chart: Chart

    def prompt(self) -> str:
        """The task text shown to the candidate."""
        return f"{self.summary}\n\n{ACADEMIC_TASK1_INSTRUCTION}"


Tone = Literal["formal", "semi_formal", "informal"]


class GeneralTask1Item(_Question):
    """A General Training letter: situation, recipient and exactly three points to cover."""

    tone: Tone
    situation: str = Field(min_length=20)
    recipient: str = Field(min_length=3)
    salutation: str = Field(min_length=3)
    bullets: list[str] = Field(min_length=3, max_length=3)

    def prompt(self) -> str:
        """The task text shown to the candidate (the bullets are listed after it)."""
        return (
            f"{self.situation}\n\nWrite a letter to {self.recipient}. In your letter:\n"
            + "\n".join(f"- {bullet}" for bullet in self.bullets)
            + f"\n\nWrite at least 150 words. You do NOT need to write any addresses.\nBegin your letter: {self.salutation}"
        )


Task2Type = Literal["opinion", "discussion", "advantages_disadvantages", "problem_solution", "two_part"]


class Task2Item(_Question):
    """A Task 2 essay prompt of one of the official question types."""

    type: Task2Type
    statement: str = Field(min_length=20)
    question: str = Field(min_length=5)

    def prompt(self) -> str:
        """The task text shown to the candidate."""
        return f"{self.statement}\n\n{self.question}\n\n{TASK2_INSTRUCTION}"
