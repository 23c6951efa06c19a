"""The ``score_writing`` job: runs in the jobs function, never inside an HTTP request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ieltsprep.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from ieltsprep.container import Container


def score_writing(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """Score one submitted writing assessment; running it again for the same assessment changes nothing."""
    user_id, assessment_id = payload.get("user_id"), payload.get("assessment_id")
    if not isinstance(user_id, str) or not user_id or not isinstance(assessment_id, str) or not assessment_id:
        raise ValidationFailed("score_writing needs a user_id and an assessment_id", code="bad_job")
    try:
        item = container.assessments.score_writing(user_id, assessment_id, lambda: container.writing_scorer)
    except NotFound:
        item = None  # the account was deleted while the essay was being scored: nothing left to store
    if item is None:
        return {"assessment_id": assessment_id, "status": "missing"}
    return {"assessment_id": assessment_id, "status": item["status"]}


def load_questions(container: Container, payload: dict[str, Any]) -> dict[str, Any]:
    """Copy the packaged question banks into the CONTENT table (run after a deploy; ``banks`` limits it)."""
    from ieltsprep.assessments.questionbank import ContentError, load_all

    banks = payload.get("banks")
    if banks is not None and not (isinstance(banks, list) and all(isinstance(b, str) for b in banks)):
        raise ValidationFailed("banks must be a list of bank names", code="bad_job")
    try:
        return {"loaded": load_all(container.store, banks)}
    except ContentError as exc:
        raise ValidationFailed(str(exc), code="bad_job") from exc
