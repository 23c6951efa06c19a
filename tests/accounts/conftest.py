"""Accounts fixtures: tight rate limits, the accounts service of the shared container, an argon2 operation counter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ieltsprep.accounts.passwords import Passwords
from ieltsprep.accounts.service import AccountService
from ieltsprep.container import Container
from ieltsprep.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with tight limits in one long window, so limits are reached in a few calls."""
    return settings.model_copy(
        update={
            "login_attempts_per_window": 5,
            "login_ip_attempts_per_window": 7,
            "register_attempts_per_window": 3,
            # Windows are aligned to the epoch: a short one could roll over mid-test and reset the counters.
            "rate_limit_window_seconds": 10**9,
        }
    )


@pytest.fixture
def accounts(container: Container) -> AccountService:
    """The accounts service of the container."""
    return container.accounts


class CountingHasher:
    """argon2-cffi's hasher, recording each hash and verify (to pin how much work a path does)."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.operations: list[str] = []

    def hash(self, password: str) -> str:
        self.operations.append("hash")
        return str(self.real.hash(password))

    def verify(self, stored: str, password: str) -> bool:
        self.operations.append("verify")
        return bool(self.real.verify(stored, password))

    def check_needs_rehash(self, stored: str) -> bool:
        return bool(self.real.check_needs_rehash(stored))


@pytest.fixture
def count_argon2() -> Callable[[Passwords], list[str]]:
    """Install a CountingHasher into a ``Passwords``; returns the list its operations are recorded in."""

    def install(passwords: Passwords) -> list[str]:
        counting = CountingHasher(passwords._hasher)
        passwords.__dict__["_hasher"] = counting  # replaces the cached hasher
        return counting.operations

    return install
