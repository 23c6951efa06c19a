"""Differential contract: random sequences of operations give the same results on SQLite and on DynamoDB (moto)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ieltsprep.adapters.storage.dynamodb import DynamoStore, create_tables, table_names
from ieltsprep.adapters.storage.port import (
    Check,
    Condition,
    ConditionFailed,
    Delete,
    Key,
    Operation,
    Put,
    Store,
    StoreError,
    Table,
    Update,
)
from ieltsprep.adapters.storage.sqlite import SqliteStore
from ieltsprep.settings import Settings

NOW = int(time.time())
SORT_KEYS = ("A#1", "A#2", "B#1")
# Each attribute keeps to one kind of value, as domain code does (DynamoDB tells 1 from True; Python does not).
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "n": st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.25, 2.0])),
    "s": st.one_of(st.none(), st.sampled_from(["", "x", "é", "y"])),
    "flag": st.booleans(),
    "doc": st.sampled_from([[], [1, "a"], {"k": [True, None]}, {"k": 1.5}]),
    "expires_at": st.sampled_from([NOW - 5, NOW + 500]),
}
ATTRIBUTES = tuple(VALUES)


@st.composite
def conditions(draw: st.DrawFn) -> Condition | None:
    kind = draw(st.sampled_from(["none", "exists", "absent", "equals", "at_least", "not_equals"]))
    if kind == "none":
        return None
    if kind in ("exists", "absent"):
        return Condition(exists=kind == "exists")
    if kind == "at_least":
        return Condition(at_least={"n": draw(st.integers(-2, 3))})
    attribute = draw(st.sampled_from(["n", "s", "flag", "doc"]))
    value = draw(VALUES[attribute])
    return Condition(equals={attribute: value}) if kind == "equals" else Condition(not_equals={attribute: value})


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(ATTRIBUTES), unique=True, max_size=3))
    return {name: draw(VALUES[name]) for name in names}


@st.composite
def writes(draw: st.DrawFn, sk: str | None = None) -> tuple[str, Any]:
    sk = sk or draw(st.sampled_from(SORT_KEYS))
    kind = draw(st.sampled_from(["put", "update", "delete", "check"]))
    condition = draw(conditions())
    if kind == "put":
        return kind, (sk, draw(items()), condition)
    if kind == "update":
        # An update that changes nothing is refused by DynamoStore (see test_dynamodb), so always change something.
        names = draw(st.lists(st.sampled_from(ATTRIBUTES), unique=True, min_size=1, max_size=3))
        split = draw(st.lists(st.sampled_from(["set", "add", "remove"]), min_size=len(names), max_size=len(names)))
        set_ = {n: draw(VALUES[n]) for n, how in zip(names, split, strict=True) if how == "set"}
        add = {n: draw(st.integers(-2, 2)) for n, how in zip(names, split, strict=True) if how == "add"}
        remove = [n for n, how in zip(names, split, strict=True) if how == "remove"]
        return kind, (sk, set_, add, remove, condition)
    if kind == "check":
        return kind, (sk, condition or Condition(exists=True))
    return kind, (sk, condition)


@st.composite
def steps(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["write", "write", "transact", "get", "query"]))
    if kind == "write":
        return draw(writes().filter(lambda w: w[0] != "check"))
    if kind == "transact":
        keys = draw(st.lists(st.sampled_from(SORT_KEYS), unique=True, min_size=1, max_size=3))
        return "transact", [draw(writes(sk)) for sk in keys]
    if kind == "get":
        return "get", draw(st.sampled_from(SORT_KEYS))
    return "query", (
        draw(st.sampled_from([None, "A#", "B#"])),
        draw(st.booleans()),
        draw(st.sampled_from([None, 1, 2])),
    )


def _operation(pk: str, kind: str, args: Any) -> Operation:
    if kind == "put":
        sk, attributes, condition = args
        return Put(Table.USERS, {"pk": pk, "sk": sk, **attributes}, condition)
    if kind == "update":
        sk, set_, add, remove, condition = args
        return Update(Table.USERS, Key(pk, sk), set=set_, add=add, remove=remove, condition=condition)
    if kind == "check":
        sk, condition = args
        return Check(Table.USERS, Key(pk, sk), condition)
    sk, condition = args
    return Delete(Table.USERS, Key(pk, sk), condition)


def _run(store: Store, pk: str, step: tuple[str, Any]) -> Any:
    """The observable outcome of one step: a value, or the kind of error (and failing index)."""
    kind, args = step
    try:
        if kind == "get":
            return store.get(Table.USERS, Key(pk, args))
        if kind == "query":
            prefix, newest_first, limit = args
            return store.query(Table.USERS, pk, sk_prefix=prefix, newest_first=newest_first, limit=limit)
        if kind == "transact":
            store.transact([_operation(pk, k, a) for k, a in args])
            return "ok"
        op = _operation(pk, kind, args)
        if isinstance(op, Put):
            store.put(op)
        elif isinstance(op, Update):
            return store.update(op)
        elif isinstance(op, Delete):
            store.delete(op)
        return "ok"
    except ConditionFailed as failure:
        return ("condition failed", failure.index)
    except StoreError:
        return "store error"


_examples = itertools.count()


@pytest.fixture
def both(dynamodb_client: Any, tmp_path: Path) -> tuple[SqliteStore, DynamoStore]:
    names = {f"{t.value}_table": f"diff-{time.time_ns()}-{t.value}" for t in Table}
    config = Settings(stage="local", data_dir=tmp_path / "var", **names)  # type: ignore[arg-type]
    create_tables(dynamodb_client, config)
    sqlite = SqliteStore(tmp_path / "store.sqlite3", clock=lambda: NOW)
    return sqlite, DynamoStore(dynamodb_client, table_names(config), clock=lambda: NOW)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.lists(steps(), min_size=1, max_size=8))
def test_random_operation_sequences_behave_the_same_on_both_adapters(
    both: tuple[SqliteStore, DynamoStore], script: list[tuple[str, Any]]
) -> None:
    sqlite, dynamo = both
    pk = f"USER#{next(_examples)}"  # a fresh partition per example: the stores outlive examples
    for number, step in enumerate(script):
        expected = _run(sqlite, pk, step)
        assert _run(dynamo, pk, step) == expected, f"step {number}: {step}"
    assert dynamo.query(Table.USERS, pk) == sqlite.query(Table.USERS, pk)
