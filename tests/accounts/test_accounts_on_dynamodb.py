"""The accounts flows on the DynamoDB adapter (moto's server over real HTTP on loopback), as they run on AWS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ieltsprep.accounts import privacy
from ieltsprep.adapters.storage.port import Put, Table
from ieltsprep.container import Container
from ieltsprep.errors import Conflict, RateLimited, Unauthorized
from ieltsprep.settings import Settings

PASSWORD = "correct horse battery"


@pytest.fixture
def dynamo_container(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    """A container whose store is DynamoDB on the session's moto server (tests/conftest.py), with tables of its own."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    prefix = f"acc{time.time_ns()}"
    settings = Settings(
        stage="local",
        data_dir=tmp_path / "var",
        store="dynamodb",
        dynamodb_endpoint_url=moto_endpoint,
        password_time_cost=1,
        password_memory_kib=8 * 1024,
        login_attempts_per_window=3,
        rate_limit_window_seconds=10**9,  # no window rollover mid-test
        **{f"{t}_table": f"{prefix}-{t}" for t in ("users", "assessments", "sessions", "ledger", "content")},  # type: ignore[arg-type]
    )
    built = Container(settings)
    yield built
    built.close()


def test_register_login_authenticate_logout_on_dynamodb(dynamo_container: Container) -> None:
    accounts = dynamo_container.accounts
    user = accounts.register("Dyn@Example.com", PASSWORD, terms=True, age_16_plus=True)
    with pytest.raises(Conflict):
        accounts.register("dyn@example.com", PASSWORD, terms=True, age_16_plus=True)
    session = accounts.login("dyn@example.com", PASSWORD)
    assert accounts.authenticate(session.token) == user
    accounts.logout(session.token)
    with pytest.raises(Unauthorized):
        accounts.authenticate(session.token)


def test_login_rate_limit_on_dynamodb(dynamo_container: Container) -> None:
    accounts = dynamo_container.accounts
    accounts.register("dyn@example.com", PASSWORD, terms=True, age_16_plus=True)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            accounts.login("dyn@example.com", "wrong password")
    with pytest.raises(RateLimited):
        accounts.login("dyn@example.com", PASSWORD)


def test_export_and_erase_on_dynamodb(dynamo_container: Container) -> None:
    accounts, store = dynamo_container.accounts, dynamo_container.store
    user = accounts.register("dyn@example.com", PASSWORD, terms=True, age_16_plus=True)
    session = accounts.login("dyn@example.com", PASSWORD)
    store.put(Put(Table.ASSESSMENTS, {"pk": f"USER#{user.id}", "sk": "ASSESSMENT#1", "module": "general_writing"}))
    document = privacy.export_user(dynamo_container, user)
    assert document["tables"]["assessments"] == [{"sk": "ASSESSMENT#1", "module": "general_writing"}]
    assert len(document["sessions"]) == 1  # found through gsi1
    privacy.erase_user(dynamo_container, user)
    for table in Table:
        assert store.query(table, f"USER#{user.id}") == []
    with pytest.raises(Unauthorized):
        accounts.authenticate(session.token)
    assert accounts.find_by_email("dyn@example.com") is None
