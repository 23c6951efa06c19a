"""DynamoDB adapter of the store port: one physical table per logical table, keys ``pk``/``sk``, index ``gsi1``.

It honours the port exactly as the SQLite adapter does (the contract suite in tests/adapters/storage runs against
both), which takes some care because DynamoDB deletes expired items lazily (up to days late):
- reads filter out items whose ``expires_at`` has passed, and every condition treats such an item as absent;
- an Update of an expired item starts from a fresh item (as if TTL had already removed it): the first attempt is
  guarded by "not expired"; when that guard alone fails, the item is replaced by a conditional Put that holds only
  while the stored item is still the expired one.
Numbers travel as Decimal (DynamoDB's type) and come back as int when integral, float otherwise. Transactions
carry a client request token so botocore's own retries are idempotent, and are retried on TransactionConflict.

boto3 is imported only here, so the SQLite path never pays for it.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ieltsprep.adapters.storage.port import (
    Check,
    Condition,
    ConditionFailed,
    Delete,
    Item,
    Key,
    Operation,
    Put,
    StoreError,
    Table,
    Update,
    apply_update,
    check_condition,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from ieltsprep.settings import Settings

GSI1 = "gsi1"
TTL_ATTRIBUTE = "expires_at"
MAX_TRANSACTION_OPS = 100
# Attempts of our own for a transaction cancelled by a concurrent one (botocore already retries throttling).
TRANSACTION_ATTEMPTS = 6
# How often an Update racing against the replacement of an expired item goes round again before giving up.
STALE_ATTEMPTS = 5
# First backoff before retrying a cancelled transaction; doubles with each attempt, with full jitter.
CONFLICT_BACKOFF_SECONDS = 0.02

BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=50,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _now() -> int:
    return int(time.time())


# --- values -----------------------------------------------------------------------------------------------------
def _to_dynamo(value: Any) -> Any:
    """A JSON-like value with floats turned into Decimal, which is all DynamoDB accepts for numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StoreError(f"DynamoDB cannot store the number {value!r}")
        # repr() is the shortest string that reads back as the same float, so the round trip is exact.
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    raise StoreError(f"cannot store a value of type {type(value).__name__}")


def _from_dynamo(value: Any) -> Any:
    """The JSON-like value of a deserialised attribute: integral numbers as int, others as float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def serialize(value: Any) -> dict[str, Any]:
    """One value as a DynamoDB AttributeValue."""
    try:
        attribute: dict[str, Any] = dict(_serializer.serialize(_to_dynamo(value)))
        return attribute
    except (TypeError, ArithmeticError) as error:
        raise StoreError(f"cannot store {value!r}: {error}") from error


def serialize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as a DynamoDB attribute map."""
    return {name: serialize(value) for name, value in item.items()}


def deserialize_item(attributes: Mapping[str, Any]) -> Item:
    """A DynamoDB attribute map as a plain item."""
    return {name: _from_dynamo(_deserializer.deserialize(value)) for name, value in attributes.items()}


