"""The store contract: what every adapter of ``port.Store`` guarantees. Each test runs on SQLite and DynamoDB."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ieltsprep.adapters.storage.port import (
    MUST_EXIST,
    MUST_NOT_EXIST,
    Check,
    Condition,
    ConditionFailed,
    Delete,
    Key,
    Put,
    Store,
    StoreError,
    Table,
    Update,
)
from ieltsprep.settings import Settings

USER = "USER#u1"
_table_sets = itertools.count()


class Clock:
    """A settable clock in epoch seconds, so expiry can be tested without sleeping."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def __call__(self) -> int:
        return self.now


def fresh_table_settings(tmp_path: Path) -> Settings:
    """Settings whose physical table names are unique to this test."""
    prefix = f"t{next(_table_sets)}-{time.time_ns()}"
    names = {
        f"{table}_table": f"{prefix}-{table}" for table in ("users", "assessments", "sessions", "ledger", "content")
    }
    return Settings(stage="local", data_dir=tmp_path / "var", **names)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    """The clock both adapters read expiry against."""
    return Clock()


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Store]:
    """A fresh, empty store of each adapter."""
    built: Store
    if request.param == "sqlite":
        from ieltsprep.adapters.storage.sqlite import SqliteStore

        built = SqliteStore(tmp_path / "store.sqlite3", clock=clock)
    else:
        from ieltsprep.adapters.storage.dynamodb import DynamoStore, create_tables, table_names

        client = request.getfixturevalue("dynamodb_client")
        settings = fresh_table_settings(tmp_path)
        create_tables(client, settings)
        built = DynamoStore(client, table_names(settings), clock=clock)
    yield built
    if request.param == "sqlite":
        built.close()


def put(store: Store, sk: str, table: Table = Table.USERS, pk: str = USER, **attributes: Any) -> None:
    store.put(Put(table, {"pk": pk, "sk": sk, **attributes}))


# --- put / get -----------------------------------------------------------------------------------------------
def test_get_returns_the_item_put_under_its_key(store: Store) -> None:
    put(store, "PROFILE", email="a@example.com", credits=3)
    assert store.get(Table.USERS, Key(USER, "PROFILE")) == {
        "pk": USER,
        "sk": "PROFILE",
        "email": "a@example.com",
        "credits": 3,
    }


def test_get_of_a_missing_key_returns_none(store: Store) -> None:
    assert store.get(Table.USERS, Key(USER, "NOPE")) is None


def test_put_replaces_the_whole_item(store: Store) -> None:
    put(store, "PROFILE", a=1, b=2)
    put(store, "PROFILE", a=5)
    assert store.get(Table.USERS, Key(USER, "PROFILE")) == {"pk": USER, "sk": "PROFILE", "a": 5}


def test_tables_are_separate_namespaces(store: Store) -> None:
    put(store, "X", Table.USERS, v="users")
    put(store, "X", Table.LEDGER, v="ledger")
    assert store.get(Table.USERS, Key(USER, "X"))["v"] == "users"  # type: ignore[index]
    assert store.get(Table.LEDGER, Key(USER, "X"))["v"] == "ledger"  # type: ignore[index]
    assert store.get(Table.SESSIONS, Key(USER, "X")) is None


def test_values_round_trip_as_json_like_data(store: Store) -> None:
    value = {
        "nested": {"deep": {"list": [1, 2.5, "three", None, True, {"k": [False]}]}},
        "float": 6.5,
        "small_float": 0.1,
        "third": 1 / 3,
        "negative": -42,
        "big": 2**53 + 1,
        "zero": 0,
        "bool_true": True,
        "bool_false": False,
        "none": None,
        "unicode": "Café – 漢字 😀",
        "empty_string": "",
        "empty_list": [],
        "empty_map": {},
    }
    put(store, "DATA", **value)
    got = store.get(Table.USERS, Key(USER, "DATA"))
    assert got == {"pk": USER, "sk": "DATA", **value}
    assert got is not None
    assert type(got["negative"]) is int and type(got["big"]) is int
    assert type(got["float"]) is float and type(got["third"]) is float
    assert type(got["bool_true"]) is bool


