"""What only the DynamoDB adapter does: table creation, wiring from settings, value limits, transaction retries."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from ieltsprep.adapters.storage import build_store, dynamodb
from ieltsprep.adapters.storage.dynamodb import DynamoStore, create_tables, table_names
from ieltsprep.adapters.storage.port import ConditionFailed, Key, Put, StoreError, Table, Update
from ieltsprep.settings import Settings

_prefixes = itertools.count()


def unique_settings(tmp_path: Path, **overrides: Any) -> Settings:
    prefix = f"d{next(_prefixes)}-{time.time_ns()}"
    names = {f"{t.value}_table": f"{prefix}-{t.value}" for t in Table}
    return Settings(stage="local", data_dir=tmp_path / "var", **names, **overrides)


@pytest.fixture
def dynamo(dynamodb_client: Any, tmp_path: Path) -> DynamoStore:
    settings = unique_settings(tmp_path)
    create_tables(dynamodb_client, settings)
    return DynamoStore(dynamodb_client, table_names(settings))


def test_create_tables_makes_every_table_with_keys_index_billing_and_ttl(dynamodb_client: Any, tmp_path: Path) -> None:
    settings = unique_settings(tmp_path)
    created = create_tables(dynamodb_client, settings)
    assert sorted(created) == sorted(settings.table_name(t.value) for t in Table)
    for name in created:
        table = dynamodb_client.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        (index,) = table["GlobalSecondaryIndexes"]
        assert index["IndexName"] == "gsi1" and index["Projection"] == {"ProjectionType": "ALL"}
        assert [k["AttributeName"] for k in index["KeySchema"]] == ["gsi1pk", "gsi1sk"]
        ttl = dynamodb_client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_create_tables_skips_tables_that_exist(dynamodb_client: Any, tmp_path: Path) -> None:
    settings = unique_settings(tmp_path)
    create_tables(dynamodb_client, settings)
    assert create_tables(dynamodb_client, settings) == []


def test_build_store_from_local_settings_creates_tables_on_the_endpoint(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # boto3's default credential chain reads these; a local endpoint accepts any.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = unique_settings(tmp_path, store="dynamodb", dynamodb_endpoint_url=moto_endpoint, region="eu-west-1")
    store = build_store(settings)
    try:
        assert isinstance(store, DynamoStore)
        store.put(Put(Table.USERS, {"pk": "USER#1", "sk": "PROFILE", "email": "a@example.com"}))
        assert store.get(Table.USERS, Key("USER#1", "PROFILE")) == {
            "pk": "USER#1",
            "sk": "PROFILE",
            "email": "a@example.com",
        }
    finally:
        store.close()


def test_a_store_needs_a_physical_name_for_every_table(dynamodb_client: Any) -> None:
    with pytest.raises(StoreError, match="content"):
        DynamoStore(dynamodb_client, {t: t.value for t in Table if t is not Table.CONTENT})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1, 2}, b"bytes"])
def test_values_dynamodb_cannot_hold_are_refused_and_nothing_is_written(dynamo: DynamoStore, value: Any) -> None:
    with pytest.raises(StoreError):
        dynamo.put(Put(Table.USERS, {"pk": "USER#1", "sk": "X", "v": value}))
    assert dynamo.get(Table.USERS, Key("USER#1", "X")) is None


def test_an_update_naming_one_attribute_twice_or_a_key_or_nothing_is_refused(dynamo: DynamoStore) -> None:
    with pytest.raises(StoreError):
        dynamo.update(Update(Table.USERS, Key("USER#1", "X")))
    with pytest.raises(StoreError):
        dynamo.transact([Update(Table.USERS, Key("USER#1", "X"))])
    with pytest.raises(StoreError):
        dynamo.update(Update(Table.USERS, Key("USER#1", "X"), set={"a": 1}, remove=["a"]))
    with pytest.raises(StoreError):
        dynamo.update(Update(Table.USERS, Key("USER#1", "X"), set={"sk": "Y"}))
    assert dynamo.get(Table.USERS, Key("USER#1", "X")) is None


def test_a_missing_table_is_a_store_error_not_a_condition_failure(dynamodb_client: Any) -> None:
    store = DynamoStore(dynamodb_client, {t: f"absent-{time.time_ns()}-{t.value}" for t in Table})
    with pytest.raises(StoreError) as failure:
        store.put(Put(Table.USERS, {"pk": "USER#1", "sk": "X"}))
    assert not isinstance(failure.value, ConditionFailed)


# --- transactions, stubbed: the cancellations moto never produces -----------------------------------------------
def _cancelled(stubber: Stubber, *codes: str) -> None:
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled",
        http_status_code=400,
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
    )


def _ops() -> list[Any]:
    return [
        Update(Table.LEDGER, Key("USER#1", "BALANCE#academic_writing"), add={"balance": -1}),
        Put(Table.ASSESSMENTS, {"pk": "USER#1", "sk": "ASSESSMENT#1"}),
    ]


def test_a_transaction_cancelled_by_a_concurrent_one_is_retried_with_a_new_token(
    dynamodb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb, "CONFLICT_BACKOFF_SECONDS", 0.0)
    store = DynamoStore(dynamodb_client, {t: t.value for t in Table})
    tokens: list[str] = []
    dynamodb_client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems",
        lambda params, **_: tokens.append(params["ClientRequestToken"]),
    )
    with Stubber(dynamodb_client) as stubber:
        _cancelled(stubber, "TransactionConflict", "None")
        _cancelled(stubber, "None", "ThrottlingError")
        stubber.add_response("transact_write_items", {})
        store.transact(_ops())
        stubber.assert_no_pending_responses()
    assert len(tokens) == 3 and len(set(tokens)) == 3


def test_a_transaction_that_keeps_conflicting_gives_up_with_a_store_error(
    dynamodb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb, "CONFLICT_BACKOFF_SECONDS", 0.0)
    store = DynamoStore(dynamodb_client, {t: t.value for t in Table})
    with Stubber(dynamodb_client) as stubber:
        for _ in range(dynamodb.TRANSACTION_ATTEMPTS + 1):
            _cancelled(stubber, "TransactionConflict", "None")
        with pytest.raises(StoreError) as failure:
            store.transact(_ops())
        stubber.assert_no_pending_responses()
    assert not isinstance(failure.value, ConditionFailed)


def test_a_condition_failure_wins_over_a_conflict_and_is_not_retried(dynamodb_client: Any) -> None:
    store = DynamoStore(dynamodb_client, {t: t.value for t in Table})
    with Stubber(dynamodb_client) as stubber:
        _cancelled(stubber, "TransactionConflict", "ConditionalCheckFailed")
        with pytest.raises(ConditionFailed) as failure:
            store.transact(_ops())
        stubber.assert_no_pending_responses()
    assert failure.value.index == 1


STALE_ITEM = {"pk": {"S": "USER#1"}, "sk": {"S": "RATE"}, "count": {"N": "9"}, "expires_at": {"N": "1"}}


def test_an_expired_item_revived_during_a_transaction_is_updated_not_replaced(dynamodb_client: Any) -> None:
    store = DynamoStore(dynamodb_client, {t: t.value for t in Table})
    kinds: list[str] = []
    dynamodb_client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems",
        lambda params, **_: kinds.append(next(iter(params["TransactItems"][0]))),
    )
    ops = [
        Update(Table.SESSIONS, Key("USER#1", "RATE"), add={"count": 1}),
        Put(Table.USERS, {"pk": "USER#1", "sk": "PROFILE"}),
    ]
    with Stubber(dynamodb_client) as stubber:
        # 1: the Update meets the expired item; 2: its replacement finds the item revived; 3: the Update goes through.
        stubber.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            http_status_code=400,
            modeled_fields={
                "CancellationReasons": [{"Code": "ConditionalCheckFailed", "Item": STALE_ITEM}, {"Code": "None"}]
            },
        )
        _cancelled(stubber, "ConditionalCheckFailed", "None")
        stubber.add_response("transact_write_items", {})
        store.transact(ops)
        stubber.assert_no_pending_responses()
    assert kinds == ["Update", "Put", "Update"]


def test_an_expired_item_revived_during_an_update_is_updated_not_replaced(dynamodb_client: Any) -> None:
    store = DynamoStore(dynamodb_client, {t: t.value for t in Table})
    with Stubber(dynamodb_client) as stubber:
        stubber.add_client_error(
            "update_item",
            service_error_code="ConditionalCheckFailedException",
            http_status_code=400,
            modeled_fields={"Item": STALE_ITEM},
        )
        stubber.add_client_error("put_item", service_error_code="ConditionalCheckFailedException", http_status_code=400)
        revived = {"pk": {"S": "USER#1"}, "sk": {"S": "RATE"}, "count": {"N": "2"}}
        stubber.add_response("update_item", {"Attributes": revived})
        after = store.update(Update(Table.SESSIONS, Key("USER#1", "RATE"), add={"count": 1}))
        stubber.assert_no_pending_responses()
    assert after == {"pk": "USER#1", "sk": "RATE", "count": 2}
