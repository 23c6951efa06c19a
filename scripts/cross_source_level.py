"""How much of the cross-source error is the other site's marking level, and how much is ranking.

Usage: python scripts/cross_source_level.py [--fit FIRST.csv] [--data SECOND.csv]

Fits the local model on ``--fit`` through the production path (``eval.cross_source``, as ``ieltsprep eval writing
--fit`` does) and scores ``--data``. Besides the figures as they are, it prints what they would be if the scorer
knew the other site's level: the predictions moved by the difference of the means, and mapped by the least-squares
line onto the human bands (both use the ``--data`` bands, so they are bounds, never a fit to ship), and the mean
prediction at each human band. If even the moved predictions miss a target, no change of level alone can meet it.
The CSVs are read at run time and never copied.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ieltsprep.scoring import eval as writing_eval

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "writing"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", type=Path, default=SHARED / "scored_essays_train.csv")
    parser.add_argument("--data", type=Path, default=SHARED / "scored_essays_second_source.csv")
    args = parser.parse_args()
    fit = writing_eval.prepare(writing_eval.load_rows(args.fit))
    data = writing_eval.prepare(writing_eval.load_rows(args.data))
    predicted, _ = writing_eval.cross_source(fit, data)
    human = [r.band for r in data.rows]
    gold = np.array(human)
    p = np.array(predicted)
    shift = float(p.mean() - gold.mean())
    slope, intercept = np.polyfit(p, gold, 1)
    print(f"fitted on {args.fit.name}, scored on {args.data.name} ({len(gold)} rows)")
    print(f"  as the scorer marks:          {writing_eval.metrics(human, predicted)}")
    print(
        f"  mean prediction {p.mean():.2f}, mean human band {gold.mean():.2f}, correlation {np.corrcoef(gold, p)[0, 1]:.3f}"
    )
    print(
        f"  moved by the mean difference ({shift:+.2f}): {writing_eval.metrics(human, (np.round((p - shift) * 2) / 2).tolist())}"
    )
    line = np.round((slope * p + intercept) * 2) / 2
    print(f"  mapped by the best line ({slope:.2f} x + {intercept:.2f}): {writing_eval.metrics(human, line.tolist())}")
    print(
        "  mean prediction by human band: "
        + ", ".join(
            f"{band:g}: {p[gold == band].mean():.2f} (n {int((gold == band).sum())})" for band in sorted(set(gold))
        )
    )


if __name__ == "__main__":
    main()
