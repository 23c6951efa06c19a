"""Accounts fixtures: tight rate limits and the accounts service of the shared container."""

from __future__ import annotations

import pytest

from ieltsprep.accounts.service import AccountService
from ieltsprep.container import Container
from ieltsprep.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with tight rate limits, so limits are reached in a few calls."""
    return settings.model_copy(
        update={"login_attempts_per_window": 5, "login_ip_attempts_per_window": 7, "register_attempts_per_window": 3}
    )


@pytest.fixture
def accounts(container: Container) -> AccountService:
    """The accounts service of the container."""
    return container.accounts
