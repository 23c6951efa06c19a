"""HTTP routes of the assessments domain: start, list, read, autosave drafts, submit."""

from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from ieltsprep.assessments.limits import MAX_ANSWER_CHARS
from ieltsprep.edges.http.auth import current_user
from ieltsprep.edges.http.context import container_of
from ieltsprep.edges.http.routes.accounts import ErrorBody, ErrorDetail
from ieltsprep.edges.http.schema import ApiModel
from ieltsprep.errors import ValidationFailed

router = APIGatewayHttpRouter()


class CreateAssessmentRequest(ApiModel):
    """POST /api/assessments."""

    model_config = ConfigDict(extra="forbid")
    module: str = Field(min_length=1, max_length=40)


class AnswerRequest(ApiModel):
    """PUT /api/assessments/{id}/answers/{task}: the whole current draft of one task."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_ANSWER_CHARS)


class ChartOut(ApiModel):
    """The visual of an Academic Task 1: its data and the platform's SVG drawing (left out of lists)."""

    type: Literal["line", "bar", "pie", "table", "process", "map"]
    title: str
    data: dict[str, Any] = Field(description="unit, period, axis labels, categories, series, steps or map panels")
    svg: str | None = None
    svg_narrow: str | None = Field(None, description="the same chart drawn for a phone: pairs stacked, 360 wide")


class TaskOut(ApiModel):
    """One writing task as the candidate sees it."""

    task: Literal[1, 2]
    question_id: str
    kind: Literal["academic_chart", "general_letter", "essay"]
    topic: str
    prompt: str
    min_words: int
    minutes: int
    chart: ChartOut | None = Field(None, description="Academic Task 1 only")
    bullets: list[str] | None = Field(None, description="General Training Task 1 only: the three points")
    tone: Literal["formal", "semi_formal", "informal"] | None = Field(None, description="letters only")
    type: str | None = Field(None, description="Task 2 question type")


class AnswerOut(ApiModel):
    """The saved draft of one task (``text`` is left out of lists)."""

    text: str | None = None
    word_count: int
    updated_at: str


class AssessmentOut(ApiModel):
    """The API.md assessment object."""

    id: str
    module: Literal["academic_writing", "general_writing", "academic_speaking", "general_speaking"]
    status: Literal["in_progress", "scoring", "scored", "failed"]
    created_at: str
    updated_at: str | None = None
    submitted_at: str | None = None
    scored_at: str | None = None
    tasks: list[TaskOut] | None = Field(None, description="writing modules")
    answers: dict[str, AnswerOut] | None = Field(None, description='writing drafts by task ("1", "2")')
    parts: list[dict[str, Any]] | None = Field(None, description="speaking modules: the examiner's script")
    result: dict[str, Any] | None = Field(None, description="the writing or speaking result of docs/API.md")
    error: ErrorDetail | None = Field(None, description="why scoring failed (the credit was returned)")
    time_limit_seconds: int | None = Field(None, description="writing in progress: the paper's one clock (60 min)")
    seconds_left: int | None = Field(None, description="writing in progress: time left on the paper's clock")


class AssessmentResponse(ApiModel):
    """One assessment."""

    assessment: AssessmentOut


class SampleResponse(ApiModel):
    """GET /api/sample-result: a paper the project wrote, scored by this platform (never a candidate's)."""

    sample: Literal[True]
    about: str
    module: str
    tasks: list[dict[str, Any]]
    answers: dict[str, dict[str, str]]
    result: dict[str, Any]


class AssessmentListResponse(ApiModel):
    """The caller's assessments, newest first."""

    assessments: list[AssessmentOut]


class SavedAnswerResponse(ApiModel):
    """200 of PUT .../answers/{task}."""

    assessment_id: str
    task: Literal[1, 2]
    word_count: int
    updated_at: str


def _documented(ok: dict[int, tuple[str, type[BaseModel]]], errors: dict[int, str]) -> dict[int, Any]:
    # OpenAPI documentation only; bodies are built by ``public`` and pinned against these models by the tests.
    responses: dict[int, Any] = {
        status: {"description": text, "content": {"application/json": {"model": model}}}
        for status, (text, model) in ok.items()
    }
    for status, text in {401: "unauthorized: no live session", **errors}.items():
        responses[status] = {"description": text, "content": {"application/json": {"model": ErrorBody}}}
    return responses


