"""SIGKILL of the local platform in the middle of load: every acknowledged write survives and the ledger balances.

Drives ``bench/load_test.py`` (the same simulated users as the load benchmark) against an ``ieltsprep serve``
subprocess, kills it with SIGKILL once enough writes have been acknowledged, restarts it on the same data directory
and reads everything back.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.load_test import (  # noqa: E402
    UserRecord,
    ledger_problems,
    run_load,
    server_env,
    start_server,
    stop_server,
    verify_acknowledged,
)

pytestmark = pytest.mark.timeout(240)


def _acknowledged(records: list[UserRecord]) -> int:
    return sum(1 for r in records if r.user_id) + sum(len(r.assessments) + r.purchases for r in records)


async def _load_then_kill(base: str, process: object, records: list[UserRecord], kill_after: int) -> None:
    """Run the load and SIGKILL the server as soon as ``kill_after`` writes are acknowledged (mid-run)."""
    load = asyncio.create_task(run_load(base, 40, seconds=90, submit_share=0.5, ws_share=0.2, records=records))
    while not load.done() and _acknowledged(records) < kill_after:
        await asyncio.sleep(0.02)
    assert not load.done(), "the load finished before the kill: nothing was in flight"
    process.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
    await load  # every request in flight now fails; those are not acknowledged


def test_sigkill_mid_load_loses_no_acknowledged_write_and_the_ledger_balances(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = server_env(cheap_passwords=True)
    process, base = start_server(data_dir, env)
    records: list[UserRecord] = []
    try:
        asyncio.run(_load_then_kill(base, process, records, kill_after=60))
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    acknowledged = _acknowledged(records)
    unfinished = sum(1 for r in records if r.user_id and not r.submitted)
    assert acknowledged >= 60 and unfinished > 0, "the kill did not land mid-run"

    restarted, base = start_server(data_dir, env)
    try:
        problems = asyncio.run(verify_acknowledged(base, records, scoring_seconds=0))
    finally:
        stop_server(restarted)
    assert problems == []
    checked, imbalances = ledger_problems(data_dir)
    assert checked >= sum(1 for r in records if r.purchases) and imbalances == []
