"""Local writing scorer latency: full production path (analysis, model, rules, feedback, annotations) per essay.

Run: ``.venv/bin/python bench/bench_writing_scorer.py [--data ../shared/data/writing/scored_essays_train.csv]
[--limit N]``. Prints p50/p95/max milliseconds per essay against the 1 s budget (p95) of the writing-marks issue,
the one-off cost of loading the model, dictionaries, parser and encoder, and the process's peak memory (budget
1.5 GB). Skips cleanly when the CSV is absent.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

from ieltsprep.scoring import eval as writing_eval
from ieltsprep.scoring.local import LocalWritingScorer

BUDGET_MS = 1000.0
MEMORY_BUDGET_MB = 1536
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "writing" / "scored_essays_train.csv"


def main() -> int:
    """Score every essay once (after a warm-up) and print the latency distribution."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0, help="score only the first N essays (0 = all)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: no essays CSV at {args.data}")
        return 0
    rows = writing_eval.load_rows(args.data)
    if args.limit:
        rows = rows[: args.limit]
    started = time.perf_counter()
    scorer = LocalWritingScorer.load()
    scorer.score(rows[0].module, [rows[0].task])  # loads the dictionary and model
    load_ms = (time.perf_counter() - started) * 1000
    timings = []
    words = []
    for row in rows:
        t0 = time.perf_counter()
        scorer.score(row.module, [row.task])
        timings.append((time.perf_counter() - t0) * 1000)
        words.append(row.task.text.count(" ") + 1)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[max(0, int(0.95 * len(timings)) - 1)]
    worst = timings[-1]
    print(f"local writing scorer: {len(timings)} essays, median {statistics.median(words):.0f} words")
    print(f"first call (model + dictionary load): {load_ms:.0f} ms")
    print(f"per essay: p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {worst:.1f} ms  (budget {BUDGET_MS:.0f} ms)")
    over = sum(1 for t in timings if t > BUDGET_MS)
    print(f"over budget: {over} of {len(timings)}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak_mb:.0f} MB (budget {MEMORY_BUDGET_MB} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
