"""The credit ledger on the SQLite store: atomic, idempotent, never double-counting."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ieltsprep.adapters.storage.port import ConditionFailed, Key, Put, Store, Table
from ieltsprep.adapters.storage.sqlite import SqliteStore
from ieltsprep.billing import ledger
from ieltsprep.errors import ValidationFailed
from ieltsprep.settings import MODULES, Settings


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each adapter: money writes must hold on both."""
    if request.param == "sqlite":
        built = SqliteStore(tmp_path / "ledger.sqlite3")
        yield built
        built.close()
        return
    from ieltsprep.adapters.storage.dynamodb import DynamoStore, create_tables, table_names

    client = request.getfixturevalue("dynamodb_client")
    prefix = f"ledger-{time.time_ns()}"
    names = {f"{t}_table": f"{prefix}-{t}" for t in ("users", "assessments", "sessions", "ledger", "content")}
    settings = Settings(stage="local", data_dir=tmp_path, **names)  # type: ignore[arg-type]
    create_tables(client, settings)
    yield DynamoStore(client, table_names(settings))


def _assessment_put(assessment_id: str) -> Put:
    return Put(Table.ASSESSMENTS, {"pk": "USER#u1", "sk": f"ASSESSMENT#{assessment_id}"})


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # both adapters' reads: the tests below
def test_balances_list_every_module_at_zero_for_a_new_user(store: Store) -> None:
    assert ledger.balances(store, "u1") == dict.fromkeys(MODULES, 0)


def test_grant_adds_credits_once_per_idempotency_key(store: Store) -> None:
    assert ledger.grant(store, "u1", "academic_writing", 4, source="apple", idempotency_key="apple:1")
    assert not ledger.grant(store, "u1", "academic_writing", 4, source="apple", idempotency_key="apple:1")
    assert ledger.grant(store, "u1", "academic_writing", 4, source="apple", idempotency_key="apple:2")
    assert ledger.balances(store, "u1")["academic_writing"] == 8
    kinds = [(e["kind"], e["ref"], e["delta"]) for e in ledger.entries(store, "u1")]
    assert kinds == [("grant", "apple:1", 4), ("grant", "apple:2", 4)]


def test_consume_in_the_assessment_transaction_uses_one_credit(store: Store) -> None:
    ledger.grant(store, "u1", "general_speaking", 1, source="operator", idempotency_key="op:1")
    store.transact([*ledger.consume_credit_ops("u1", "general_speaking", "a1"), _assessment_put("a1")])
    assert ledger.balances(store, "u1")["general_speaking"] == 0
    assert store.get(Table.ASSESSMENTS, Key("USER#u1", "ASSESSMENT#a1")) is not None
    assert [e["kind"] for e in ledger.entries(store, "u1")] == ["grant", "use"]


def test_consume_without_credit_fails_on_the_first_operation_and_writes_nothing(store: Store) -> None:
    with pytest.raises(ConditionFailed) as failure:
        store.transact([*ledger.consume_credit_ops("u1", "academic_writing", "a1"), _assessment_put("a1")])
    assert failure.value.index == 0
    assert store.get(Table.ASSESSMENTS, Key("USER#u1", "ASSESSMENT#a1")) is None
    assert ledger.entries(store, "u1") == []


def test_consume_is_refused_while_a_refund_keeps_the_balance_negative(store: Store) -> None:
    ledger.grant(store, "u1", "academic_writing", 4, source="apple", idempotency_key="apple:1")
    for n in range(3):
        store.transact(ledger.consume_credit_ops("u1", "academic_writing", f"a{n}"))
    assert ledger.revoke(store, "u1", "academic_writing", 4, source="apple", idempotency_key="refund:apple:1")
    assert not ledger.revoke(store, "u1", "academic_writing", 4, source="apple", idempotency_key="refund:apple:1")
    assert ledger.balances(store, "u1")["academic_writing"] == -3
    with pytest.raises(ConditionFailed):
        store.transact(ledger.consume_credit_ops("u1", "academic_writing", "a9"))


