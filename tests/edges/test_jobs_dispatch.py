"""The jobs function: dispatch by name, refusal of unknown jobs, the expiry purge."""

from __future__ import annotations

import pytest

from ieltsprep.adapters.storage.port import Key, Put, Table
from ieltsprep.container import Container
from ieltsprep.edges import jobs
from ieltsprep.errors import ValidationFailed
from ieltsprep.ids import now_epoch


def test_purge_expired_deletes_expired_items_and_keeps_live_ones(container: Container) -> None:
    store = container.store
    store.put(Put(Table.SESSIONS, {"pk": "CONN#old", "sk": "CONN", "expires_at": now_epoch() - 10}))
    store.put(Put(Table.SESSIONS, {"pk": "CONN#new", "sk": "CONN", "expires_at": now_epoch() + 3600}))
    result = jobs.run(container, {"job": "purge_expired"})
    assert result == {"job": "purge_expired", "result": {"purged": 1}}
    assert store.get(Table.SESSIONS, Key("CONN#new", "CONN")) is not None


@pytest.mark.parametrize("event", [{}, {"job": 3}, {"job": "mine_bitcoin"}])
def test_events_without_a_known_job_are_refused(container: Container, event: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed):
        jobs.run(container, event)


def test_every_registered_job_resolves_to_a_function() -> None:
    for name in jobs.JOBS:
        assert callable(jobs.resolve(name))


def test_the_invoker_runs_the_purge_job_in_the_background(container: Container) -> None:
    container.store.put(Put(Table.SESSIONS, {"pk": "CONN#old", "sk": "CONN", "expires_at": now_epoch() - 10}))
    container.invoker.invoke_async("jobs", {"job": "purge_expired"})
    container.invoker.drain(10)
    assert container.store.purge_expired() == 0  # type: ignore[attr-defined]


def test_the_lambda_handler_answers_a_malformed_event_instead_of_raising_into_retries() -> None:
    response = jobs.handle({"job": "mine_bitcoin"}, None)
    assert response["error"]["code"] == "unknown_job"
