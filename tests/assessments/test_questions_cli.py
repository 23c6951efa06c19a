from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ieltsprep.adapters.storage.port import Table
from ieltsprep.adapters.storage.sqlite import SqliteStore
from ieltsprep.assessments.questionbank import bank_pk
from ieltsprep.cli import main
from ieltsprep.container import get_container
from ieltsprep.settings import get_settings


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The CLI reads settings from the environment; give it its own and forget it afterwards."""
    monkeypatch.setenv("IELTSPREP_DATA_DIR", str(tmp_path / "unused"))
    monkeypatch.setenv("IELTSPREP_STAGE", "local")
    yield tmp_path / "var"
    get_settings.cache_clear()
    get_container.cache_clear()


def test_questions_load_fills_the_content_table(fresh_process: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["questions", "load", "--data-dir", str(fresh_process), "--json"]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts == {"writing/academic_task1": 12, "writing/general_task1": 12, "writing/task2": 24}
    store = SqliteStore(fresh_process / "ieltsprep.sqlite3")
    try:
        assert len(store.query(Table.CONTENT, bank_pk("writing/academic_task1"), sk_prefix="ITEM#")) == 12
    finally:
        store.close()


def test_questions_load_can_take_one_bank(fresh_process: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["questions", "load", "--data-dir", str(fresh_process), "--bank", "writing/task2"]) == 0
    assert capsys.readouterr().out.strip() == "writing/task2: 24 items"
