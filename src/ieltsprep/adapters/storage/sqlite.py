"""SQLite adapter of the store port: one file, WAL, versioned schema, safe for concurrent requests.

Each thread gets its own connection; every write runs in a ``BEGIN IMMEDIATE`` transaction, so writers are
serialised by SQLite itself and conditions are evaluated against the state the write will change.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ieltsprep.adapters.storage.port import (
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

# Each entry migrates the schema from version i to i + 1; append, never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE items (
        tbl TEXT NOT NULL,
        pk TEXT NOT NULL,
        sk TEXT NOT NULL,
        gsi1pk TEXT,
        gsi1sk TEXT,
        expires_at INTEGER,
        data TEXT NOT NULL,
        PRIMARY KEY (tbl, pk, sk)
    ) WITHOUT ROWID;
    CREATE INDEX items_gsi1 ON items (tbl, gsi1pk, gsi1sk) WHERE gsi1pk IS NOT NULL;
    CREATE INDEX items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;
    """,
)


def _now() -> int:
    return int(time.time())


def _live(item: Item | None, now: int) -> Item | None:
    if item is None:
        return None
    expires = item.get("expires_at")
    if isinstance(expires, int | float) and expires <= now:
        return None
    return item


class SqliteStore:
    """The embedded store: ``Store`` on one SQLite file."""

    def __init__(self, path: Path | str, *, clock: Callable[[], int] = _now) -> None:
        self._path = str(path)
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._migrate()

    # --- connections ----------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def _migrate(self) -> None:
        with self._write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for index in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[index].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {index + 1}")

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # --- reads ----------------------------------------------------------------------------------------------
    @staticmethod
    def _load(row: Any) -> Item:
        return dict(json.loads(row[0]))

    def _read(self, conn: sqlite3.Connection, table: Table, key: Key) -> Item | None:
        row = conn.execute(
            "SELECT data FROM items WHERE tbl = ? AND pk = ? AND sk = ?", (table.value, key.pk, key.sk)
        ).fetchone()
        return _live(self._load(row) if row else None, self._clock())

    def get(self, table: Table, key: Key) -> Item | None:
        """The live item under ``key`` or None."""
        return self._read(self._conn(), table, key)

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
        """Live items of one partition in sort-key order."""
        if index not in (None, "gsi1"):
            raise StoreError(f"unknown index {index!r}")
        pk_col, sk_col = ("gsi1pk", "gsi1sk") if index else ("pk", "sk")
        sql = f"SELECT data FROM items WHERE tbl = ? AND {pk_col} = ?"
        params: list[Any] = [table.value, pk]
        if sk_prefix:
            sql += f" AND substr({sk_col}, 1, ?) = ?"
            params += [len(sk_prefix), sk_prefix]
        sql += " AND (expires_at IS NULL OR expires_at > ?)"
        params.append(self._clock())
        sql += f" ORDER BY {sk_col} {'DESC' if newest_first else 'ASC'}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._load(row) for row in self._conn().execute(sql, params)]

    # --- writes ---------------------------------------------------------------------------------------------
    def _store(self, conn: sqlite3.Connection, table: Table, item: Item) -> None:
        expires = item.get("expires_at")
        conn.execute(
            "INSERT OR REPLACE INTO items (tbl, pk, sk, gsi1pk, gsi1sk, expires_at, data) VALUES (?,?,?,?,?,?,?)",
            (
                table.value,
                item["pk"],
                item["sk"],
                item.get("gsi1pk"),
                item.get("gsi1sk"),
                int(expires) if isinstance(expires, int | float) else None,
                json.dumps(item, separators=(",", ":"), sort_keys=True),
            ),
        )

    def _apply(self, conn: sqlite3.Connection, op: Operation, index: int | None = None) -> Item | None:
        key = Key(op.item["pk"], op.item["sk"]) if isinstance(op, Put) else op.key
        current = self._read(conn, op.table, key)
        if not check_condition(current, op.condition):
            raise ConditionFailed(f"condition failed on {op.table.value} {key.pk}/{key.sk}", index=index)
        if isinstance(op, Put):
            self._store(conn, op.table, dict(op.item))
            return op.item
        if isinstance(op, Update):
            item = apply_update(current, op)
            self._store(conn, op.table, item)
            return item
        if isinstance(op, Delete):
            conn.execute("DELETE FROM items WHERE tbl = ? AND pk = ? AND sk = ?", (op.table.value, key.pk, key.sk))
        return None

    def put(self, op: Put) -> None:
        """Write one item when its condition holds."""
        with self._write() as conn:
            self._apply(conn, op)

    def update(self, op: Update) -> Item:
        """Update one item when its condition holds; returns the new item."""
        with self._write() as conn:
            item = self._apply(conn, op)
        assert item is not None
        return item

    def delete(self, op: Delete) -> None:
        """Delete one item when its condition holds."""
        with self._write() as conn:
            self._apply(conn, op)

    def transact(self, ops: Sequence[Operation]) -> None:
        """All operations or none."""
        if not ops:
            return
        if len(ops) > 100:
            raise StoreError("a transaction holds at most 100 operations")
        keys = [
            (op.table, op.item["pk"], op.item["sk"]) if isinstance(op, Put) else (op.table, op.key.pk, op.key.sk)
            for op in ops
        ]
        if len(set(keys)) != len(keys):
            raise StoreError("a transaction may touch each item only once")
        with self._write() as conn:
            for index, op in enumerate(ops):
                self._apply(conn, op, index)

    def purge_expired(self) -> int:
        """Delete expired items (reads already ignore them); returns how many were deleted."""
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?", (self._clock(),)
            )
            return cursor.rowcount