def _public(item: dict[str, Any], *, summary: bool = False) -> dict[str, Any]:
    # Imported on first use: the service pulls the question bank, charts and domain models, which the cold start
    # of every other route (health first) does not need.
    from ieltsprep.assessments.service import paper_clock, public

    out = public(item, summary=summary)
    if item.get("tasks") and item["status"] == "in_progress":
        out.update(paper_clock(item, container_of(router).settings.writing_time_scale))
    return out


def _json(status: int, payload: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(payload))


@router.post(
    "/api/assessments",
    responses=_documented(
        {201: ("Assessment started, one credit used", AssessmentResponse)},
        {402: "no_credits", 422: "validation_error: unknown module", 503: "content_not_loaded"},
    ),
)
def create_assessment(body: CreateAssessmentRequest) -> Response[str]:
    """Start an assessment of a module, using one credit (402 no_credits without one)."""
    user = current_user(router)
    item = container_of(router).assessments.create(user.id, body.module)
    return _json(201, {"assessment": _public(item)})


# The read routes answer with a ready JSON body: returning the dict would make Powertools walk every nested value
# through its encoder, which costs more than the store read for a long history.
@router.get("/api/assessments", responses=_documented({200: ("Newest first", AssessmentListResponse)}, {}))
def list_assessments() -> Response[str]:
    """The caller's assessments, newest first (chart drawings and draft texts left out)."""
    user = current_user(router)
    items = container_of(router).assessments.list(user.id)
    return _json(200, {"assessments": [_public(item, summary=True) for item in items]})


@router.get(
    "/api/assessments/<assessment_id>",
    responses=_documented({200: ("The assessment", AssessmentResponse)}, {404: "assessment_not_found"}),
)
def get_assessment(assessment_id: str) -> Response[str]:
    """One of the caller's assessments, with drafts and result; 404 for anyone else's."""
    user = current_user(router)
    return _json(200, {"assessment": _public(container_of(router).assessments.get(user.id, assessment_id))})


@router.put(
    "/api/assessments/<assessment_id>/answers/<task>",
    responses=_documented(
        {200: ("Draft saved", SavedAnswerResponse)},
        {
            404: "assessment_not_found",
            409: "not_in_progress (submitted), not_writing (speaking) or time_up (the paper's clock ran out)",
            422: "validation_error / unknown_task",
        },
    ),
)
def save_answer(assessment_id: str, task: str, body: AnswerRequest) -> dict[str, Any]:
    """Autosave the draft of task 1 or 2 while the assessment is in progress."""
    user = current_user(router)
    if task not in ("1", "2"):
        raise ValidationFailed("task must be 1 or 2", code="unknown_task")
    saved = container_of(router).assessments.save_answer(user.id, assessment_id, int(task), body.text)
    return {"assessment_id": assessment_id, **saved}


@router.post(
    "/api/assessments/<assessment_id>/submit",
    responses=_documented(
        {
            202: ("Scoring requested (runs in the background)", AssessmentResponse),
            200: ("Already scored: the result", AssessmentResponse),
        },
        {404: "assessment_not_found", 409: "assessment_failed or not_writing", 503: "scoring could not be requested"},
    ),
)
def submit_assessment(assessment_id: str) -> Response[str]:
    """Hand the answers in: 202 while scoring runs in the background, 200 when the result is already there."""
    user = current_user(router)
    item, finished = container_of(router).assessments.submit(user.id, assessment_id)
    return _json(200 if finished else 202, {"assessment": _public(item)})


@router.post(
    "/api/assessments/<assessment_id>/abandon",
    responses=_documented(
        {200: ("Abandoned: failed with code abandoned, the credit returned", AssessmentResponse)},
        {404: "assessment_not_found", 409: "not_speaking, not_in_progress or already_answered"},
    ),
)
def abandon_assessment(assessment_id: str) -> Response[str]:
    """Leave a speaking test before answering (it never connected, or the candidate changed their mind): its credit
    comes back. Refused once the candidate has answered."""
    from ieltsprep.speaking.abandon import abandon
    from ieltsprep.speaking.sessions import SpeakingStore

    user = current_user(router)
    container = container_of(router)
    item = abandon(container.assessments, SpeakingStore(container.store), user.id, assessment_id)
    return _json(200, {"assessment": _public(item)})


@router.get(
    "/api/sample-result",
    responses={
        200: {
            "description": "A sample paper and its real result, marked sample: true (public: no session needed)",
            "content": {"application/json": {"model": SampleResponse}},
        }
    },
)
def sample_result() -> Response[str]:
    """Public: a writing paper written by the project and scored by this platform's writing scorer (a sample)."""
    from ieltsprep.assessments.sample import sample_result as scored_sample

    return _json(200, scored_sample(container_of(router).writing_scorer))
