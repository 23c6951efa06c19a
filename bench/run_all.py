"""Every benchmark in bench/, one after another, summarised in ONE table against the budgets of DESIGN.md.

Run: ``make bench`` (``.venv/bin/python -m bench``); ``--only NAME[,NAME]`` runs a subset, ``--quick`` smaller runs.
Each benchmark runs as its own process (a fresh interpreter, as its own ``python bench/<file>.py`` would) with
arguments sized so the whole run stays under 15 minutes on 2 cores; its own output is streamed as it runs, and the
figures are read back from that output. The table says, per figure, the value, the budget and pass / miss (``info``
where DESIGN.md sets no budget). The machine (cores, CPU model, load average before and after) is stated, because
a shared 2-core machine slows every figure down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One line of the table."""

    figure: str
    value: str
    budget: str
    verdict: str  # pass, miss, info, or "n/a" when the figure could not be read


def within(value: float, limit: float, *, below: bool = True) -> str:
    """``pass`` when ``value`` is under (or, with ``below=False``, at least) ``limit``."""
    return "pass" if (value < limit if below else value >= limit) else "miss"


def _float(pattern: str, text: str) -> float | None:
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def _last_json(text: str) -> dict[str, object] | None:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


def parse_http(out: str) -> list[Row]:
    """bench_http: handler init and in-process p99 per route."""
    rows = []
    init = _float(r"^\s+median (\d+) ms, min", out)
    rows.append(
        Row("HTTP handler init (median)", f"{init:.0f} ms", "< 300 ms", within(init, 300))
        if init is not None
        else Row("HTTP handler init (median)", "-", "< 300 ms", "n/a")
    )
    cpu = _float(r"CPU time median (\d+) ms", out)
    if cpu is not None:
        rows.append(Row("HTTP handler init CPU time (median)", f"{cpu:.0f} ms", "< 300 ms", within(cpu, 300)))
    for match in re.finditer(
        r"^\s+((?:GET|POST) \S+(?: \([^)]*\))?)\s+n=\s*\d+\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms", out, re.M
    ):
        route, p99 = match.group(1), float(match.group(3))
        if route.startswith("POST /api/auth/"):
            rows.append(Row(f"in-process p99 {route}", f"{p99:.2f} ms", "argon2id by design", "info"))
        else:
            rows.append(Row(f"in-process p99 {route}", f"{p99:.2f} ms", "< 10 ms", within(p99, 10)))
    return rows


def parse_assessments(out: str) -> list[Row]:
    """bench_assessments: in-process p99 of the assessment routes (the list of a usual history: 10 ms budget)."""
    rows = []
    pattern = r"^\s+((?:GET|POST|PUT) \S+(?: \([^)]*\))?)\s+n=\s*\d+\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms(.*)$"
    for match in re.finditer(pattern, out, re.M):
        route, p99, note = match.group(1), float(match.group(3)), match.group(4)
        budget = re.search(r"budget (\d+) ms", note)
        limit = float(budget.group(1)) if budget else None
        rows.append(
            Row(
                f"in-process p99 {route}",
                f"{p99:.2f} ms",
                f"< {limit:.0f} ms" if limit is not None else "-",
                within(p99, limit) if limit is not None else "info",
            )
        )
    return rows


def parse_gateway(out: str) -> list[Row]:
    """bench_gateway: loopback requests/s on GET /api/me, WebSocket frame round trip."""
    rps = _float(r"GET /api/me over loopback: (\d+) req/s", out)
    rows = [
        Row("loopback GET /api/me", f"{rps:.0f} req/s", ">= 500 req/s", within(rps, 500, below=False))
        if rps is not None
        else Row("loopback GET /api/me", "-", ">= 500 req/s", "n/a")
    ]
    per_core = _float(r"about (\d+) req/s per core", out)
    if per_core is not None:
        rows.append(Row("loopback GET /api/me from server CPU time, per core", f"{per_core:.0f} req/s", "-", "info"))
    ws = re.search(r"WebSocket frame .*?: p50 ([\d.]+) ms, p99 ([\d.]+) ms", out)
    if ws:
        rows.append(Row("WebSocket frame round trip p50/p99", f"{ws.group(1)}/{ws.group(2)} ms", "-", "info"))
    return rows


def parse_load(out: str) -> list[Row]:
    """load_test: throughput, percentiles, errors, lost writes, ledger balance, WebSockets held at once."""
    report = _last_json(out)
    if report is None:
        return [Row("load test", "-", "no loss", "n/a")]
    ack = report["acknowledged"]
    assert isinstance(ack, dict)
    lost, imbalances = report["lost_writes"], report["ledger_imbalances"]
    assert isinstance(lost, list) and isinstance(imbalances, list)
    rows = [
        Row(
            f"load: {report['users']} users at once, throughput",
            f"{report['throughput_rps']} req/s",
            "-",
            "info",
        ),
        Row("load: latency p50/p95/p99", f"{report['p50_ms']}/{report['p95_ms']}/{report['p99_ms']} ms", "-", "info"),
        Row(
            "load: failed requests",
            f"{report['errors']} of {report['requests']}",
            "0",
            within(float(str(report["errors"])), 1),
        ),
        Row(
            "load: acknowledged writes lost",
            f"{len(lost)} of {sum(int(v) for v in ack.values())}",
            "0",
            "pass" if not lost else "miss",
        ),
        Row(
            "load: ledger imbalances",
            f"{len(imbalances)} ({report['ledger_users']} users)",
            "0",
            "pass" if not imbalances else "miss",
        ),
    ]
    held = report.get("websockets_held")
    if isinstance(held, dict):
        rows.append(
            Row(
                "WebSocket sessions held at once",
                f"{held['held_and_answering']} of {held['requested']} (opened in {held['connect_seconds']} s)",
                f"all {held['requested']}",
                "pass" if held["held_and_answering"] == held["requested"] else "miss",
            )
        )
    return rows


