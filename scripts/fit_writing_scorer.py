"""Fit the local writing scorer on both scored-essay files and write its parameters into the package.

Usage: python scripts/fit_writing_scorer.py [--data FIRST.csv] [--second SECOND.csv]
The CSVs are read at run time and never copied: only model weights, feature means/scales, the off-topic threshold,
the band-range half-widths and one-way prompt fingerprints (so eval knows which prompts the fit has seen) are written.

The band range is measured across sources: the model is fitted on one file and scored on the other, both ways, and
the narrowest half-widths (in half bands) that hold at least 80 % of the human bands in each direction are kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from ieltsprep.scoring import encoder, local
from ieltsprep.scoring import eval as writing_eval
from ieltsprep.scoring.features import coverage_of, essay_content

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "writing"
OUTPUT = REPO / "src" / "ieltsprep" / "scoring" / local.MODEL_RESOURCE
COVERAGE = 0.8
HALF_WIDTHS = [w / 2 for w in range(1, 7)]


def band_range(directions: list[tuple[list[float], list[float]]]) -> tuple[float, float]:
    """The narrowest (below, above) that holds COVERAGE of human bands in every (predicted, gold) direction."""
    best: tuple[float, float] = (HALF_WIDTHS[-1], HALF_WIDTHS[-1])
    for below, above in itertools.product(HALF_WIDTHS, HALF_WIDTHS):
        ranges = [[local.range_around(p, (below, above)) for p in predicted] for predicted, _ in directions]
        ok = all(
            np.mean([low <= g <= high for (low, high), g in zip(r, gold, strict=True)]) >= COVERAGE
            for r, (_, gold) in zip(ranges, directions, strict=True)
        )
        if ok and below + above < sum(best):
            best = (below, above)
    return best


def main() -> int:
    """Measure across sources, fit on both, report the off-topic contrast, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA / "scored_essays_train.csv")
    parser.add_argument("--second", type=Path, default=DATA / "scored_essays_second_source.csv")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    for path in (args.data, args.second):
        if not path.is_file():
            print(f"no data at {path}", file=sys.stderr)
            return 2
    first_rows, second_rows = writing_eval.load_rows(args.data), writing_eval.load_rows(args.second)
    first, second = writing_eval.prepare(first_rows), writing_eval.prepare(second_rows)
    directions = []
    for fit, data, name in ((first, second, "first -> second"), (second, first, "second -> first")):
        predicted, _ = writing_eval.cross_source(fit, data, (1.0, 1.0))
        gold = [r.band for r in data.rows]
        figures = writing_eval.metrics(gold, predicted)
        print(f"{name}: {figures}")
        directions.append((predicted, gold))
    below, above = band_range(directions)
    print(f"band range: -{below} / +{above} (at least {COVERAGE:.0%} of human bands inside, both directions)")

    rows = first_rows + second_rows
    joined = writing_eval.joined(first, second)
    own = [a.prompt_coverage for a in joined.analyses]
    prompts = {t: sorted({r.task.prompt for r in rows if r.task.task == t}) for t in (1, 2)}
    other = []
    for row, analysis in zip(rows, joined.analyses, strict=True):
        choices = prompts[row.task.task]
        shifted = choices[(choices.index(row.task.prompt) + len(choices) // 2) % len(choices)]
        other.append(coverage_of(shifted, essay_content(analysis)))
    thresholds = local.fit_off_topic(own, other)
    caught = float(np.mean([c <= thresholds.off_topic for c in other]))
    false_alarm = float(np.mean([c <= thresholds.off_topic for c in own]))
    print(f"off-topic threshold {thresholds.off_topic}: flags {caught:.1%} of mismatched, {false_alarm:.1%} of own")
    training = {
        "rows": len(rows),
        "sources": [args.data.name, args.second.name],
        "prompts": len({r.task.prompt for r in rows}),
        "prompt_fingerprints": sorted({local.prompt_fingerprint(r.task.prompt) for r in rows}),
        "off_topic_mismatched_flagged": round(caught, 4),
        "off_topic_own_flagged": round(false_alarm, 4),
        "labels": "overall bands only (no criterion labels in the data)",
        "encoder": f"{encoder.MODEL_DISTRIBUTION} layer {encoder.LAYERS}, paragraph-weighted",
        "cross_source": [writing_eval.metrics(g, p) for p, g in directions],
    }
    sources = [0] * len(first_rows) + [1] * len(second_rows)
    model = writing_eval.fit_on(joined, range(len(rows)), training, thresholds, sources=sources)
    model = dataclasses.replace(model, band_range=(below, above))
    args.output.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")
    shown = args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output
    print(f"wrote {shown} ({model.version}); severity offsets {model.training.get('source_severity_offsets')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