# --- expressions ------------------------------------------------------------------------------------------------
class _Expression:
    """Placeholders of one request: attribute names as ``#nI`` and values as ``:vI``."""

    def __init__(self, now: int) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._by_name: dict[str, str] = {}
        self._now = now
        self._now_placeholder: str | None = None

    @property
    def now(self) -> str:
        """The placeholder of the current time, registered on first use (DynamoDB rejects unused values)."""
        if self._now_placeholder is None:
            self._now_placeholder = self.value(self._now)
        return self._now_placeholder

    def name(self, attribute: str) -> str:
        placeholder = self._by_name.get(attribute)
        if placeholder is None:
            placeholder = f"#n{len(self._by_name)}"
            self._by_name[attribute] = placeholder
            self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = serialize(value)
        return placeholder

    # An item is live when present and not past its expiry; the port treats an expired item as absent.
    def live(self) -> str:
        pk, exp = self.name("pk"), self.name(TTL_ATTRIBUTE)
        return f"(attribute_exists({pk}) AND (attribute_not_exists({exp}) OR {exp} > {self.now}))"

    def absent(self) -> str:
        pk, exp = self.name("pk"), self.name(TTL_ATTRIBUTE)
        return f"(attribute_not_exists({pk}) OR {exp} <= {self.now})"

    def not_expired(self) -> str:
        """Absent or live: anything but an expired item still stored."""
        pk, exp = self.name("pk"), self.name(TTL_ATTRIBUTE)
        return f"(attribute_not_exists({pk}) OR attribute_not_exists({exp}) OR {exp} > {self.now})"

    def expired(self) -> str:
        pk, exp = self.name("pk"), self.name(TTL_ATTRIBUTE)
        return f"(attribute_exists({pk}) AND {exp} <= {self.now})"

    def condition(self, condition: Condition | None) -> str | None:
        """The ConditionExpression of a port Condition (None when it has no predicate)."""
        if condition is None:
            return None
        terms: list[str] = []
        if condition.exists is True:
            terms.append(self.live())
        elif condition.exists is False:
            terms.append(self.absent())
        if (condition.equals or condition.at_least) and condition.exists is not True:
            terms.append(self.live())
        terms += [f"{self.name(n)} = {self.value(v)}" for n, v in condition.equals.items()]
        terms += [f"{self.name(n)} >= {self.value(v)}" for n, v in condition.at_least.items()]
        for attribute, value in condition.not_equals.items():
            n = self.name(attribute)
            terms.append(f"({self.absent()} OR attribute_not_exists({n}) OR {n} <> {self.value(value)})")
        return " AND ".join(terms) if terms else None

    def update(self, op: Update) -> str:
        """The UpdateExpression of a port Update."""
        touched = [*op.set, *op.add, *op.remove]
        if {"pk", "sk"} & set(touched):
            raise StoreError("an update cannot change the key attributes pk and sk")
        if len(set(touched)) != len(touched):
            raise StoreError("an update may name each attribute once across set, add and remove")
        if not touched:
            raise StoreError("an update must set, add or remove at least one attribute")
        clauses = []
        if op.set:
            clauses.append("SET " + ", ".join(f"{self.name(n)} = {self.value(v)}" for n, v in op.set.items()))
        if op.add:
            clauses.append("ADD " + ", ".join(f"{self.name(n)} {self.value(v)}" for n, v in op.add.items()))
        if op.remove:
            clauses.append("REMOVE " + ", ".join(self.name(n) for n in op.remove))
        return " ".join(clauses)

    def params(self, condition: str | None) -> dict[str, Any]:
        """ConditionExpression plus the placeholders registered so far (every one is used by some expression)."""
        params: dict[str, Any] = {}
        if condition:
            params["ConditionExpression"] = condition
        if self.names:
            params["ExpressionAttributeNames"] = dict(self.names)
        if self.values:
            params["ExpressionAttributeValues"] = dict(self.values)
        return params


def _key(key: Key) -> dict[str, Any]:
    return {"pk": {"S": key.pk}, "sk": {"S": key.sk}}