def parse_writing(out: str) -> list[Row]:
    """bench_writing_scorer: per-essay latency."""
    if out.lstrip().startswith("skipped"):
        return [Row("writing scorer per essay", "skipped (no essays CSV)", "< 200 ms", "n/a")]
    match = re.search(r"per essay: p50 ([\d.]+) ms\s+p95 ([\d.]+) ms\s+max ([\d.]+) ms", out)
    if not match:
        return [Row("writing scorer per essay", "-", "< 200 ms", "n/a")]
    p50, p95, worst = (float(g) for g in match.groups())
    return [
        Row("writing scorer p50/p95 per essay", f"{p50:.0f}/{p95:.0f} ms", "< 200 ms", within(p95, 200)),
        Row("writing scorer slowest essay", f"{worst:.0f} ms", "< 200 ms", within(worst, 200)),
    ]


def parse_turns(out: str) -> list[Row]:
    """bench_speaking_turns: end of answer to first examiner audio over the whole platform; transcription RTF."""
    rows = []
    rtf = _float(r"transcription real-time factor: ([\d.]+)", out)
    rows.append(
        Row("transcription real-time factor", f"{rtf:.3f}", "< 1.0", within(rtf, 1.0))
        if rtf is not None
        else Row("transcription real-time factor", "-", "< 1.0", "n/a")
    )
    match = re.search(r"first examiner audio: p50 ([\d.]+) s, p95 ([\d.]+) s", out)
    if match:
        p50, p95 = float(match.group(1)), float(match.group(2))
        rows.append(Row("speaking turn latency p50 (platform)", f"{p50:.2f} s", "< 1.0 s", within(p50, 1.0)))
        rows.append(Row("speaking turn latency p95 (platform)", f"{p95:.2f} s", "-", "info"))
    else:
        rows.append(Row("speaking turn latency p50 (platform)", "-", "< 1.0 s", "n/a"))
    return rows


def parse_turn_taking(out: str) -> list[Row]:
    """bench_turn_taking: false cut-offs on the thinking-pause set and reply time, model endpointer (issue 15)."""
    match = re.search(
        r"^Silero \+ Smart Turn.*?false cut-offs\s+([\d.]+)% of paused.*?reply p50\s+([\d.]+) ms.*?"
        r"p50 \+ compute\s+([\d.]+) ms",
        out,
        re.MULTILINE,
    )
    if not match:
        return [Row("turn-taking false cut-offs (thinking pauses)", "-", "<= 5%", "n/a")]
    cut, _, reply = (float(g) for g in match.groups())
    return [
        Row("turn-taking false cut-offs (thinking pauses)", f"{cut:.1f}%", "<= 5%", within(cut, 5.0001)),
        Row("turn-taking reply p50 after a finished answer", f"{reply:.0f} ms", "<= 350 ms", within(reply, 350.0001)),
    ]


def parse_speech(out: str) -> list[Row]:
    """bench_speech: the engine alone (no platform): turn latency and whisper RTF."""
    report = _last_json(out)
    if report is None:
        return [Row("speech engine turn latency p50", "-", "< 1.0 s", "n/a")]
    session, transcription = report.get("session"), report.get("transcription")
    rows = []
    if isinstance(session, dict) and "latency_p50_s" in session:
        p50 = float(session["latency_p50_s"])
        rows.append(Row("speech engine turn latency p50 (engine only)", f"{p50:.2f} s", "< 1.0 s", within(p50, 1.0)))
    if isinstance(transcription, dict):
        for key, value in transcription.items():
            if "rtf" in key and isinstance(value, int | float):
                rows.append(Row(f"speech engine {key}", f"{value:.3f}", "< 1.0", within(float(value), 1.0)))
                break
    return rows or [Row("speech engine", "-", "-", "n/a")]