def test_return_credit_gives_back_a_used_credit_once(store: Store) -> None:
    ledger.grant(store, "u1", "academic_writing", 1, source="operator", idempotency_key="op:1")
    store.transact(ledger.consume_credit_ops("u1", "academic_writing", "a1"))
    assert ledger.return_credit(store, "u1", "academic_writing", "a1")
    assert not ledger.return_credit(store, "u1", "academic_writing", "a1")
    assert ledger.balances(store, "u1")["academic_writing"] == 1


def test_return_credit_refuses_an_assessment_that_never_used_one(store: Store) -> None:
    assert not ledger.return_credit(store, "u1", "academic_writing", "never")
    assert ledger.balances(store, "u1")["academic_writing"] == 0
    assert ledger.entries(store, "u1") == []


def test_return_credit_ops_fail_first_when_already_returned(store: Store) -> None:
    ledger.grant(store, "u1", "academic_writing", 1, source="operator", idempotency_key="op:1")
    store.transact(ledger.consume_credit_ops("u1", "academic_writing", "a1"))
    store.transact(ledger.return_credit_ops("u1", "academic_writing", "a1"))
    with pytest.raises(ConditionFailed) as failure:
        store.transact(ledger.return_credit_ops("u1", "academic_writing", "a1"))
    assert failure.value.index == 0


@pytest.mark.parametrize("count", [0, -1, 1001, True, 2.0])
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # input validation: adapter-independent
def test_grant_rejects_counts_outside_one_to_a_thousand(store: Store, count: object) -> None:
    with pytest.raises(ValidationFailed):
        ledger.grant(store, "u1", "academic_writing", count, source="operator", idempotency_key="k")  # type: ignore[arg-type]
    assert ledger.balances(store, "u1")["academic_writing"] == 0


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # input validation: adapter-independent
def test_unknown_module_is_a_validation_error(store: Store) -> None:
    with pytest.raises(ValidationFailed):
        ledger.grant(store, "u1", "cooking", 4, source="operator", idempotency_key="k")
    with pytest.raises(ValidationFailed):
        ledger.consume_credit_ops("u1", "cooking", "a1")


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)  # DynamoDB's atomicity: the store contract suite
def test_concurrent_starts_spend_each_credit_exactly_once(store: Store) -> None:
    ledger.grant(store, "u1", "academic_writing", 4, source="operator", idempotency_key="op:1")
    outcomes: list[bool] = []

    def start(n: int) -> None:
        try:
            store.transact(ledger.consume_credit_ops("u1", "academic_writing", f"race{n}"))
            outcomes.append(True)
        except ConditionFailed:
            outcomes.append(False)

    workers = [threading.Thread(target=start, args=(n,)) for n in range(10)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == [False] * 6 + [True] * 4
    assert ledger.balances(store, "u1")["academic_writing"] == 0


_ACTIONS = st.lists(
    st.tuples(st.sampled_from(["grant", "use", "return", "revoke"]), st.integers(0, 5), st.integers(1, 6)),
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=_ACTIONS)
def test_balance_always_equals_the_sum_of_entries_whatever_the_retries(tmp_path: Path, actions: list[Any]) -> None:
    built = SqliteStore(tmp_path / f"prop-{time.time_ns()}.sqlite3")
    try:
        for kind, ref, count in actions:
            # Each action is tried twice, as a retrying client would: the second try must change nothing.
            for _ in range(2):
                if kind == "grant":
                    ledger.grant(built, "u", "general_writing", count, source="operator", idempotency_key=f"g{ref}")
                elif kind == "revoke":
                    ledger.revoke(built, "u", "general_writing", count, source="refund", idempotency_key=f"r{ref}")
                elif kind == "use":
                    with contextlib.suppress(ConditionFailed):
                        built.transact(ledger.consume_credit_ops("u", "general_writing", f"a{ref}"))
                else:
                    ledger.return_credit(built, "u", "general_writing", f"a{ref}")
        entries = ledger.entries(built, "u")
        assert ledger.balances(built, "u")["general_writing"] == sum(int(e["delta"]) for e in entries)
        refs = [(e["kind"], e["ref"]) for e in entries]
        assert len(refs) == len(set(refs))  # every cause changed the balance at most once
    finally:
        built.close()
