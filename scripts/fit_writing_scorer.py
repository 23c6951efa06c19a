"""Fit the local writing scorer on the scored-essays CSV and write its parameters into the package.

Usage: python scripts/fit_writing_scorer.py [--data ../shared/data/writing/scored_essays_train.csv]
The CSV is read at run time and never copied: only model weights, feature means/scales, the off-topic threshold and
one-way prompt fingerprints (so eval knows which prompts the fit has seen) are written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ieltsprep.scoring import encoder, local
from ieltsprep.scoring import eval as writing_eval
from ieltsprep.scoring.features import analyse

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "writing" / "scored_essays_train.csv"
OUTPUT = REPO / "src" / "ieltsprep" / "scoring" / local.MODEL_RESOURCE


def main() -> int:
    """Fit on every row, report the off-topic contrast, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    rows = writing_eval.load_rows(args.data)
    prepared = writing_eval.prepare(rows)
    own = [a.prompt_coverage for a in prepared.analyses]
    # Contrast: each essay against a prompt of the same task type written for something else.
    prompts = {t: sorted({r.task.prompt for r in rows if r.task.task == t}) for t in (1, 2)}
    other = []
    for row in rows:
        choices = prompts[row.task.task]
        shifted = choices[(choices.index(row.task.prompt) + len(choices) // 2) % len(choices)]
        swapped = type(row.task)(row.task.task, shifted, row.task.text, row.task.min_words, row.task.kind)
        other.append(analyse(swapped).prompt_coverage)
    thresholds = local.fit_off_topic(own, other)
    caught = float(np.mean([c <= thresholds.off_topic for c in other]))
    false_alarm = float(np.mean([c <= thresholds.off_topic for c in own]))
    print(f"off-topic threshold {thresholds.off_topic}: flags {caught:.1%} of mismatched, {false_alarm:.1%} of own")
    training = {
        "rows": len(rows),
        "prompts": len({r.task.prompt for r in rows}),
        "prompt_fingerprints": sorted({local.prompt_fingerprint(r.task.prompt) for r in rows}),
        "off_topic_mismatched_flagged": round(caught, 4),
        "off_topic_own_flagged": round(false_alarm, 4),
        "labels": "overall bands only (no criterion labels in the data)",
        "encoder": f"{encoder.MODEL_DISTRIBUTION} layer {encoder.LAYERS}",
    }
    model = writing_eval.fit_on(prepared, range(len(rows)), training, thresholds)
    args.output.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")
    print(
        f"wrote {args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output} ({model.version})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
