"""``ieltsprep credits grant`` and ``ieltsprep users set-tester`` against the local store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ieltsprep import cli
from ieltsprep.billing import ledger
from ieltsprep.container import Container, get_container
from ieltsprep.settings import Settings, get_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A local data directory holding one registered account; the CLI's process-wide caches reset around the test."""
    monkeypatch.setenv("IELTSPREP_STAGE", "local")
    monkeypatch.setenv("IELTSPREP_PASSWORD_TIME_COST", "1")
    monkeypatch.setenv("IELTSPREP_PASSWORD_MEMORY_KIB", "8192")
    directory = tmp_path / "var"
    # The CLI writes IELTSPREP_DATA_DIR into the environment; setting it here makes monkeypatch restore it after.
    monkeypatch.setenv("IELTSPREP_DATA_DIR", str(directory))
    setup = Container(Settings(stage="local", data_dir=directory, password_time_cost=1, password_memory_kib=8192))
    setup.accounts.register("ops@example.com", "correct horse battery", terms=True, age_16_plus=True)
    setup.close()
    yield directory
    get_settings.cache_clear()
    get_container.cache_clear()


def _balances(directory: Path) -> dict[str, int]:
    container = Container(Settings(stage="local", data_dir=directory))
    try:
        user = container.accounts.find_by_email("ops@example.com")
        assert user is not None
        return ledger.balances(container.store, user.id)
    finally:
        container.close()


def test_credits_grant_records_an_operator_entry(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["credits", "grant", "--email", "ops@example.com", "--module", "general_speaking", "--count", "3",
            "--data-dir", str(data_dir)]  # fmt: skip
    assert cli.main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["granted"] == 3 and printed["credits"]["general_speaking"] == 3
    assert printed["key"].startswith("operator:")
    assert _balances(data_dir)["general_speaking"] == 3


def test_credits_grant_with_the_same_key_adds_nothing(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["credits", "grant", "--email", "ops@example.com", "--module", "academic_writing", "--count", "2",
            "--key", "ticket-42", "--data-dir", str(data_dir)]  # fmt: skip
    assert cli.main(argv) == 0 and cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["granted"] == 0
    assert _balances(data_dir)["academic_writing"] == 2


def test_credits_grant_for_an_unknown_email_fails_without_writing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["credits", "grant", "--email", "nobody@example.com", "--module", "academic_writing", "--count", "2",
            "--data-dir", str(data_dir)]  # fmt: skip
    assert cli.main(argv) == 1
    assert "no account" in capsys.readouterr().err


@pytest.mark.parametrize("count", ["0", "1001", "-4"])
def test_credits_grant_refuses_counts_out_of_range(
    data_dir: Path, count: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["credits", "grant", "--email", "ops@example.com", "--module", "academic_writing", "--count", count,
            "--data-dir", str(data_dir)]  # fmt: skip
    assert cli.main(argv) == 2
    assert "count" in capsys.readouterr().err
    assert set(_balances(data_dir).values()) == {0}


def test_credits_grant_refuses_an_unknown_module(data_dir: Path) -> None:
    with pytest.raises(SystemExit):
        cli.main(["credits", "grant", "--email", "ops@example.com", "--module", "cooking", "--count", "1"])


def test_users_set_tester_flags_the_account(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["users", "set-tester", "--email", "ops@example.com", "--data-dir", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["is_tester"] is True
    assert cli.main(["users", "set-tester", "--email", "ops@example.com", "--off", "--data-dir", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["is_tester"] is False


def test_operator_grant_shows_in_the_users_export(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ieltsprep.accounts.privacy import export_user

    argv = ["credits", "grant", "--email", "ops@example.com", "--module", "academic_speaking", "--count", "4",
            "--reason", "goodwill", "--data-dir", str(data_dir)]  # fmt: skip
    assert cli.main(argv) == 0
    container = Container(Settings(stage="local", data_dir=data_dir))
    try:
        user = container.accounts.find_by_email("ops@example.com")
        assert user is not None
        ledger_items = export_user(container, user)["tables"]["ledger"]
    finally:
        container.close()
    [grant] = [item for item in ledger_items if item["sk"].startswith("ENTRY#grant#operator:")]
    assert grant["delta"] == 4 and grant["source"] == "operator" and grant["reason"] == "goodwill"
    assert any(item["sk"] == "BALANCE#academic_speaking" and item["balance"] == 4 for item in ledger_items)
