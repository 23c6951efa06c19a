"""Builds the assessments service from the container (kept here so container.py stays a list of properties)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ieltsprep.assessments.repository import AssessmentRepository
from ieltsprep.assessments.service import AssessmentService

if TYPE_CHECKING:
    from ieltsprep.container import Container


def build_assessments(container: Container) -> AssessmentService:
    """The service wired to the store, the question bank, the async invoker and the speaking script."""

    def invoke(target: str, payload: dict[str, Any]) -> None:
        container.invoker.invoke_async(target, payload)  # type: ignore[arg-type]

    def speaking_parts(user_id: str) -> list[dict[str, Any]]:
        from ieltsprep.speaking.script import build_parts

        return build_parts(container, user_id)

    return AssessmentService(
        AssessmentRepository(container.store),
        container.question_bank,
        invoke=invoke,
        speaking_parts=speaking_parts,
        writing_time_scale=container.settings.writing_time_scale,
    )
