"""Accounts tests: cheap argon2 parameters (the cost is a deployment knob, not behaviour under test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ieltsprep.accounts.service import AccountService
from ieltsprep.container import Container
from ieltsprep.settings import Settings

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Local settings with a small argon2 cost and tight rate limits."""
    return Settings(
        stage="local",
        data_dir=tmp_path / "var",
        cookie_secure=False,
        password_time_cost=1,
        password_memory_kib=8 * 1024,
        login_attempts_per_window=5,
        login_ip_attempts_per_window=7,
        register_attempts_per_window=3,
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    """A container over ``settings``."""
    built = Container(settings)
    yield built
    built.close()


@pytest.fixture
def accounts(container: Container) -> AccountService:
    """The accounts service of the container."""
    return container.accounts
