"""Choosing the store adapter from the settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SQLITE_ONLY = """
import sys
from pathlib import Path
from ieltsprep.adapters.storage import build_store
from ieltsprep.adapters.storage.port import Key, Put, Table
from ieltsprep.settings import Settings

store = build_store(Settings(stage="local", data_dir=Path(sys.argv[1])))
store.put(Put(Table.USERS, {"pk": "USER#1", "sk": "PROFILE"}))
assert store.get(Table.USERS, Key("USER#1", "PROFILE")) is not None
print(type(store).__name__, "boto3" in sys.modules, "botocore" in sys.modules)
"""


def test_the_sqlite_store_never_imports_boto3(tmp_path: Path) -> None:
    # A fresh interpreter, because this test process has imported boto3 long ago.
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_ONLY, str(tmp_path / "var")], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["SqliteStore", "False", "False"]