def test_put_condition_must_not_exist_rejects_an_existing_item_and_keeps_it(store: Store) -> None:
    put(store, "EMAIL", owner="first")
    with pytest.raises(ConditionFailed):
        store.put(Put(Table.USERS, {"pk": USER, "sk": "EMAIL", "owner": "second"}, MUST_NOT_EXIST))
    assert store.get(Table.USERS, Key(USER, "EMAIL"))["owner"] == "first"  # type: ignore[index]


def test_put_condition_must_not_exist_writes_a_new_item(store: Store) -> None:
    store.put(Put(Table.USERS, {"pk": USER, "sk": "EMAIL", "owner": "first"}, MUST_NOT_EXIST))
    assert store.get(Table.USERS, Key(USER, "EMAIL"))["owner"] == "first"  # type: ignore[index]


def test_put_condition_must_exist_rejects_a_missing_item(store: Store) -> None:
    with pytest.raises(ConditionFailed):
        store.put(Put(Table.USERS, {"pk": USER, "sk": "P", "v": 1}, MUST_EXIST))
    assert store.get(Table.USERS, Key(USER, "P")) is None


def test_condition_equals_holds_only_for_that_value(store: Store) -> None:
    put(store, "A", status="pending", version=1)
    with pytest.raises(ConditionFailed):
        store.put(Put(Table.USERS, {"pk": USER, "sk": "A", "status": "x"}, Condition(equals={"status": "done"})))
    with pytest.raises(ConditionFailed):
        store.put(Put(Table.USERS, {"pk": USER, "sk": "A", "status": "x"}, Condition(equals={"missing": 1})))
    with pytest.raises(ConditionFailed):
        store.put(Put(Table.USERS, {"pk": USER, "sk": "B", "status": "x"}, Condition(equals={"status": "pending"})))
    store.put(
        Put(
            Table.USERS,
            {"pk": USER, "sk": "A", "status": "done"},
            Condition(equals={"status": "pending", "version": 1}),
        )
    )
    assert store.get(Table.USERS, Key(USER, "A"))["status"] == "done"  # type: ignore[index]


def test_condition_at_least_compares_numbers(store: Store) -> None:
    put(store, "BAL", balance=2)
    at_least_3 = Condition(at_least={"balance": 3})
    with pytest.raises(ConditionFailed):
        store.update(Update(Table.USERS, Key(USER, "BAL"), add={"balance": -3}, condition=at_least_3))
    after = store.update(
        Update(Table.USERS, Key(USER, "BAL"), add={"balance": -2}, condition=Condition(at_least={"balance": 2}))
    )
    assert after["balance"] == 0
    with pytest.raises(ConditionFailed):
        store.update(Update(Table.USERS, Key(USER, "NONE"), add={"balance": -1}, condition=at_least_3))
    assert store.get(Table.USERS, Key(USER, "NONE")) is None


def test_condition_not_equals_holds_when_missing_or_different(store: Store) -> None:
    not_revoked = Condition(not_equals={"state": "revoked"})
    store.put(Put(Table.USERS, {"pk": USER, "sk": "T", "state": "active"}, not_revoked))  # absent item
    store.update(Update(Table.USERS, Key(USER, "T"), set={"seen": 1}, condition=not_revoked))  # different value
    store.update(Update(Table.USERS, Key(USER, "T"), remove=["state"]))
    store.update(Update(Table.USERS, Key(USER, "T"), set={"state": "revoked"}, condition=not_revoked))  # missing
    with pytest.raises(ConditionFailed):
        store.update(Update(Table.USERS, Key(USER, "T"), set={"seen": 2}, condition=not_revoked))
    assert store.get(Table.USERS, Key(USER, "T")) == {"pk": USER, "sk": "T", "seen": 1, "state": "revoked"}


# --- update ------------------------------------------------------------------------------------------------
def test_update_set_add_remove_returns_the_new_item(store: Store) -> None:
    put(store, "U", name="old", count=2, drop="me", keep=True)
    after = store.update(
        Update(Table.USERS, Key(USER, "U"), set={"name": "new", "meta": {"a": [1]}}, add={"count": 3}, remove=["drop"])
    )
    expected = {"pk": USER, "sk": "U", "name": "new", "meta": {"a": [1]}, "count": 5, "keep": True}
    assert after == expected
    assert store.get(Table.USERS, Key(USER, "U")) == expected


