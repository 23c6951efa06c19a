"""Bounded load on the local platform: hundreds of simulated users against an ``ieltsprep serve`` subprocess.

Run: ``.venv/bin/python bench/load_test.py [--users 200] [--seconds 120] [--json]``. Loopback only; stops by itself.
Each simulated user registers, logs in, reads its profile, buys a pack in the local test store (a StoreKit 2 JWS
verified by the production code path), starts a writing assessment (one credit), autosaves drafts of both tasks,
and, for a share of users, submits for scoring and/or holds a WebSocket session (a frame to the handler and back
through ``@connections``, held open, then a second frame). Every write the server acknowledged is recorded; after
the run the tool proves each one is readable (over HTTP, logged in again) and that every balance equals the sum of
its ledger entries (read from the data directory). Speaking workers are not started here: each loads a speech
model; ``bench_speaking_turns.py`` measures them.

The same functions drive ``tests/reliability/test_crash_recovery.py``, which SIGKILLs the server mid-load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
CONSENT = {"terms": True, "age_16_plus": True, "marketing": False}
MODULE = "academic_writing"
PRODUCT = f"com.ieltsgenaiprep.{MODULE}"
WORDS = [
    "people",
    "often",
    "argue",
    "that",
    "technology",
    "changes",
    "how",
    "we",
    "learn",
    "work",
    "and",
    "live",
    "but",
    "the",
    "evidence",
    "suggests",
    "that",
    "education",
    "remains",
    "the",
    "most",
    "important",
    "factor",
    "in",
    "shaping",
    "a",
    "fair",
    "society",
    "for",
    "every",
    "generation",
    "because",
    "teachers",
    "families",
    "and",
    "communities",
    "share",
    "responsibility",
    "for",
    "children",
]


def server_env(*, cheap_passwords: bool) -> dict[str, str]:
    """Environment of the server under load: local stage, test store on, per-IP limits off (every user is 127.0.0.1)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IELTSPREP_")}
    env.update(
        IELTSPREP_LOG_LEVEL="WARNING",
        IELTSPREP_TEST_STORE="true",
        IELTSPREP_COOKIE_SECURE="false",
        IELTSPREP_LOGIN_ATTEMPTS="1000000",
        IELTSPREP_LOGIN_IP_ATTEMPTS="1000000",
        IELTSPREP_REGISTER_ATTEMPTS="1000000",
    )
    if cheap_passwords:  # argon2id at its cheapest: measures the platform rather than the password hash
        env.update(IELTSPREP_PASSWORD_TIME_COST="1", IELTSPREP_PASSWORD_MEMORY_KIB=str(8 * 1024))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def start_server(data_dir: Path, env: dict[str, str], port: int = 0) -> tuple[subprocess.Popen[str], str]:
    """``ieltsprep serve`` on ``port`` (0 = a free one); returns the process and its base URL once it listens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ieltsprep.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", banner)
    if not match:
        process.kill()
        process.wait()
        raise RuntimeError(f"server did not start: {banner!r}")
    return process, match.group(0)


def stop_server(process: subprocess.Popen[str]) -> None:
    """Interrupt the server as Ctrl-C would and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class UserRecord:
    """What the server acknowledged for one simulated user (only writes answered with success are recorded)."""

    email: str
    user_id: str | None = None
    purchases: int = 0
    assessments: list[str] = field(default_factory=list)
    drafts: dict[str, dict[str, str]] = field(default_factory=dict)  # assessment id -> task -> last acked text
    # The text of a save still unanswered (in flight at a crash): it may have been stored without its answer.
    in_flight: dict[str, dict[str, str]] = field(default_factory=dict)
    submitted: list[str] = field(default_factory=list)