def parse_cold_start(out: str) -> list[Row]:
    """bench_cold_start: init of each Lambda package beside the seed's promise of cold starts under 1 s."""
    rows = []
    for match in re.finditer(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(pass|miss)$", out, re.M):
        total = float(match.group(4))
        rows.append(
            Row(f"cold start {match.group(1)} (package alone)", f"{total:.0f} ms", "< 1000 ms", within(total, 1000))
        )
    return rows or [Row("cold starts", "-", "< 1000 ms", "n/a")]


def parse_store(out: str) -> list[Row]:
    """bench_store / bench_billing: the p99 of each store operation (no budget of their own)."""
    rows = []
    section = ""
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            section = line[:-1].split(" (")[0]
        match = re.match(r"^\s+(.+?)\s+(\d+) ops/s\s+p50\s+([\d.]+) ms\s+p99\s+([\d.]+) ms", line)
        if match:
            rows.append(Row(f"{section} {match.group(1)} p99", f"{float(match.group(4)):.2f} ms", "-", "info"))
    return rows


@dataclass
class Benchmark:
    """A benchmark script, the arguments that keep ``make bench`` bounded, and how to read its figures."""

    name: str
    args: list[str]
    quick_args: list[str]
    parse: Callable[[str], list[Row]]
    timeout: float


BENCHMARKS = [
    Benchmark(
        "bench_http",
        ["--requests", "500", "--init-runs", "3"],
        ["--requests", "100", "--init-runs", "3"],
        parse_http,
        240,
    ),
    Benchmark("bench_assessments", ["--requests", "200"], ["--requests", "50"], parse_assessments, 180),
    Benchmark("bench_gateway", ["--seconds", "10"], ["--seconds", "3"], parse_gateway, 120),
    Benchmark(
        "load_test",
        ["--users", "200", "--seconds", "120", "--hold-websockets", "1000", "--json"],
        ["--users", "60", "--seconds", "60", "--hold-websockets", "200", "--json"],
        parse_load,
        330,
    ),
    Benchmark(
        "bench_store", ["--ops", "1000", "--moto-ops", "50"], ["--ops", "200", "--moto-ops", "0"], parse_store, 180
    ),
    Benchmark("bench_billing", ["--count", "100"], ["--count", "30"], parse_store, 180),
    Benchmark("bench_writing_scorer", ["--limit", "200"], ["--limit", "40"], parse_writing, 180),
    Benchmark("bench_speech", ["--turns", "3"], ["--turns", "2"], parse_speech, 300),
    # Streams the candidate live: the latency includes the endpointer's silence, which is audio time, so a faster
    # stream would shorten it in wall time and flatter the figure. The quick run only checks that it works.
    # One engine per run here (bench_speaking_turns alone runs energy and model side by side): the default, model.
    Benchmark(
        "bench_speaking_turns",
        ["--speed", "1.0", "--turn-detector", "model"],
        ["--speed", "4.0", "--turn-detector", "model"],
        parse_turns,
        480,
    ),
    Benchmark("bench_turn_taking", [], [], parse_turn_taking, 420),
    Benchmark("bench_cold_start", ["--runs", "3"], ["--runs", "1"], parse_cold_start, 420),
]


def machine() -> str:
    """Cores, CPU model and load average of this machine."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name") or line.startswith("Model"):
                model = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{cores} cores, {model}, Python {platform.python_version()}, load average {load}"


def run(benchmark: Benchmark, quick: bool) -> tuple[list[Row], float]:
    """Run one benchmark, stream its output, return its rows and the seconds it took."""
    args = benchmark.quick_args if quick else benchmark.args
    print(f"\n=== {benchmark.name} {' '.join(args)}", flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    lines: list[str] = []
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / f"{benchmark.name}.py"), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = started + benchmark.timeout
    timed_out = False
    for line in process.stdout:
        lines.append(line)
        print("  " + line.rstrip()[:400], flush=True)
        if time.perf_counter() > deadline:
            timed_out = True
            process.kill()
            break
    try:
        process.wait(timeout=max(1.0, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        timed_out = True
        process.kill()
        process.wait()
    elapsed = time.perf_counter() - started
    rows = benchmark.parse("".join(lines))
    if timed_out or process.returncode not in (0, 1):
        why = "timed out" if timed_out else f"exit {process.returncode}"
        rows.append(Row(f"{benchmark.name} run", why, f"< {benchmark.timeout:.0f} s", "miss"))
    return rows, elapsed


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    head = Row("figure", "value", "budget (DESIGN.md)", "verdict")
    widths = [max(len(getattr(r, f)) for r in [head, *rows]) for f in ("figure", "value", "budget", "verdict")]
    lines = []
    for i, row in enumerate([head, *rows]):
        cells = [row.figure, row.value, row.budget, row.verdict]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table; exit 0 whatever the verdicts (a benchmark reports, it does not gate)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke run of the whole set)")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only.split(",")]
    before = machine()
    started = time.perf_counter()
    rows: list[Row] = []
    durations = []
    for benchmark in chosen:
        got, elapsed = run(benchmark, args.quick)
        rows.extend(got)
        durations.append(f"{benchmark.name} {elapsed:.0f} s")
    total = time.perf_counter() - started
    print("\n" + "=" * 100)
    print(f"machine (before): {before}")
    print(f"machine (after):  {machine()}")
    print(f"total {total:.0f} s: " + ", ".join(durations))
    print()
    print(table(rows))
    missed = sum(1 for r in rows if r.verdict == "miss")
    print(f"\n{len(rows)} figures, {sum(1 for r in rows if r.verdict == 'pass')} pass, {missed} miss")
    return 0


if __name__ == "__main__":
    sys.exit(main())
