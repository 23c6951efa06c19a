"""``make bench`` reads each benchmark's own output: pin the lines it reads, so a changed format shows as n/a here
first, not as a silently missing figure in the table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.run_all import (
    Row,
    parse_assessments,
    parse_gateway,
    parse_http,
    parse_load,
    parse_turns,
    parse_writing,
    table,
)

HTTP = """HTTP handler init (import lambda_handler + first GET /api/health), 5 processes:
  CPU time median 237 ms (less sensitive to other load on the machine)
  median 269 ms, min 232 ms, max 412 ms  [budget 300 ms: OK]
In-process latency on SQLite (resolver only):
  POST /api/auth/login (wrong password)      n=  50  p50 26.93 ms  p99 44.33 ms  [budget p99 10 ms: argon2id by design]
  GET /api/me                                n= 500  p50   0.41 ms  p99  14.48 ms  [budget p99 10 ms: OVER]
"""


def test_http_rows_give_init_against_300_ms_and_authenticated_routes_against_10_ms() -> None:
    rows = {r.figure: r for r in parse_http(HTTP)}
    assert rows["HTTP handler init (median)"] == Row("HTTP handler init (median)", "269 ms", "< 300 ms", "pass")
    assert rows["HTTP handler init CPU time (median)"].verdict == "pass"
    assert rows["in-process p99 POST /api/auth/login (wrong password)"].verdict == "info"
    assert (
        rows["in-process p99 GET /api/me"].value == "14.48 ms" and rows["in-process p99 GET /api/me"].verdict == "miss"
    )


def test_assessment_rows_take_the_budget_each_line_states() -> None:
    out = """  GET /api/assessments (8)         n= 200  p50   7.98 ms  p99   9.94 ms  [DESIGN p99 budget 10 ms: OK]
  GET /api/assessments (208)       n=  20  p50 152.55 ms  p99 348.15 ms  [no budget; for scale]
"""
    rows = parse_assessments(out)
    assert [(r.figure, r.budget, r.verdict) for r in rows] == [
        ("in-process p99 GET /api/assessments (8)", "< 10 ms", "pass"),
        ("in-process p99 GET /api/assessments (208)", "-", "info"),
    ]


def test_loopback_throughput_is_held_against_500_requests_per_second() -> None:
    out = "GET /api/me over loopback: 612 req/s (6120 ok, 0 failed in 10.0 s, 16 in flight)\n"
    assert parse_gateway(out)[0].verdict == "pass"
    assert parse_gateway(out.replace("612", "152"))[0].verdict == "miss"
    assert parse_gateway("crashed\n")[0].verdict == "n/a"


def test_load_rows_fail_on_a_lost_write_an_imbalance_or_a_websocket_not_held() -> None:
    report = {"users": 10, "requests": 100, "throughput_rps": 5.0, "p50_ms": 1, "p95_ms": 2, "p99_ms": 3, "errors": 0,
              "acknowledged": {"accounts": 10, "purchases": 10}, "lost_writes": [], "ledger_imbalances": [],
              "ledger_users": 10, "websockets_held": {"requested": 5, "held_and_answering": 5, "connect_seconds": 1}}  # fmt: skip
    assert {r.verdict for r in parse_load("noise\n" + json.dumps(report))} == {"info", "pass"}
    report.update(lost_writes=["x"], ledger_imbalances=["y"], websockets_held={**report["websockets_held"],  # type: ignore[dict-item]
                  "held_and_answering": 4})  # fmt: skip
    verdicts = {r.figure: r.verdict for r in parse_load(json.dumps(report))}
    assert verdicts["load: acknowledged writes lost"] == "miss"
    assert verdicts["load: ledger imbalances"] == "miss"
    assert verdicts["WebSocket sessions held at once"] == "miss"


def test_speech_and_writing_rows_hold_their_budgets_and_a_missing_figure_is_n_a() -> None:
    turns = parse_turns("transcription real-time factor: 0.412 over 53.1 s of answers\n"
                        "end of answer -> first examiner audio: p50 0.812 s, p95 1.300 s, max 1.4 s over 7 turns\n")  # fmt: skip
    assert [r.verdict for r in turns] == ["pass", "pass", "info"]
    assert parse_writing("per essay: p50 14.0 ms  p95 29.0 ms  max 237.0 ms  (budget 200 ms)")[1].verdict == "miss"
    assert parse_writing("skipped: no essays CSV at x")[0].verdict == "n/a"
    assert all(r.verdict == "n/a" for r in parse_turns(""))


def test_the_table_has_one_aligned_line_per_figure_under_a_header() -> None:
    lines = table([Row("a", "1 ms", "< 2 ms", "pass"), Row("longer figure", "3 ms", "-", "info")]).splitlines()
    assert lines[0].split() == ["figure", "value", "budget", "(DESIGN.md)", "verdict"] and set(lines[1]) <= {"-", " "}
    assert lines[2].index("1 ms") == lines[3].index("3 ms")
