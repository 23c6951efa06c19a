"""``ieltsprep eval writing --data FILE.csv [--engine local|bedrock] [--json] [--cv K]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ieltsprep.errors import AppError


def add_parser(subparsers: Any) -> None:
    """Register ``eval writing``."""
    parser = subparsers.add_parser("eval", help="measure a scoring engine against human bands")
    kinds = parser.add_subparsers(dest="eval_kind", required=True)
    writing = kinds.add_parser("writing", help="agreement of a writing engine with a scored-essays CSV")
    writing.add_argument("--data", type=Path, required=True, help="CSV with task_type, prompt, essay, band")
    writing.add_argument(
        "--fit",
        type=Path,
        default=None,
        help="local engine: refit on this CSV (another source) and score --data with it; with --cv, add its rows to "
        "every training fold",
    )
    writing.add_argument("--engine", choices=("local", "bedrock"), default="local")
    writing.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    writing.add_argument(
        "--cv",
        type=int,
        default=None,
        help="local engine: grouped-by-prompt folds to refit (default: 5 when the CSV shares prompts with the "
        "shipped fit, else 0 = score with the shipped model)",
    )
    writing.set_defaults(func=run_eval_writing)


def run_eval_writing(args: argparse.Namespace) -> int:
    """Print the agreement figures; exit 2 on bad input."""
    from ieltsprep.scoring import eval as writing_eval

    try:
        if args.cv is not None and (args.cv == 1 or args.cv < 0):
            raise AppError("--cv must be 0 or at least 2")
        if args.fit is not None and args.engine != "local":
            raise AppError("--fit refits the local engine; it cannot be used with --engine bedrock")
        rows = writing_eval.load_rows(args.data)
        fit_rows = writing_eval.load_rows(args.fit) if args.fit is not None else None
        report = writing_eval.evaluate(
            rows, engine=args.engine, folds=args.cv, fit_rows=fit_rows, scorer_factory=lambda: _scorer(args.engine)
        )
    except AppError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"engine: {report['engine']} ({report['mode']})")
    print(f"n: {report['n']}")
    print(
        f"MAE: {report['mae']:.3f}   QWK: {report['qwk']:.3f}   within 0.5: {report['within_half']:.1%}   "
        f"SMD: {report['smd']:+.3f}"
    )
    print(
        f"constant-median baseline  MAE: {report['baseline_mae']:.3f}   QWK: {report['baseline_qwk']:.3f}   "
        f"within 0.5: {report['baseline_within_half']:.1%}"
    )
    if report["band_range_coverage"] is not None:
        print(f"band range: {report['band_range_coverage']:.1%} of human bands inside")
    if args.json:
        keys = ("n", "mae", "qwk", "within_half", "smd", "baseline_mae", "baseline_qwk")
        print(json.dumps({k: report[k] for k in keys}))
    return 0


def _scorer(engine: str) -> Any:
    from ieltsprep.scoring.factory import build_writing_scorer
    from ieltsprep.settings import get_settings

    settings = get_settings().model_copy(update={"writing_engine": engine})
    return build_writing_scorer(settings)
