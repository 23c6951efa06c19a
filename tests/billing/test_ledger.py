"""The credit ledger on the SQLite store: atomic, idempotent, never double-counting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ieltsprep.adapters.storage.port import ConditionFailed, Key, Put, Table
from ieltsprep.adapters.storage.sqlite import SqliteStore
from ieltsprep.billing import ledger
from ieltsprep.errors import ValidationFailed
from ieltsprep.settings import MODULES


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    built = SqliteStore(tmp_path / "ledger.sqlite3")
    yield built
    built.close()


def _assessment_put(assessment_id: str) -> Put:
    return Put(Table.ASSESSMENTS, {"pk": "USER#u1", "sk": f"ASSESSMENT#{assessment_id}"})


def test_balances_list_every_module_at_zero_for_a_new_user(store: SqliteStore) -> None:
    assert ledger.balances(store, "u1") == dict.fromkeys(MODULES, 0)


def test_grant_adds_credits_once_per_idempotency_key(store: SqliteStore) -> None:
    assert ledger.grant(store, "u1", "academic_writing", 4, source="apple", idempotency_key="apple:1")
    assert not ledger.grant(store, "u1", "academic_writing", 4, source="apple", idempotency_key="apple:1")
    assert ledger.grant(store, "u1", "academic_writing", 4, source="apple", idempotency_key="apple:2")
    assert ledger.balances(store, "u1")["academic_writing"] == 8
    kinds = [(e["kind"], e["ref"], e["delta"]) for e in ledger.entries(store, "u1")]
    assert kinds == [("grant", "apple:1", 4), ("grant", "apple:2", 4)]


def test_consume_in_the_assessment_transaction_uses_one_credit(store: SqliteStore) -> None:
    ledger.grant(store, "u1", "general_speaking", 1, source="operator", idempotency_key="op:1")
    store.transact([*ledger.consume_credit_ops("u1", "general_speaking", "a1"), _assessment_put("a1")])
    assert ledger.balances(store, "u1")["general_speaking"] == 0
    assert store.get(Table.ASSESSMENTS, Key("USER#u1", "ASSESSMENT#a1")) is not None
    assert [e["kind"] for e in ledger.entries(store, "u1")] == ["grant", "use"]


def test_consume_without_credit_fails_on_the_first_operation_and_writes_nothing(store: SqliteStore) -> None:
    with pytest.raises(ConditionFailed) as failure:
        store.transact([*ledger.consume_credit_ops("u1", "academic_writing", "a1"), _assessment_put("a1")])
    assert failure.value.index == 0
    assert store.get(Table.ASSESSMENTS, Key("USER#u1", "ASSESSMENT#a1")) is None
    assert ledger.entries(store, "u1") == []


def test_consume_is_refused_while_a_refund_keeps_the_balance_negative(store: SqliteStore) -> None:
    ledger.grant(store, "u1", "academic_writing", 4, source="apple", idempotency_key="apple:1")
    for n in range(3):
        store.transact(ledger.consume_credit_ops("u1", "academic_writing", f"a{n}"))
    assert ledger.revoke(store, "u1", "academic_writing", 4, source="apple", idempotency_key="refund:apple:1")
    assert not ledger.revoke(store, "u1", "academic_writing", 4, source="apple", idempotency_key="refund:apple:1")
    assert ledger.balances(store, "u1")["academic_writing"] == -3
    with pytest.raises(ConditionFailed):
        store.transact(ledger.consume_credit_ops("u1", "academic_writing", "a9"))


def test_return_credit_gives_back_a_used_credit_once(store: SqliteStore) -> None:
    ledger.grant(store, "u1", "academic_writing", 1, source="operator", idempotency_key="op:1")
    store.transact(ledger.consume_credit_ops("u1", "academic_writing", "a1"))
    assert ledger.return_credit(store, "u1", "academic_writing", "a1")
    assert not ledger.return_credit(store, "u1", "academic_writing", "a1")
    assert ledger.balances(store, "u1")["academic_writing"] == 1


def test_return_credit_refuses_an_assessment_that_never_used_one(store: SqliteStore) -> None:
    assert not ledger.return_credit(store, "u1", "academic_writing", "never")
    assert ledger.balances(store, "u1")["academic_writing"] == 0
    assert ledger.entries(store, "u1") == []


def test_return_credit_ops_fail_first_when_already_returned(store: SqliteStore) -> None:
    ledger.grant(store, "u1", "academic_writing", 1, source="operator", idempotency_key="op:1")
    store.transact(ledger.consume_credit_ops("u1", "academic_writing", "a1"))
    store.transact(ledger.return_credit_ops("u1", "academic_writing", "a1"))
    with pytest.raises(ConditionFailed) as failure:
        store.transact(ledger.return_credit_ops("u1", "academic_writing", "a1"))
    assert failure.value.index == 0


@pytest.mark.parametrize("count", [0, -1, 1001, True, 2.0])
def test_grant_rejects_counts_outside_one_to_a_thousand(store: SqliteStore, count: object) -> None:
    with pytest.raises(ValidationFailed):
        ledger.grant(store, "u1", "academic_writing", count, source="operator", idempotency_key="k")  # type: ignore[arg-type]
    assert ledger.balances(store, "u1")["academic_writing"] == 0


def test_unknown_module_is_a_validation_error(store: SqliteStore) -> None:
    with pytest.raises(ValidationFailed):
        ledger.grant(store, "u1", "cooking", 4, source="operator", idempotency_key="k")
    with pytest.raises(ValidationFailed):
        ledger.consume_credit_ops("u1", "cooking", "a1")
