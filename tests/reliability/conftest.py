"""Fixtures of the reliability tests: the in-process HTTP client of the HTTP edge tests over a fresh platform."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "edges" / "http"))

from apiclient import Api

from ieltsprep.container import Container
from ieltsprep.edges.http.app import create_app


@pytest.fixture
def api(container: Container) -> Iterator[Api]:
    """The HTTP API of a fresh local platform, resolved in process."""
    yield Api(create_app(container))
