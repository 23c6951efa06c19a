"""Fixtures of the WebSocket edge tests: a recording stand-in for @connections and the invoker, users, assessments."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ws_doubles import Candidate, RecordingConnections, RecordingInvoker

from ieltsprep.adapters.storage.port import Put, Table
from ieltsprep.container import Container
from ieltsprep.ids import new_id


@pytest.fixture
def posted(container: Container) -> RecordingConnections:
    """Messages posted to connections by the handler under test."""
    recorder = RecordingConnections()
    container.__dict__["connections"] = recorder
    return recorder


@pytest.fixture
def invoked(container: Container) -> RecordingInvoker:
    """Asynchronous invocations started by the handler under test."""
    recorder = RecordingInvoker()
    container.__dict__["invoker"] = recorder
    return recorder


def make_candidate(container: Container, email: str) -> Candidate:
    """A registered, logged-in user."""
    password = "correct horse battery staple"
    user = container.accounts.register(email, password, terms=True, age_16_plus=True)
    return Candidate(user.id, container.accounts.login(email, password).token)


@pytest.fixture
def candidate(container: Container) -> Candidate:
    """A logged-in candidate."""
    return make_candidate(container, "candidate@example.com")


@pytest.fixture
def other_candidate(container: Container) -> Candidate:
    """A second logged-in user."""
    return make_candidate(container, "other@example.com")


@pytest.fixture
def new_assessment(container: Container) -> Callable[..., str]:
    """Stores an assessment item as the assessments domain does: ``new_assessment(user_id, module=, status=)``."""

    def make(user_id: str, module: str = "academic_speaking", status: str = "in_progress") -> str:
        assessment_id = new_id()
        item = {"pk": f"USER#{user_id}", "sk": f"ASSESSMENT#{assessment_id}", "module": module, "status": status}
        container.store.put(Put(Table.ASSESSMENTS, item))
        return assessment_id

    return make
