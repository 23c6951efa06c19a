"""Fixtures of the HTTP edge tests: cheap argon2 settings and an in-process API client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apiclient import Api

from ieltsprep.container import Container
from ieltsprep.edges.http.app import create_app
from ieltsprep.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local settings with a cheap argon2 cost (a deployment knob, not behaviour under test)."""
    return Settings(
        stage="local",
        data_dir=tmp_path / "var",
        cookie_secure=False,
        test_store_enabled=True,
        password_time_cost=1,
        password_memory_kib=8 * 1024,
    )


@pytest.fixture
def api(container: Container) -> Iterator[Api]:
    """The HTTP API of a fresh local platform."""
    yield Api(create_app(container))
