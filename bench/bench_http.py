"""HTTP handler benchmark (in process): Lambda init time and per-route latency on SQLite, against DESIGN.md budgets.

Run: ``.venv/bin/python bench/bench_http.py [--requests N]``. Prints figures; asserts nothing.
- init: a fresh interpreter imports ``lambda_handler`` and resolves one ``GET /api/health`` event (the cold start
  the HTTP Lambda pays), measured inside that process; median of several processes.
- latency: p50/p99 of the resolver in this process for register, login, me and the assessments list.
  Register and login include one argon2id hash/verification each, on purpose (tens of ms); the 10 ms p99 budget
  applies to authenticated requests (token check) such as me and the assessments list.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INIT_BUDGET_MS = 300.0
P99_BUDGET_MS = 10.0

_INIT_SCRIPT = """
import json, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
import lambda_handler
event = {"version": "2.0", "routeKey": "$default", "rawPath": "/api/health", "rawQueryString": "", "headers": {},
         "requestContext": {"http": {"method": "GET", "path": "/api/health", "sourceIp": "127.0.0.1"},
                            "requestId": "bench", "stage": "$default"}, "isBase64Encoded": False}
response = lambda_handler.http_handler(event, None)
elapsed = (time.perf_counter() - started) * 1000
cpu = (time.process_time() - cpu_started) * 1000
assert response["statusCode"] == 200, response
print(json.dumps({"init_ms": elapsed, "cpu_ms": cpu}), file=sys.stderr)
"""


# The same cold start cut into phases (each phase imports only what the earlier ones did not), to show where it goes.
_PHASES_SCRIPT = """
import json, sys, time
phases = {}
def phase(name, fn):
    started = time.perf_counter()
    fn()
    phases[name] = (time.perf_counter() - started) * 1000
phase("pydantic + pydantic_settings", lambda: __import__("pydantic_settings"))
phase("powertools event handler", lambda: __import__("aws_lambda_powertools.event_handler"))
phase("ieltsprep.settings", lambda: __import__("ieltsprep.settings"))
phase("http routes of every domain", lambda: __import__("ieltsprep.edges.http.routes"))
phase("http app, errors, auth", lambda: __import__("ieltsprep.edges.http.app"))
import lambda_handler
event = {"version": "2.0", "routeKey": "$default", "rawPath": "/api/health", "rawQueryString": "", "headers": {},
         "requestContext": {"http": {"method": "GET", "path": "/api/health", "sourceIp": "127.0.0.1"},
                            "requestId": "bench", "stage": "$default"}, "isBase64Encoded": False}
phase("container, create_app, first request", lambda: lambda_handler.http_handler(event, None))
print(json.dumps(phases), file=sys.stderr)
"""


def _run_script(script: str, data_dir: Path) -> dict[str, float]:
    env = {**os.environ, "IELTSPREP_DATA_DIR": str(data_dir), "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    line = [ln for ln in done.stderr.splitlines() if ln.startswith("{")][-1]
    return {k: float(v) for k, v in json.loads(line).items()}


def measure_phases(runs: int, data_dir: Path) -> dict[str, float]:
    """Median milliseconds of each phase of the cold start over ``runs`` fresh interpreters."""
    samples = [_run_script(_PHASES_SCRIPT, data_dir) for _ in range(runs)]
    return {name: statistics.median(sample[name] for sample in samples) for name in samples[0]}


def measure_init(runs: int, data_dir: Path) -> list[tuple[float, float]]:
    """Cold-start (wall, CPU) milliseconds of ``runs`` fresh interpreters."""
    figures = []
    for _ in range(runs):
        figure = _run_script(_INIT_SCRIPT, data_dir)
        figures.append((figure["init_ms"], figure["cpu_ms"]))
    return figures


def event(method: str, path: str, body: Any = None, token: str | None = None, ip: str = "127.0.0.1") -> dict[str, Any]:
    """A payload 2.0 event as API Gateway sends it."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    built: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": method, "path": path, "sourceIp": ip},
            "requestId": "bench",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        built["body"] = json.dumps(body)
    return built


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples`` (milliseconds)."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def timed(
    n: int, make: Callable[[int], dict[str, Any]], resolve: Callable[..., dict[str, Any]], ok: int
) -> list[float]:
    """Milliseconds of ``n`` requests built by ``make(i)``; each must answer ``ok``."""
    samples = []
    for i in range(n):
        request = make(i)
        started = time.perf_counter()
        response = resolve(request, None)
        samples.append((time.perf_counter() - started) * 1000)
        if response["statusCode"] != ok:
            raise SystemExit(f"unexpected {response['statusCode']}: {response.get('body')}")
    return samples