def test_update_creates_a_missing_item_and_add_counts_from_zero(store: Store) -> None:
    after = store.update(Update(Table.LEDGER, Key(USER, "BALANCE#academic_writing"), add={"balance": 4}))
    assert after == {"pk": USER, "sk": "BALANCE#academic_writing", "balance": 4}


def test_add_to_a_missing_attribute_of_an_existing_item_starts_at_zero(store: Store) -> None:
    put(store, "U", name="x")
    after = store.update(Update(Table.USERS, Key(USER, "U"), add={"hits": 1, "score": 0.5}))
    assert after == {"pk": USER, "sk": "U", "name": "x", "hits": 1, "score": 0.5}


def test_update_with_must_exist_does_not_create_an_item(store: Store) -> None:
    with pytest.raises(ConditionFailed):
        store.update(Update(Table.USERS, Key(USER, "U"), set={"a": 1}, condition=MUST_EXIST))
    assert store.get(Table.USERS, Key(USER, "U")) is None


def test_adding_to_a_non_numeric_attribute_is_a_store_error(store: Store) -> None:
    put(store, "U", name="x")
    with pytest.raises(StoreError):
        store.update(Update(Table.USERS, Key(USER, "U"), add={"name": 1}))
    assert store.get(Table.USERS, Key(USER, "U")) == {"pk": USER, "sk": "U", "name": "x"}


# --- delete ------------------------------------------------------------------------------------------------
def test_delete_removes_the_item_and_deleting_a_missing_item_is_fine(store: Store) -> None:
    put(store, "D")
    store.delete(Delete(Table.USERS, Key(USER, "D")))
    assert store.get(Table.USERS, Key(USER, "D")) is None
    store.delete(Delete(Table.USERS, Key(USER, "D")))


def test_conditional_delete_keeps_the_item_when_the_condition_fails(store: Store) -> None:
    put(store, "D", owner="me")
    with pytest.raises(ConditionFailed):
        store.delete(Delete(Table.USERS, Key(USER, "D"), Condition(equals={"owner": "you"})))
    assert store.get(Table.USERS, Key(USER, "D")) is not None
    store.delete(Delete(Table.USERS, Key(USER, "D"), Condition(equals={"owner": "me"})))
    assert store.get(Table.USERS, Key(USER, "D")) is None


# --- transactions ------------------------------------------------------------------------------------------
def test_transaction_applies_every_operation(store: Store) -> None:
    put(store, "BALANCE", Table.LEDGER, balance=1)
    put(store, "OLD")
    put(store, "PROFILE")
    store.transact(
        [
            Update(
                Table.LEDGER, Key(USER, "BALANCE"), add={"balance": -1}, condition=Condition(at_least={"balance": 1})
            ),
            Put(Table.ASSESSMENTS, {"pk": USER, "sk": "ASSESSMENT#1", "status": "open"}, MUST_NOT_EXIST),
            Delete(Table.USERS, Key(USER, "OLD")),
            Check(Table.USERS, Key(USER, "PROFILE"), MUST_EXIST),
        ]
    )
    assert store.get(Table.LEDGER, Key(USER, "BALANCE"))["balance"] == 0  # type: ignore[index]
    assert store.get(Table.ASSESSMENTS, Key(USER, "ASSESSMENT#1")) is not None
    assert store.get(Table.USERS, Key(USER, "OLD")) is None


def test_failed_transaction_writes_nothing_and_names_the_failing_operation(store: Store) -> None:
    put(store, "BALANCE", Table.LEDGER, balance=0)
    put(store, "KEEP", v=1)
    with pytest.raises(ConditionFailed) as failure:
        store.transact(
            [
                Put(Table.ASSESSMENTS, {"pk": USER, "sk": "ASSESSMENT#1"}, MUST_NOT_EXIST),
                Delete(Table.USERS, Key(USER, "KEEP")),
                Update(
                    Table.LEDGER,
                    Key(USER, "BALANCE"),
                    add={"balance": -1},
                    condition=Condition(at_least={"balance": 1}),
                ),
            ]
        )
    assert failure.value.index == 2
    assert store.get(Table.ASSESSMENTS, Key(USER, "ASSESSMENT#1")) is None
    assert store.get(Table.USERS, Key(USER, "KEEP")) == {"pk": USER, "sk": "KEEP", "v": 1}
    assert store.get(Table.LEDGER, Key(USER, "BALANCE"))["balance"] == 0  # type: ignore[index]


