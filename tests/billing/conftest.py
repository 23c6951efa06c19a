"""Billing fixtures: buyers, and the local test store's chain and Play fake as the stores' stand-ins."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ieltsprep.adapters.stores.local_store import FakePlayApi, LocalTestStore
from ieltsprep.container import Container


@dataclass(frozen=True)
class Buyer:
    """The fields of ``accounts.models.User`` billing reads."""

    id: str
    is_tester: bool = False
    app_account_token: str = ""


@pytest.fixture
def alice() -> Buyer:
    return Buyer("alice", app_account_token="0b6f6c8e-2c55-4d8e-9d4f-6d9b0a4c1e11")


@pytest.fixture
def bob() -> Buyer:
    return Buyer("bob", app_account_token="5f0e7f44-6a6e-4f0e-8a3b-2f1b5c7d9e22")


@pytest.fixture
def tester() -> Buyer:
    return Buyer("tess", is_tester=True, app_account_token="7a1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c44")


@pytest.fixture
def apple_store(container: Container) -> LocalTestStore:
    store = container.local_test_store
    assert store is not None
    return store


@pytest.fixture
def play(container: Container) -> FakePlayApi:
    fake = container.fake_play_api
    assert fake is not None
    return fake
