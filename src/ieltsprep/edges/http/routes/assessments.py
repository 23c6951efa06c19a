"""HTTP routes of the assessments domain: start, list, read, autosave drafts, submit."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from ieltsprep.assessments.models import MAX_ANSWER_CHARS
from ieltsprep.assessments.service import public
from ieltsprep.edges.http.auth import current_user
from ieltsprep.edges.http.context import container_of
from ieltsprep.errors import ValidationFailed

router = APIGatewayHttpRouter()


class CreateAssessmentRequest(BaseModel):
    """POST /api/assessments."""

    model_config = ConfigDict(extra="forbid")
    module: str = Field(min_length=1, max_length=40)


class AnswerRequest(BaseModel):
    """PUT /api/assessments/{id}/answers/{task}: the whole current draft of one task."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_ANSWER_CHARS)


def _json(status: int, payload: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(payload))


@router.post("/api/assessments", responses={201: {"description": "Assessment started, one credit used"}})
def create_assessment(body: CreateAssessmentRequest) -> Response[str]:
    """Start an assessment of a module, using one credit (402 no_credits without one)."""
    user = current_user(router)
    item = container_of(router).assessments.create(user.id, body.module)
    return _json(201, {"assessment": public(item)})


# The read routes answer with a ready JSON body: returning the dict would make Powertools walk every nested value
# through its encoder, which costs more than the store read for a long history.
@router.get("/api/assessments")
def list_assessments() -> Response[str]:
    """The caller's assessments, newest first (chart drawings and draft texts left out)."""
    user = current_user(router)
    items = container_of(router).assessments.list(user.id)
    return _json(200, {"assessments": [public(item, summary=True) for item in items]})


@router.get("/api/assessments/<assessment_id>")
def get_assessment(assessment_id: str) -> Response[str]:
    """One of the caller's assessments, with drafts and result; 404 for anyone else's."""
    user = current_user(router)
    return _json(200, {"assessment": public(container_of(router).assessments.get(user.id, assessment_id))})


@router.put("/api/assessments/<assessment_id>/answers/<task>")
def save_answer(assessment_id: str, task: str, body: AnswerRequest) -> dict[str, Any]:
    """Autosave the draft of task 1 or 2 while the assessment is in progress."""
    user = current_user(router)
    if task not in ("1", "2"):
        raise ValidationFailed("task must be 1 or 2", code="unknown_task")
    saved = container_of(router).assessments.save_answer(user.id, assessment_id, int(task), body.text)
    return {"assessment_id": assessment_id, **saved}


@router.post("/api/assessments/<assessment_id>/submit", responses={202: {"description": "Scoring requested"}})
def submit_assessment(assessment_id: str) -> Response[str]:
    """Hand the answers in: 202 while scoring runs in the background, 200 when the result is already there."""
    user = current_user(router)
    item, finished = container_of(router).assessments.submit(user.id, assessment_id)
    return _json(200 if finished else 202, {"assessment": public(item)})