def test_failing_check_cancels_the_transaction_at_its_index(store: Store) -> None:
    with pytest.raises(ConditionFailed) as failure:
        store.transact(
            [
                Check(Table.USERS, Key(USER, "PROFILE"), MUST_EXIST),
                Put(Table.ASSESSMENTS, {"pk": USER, "sk": "A"}),
            ]
        )
    assert failure.value.index == 0
    assert store.get(Table.ASSESSMENTS, Key(USER, "A")) is None


def test_replaying_a_transaction_with_must_not_exist_is_refused(store: Store) -> None:
    ops = [
        Put(Table.LEDGER, {"pk": "PURCHASE#apple:1", "sk": "PURCHASE", "user_id": "u1"}, MUST_NOT_EXIST),
        Update(Table.LEDGER, Key(USER, "BALANCE"), add={"balance": 4}),
    ]
    store.transact(ops)
    with pytest.raises(ConditionFailed) as failure:
        store.transact(ops)
    assert failure.value.index == 0
    assert store.get(Table.LEDGER, Key(USER, "BALANCE"))["balance"] == 4  # type: ignore[index]


def test_transaction_touching_one_key_twice_is_rejected(store: Store) -> None:
    with pytest.raises(StoreError) as failure:
        store.transact(
            [
                Put(Table.USERS, {"pk": USER, "sk": "A", "v": 1}),
                Update(Table.USERS, Key(USER, "A"), set={"v": 2}),
            ]
        )
    assert not isinstance(failure.value, ConditionFailed)
    assert store.get(Table.USERS, Key(USER, "A")) is None


def test_transaction_of_more_than_100_operations_is_rejected(store: Store) -> None:
    ops = [Put(Table.USERS, {"pk": USER, "sk": f"I#{i:03}"}) for i in range(101)]
    with pytest.raises(StoreError):
        store.transact(ops)
    assert store.query(Table.USERS, USER) == []


def test_same_key_in_different_tables_is_allowed_in_one_transaction(store: Store) -> None:
    store.transact([Put(Table.USERS, {"pk": USER, "sk": "A"}), Put(Table.LEDGER, {"pk": USER, "sk": "A"})])
    assert store.get(Table.USERS, Key(USER, "A")) is not None
    assert store.get(Table.LEDGER, Key(USER, "A")) is not None


def test_empty_transaction_is_a_no_op(store: Store) -> None:
    store.transact([])
    assert store.query(Table.USERS, USER) == []


# --- queries -----------------------------------------------------------------------------------------------
def _seed_assessments(store: Store) -> None:
    for sk in ("ASSESSMENT#03", "ASSESSMENT#01", "DRAFT#01", "ASSESSMENT#02", "PROFILE"):
        put(store, sk, Table.ASSESSMENTS)
    put(store, "ASSESSMENT#99", Table.ASSESSMENTS, pk="USER#other")


def test_query_returns_one_partition_in_sort_key_order(store: Store) -> None:
    _seed_assessments(store)
    assert [i["sk"] for i in store.query(Table.ASSESSMENTS, USER)] == [
        "ASSESSMENT#01",
        "ASSESSMENT#02",
        "ASSESSMENT#03",
        "DRAFT#01",
        "PROFILE",
    ]


def test_query_by_prefix_newest_first_with_limit(store: Store) -> None:
    _seed_assessments(store)
    assert [i["sk"] for i in store.query(Table.ASSESSMENTS, USER, sk_prefix="ASSESSMENT#")] == [
        "ASSESSMENT#01",
        "ASSESSMENT#02",
        "ASSESSMENT#03",
    ]
    newest = store.query(Table.ASSESSMENTS, USER, sk_prefix="ASSESSMENT#", newest_first=True, limit=2)
    assert [i["sk"] for i in newest] == ["ASSESSMENT#03", "ASSESSMENT#02"]


def test_query_of_an_empty_partition_is_empty(store: Store) -> None:
    assert store.query(Table.ASSESSMENTS, "USER#nobody") == []


