"""Cold start of each Lambda entry point with only that function's package on the path, beside the seed's < 1 s.

Run: ``.venv/bin/python bench/bench_cold_start.py [--runs N]``. Prints figures; asserts nothing.
For each function the package is laid out for this machine's Python (the same requirement list and code as the
arm64 zip, plus boto3, which the Lambda runtime provides), then fresh interpreters started with ``-I -S`` and only
that directory on ``sys.path`` import ``lambda_handler`` and handle one event of the function's kind, timed inside
the process (process start-up itself excluded, as Lambda's Init Duration excludes the runtime's own start).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ieltsprep.deploy.build import FUNCTIONS, stage  # noqa: E402

SEED_PROMISE_MS = 1000.0
HANDLERS = {"http": "http_handler", "ws": "ws_handler", "speakingWorker": "speaking_worker", "jobs": "jobs_handler"}
EVENTS = {
    "http": {
        "version": "2.0", "routeKey": "$default", "rawPath": "/api/health", "rawQueryString": "",
        "headers": {"host": "api.example.com"}, "isBase64Encoded": False,
        "requestContext": {"http": {"method": "GET", "path": "/api/health", "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.9"}, "requestId": "bench", "stage": "$default"},
    },
    "ws": {"requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "bench=",
                              "requestId": "bench", "domainName": "ws.example.com", "stage": "prod"},
           "headers": {}, "isBase64Encoded": False},
    "speakingWorker": {"assessment_id": ""},
    "jobs": {"job": "no_such_job"},
}  # fmt: skip
ENVIRONMENT = {
    "IELTSPREP_STAGE": "prod", "IELTSPREP_STORE": "dynamodb", "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "IELTSPREP_TRACING": "false",
    "IELTSPREP_METRICS": "false", "IELTSPREP_WRITING_ENGINE": "bedrock", "IELTSPREP_SPEECH_ENGINE": "nova-sonic",
    "IELTSPREP_SPEAKING_SCORER": "bedrock", "IELTSPREP_INTERNAL_TOKEN_SECRET": "bench-only-secret",
}  # fmt: skip
PROBE = """
import json, sys, time
start = time.perf_counter()
import lambda_handler
imported = time.perf_counter()
try:
    getattr(lambda_handler, sys.argv[1])(json.loads(sys.argv[2]), None)
except Exception as exc:  # a refused event still measures the init path
    pass
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - start) * 1000, "first_event_ms": (done - imported) * 1000}))
"""


def measure(directory: Path, function: str, runs: int) -> tuple[float, float]:
    """Median import time and median first-event time over ``runs`` fresh interpreters."""
    imports, firsts = [], []
    env = {**ENVIRONMENT, "PYTHONPATH": str(directory), "PATH": "/usr/bin:/bin"}
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {str(directory)!r}); " + PROBE,
             HANDLERS[function], json.dumps(EVENTS[function])],
            capture_output=True, text=True, env=env, check=True, cwd=directory,
        )  # fmt: skip
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        imports.append(figures["import_ms"])
        firsts.append(figures["first_event_ms"])
    return statistics.median(imports), statistics.median(firsts)


def main() -> None:
    """Lay out each function's package, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores")  # fmt: skip
    print(
        f"{'function':15s} {'import ms':>10s} {'1st event ms':>13s} {'init ms':>9s}  vs seed < {SEED_PROMISE_MS:.0f} ms"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for function in FUNCTIONS:
            directory = Path(tmp) / function
            stage(function, directory, native=True)
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "--target", str(directory), "boto3"], check=True
            )
            imported, first = measure(directory, function, args.runs)
            total = imported + first
            verdict = "pass" if total < SEED_PROMISE_MS else "miss"
            print(f"{function:15s} {imported:10.0f} {first:13.0f} {total:9.0f}  {verdict}")


if __name__ == "__main__":
    main()