@dataclass
class LoadStats:
    """Latencies (ms) per operation, failures per operation, and the wall time of the run."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failure_samples: list[str] = field(default_factory=list)
    ws_sessions: int = 0
    ws_peak: int = 0
    ws_open: int = 0
    users_completed: int = 0
    wall_seconds: float = 0.0

    def fail(self, operation: str, detail: str) -> None:
        """Count a failed request of ``operation``, keeping a few details for the report."""
        self.failures[operation] += 1
        if len(self.failure_samples) < 10:
            self.failure_samples.append(f"{operation}: {detail[:200]}")


class Unacknowledged(Exception):
    """The server did not acknowledge a request (error status or a broken connection)."""


def essay(rng: random.Random, words: int) -> str:
    """A deterministic essay-like text of ``words`` words."""
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class SimulatedUser:
    """One candidate's session against the platform."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base: str,
        index: int,
        stats: LoadStats,
        *,
        submit: bool,
        websocket: bool,
        hold_seconds: float,
        tag: str,
    ) -> None:
        self.http, self.base, self.stats = http, base, stats
        self.record = UserRecord(email=f"load-{tag}-{index}@example.com")
        self.submit, self.websocket, self.hold_seconds = submit, websocket, hold_seconds
        self.rng = random.Random(index)
        self.token = ""

    async def call(self, operation: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """One request; returns its JSON body or raises ``Unacknowledged`` (counted as a failure)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        started = time.perf_counter()
        try:
            async with self.http.request(method, self.base + path, json=body, headers=headers) as response:
                text = await response.text()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.stats.fail(operation, f"{type(exc).__name__}: {exc}")
            raise Unacknowledged(operation) from exc
        self.stats.latencies[operation].append((time.perf_counter() - started) * 1000)
        if status != expect:
            self.stats.fail(operation, f"{status} {text}")
            raise Unacknowledged(operation)
        return json.loads(text) if text else None

    async def run(self) -> None:
        """The whole visit; stops at the first unacknowledged request (a real client would retry later)."""
        try:
            await self._visit()
            self.stats.users_completed += 1
        except Unacknowledged:
            pass

    async def _visit(self) -> None:
        record = self.record
        registered = await self.call(
            "register",
            "POST",
            "/api/auth/register",
            {"email": record.email, "password": PASSWORD, "consent": CONSENT},
            201,
        )
        record.user_id = registered["user"]["id"]
        login = await self.call("login", "POST", "/api/auth/login", {"email": record.email, "password": PASSWORD})
        self.token = login["token"]
        await self.call("me", "GET", "/api/me")
        made = await self.call(
            "test_store", "POST", "/api/dev/test-store/transactions", {"product_id": PRODUCT, "platform": "apple"}, 201
        )
        verified = await self.call(
            "verify",
            "POST",
            "/api/purchases/verify",
            {"id": PRODUCT, "type": "application", "transaction": made["transaction"]},
        )
        if not verified.get("ok"):
            self.stats.fail("verify", json.dumps(verified))
            raise Unacknowledged("verify")
        record.purchases += 1
        created = await self.call("create", "POST", "/api/assessments", {"module": MODULE}, 201)
        assessment_id = created["assessment"]["id"]
        record.assessments.append(assessment_id)
        drafts = record.drafts.setdefault(assessment_id, {})
        for task, words in ((1, 170), (2, 270)):
            for _ in range(2):  # autosave twice, as the app does while the candidate types
                text = essay(self.rng, words)
                record.in_flight.setdefault(assessment_id, {})[str(task)] = text
                await self.call("draft", "PUT", f"/api/assessments/{assessment_id}/answers/{task}", {"text": text})
                drafts[str(task)] = text
                del record.in_flight[assessment_id][str(task)]
        await self.call("list", "GET", "/api/assessments")
        if self.websocket:
            await self._websocket_session()
        if self.submit:
            submitted = await self.http_submit(assessment_id)
            if submitted:
                record.submitted.append(assessment_id)

    async def http_submit(self, assessment_id: str) -> bool:
        """Submit for scoring: 202 (scoring) or 200 (scored at once) both acknowledge it."""
        headers = {"Authorization": f"Bearer {self.token}"}
        started = time.perf_counter()
        try:
            async with self.http.post(f"{self.base}/api/assessments/{assessment_id}/submit", headers=headers) as r:
                text, status = await r.text(), r.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.stats.fail("submit", f"{type(exc).__name__}: {exc}")
            raise Unacknowledged("submit") from exc
        self.stats.latencies["submit"].append((time.perf_counter() - started) * 1000)
        if status not in (200, 202):
            self.stats.fail("submit", f"{status} {text}")
            raise Unacknowledged("submit")
        return True

    async def _websocket_session(self) -> None:
        url = self.base.replace("http://", "ws://") + f"/ws?token={self.token}"
        started = time.perf_counter()
        try:
            async with self.http.ws_connect(url, heartbeat=None) as socket:
                self.stats.latencies["ws_connect"].append((time.perf_counter() - started) * 1000)
                self.stats.ws_open += 1
                self.stats.ws_peak = max(self.stats.ws_peak, self.stats.ws_open)
                try:
                    await self._ws_round_trip(socket)
                    await asyncio.sleep(self.hold_seconds)
                    await self._ws_round_trip(socket)
                finally:
                    self.stats.ws_open -= 1
        except (TimeoutError, aiohttp.ClientError, AssertionError) as exc:
            self.stats.fail("ws", f"{type(exc).__name__}: {exc}")
            raise Unacknowledged("ws") from exc
        self.stats.ws_sessions += 1

    async def _ws_round_trip(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        started = time.perf_counter()
        await socket.send_str('{"action":"load-test"}')
        message = await socket.receive(timeout=30)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        assert json.loads(message.data).get("code") == "unknown_action", message.data
        self.stats.latencies["ws_frame"].append((time.perf_counter() - started) * 1000)


async def run_load(
    base: str,
    users: int,
    *,
    seconds: float,
    submit_share: float = 0.25,
    ws_share: float = 0.3,
    hold_seconds: float = 2.0,
    tag: str = "",
    records: list[UserRecord] | None = None,
) -> tuple[LoadStats, list[UserRecord]]:
    """Run ``users`` simulated users at once (bounded by ``seconds``); returns stats and acknowledged writes.

    ``records`` (optional) is filled as users progress, so a caller can read what was acknowledged so far even when
    the run is cancelled (the crash test kills the server mid-run).
    """
    stats = LoadStats()
    records = records if records is not None else []
    tag = tag or str(int(time.time() * 1000))
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=0)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        simulated = [
            SimulatedUser(
                http,
                base,
                i,
                stats,
                submit=(i % 100) < submit_share * 100,
                websocket=((i * 37) % 100) < ws_share * 100,
                hold_seconds=hold_seconds,
                tag=tag,
            )
            for i in range(users)
        ]
        records.extend(user.record for user in simulated)
        tasks = [asyncio.create_task(user.run()) for user in simulated]
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        for task in pending:  # the bound: whatever is still running is abandoned, not waited for
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    stats.wall_seconds = time.perf_counter() - started
    return stats, records


async def verify_acknowledged(base: str, records: list[UserRecord], *, scoring_seconds: float = 0.0) -> list[str]:
    """Every acknowledged write readable over HTTP (logging each user in again); returns the problems found.

    Users whose registration was never acknowledged are skipped; a write whose answer was lost (the server died
    after committing) may exist without being recorded, which is not a loss.
    """
    problems: list[str] = []
    deadline = time.monotonic() + scoring_seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as http:

        async def check(record: UserRecord) -> None:
            body = {"email": record.email, "password": PASSWORD}
            async with http.post(f"{base}/api/auth/login", json=body) as response:
                if response.status != 200:
                    problems.append(f"{record.email}: acknowledged account cannot log in ({response.status})")
                    return
                login = await response.json()
            if login["user"]["id"] != record.user_id:
                problems.append(f"{record.email}: user id changed")
            headers = {"Authorization": f"Bearer {login['token']}"}
            async with http.get(f"{base}/api/me", headers=headers) as response:
                credits = (await response.json())["credits"][MODULE]
            # Writes in flight at a crash may have committed unacknowledged: bounds, not equality, in that case.
            if credits > 4 * record.purchases + 4 or credits < 0:
                problems.append(f"{record.email}: {credits} credits after {record.purchases} acknowledged packs")

            async def fetch(assessment_id: str) -> dict[str, Any] | None:
                async with http.get(f"{base}/api/assessments/{assessment_id}", headers=headers) as response:
                    return (await response.json())["assessment"] if response.status == 200 else None

            for assessment_id in record.assessments:
                assessment = await fetch(assessment_id)
                # Optionally wait for submitted assessments to leave "scoring" (scoring_seconds bounds the wait).
                while (
                    assessment is not None
                    and assessment_id in record.submitted
                    and assessment["status"] == "scoring"
                    and time.monotonic() < deadline
                ):
                    await asyncio.sleep(0.5)
                    assessment = await fetch(assessment_id)
                if assessment is None:
                    problems.append(f"{record.email}: acknowledged assessment {assessment_id} missing")
                    continue
                answers = assessment.get("answers") or {}
                for task, text in record.drafts.get(assessment_id, {}).items():
                    pending = record.in_flight.get(assessment_id, {}).get(task)
                    if (answers.get(task) or {}).get("text") not in (text, pending):
                        problems.append(f"{record.email}: draft of task {task} of {assessment_id} lost")
                if assessment_id in record.submitted and assessment["status"] == "in_progress":
                    problems.append(f"{record.email}: acknowledged submission of {assessment_id} lost")

        await asyncio.gather(*(check(r) for r in records if r.user_id))
    return problems


def ledger_problems(data_dir: Path) -> tuple[int, list[str]]:
    """Users checked and the imbalances found: each balance must equal the sum of its ledger entries."""
    import sqlite3

    sys.path.insert(0, str(ROOT / "src"))
    from ieltsprep.adapters.storage.port import Table
    from ieltsprep.billing import ledger
    from ieltsprep.container import Container
    from ieltsprep.settings import Settings

    settings = Settings(stage="local", data_dir=data_dir)
    # Every user with a ledger partition, read from the file itself: the store port has no scan, on purpose.
    with sqlite3.connect(f"file:{settings.sqlite_path}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT DISTINCT pk FROM items WHERE tbl = ? AND pk LIKE 'USER#%'", (Table.LEDGER.value,)
        ).fetchall()
    user_ids = sorted(pk.removeprefix("USER#") for (pk,) in rows)
    container = Container(settings)
    problems = []
    try:
        for user_id in user_ids:
            sums: dict[str, int] = defaultdict(int)
            for entry in ledger.entries(container.store, user_id):
                sums[entry["module"]] += int(entry["delta"])
            for module, balance in ledger.balances(container.store, user_id).items():
                if balance != sums.get(module, 0):
                    problems.append(f"user {user_id} {module}: balance {balance} != entries {sums.get(module, 0)}")
                if balance < 0:
                    problems.append(f"user {user_id} {module}: negative balance {balance} without a refund")
        return len(user_ids), problems
    finally:
        container.close()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summary(stats: LoadStats, records: list[UserRecord]) -> dict[str, Any]:
    """Machine-readable figures of a run."""
    requests = sum(len(v) for v in stats.latencies.values() if v) - len(stats.latencies.get("ws_frame", []))
    every = [x for k, v in stats.latencies.items() if k not in ("ws_frame",) for x in v]
    return {
        "users": len(records),
        "users_completed": stats.users_completed,
        "requests": requests,
        "wall_seconds": round(stats.wall_seconds, 2),
        "throughput_rps": round(requests / stats.wall_seconds, 1) if stats.wall_seconds else 0.0,
        "p50_ms": round(statistics.median(every), 2) if every else None,
        "p95_ms": round(percentile(every, 0.95), 2),
        "p99_ms": round(percentile(every, 0.99), 2),
        "errors": sum(stats.failures.values()),
        "failures": dict(stats.failures),
        "failure_samples": stats.failure_samples,
        "ws_sessions": stats.ws_sessions,
        "ws_peak_open": stats.ws_peak,
        "per_operation": {
            name: {"n": len(v), "p50_ms": round(statistics.median(v), 2), "p99_ms": round(percentile(v, 0.99), 2)}
            for name, v in sorted(stats.latencies.items())
            if v
        },
        "acknowledged": {
            "accounts": sum(1 for r in records if r.user_id),
            "purchases": sum(r.purchases for r in records),
            "assessments": sum(len(r.assessments) for r in records),
            "drafts": sum(len(d) for r in records for d in r.drafts.values()),
            "submissions": sum(len(r.submitted) for r in records),
        },
    }


async def hold_websockets(base: str, count: int, *, hold_seconds: float = 5.0) -> dict[str, Any]:
    """Open ``count`` authenticated candidate WebSockets at once, hold them, then prove each still answers."""
    async with aiohttp.ClientSession() as http:
        body = {"email": f"hold-{int(time.time() * 1000)}@example.com", "password": PASSWORD, "consent": CONSENT}
        async with http.post(f"{base}/api/auth/register", json=body) as response:
            assert response.status == 201, await response.text()
        async with http.post(f"{base}/api/auth/login", json={"email": body["email"], "password": PASSWORD}) as r:
            token = (await r.json())["token"]
    url = base.replace("http://", "ws://") + f"/ws?token={token}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        started = time.perf_counter()
        opened = await asyncio.gather(
            *(http.ws_connect(url, heartbeat=None) for _ in range(count)), return_exceptions=True
        )
        connect_seconds = time.perf_counter() - started
        sockets = [s for s in opened if isinstance(s, aiohttp.ClientWebSocketResponse)]
        await asyncio.sleep(hold_seconds)

        async def alive(socket: aiohttp.ClientWebSocketResponse) -> bool:
            try:
                await socket.send_str('{"action":"hold"}')
                message = await socket.receive(timeout=60)
                return message.type == aiohttp.WSMsgType.TEXT and "unknown_action" in message.data
            except (TimeoutError, aiohttp.ClientError):
                return False

        answered = await asyncio.gather(*(alive(s) for s in sockets))
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    errors = [f"{type(e).__name__}: {e}" for e in opened if isinstance(e, BaseException)]
    return {
        "requested": count,
        "opened": len(sockets),
        "held_and_answering": sum(answered),
        "connect_seconds": round(connect_seconds, 2),
        "errors": errors[:5],
    }


def main() -> int:
    """Run the load against a fresh server and print the report (``--json``: one JSON object, last line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="simulated users, all at once")
    parser.add_argument("--seconds", type=float, default=120.0, help="bound of the run; unfinished users abandoned")
    parser.add_argument("--submit-share", type=float, default=0.25, help="share of users who submit for scoring")
    parser.add_argument("--ws-share", type=float, default=0.3, help="share of users who hold a WebSocket session")
    parser.add_argument("--hold-websockets", type=int, default=0, help="also hold N WebSockets at once (0: skip)")
    parser.add_argument("--production-argon", action="store_true", help="argon2id at the production cost")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ieltsprep-load-") as tmp:
        data_dir = Path(tmp) / "var"
        process, base = start_server(data_dir, server_env(cheap_passwords=not args.production_argon))
        try:
            stats, records = asyncio.run(
                run_load(base, args.users, seconds=args.seconds, submit_share=args.submit_share, ws_share=args.ws_share)
            )
            lost = asyncio.run(verify_acknowledged(base, records, scoring_seconds=60))
            held = asyncio.run(hold_websockets(base, args.hold_websockets)) if args.hold_websockets else None
        finally:
            stop_server(process)
        checked, imbalances = ledger_problems(data_dir)
    report = summary(stats, records)
    report.update(lost_writes=lost, ledger_users=checked, ledger_imbalances=imbalances, websockets_held=held)
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps(report, indent=2))
    return 0 if not lost and not imbalances else 1


if __name__ == "__main__":
    sys.exit(main())