def _op_key(op: Operation) -> Key:
    if isinstance(op, Put):
        try:
            return Key(op.item["pk"], op.item["sk"])
        except KeyError as error:
            raise StoreError("an item needs string attributes pk and sk") from error
    return op.key


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class DynamoStore:
    """``Store`` on DynamoDB: strongly consistent reads, conditional writes and TransactWriteItems."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_names: Mapping[Table, str],
        *,
        clock: Callable[[], int] = _now,
    ) -> None:
        missing = [t.value for t in Table if t not in table_names]
        if missing:
            raise StoreError(f"no physical table name for {', '.join(missing)}")
        self._client = client
        self._tables = dict(table_names)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoStore:
        """The store of the configured region (or endpoint, locally), with botocore's standard retries."""
        client = boto3.client(
            "dynamodb",
            region_name=settings.region,
            endpoint_url=settings.dynamodb_endpoint_url,
            config=BOTO_CONFIG,
        )
        store = cls(client, table_names(settings))
        if settings.is_local and settings.dynamodb_endpoint_url:
            # A local DynamoDB (moto server, DynamoDB Local) starts empty; on AWS the tables come from serverless.yml.
            create_tables(client, settings)
        return store

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close()

    # --- plumbing -------------------------------------------------------------------------------------------
    def _name(self, table: Table) -> str:
        return self._tables[table]

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except ClientError as error:
            if _error_code(error) == "ConditionalCheckFailedException":
                raise ConditionFailed(f"condition failed on {action}") from error
            raise StoreError(f"DynamoDB {action} failed: {error}") from error
        except BotoCoreError as error:
            raise StoreError(f"DynamoDB {action} failed: {error}") from error

    def _is_live(self, item: Item | None) -> bool:
        if item is None:
            return False
        expires = item.get(TTL_ATTRIBUTE)
        return not (isinstance(expires, int | float) and expires <= self._clock())

    # --- reads ----------------------------------------------------------------------------------------------
    def get(self, table: Table, key: Key) -> Item | None:
        """The live item under ``key`` (strongly consistent read) or None."""
        with self._errors(f"GetItem on {table.value}"):
            response = self._client.get_item(TableName=self._name(table), Key=_key(key), ConsistentRead=True)
        item = deserialize_item(response["Item"]) if "Item" in response else None
        return item if self._is_live(item) else None

    def query(
        self,
        table: Table,
        pk: str,
        *,
        sk_prefix: str | None = None,
        index: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Item]:
        """Live items of one partition in sort-key order, following pages until ``limit`` live items are found."""
        if index not in (None, GSI1):
            raise StoreError(f"unknown index {index!r}")
        if limit is not None and limit <= 0:
            return []
        expr = _Expression(self._clock())
        pk_name, sk_name = ("gsi1pk", "gsi1sk") if index else ("pk", "sk")
        key_condition = f"{expr.name(pk_name)} = {expr.value(pk)}"
        if sk_prefix:
            key_condition += f" AND begins_with({expr.name(sk_name)}, {expr.value(sk_prefix)})"
        exp = expr.name(TTL_ATTRIBUTE)
        live_filter = f"attribute_not_exists({exp}) OR {exp} > {expr.now}"
        params: dict[str, Any] = {
            "TableName": self._name(table),
            "KeyConditionExpression": key_condition,
            "FilterExpression": live_filter,
            "ExpressionAttributeNames": expr.names,
            "ExpressionAttributeValues": expr.values,
            "ScanIndexForward": not newest_first,
        }
        if index:
            params["IndexName"] = index  # a GSI offers only eventually consistent reads
        else:
            params["ConsistentRead"] = True
        if limit is not None:
            # Limit counts items read before the filter, so expired items can cost another page, never a result.
            params["Limit"] = limit
        items: list[Item] = []
        while True:
            with self._errors(f"Query on {table.value}"):
                response = self._client.query(**params)
            items += [deserialize_item(raw) for raw in response.get("Items", [])]
            if limit is not None and len(items) >= limit:
                return items[:limit]
            last = response.get("LastEvaluatedKey")
            if not last:
                return items
            params["ExclusiveStartKey"] = last

    # --- single writes --------------------------------------------------------------------------------------
    def put(self, op: Put) -> None:
        """Write one item when its condition holds."""
        key = _op_key(op)
        expr = _Expression(self._clock())
        condition = expr.condition(op.condition)
        with self._errors(f"PutItem on {op.table.value} {key.pk}/{key.sk}"):
            self._client.put_item(
                TableName=self._name(op.table), Item=serialize_item(op.item), **expr.params(condition)
            )

    def delete(self, op: Delete) -> None:
        """Delete one item when its condition holds."""
        expr = _Expression(self._clock())
        condition = expr.condition(op.condition)
        with self._errors(f"DeleteItem on {op.table.value} {op.key.pk}/{op.key.sk}"):
            self._client.delete_item(TableName=self._name(op.table), Key=_key(op.key), **expr.params(condition))

    def update(self, op: Update) -> Item:
        """Update one item when its condition holds; returns the item after the update."""
        action = f"UpdateItem on {op.table.value} {op.key.pk}/{op.key.sk}"
        for _ in range(STALE_ATTEMPTS):
            expr = _Expression(self._clock())
            update = expr.update(op)
            user_condition = expr.condition(op.condition)
            condition = " AND ".join(c for c in (expr.not_expired(), user_condition) if c)
            params: dict[str, Any] = {
                "TableName": self._name(op.table),
                "Key": _key(op.key),
                "ReturnValues": "ALL_NEW",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                "UpdateExpression": update,
                **expr.params(condition),
            }
            try:
                with self._errors(action):
                    response = self._client.update_item(**params)
                return deserialize_item(response["Attributes"])
            except ConditionFailed as failure:
                old = self._old_item(failure)
                if old is None or self._is_live(old):
                    raise ConditionFailed(f"condition failed on {action}") from failure
            # The stored item has expired: the port says it is gone, so the update starts from nothing.
            if not check_condition(None, op.condition):
                raise ConditionFailed(f"condition failed on {action}")
            fresh = apply_update(None, op)
            if self._replace_expired(op.table, fresh):
                return fresh
        raise StoreError(f"{action} kept racing with other writers")

    @staticmethod
    def _old_item(failure: ConditionFailed) -> Item | None:
        cause = failure.__cause__
        if isinstance(cause, ClientError) and "Item" in cause.response:
            return deserialize_item(cause.response["Item"])  # type: ignore[typeddict-item]
        return None

    def _replace_expired(self, table: Table, item: Item) -> bool:
        """Put ``item`` over an expired one; False when someone changed the stored item in the meantime."""
        expr = _Expression(self._clock())
        condition = expr.expired()
        try:
            with self._errors(f"PutItem on {table.value}"):
                self._client.put_item(TableName=self._name(table), Item=serialize_item(item), **expr.params(condition))
        except ConditionFailed:
            return False
        return True

    # --- transactions ---------------------------------------------------------------------------------------
    def transact(self, ops: Sequence[Operation]) -> None:
        """All operations or none, as one TransactWriteItems."""
        if not ops:
            return
        if len(ops) > MAX_TRANSACTION_OPS:
            raise StoreError(f"a transaction holds at most {MAX_TRANSACTION_OPS} operations")
        keys = [(op.table, _op_key(op)) for op in ops]
        if len(set(keys)) != len(keys):
            raise StoreError("a transaction may touch each item only once")
        # Updates of items found expired are replaced by Puts of fresh items (see the module docstring).
        replacements: dict[int, Item] = {}
        conflicts = 0
        for _ in range(TRANSACTION_ATTEMPTS + STALE_ATTEMPTS):
            request: list[Any] = [self._transact_item(i, op, replacements.get(i)) for i, op in enumerate(ops)]
            try:
                self._client.transact_write_items(TransactItems=request, ClientRequestToken=str(uuid.uuid4()))
                return
            except ClientError as error:
                if _error_code(error) != "TransactionCanceledException":
                    raise StoreError(f"DynamoDB TransactWriteItems failed: {error}") from error
                reasons = list(error.response.get("CancellationReasons", []))
                codes = [str(reason.get("Code", "None")) for reason in reasons]
                stale = self._expired_updates(ops, reasons, replacements)
                # A replacement whose item was revived meanwhile goes back to being the Update it stands for.
                revived = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed" and i in replacements]
                failed = [
                    i
                    for i, code in enumerate(codes)
                    if code == "ConditionalCheckFailed" and i not in stale and i not in replacements
                ]
                if failed:
                    raise ConditionFailed(
                        f"transaction condition failed at operation {failed[0]}", index=failed[0]
                    ) from error
                if stale or revived:
                    for i in revived:
                        del replacements[i]
                    replacements.update(stale)
                    continue
                retryable = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
                if any(code in retryable for code in codes) and conflicts < TRANSACTION_ATTEMPTS:
                    conflicts += 1
                    time.sleep(
                        random.uniform(0, CONFLICT_BACKOFF_SECONDS * 2**conflicts)
                    )  # jitter so contenders spread out
                    continue
                raise StoreError(f"DynamoDB TransactWriteItems cancelled: {codes}") from error
            except BotoCoreError as error:
                raise StoreError(f"DynamoDB TransactWriteItems failed: {error}") from error
        raise StoreError("DynamoDB TransactWriteItems kept being cancelled by concurrent writers")

    def _expired_updates(
        self, ops: Sequence[Operation], reasons: Sequence[Mapping[str, Any]], replacements: Mapping[int, Item]
    ) -> dict[int, Item]:
        """Updates that failed only because their item had expired, with the fresh item each should write."""
        stale: dict[int, Item] = {}
        for i, (op, reason) in enumerate(zip(ops, reasons, strict=False)):
            if not isinstance(op, Update) or i in replacements or reason.get("Code") != "ConditionalCheckFailed":
                continue
            old = deserialize_item(reason["Item"]) if reason.get("Item") else None
            if old is not None and not self._is_live(old) and check_condition(None, op.condition):
                stale[i] = apply_update(None, op)
        return stale

    def _transact_item(self, index: int, op: Operation, replacement: Item | None) -> dict[str, Any]:
        expr = _Expression(self._clock())
        name = self._name(op.table)
        if replacement is not None:
            return {"Put": {"TableName": name, "Item": serialize_item(replacement), **expr.params(expr.expired())}}
        if isinstance(op, Put):
            condition = expr.condition(op.condition)
            return {"Put": {"TableName": name, "Item": serialize_item(op.item), **expr.params(condition)}}
        if isinstance(op, Update):
            update = expr.update(op)
            condition = " AND ".join(c for c in (expr.not_expired(), expr.condition(op.condition)) if c)
            return {
                "Update": {
                    "TableName": name,
                    "Key": _key(op.key),
                    "UpdateExpression": update,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    **expr.params(condition),
                }
            }
        if isinstance(op, Delete):
            condition = expr.condition(op.condition)
            return {"Delete": {"TableName": name, "Key": _key(op.key), **expr.params(condition)}}
        if isinstance(op, Check):
            condition = expr.condition(op.condition)
            if not condition:
                raise StoreError(f"operation {index}: a check needs a condition")
            return {"ConditionCheck": {"TableName": name, "Key": _key(op.key), **expr.params(condition)}}
        raise StoreError(f"operation {index}: unknown operation {type(op).__name__}")


def table_names(settings: Settings) -> dict[Table, str]:
    """Physical table name of each logical table, from the settings."""
    return {table: settings.table_name(table.value) for table in Table}


def create_tables(client: DynamoDBClient, settings: Settings) -> list[str]:
    """Create the missing tables (pk/sk, gsi1, on-demand, TTL on expires_at); returns the names created.

    Used by tests and local development; on AWS the tables are declared in serverless.yml.
    """
    created = []
    for name in table_names(settings).values():
        try:
            client.create_table(
                TableName=name,
                AttributeDefinitions=[
                    {"AttributeName": attribute, "AttributeType": "S"} for attribute in ("pk", "sk", "gsi1pk", "gsi1sk")
                ],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": GSI1,
                        "KeySchema": [
                            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
                BillingMode="PAY_PER_REQUEST",
                SSESpecification={"Enabled": True},
            )
        except ClientError as error:
            if _error_code(error) == "ResourceInUseException":
                continue
            raise StoreError(f"cannot create table {name}: {error}") from error
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
        )
        created.append(name)
    return created
