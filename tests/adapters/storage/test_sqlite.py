"""What only the SQLite adapter does: a file that survives reopening, idempotent migrations, purging."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ieltsprep.adapters.storage.port import Key, Put, Table
from ieltsprep.adapters.storage.sqlite import MIGRATIONS, SqliteStore


def test_items_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "store.sqlite3"
    first = SqliteStore(path)
    first.put(Put(Table.USERS, {"pk": "USER#1", "sk": "PROFILE", "email": "a@example.com"}))
    first.close()
    again = SqliteStore(path)  # migrations run again and must change nothing
    try:
        assert again.get(Table.USERS, Key("USER#1", "PROFILE")) == {
            "pk": "USER#1",
            "sk": "PROFILE",
            "email": "a@example.com",
        }
    finally:
        again.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_purge_expired_deletes_only_expired_items(tmp_path: Path) -> None:
    now = int(time.time())
    store = SqliteStore(tmp_path / "store.sqlite3", clock=lambda: now)
    try:
        store.put(Put(Table.SESSIONS, {"pk": "S", "sk": "old", "expires_at": now - 1}))
        store.put(Put(Table.SESSIONS, {"pk": "S", "sk": "live", "expires_at": now + 60}))
        store.put(Put(Table.SESSIONS, {"pk": "S", "sk": "forever"}))
        assert store.purge_expired() == 1
        assert [i["sk"] for i in store.query(Table.SESSIONS, "S")] == ["forever", "live"]
    finally:
        store.close()