def test_query_sort_order_is_bytewise(store: Store) -> None:
    for sk in ("b", "B", "a", "é", "Z", "1"):
        put(store, sk)
    assert [i["sk"] for i in store.query(Table.USERS, USER)] == ["1", "B", "Z", "a", "b", "é"]


def test_query_follows_pages_beyond_one_response(store: Store) -> None:
    # About 1.5 MB in one partition: more than one DynamoDB page (1 MB), one SQLite statement.
    blob = "x" * 60_000
    for i in range(25):
        put(store, f"BIG#{i:02}", Table.CONTENT, pk="BANK", blob=blob)
    items = store.query(Table.CONTENT, "BANK")
    assert [i["sk"] for i in items] == [f"BIG#{i:02}" for i in range(25)]
    assert [i["sk"] for i in store.query(Table.CONTENT, "BANK", newest_first=True, limit=20)] == [
        f"BIG#{i:02}" for i in range(24, 4, -1)
    ]


def test_gsi1_query_finds_items_by_their_index_keys(store: Store) -> None:
    put(store, "ASSESSMENT#1", Table.ASSESSMENTS, gsi1pk="STATUS#scoring", gsi1sk="2026-01-02")
    put(store, "ASSESSMENT#2", Table.ASSESSMENTS, pk="USER#u2", gsi1pk="STATUS#scoring", gsi1sk="2026-01-01")
    put(store, "ASSESSMENT#3", Table.ASSESSMENTS, gsi1pk="STATUS#done", gsi1sk="2026-01-03")
    put(store, "ASSESSMENT#4", Table.ASSESSMENTS)  # not in the index at all
    scoring = store.query(Table.ASSESSMENTS, "STATUS#scoring", index="gsi1")
    assert [(i["pk"], i["sk"]) for i in scoring] == [("USER#u2", "ASSESSMENT#2"), (USER, "ASSESSMENT#1")]
    newest = store.query(Table.ASSESSMENTS, "STATUS#scoring", index="gsi1", newest_first=True, limit=1)
    assert [i["sk"] for i in newest] == ["ASSESSMENT#1"]
    assert [
        i["sk"] for i in store.query(Table.ASSESSMENTS, "STATUS#scoring", index="gsi1", sk_prefix="2026-01-02")
    ] == ["ASSESSMENT#1"]


def test_query_on_an_unknown_index_is_a_store_error(store: Store) -> None:
    with pytest.raises(StoreError):
        store.query(Table.USERS, USER, index="gsi9")


# --- expiry ------------------------------------------------------------------------------------------------
def test_expired_items_are_invisible_to_get_and_query(store: Store, clock: Clock) -> None:
    put(store, "SESSION#old", Table.SESSIONS, expires_at=clock.now - 1)
    put(store, "SESSION#now", Table.SESSIONS, expires_at=clock.now)
    put(store, "SESSION#live", Table.SESSIONS, expires_at=clock.now + 60, gsi1pk="TOKEN", gsi1sk="1")
    put(store, "SESSION#forever", Table.SESSIONS)
    assert store.get(Table.SESSIONS, Key(USER, "SESSION#old")) is None
    assert store.get(Table.SESSIONS, Key(USER, "SESSION#now")) is None
    assert [i["sk"] for i in store.query(Table.SESSIONS, USER)] == ["SESSION#forever", "SESSION#live"]
    clock.now += 61
    assert store.get(Table.SESSIONS, Key(USER, "SESSION#live")) is None
    assert store.query(Table.SESSIONS, "TOKEN", index="gsi1") == []
    assert [i["sk"] for i in store.query(Table.SESSIONS, USER, limit=1)] == ["SESSION#forever"]


def test_limit_counts_only_live_items(store: Store, clock: Clock) -> None:
    for i in range(5):
        put(store, f"E#{i}", Table.SESSIONS, expires_at=clock.now - 1)
    put(store, "E#9", Table.SESSIONS)
    assert [i["sk"] for i in store.query(Table.SESSIONS, USER, limit=1)] == ["E#9"]


