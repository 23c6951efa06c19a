"""The store port: a small item store with DynamoDB's semantics, so that SQLite and DynamoDB can both honour it.

Design (see docs/ARCHITECTURE.md, "Storage"):
- Five logical tables (``Table``): users, assessments, sessions, ledger, content. Each maps to one physical table.
- Every item has a string partition key ``pk`` and sort key ``sk``; an optional secondary index ``gsi1``
  (attributes ``gsi1pk``/``gsi1sk``) exists on every table.
- ``expires_at`` (epoch seconds) is the TTL attribute: an expired item is invisible to reads on both adapters,
  whether or not the backend has deleted it yet.
- Values are JSON-like: str, int, float, bool, None, list, dict. Adapters convert (DynamoDB needs Decimal).
- Conditional writes and all-or-nothing transactions are the only way to get correctness under concurrency:
  a failed condition raises ``ConditionFailed`` and writes nothing.

Domain repositories are written once against this port; each domain owns its key prefixes (documented in
docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

Item = dict[str, Any]


class Table(StrEnum):
    """Logical tables; physical names come from ``Settings.table_name``."""

    USERS = "users"
    ASSESSMENTS = "assessments"
    SESSIONS = "sessions"
    LEDGER = "ledger"
    CONTENT = "content"


class StoreError(Exception):
    """The backend failed in a way the caller cannot fix (I/O, throttling after retries)."""


class ConditionFailed(StoreError):
    """A conditional write or a transaction's condition did not hold; nothing was written."""

    def __init__(self, message: str = "condition failed", *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index  # which operation of a transaction failed, when known


@dataclass(frozen=True)
class Key:
    """Primary key of an item."""

    pk: str
    sk: str


@dataclass(frozen=True)
class Condition:
    """A conjunction of predicates on the item currently stored under the key.

    ``exists=True``: the item must exist; ``exists=False``: it must not. ``equals``: attribute == value (the item
    must exist and carry the attribute). ``at_least``: numeric attribute >= value (must exist and carry it).
    ``not_equals``: attribute missing, or != value.
    """

    exists: bool | None = None
    equals: Mapping[str, Any] = field(default_factory=dict)
    at_least: Mapping[str, int | float] = field(default_factory=dict)
    not_equals: Mapping[str, Any] = field(default_factory=dict)


MUST_NOT_EXIST = Condition(exists=False)
MUST_EXIST = Condition(exists=True)


@dataclass(frozen=True)
class Put:
    """Write a whole item (replacing any item under its key), when the condition holds."""

    table: Table
    item: Item
    condition: Condition | None = None


@dataclass(frozen=True)
class Update:
    """Change some attributes of one item (creating it when absent, unless the condition says otherwise).

    ``set`` assigns, ``add`` adds numbers (a missing attribute counts as 0), ``remove`` deletes attributes.
    """

    table: Table
    key: Key
    set: Mapping[str, Any] = field(default_factory=dict)
    add: Mapping[str, int | float] = field(default_factory=dict)
    remove: Sequence[str] = ()
    condition: Condition | None = None


@dataclass(frozen=True)
class Delete:
    """Delete one item, when the condition holds (deleting an absent item is not an error)."""

    table: Table
    key: Key
    condition: Condition | None = None


@dataclass(frozen=True)
class Check:
    """Assert a condition inside a transaction without writing."""

    table: Table
    key: Key
    condition: Condition


Operation = Put | Update | Delete | Check


def check_condition(current: Item | None, condition: Condition | None) -> bool:
    """Whether ``condition`` holds for ``current`` (None = no item): the semantics every adapter honours."""
    if condition is None:
        return True
    if condition.exists is True and current is None:
        return False
    if condition.exists is False and current is not None:
        return False
    for name, value in condition.equals.items():
        if current is None or name not in current or current[name] != value:
            return False
    for name, minimum in condition.at_least.items():
        if current is None or not isinstance(current.get(name), int | float) or current[name] < minimum:
            return False
    for name, value in condition.not_equals.items():
        if current is not None and name in current and current[name] == value:
            return False
    return True


def apply_update(current: Item | None, op: Update) -> Item:
    """The item that results from applying ``op`` to ``current``."""
    item: Item = dict(current) if current is not None else {"pk": op.key.pk, "sk": op.key.sk}
    item.update(op.set)
    for name, delta in op.add.items():
        base = item.get(name, 0)
        if not isinstance(base, int | float) or isinstance(base, bool):
            raise StoreError(f"cannot add to non-numeric attribute {name!r}")
        item[name] = base + delta
    for name in op.remove:
        item.pop(name, None)
    return item


class Store(Protocol):
    """The item store every domain repository is written against."""

    def get(self, table: Table, key: Key) -> Item | None:
        """The item under ``key`` (strongly consistent), or None when absent or expired."""
        ...

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
        """Items of one partition ordered by sort key; ``index="gsi1"`` queries gsi1pk/gsi1sk instead."""
        ...

    def put(self, op: Put) -> None:
        """Apply one Put."""
        ...

    def update(self, op: Update) -> Item:
        """Apply one Update and return the item as it is after the update."""
        ...

    def delete(self, op: Delete) -> None:
        """Apply one Delete."""
        ...

    def transact(self, ops: Sequence[Operation]) -> None:
        """Apply all operations or none (at most 100, each key at most once)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
