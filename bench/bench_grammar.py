"""Grammar checker latency: scoring.grammar.find_errors per essay, and the one-off cost of loading spaCy's pipeline.

Run: ``.venv/bin/python bench/bench_grammar.py [--data ../shared/data/writing/scored_essays_train.csv]
[--limit N] [--planted N]``. Prints p50/p95/max milliseconds per essay (budget: 300 ms for a 350-word essay), the
same per 350 words, the errors found per 100 words, and the process's peak memory. Then plants up to eight errors,
one at a time, in each of N essays marked 7.5 or above (a verb's -s dropped or 'is' made 'are' after a singular
subject; a modal or 'to' given an inflected verb; 'a' and 'an' swapped) and prints the share found on the planted
words with the planted type: the kind of damage a validity check of the grammar band plants. Skips cleanly when the
CSV is absent.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from lemminflect import getInflection

from ieltsprep.scoring import eval as writing_eval
from ieltsprep.scoring.grammar import find_errors, nlp

BUDGET_MS = 300.0
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "writing" / "scored_essays_train.csv"


def percentile(sorted_values: list[float], share: float) -> float:
    """The value below which ``share`` of the sorted values fall."""
    return sorted_values[max(0, int(share * len(sorted_values)) - 1)]


def plants(text: str) -> list[tuple[str, int, int, str]]:
    """Places to damage ``text``: (type, start, end, replacement)."""
    doc = nlp()(text)
    found = []
    for tok in doc:
        prev = doc[tok.i - 1] if tok.i else None
        subject = [c for c in tok.children if c.dep_ == "nsubj"]
        if tok.tag_ == "VBZ" and tok.lemma_ not in {"be", "have"} and subject:
            found.append(("agreement", tok.idx, tok.idx + len(tok.text), tok.lemma_))
        elif tok.lower_ == "is" and any(c.tag_ == "NN" for c in subject):
            found.append(("agreement", tok.idx, tok.idx + 2, "are"))
        elif tok.tag_ == "VB" and prev is not None and prev.tag_ in {"MD", "TO"}:
            form = getInflection(tok.lemma_, "VBZ" if prev.tag_ == "MD" else "VBD")
            if form and form[0] != tok.text:
                found.append(("verb_form", tok.idx, tok.idx + len(tok.text), form[0]))
        elif tok.lower_ in {"a", "an"} and tok.i + 1 < len(doc) and doc[tok.i + 1].is_alpha:
            found.append(("article", tok.idx, tok.idx + len(tok.text), "an" if tok.lower_ == "a" else "a"))
    return found


def planted_recall(texts: list[str]) -> dict[str, tuple[int, int]]:
    """Per type, (planted errors found, planted errors), planting one error at a time, eight per essay at most."""
    rng = random.Random(1)
    counts: dict[str, list[int]] = {}
    for text in texts:
        places = plants(text)
        rng.shuffle(places)
        for kind, start, end, replacement in places[:8]:
            damaged = text[:start] + replacement + text[end:]
            hit = any(e.type == kind and e.start <= start < e.end for e in find_errors(damaged))
            tally = counts.setdefault(kind, [0, 0])
            tally[0] += hit
            tally[1] += 1
    return {kind: (found, total) for kind, (found, total) in sorted(counts.items())}


def main() -> int:
    """Check every essay once (after loading the pipeline) and print the latency distribution."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=300, help="check only the first N essays (0 = all)")
    parser.add_argument("--planted", type=int, default=40, help="essays (band 7.5+) to plant errors in (0 = none)")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: no essays CSV at {args.data}")
        return 0
    rows = writing_eval.load_rows(args.data)
    strong = [row.task.text for row in rows if row.band >= 7.5][: args.planted]
    if args.limit:
        rows = rows[: args.limit]
    started = time.perf_counter()
    nlp()
    find_errors("The diagram illustrate the process.")
    load_ms = (time.perf_counter() - started) * 1000
    timings, per_350, words, kinds = [], [], [], Counter[str]()
    for row in rows:
        text = row.task.text
        t0 = time.perf_counter()
        errors = find_errors(text)
        ms = (time.perf_counter() - t0) * 1000
        n = len(text.split())
        timings.append(ms)
        per_350.append(ms * 350 / max(n, 1))
        words.append(n)
        kinds.update(e.type for e in errors)
    timings.sort()
    per_350.sort()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"grammar find_errors: {len(timings)} essays, median {statistics.median(words):.0f} words")
    print(f"first call (pipeline load): {load_ms:.0f} ms")
    print(
        f"per essay: p50 {statistics.median(timings):.1f} ms  p95 {percentile(timings, 0.95):.1f} ms  "
        f"max {timings[-1]:.1f} ms"
    )
    print(
        f"per 350 words: p50 {statistics.median(per_350):.1f} ms  p95 {percentile(per_350, 0.95):.1f} ms  "
        f"(budget {BUDGET_MS:.0f} ms)"
    )
    total = sum(words)
    print("found per 100 words: " + ", ".join(f"{k} {100 * v / total:.2f}" for k, v in sorted(kinds.items())))
    print(f"peak memory: {peak_mb:.0f} MB")
    if strong:
        found = planted_recall(strong)
        shares = ", ".join(f"{kind} {hit}/{total} ({hit / total:.0%})" for kind, (hit, total) in found.items())
        print(f"planted errors found in {len(strong)} essays of band 7.5+: {shares}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