def test_an_expired_item_counts_as_absent_for_conditions(store: Store, clock: Clock) -> None:
    put(store, "LOCK", Table.SESSIONS, owner="old", expires_at=clock.now - 1)
    with pytest.raises(ConditionFailed):
        store.put(Put(Table.SESSIONS, {"pk": USER, "sk": "LOCK2"}, Condition(equals={"owner": "old"})))
    with pytest.raises(ConditionFailed):
        store.delete(Delete(Table.SESSIONS, Key(USER, "LOCK"), MUST_EXIST))
    store.put(Put(Table.SESSIONS, {"pk": USER, "sk": "LOCK", "owner": "new"}, MUST_NOT_EXIST))
    assert store.get(Table.SESSIONS, Key(USER, "LOCK")) == {"pk": USER, "sk": "LOCK", "owner": "new"}


def test_updating_an_expired_item_starts_from_a_fresh_item(store: Store, clock: Clock) -> None:
    put(store, "RATE#login", Table.SESSIONS, count=9, note="stale", expires_at=clock.now - 1)
    after = store.update(
        Update(Table.SESSIONS, Key(USER, "RATE#login"), add={"count": 1}, set={"expires_at": clock.now + 300})
    )
    assert after == {"pk": USER, "sk": "RATE#login", "count": 1, "expires_at": clock.now + 300}
    assert store.get(Table.SESSIONS, Key(USER, "RATE#login")) == after
    with pytest.raises(ConditionFailed):
        put(store, "GONE", Table.SESSIONS, expires_at=clock.now - 1)
        store.update(Update(Table.SESSIONS, Key(USER, "GONE"), set={"v": 1}, condition=MUST_EXIST))


def test_updating_an_expired_item_inside_a_transaction_starts_fresh(store: Store, clock: Clock) -> None:
    put(store, "RATE#register", Table.SESSIONS, count=9, expires_at=clock.now - 1)
    store.transact(
        [
            Update(Table.SESSIONS, Key(USER, "RATE#register"), add={"count": 1}, set={"expires_at": clock.now + 5}),
            Put(Table.USERS, {"pk": USER, "sk": "PROFILE"}, MUST_NOT_EXIST),
        ]
    )
    assert store.get(Table.SESSIONS, Key(USER, "RATE#register")) == {
        "pk": USER,
        "sk": "RATE#register",
        "count": 1,
        "expires_at": clock.now + 5,
    }


# --- concurrency -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("via", ["update", "transact"])
def test_concurrent_conditional_decrements_never_overdraw(store: Store, via: str) -> None:
    key = Key(USER, "BALANCE#academic_writing")
    store.put(Put(Table.LEDGER, {"pk": key.pk, "sk": key.sk, "balance": 7}))
    successes: list[int] = []
    refusals: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def spend(n: int) -> None:
        decrement = Update(Table.LEDGER, key, add={"balance": -1}, condition=Condition(at_least={"balance": 1}))
        start.wait()
        try:
            if via == "update":
                store.update(decrement)
            else:
                store.transact([decrement, Put(Table.LEDGER, {"pk": key.pk, "sk": f"ENTRY#{n:02}", "delta": -1})])
        except ConditionFailed:
            refusals.append(n)
        except BaseException as error:  # reported below, so a thread's crash fails the test
            errors.append(error)
        else:
            successes.append(n)

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(successes) == 7 and len(refusals) == 13
    assert store.get(Table.LEDGER, key)["balance"] == 0  # type: ignore[index]
    if via == "transact":
        entries = store.query(Table.LEDGER, USER, sk_prefix="ENTRY#")
        assert sorted(int(e["sk"][6:]) for e in entries) == sorted(successes)


def test_conditions_compare_structured_values_and_mixed_number_types(store: Store) -> None:
    put(store, "S", tags=["a", "b"], meta={"k": 1}, score=2)
    same = Condition(equals={"tags": ["a", "b"], "meta": {"k": 1}, "score": 2.0})
    store.update(Update(Table.USERS, Key(USER, "S"), set={"ok": True}, condition=same))
    with pytest.raises(ConditionFailed):
        store.update(
            Update(Table.USERS, Key(USER, "S"), set={"ok": False}, condition=Condition(equals={"tags": ["b", "a"]}))
        )
    with pytest.raises(ConditionFailed):
        store.update(
            Update(Table.USERS, Key(USER, "S"), set={"ok": False}, condition=Condition(not_equals={"meta": {"k": 1}}))
        )
    assert store.get(Table.USERS, Key(USER, "S"))["ok"] is True  # type: ignore[index]
