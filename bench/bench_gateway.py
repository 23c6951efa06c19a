"""Local platform throughput: ``GET /api/me`` over loopback HTTP through ``ieltsprep serve``, against DESIGN.md's budget.

Run: ``.venv/bin/python bench/bench_gateway.py [--seconds 10] [--concurrency 16]``. Prints figures; asserts nothing.
The server runs as its own process (as ``make serve`` runs it), with a fresh data directory; this process is the
client (aiohttp, keep-alive, ``--concurrency`` requests in flight). Both share the machine's cores, as they would on
a laptop. Also measures the WebSocket path: the round trip of a frame to the handler and back through
``@connections`` (an error reply to an unknown action), p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

BUDGET_RPS = 500.0
PASSWORD = "correct horse battery staple"


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """``ieltsprep serve`` on a free port; returns the process and its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IELTSPREP_")}
    env["IELTSPREP_LOG_LEVEL"] = "WARNING"
    process = subprocess.Popen(
        [sys.executable, "-m", "ieltsprep.cli", "serve", "--port", "0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", banner)
    if not match:
        process.kill()
        raise SystemExit(f"server did not start: {banner!r}")
    return process, match.group(0)


async def login(session: aiohttp.ClientSession, base: str) -> str:
    """Register and log in one user; returns its bearer token."""
    consent = {"terms": True, "age_16_plus": True, "marketing": False}
    body = {"email": "bench@example.com", "password": PASSWORD, "consent": consent}
    async with session.post(f"{base}/api/auth/register", json=body) as response:
        assert response.status == 201, await response.text()
    async with session.post(f"{base}/api/auth/login", json={"email": body["email"], "password": PASSWORD}) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["token"])


async def hammer(base: str, token: str, seconds: float, concurrency: int) -> tuple[int, int, list[float]]:
    """Keep ``concurrency`` GET /api/me requests in flight for ``seconds``; returns ok, failed, latencies (ms)."""
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    failed = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failed
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(f"{base}/api/me", headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        failed += 1
                        continue
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), failed, latencies


async def websocket_round_trips(base: str, token: str, count: int) -> list[float]:
    """Milliseconds from sending a frame to receiving the handler's reply posted through @connections."""
    ws_url = base.replace("http://", "ws://") + f"/ws?token={token}"
    timings: list[float] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as socket:
        for _ in range(count):
            started = time.perf_counter()
            await socket.send_str('{"action":"bench"}')
            reply = json.loads((await socket.receive(timeout=10)).data)
            assert reply["code"] == "unknown_action", reply
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc), to report server cost per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(base: str, seconds: float, concurrency: int, server_pid: int) -> None:
    async with aiohttp.ClientSession() as session:
        token = await login(session, base)
    await hammer(base, token, 1.0, concurrency)  # warm-up: connections, caches, SQLite pages
    started, cpu_started = time.perf_counter(), cpu_seconds(server_pid)
    ok, failed, latencies = await hammer(base, token, seconds, concurrency)
    elapsed = time.perf_counter() - started
    server_cpu_ms = (cpu_seconds(server_pid) - cpu_started) * 1000 / max(ok, 1)
    rps = ok / elapsed
    verdict = "within" if rps >= BUDGET_RPS else "OVER"
    print(
        f"GET /api/me over loopback: {rps:.0f} req/s ({ok} ok, {failed} failed in {elapsed:.1f} s, {concurrency} in flight)"
    )
    print(f"  latency p50 {statistics.median(latencies):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms")
    print(f"  server CPU per request {server_cpu_ms:.2f} ms, i.e. about {1000 / server_cpu_ms:.0f} req/s per core")
    load = os.getloadavg()[0]
    print(f"  budget >= {BUDGET_RPS:.0f} req/s on 2 cores: {verdict} budget (cores {os.cpu_count()}, load {load:.1f})")
    timings = await websocket_round_trips(base, token, 200)
    print(
        f"WebSocket frame -> handler -> @connections -> client: p50 {statistics.median(timings):.2f} ms, "
        f"p99 {percentile(timings, 0.99):.2f} ms (200 frames)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        process, base = start_server(Path(data_dir))
        try:
            asyncio.run(measure(base, args.seconds, args.concurrency, process.pid))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
