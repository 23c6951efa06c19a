"""Fixtures of the HTTP edge tests: an in-process API client over the shared container fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apiclient import Api

from ieltsprep.container import Container
from ieltsprep.edges.http.app import create_app


@pytest.fixture
def api(container: Container) -> Iterator[Api]:
    """The HTTP API of a fresh local platform."""
    yield Api(create_app(container))
