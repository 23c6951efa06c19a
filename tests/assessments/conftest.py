"""Assessment fixtures: the service over the real SQLite store, with a recording invoker (assessment_fakes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from assessment_fakes import RecordingInvoker

from ieltsprep.adapters.storage.port import Store
from ieltsprep.assessments.questionbank import QuestionBank
from ieltsprep.assessments.repository import AssessmentRepository
from ieltsprep.assessments.service import AssessmentService
from ieltsprep.container import Container


@pytest.fixture
def store(container: Container) -> Store:
    return container.store


@pytest.fixture
def invoker() -> RecordingInvoker:
    return RecordingInvoker()


@pytest.fixture
def service(store: Store, invoker: RecordingInvoker) -> Iterator[AssessmentService]:
    questions = QuestionBank(store, auto_load=True)
    yield AssessmentService(
        AssessmentRepository(store),
        questions,
        invoke=invoker,
        speaking_parts=lambda user_id: [{"part": 1, "topics": ["Music"]}],
    )