def measure_routes(requests: int, data_dir: Path) -> dict[str, list[float]]:
    """Latency samples per route through the resolver, on a fresh SQLite store."""
    sys.path.insert(0, str(ROOT / "src"))
    from ieltsprep.container import Container
    from ieltsprep.edges.http.app import create_app
    from ieltsprep.settings import Settings

    # Rate limits off the table: the bench logs in more often than a person would.
    settings = Settings(
        stage="local",
        data_dir=data_dir,
        cookie_secure=False,
        login_attempts_per_window=10**9,
        login_ip_attempts_per_window=10**9,
        register_attempts_per_window=10**9,
    )
    container = Container(settings)
    app = create_app(container)
    consent = {"terms": True, "age_16_plus": True}
    password = "correct horse battery"
    auth_n = max(20, requests // 10)
    results: dict[str, list[float]] = {}
    results["POST /api/auth/register"] = timed(
        auth_n,
        lambda i: event(
            "POST", "/api/auth/register", {"email": f"u{i}@example.com", "password": password, "consent": consent}
        ),
        app.resolve,
        201,
    )
    # Wrong password and unknown email must cost the same, or timing tells which emails have accounts.
    logins = {
        "POST /api/auth/login": ("u{}@example.com", password, 200),
        "POST /api/auth/login (wrong password)": ("u{}@example.com", "wrong password", 401),
        "POST /api/auth/login (unknown email)": ("ghost{}@example.com", password, 401),
    }
    for name, (email, secret, status) in logins.items():
        results[name] = timed(
            auth_n,
            lambda i, email=email, secret=secret: event(
                "POST", "/api/auth/login", {"email": email.format(i), "password": secret}
            ),
            app.resolve,
            status,
        )
    token = json.loads(
        app.resolve(event("POST", "/api/auth/login", {"email": "u0@example.com", "password": password}), None)["body"]
    )["token"]
    results["GET /api/me"] = timed(requests, lambda i: event("GET", "/api/me", token=token), app.resolve, 200)
    probe = app.resolve(event("GET", "/api/assessments", token=token), None)
    if probe["statusCode"] == 200:
        results["GET /api/assessments"] = timed(
            requests, lambda i: event("GET", "/api/assessments", token=token), app.resolve, 200
        )
    container.close()
    return results


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per authenticated route")
    parser.add_argument("--init-runs", type=int, default=5, help="fresh processes for the init measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ieltsprep-bench-") as tmp:
        init = measure_init(args.init_runs, Path(tmp) / "init")
        walls = [wall for wall, _ in init]
        median_init = statistics.median(walls)
        median_cpu = statistics.median(cpu for _, cpu in init)
        verdict = "OK" if median_init < INIT_BUDGET_MS else "OVER"
        print(f"HTTP handler init (import lambda_handler + first GET /api/health), {len(init)} processes:")
        print(f"  CPU time median {median_cpu:.0f} ms (less sensitive to other load on the machine)")
        print(
            f"  median {median_init:.0f} ms, min {min(walls):.0f} ms, max {max(walls):.0f} ms  [budget {INIT_BUDGET_MS:.0f} ms: {verdict}]"
        )
        print("  where it goes (median wall ms per phase):")
        for name, ms in measure_phases(args.init_runs, Path(tmp) / "phases").items():
            print(f"    {name:38s} {ms:6.0f}")
        print("In-process latency on SQLite (resolver only):")
        for route, samples in measure_routes(args.requests, Path(tmp) / "routes").items():
            p50, p99 = percentiles(samples)
            argon = route.startswith("POST /api/auth/")
            verdict = "argon2id by design" if argon else ("OK" if p99 < P99_BUDGET_MS else "OVER")
            print(
                f"  {route:42s} n={len(samples):4d}  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  [budget p99 {P99_BUDGET_MS:.0f} ms: {verdict}]"
            )


if __name__ == "__main__":
    main()
