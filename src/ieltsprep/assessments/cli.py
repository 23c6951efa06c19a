"""``ieltsprep questions load``: copy the packaged question banks into the CONTENT table (an operator's step)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ieltsprep.assessments.questionbank import BANKS, ContentError, load_all


def add_parser(subparsers: Any) -> None:
    """Register ``questions load``."""
    questions = subparsers.add_parser("questions", help="manage the question bank")
    actions = questions.add_subparsers(dest="questions_command", required=True)
    load = actions.add_parser("load", help="load the packaged question banks into the store")
    load.add_argument("--bank", action="append", choices=sorted(BANKS), help="only this bank (repeatable)")
    load.add_argument("--data-dir", help="data directory of the local store (same as IELTSPREP_DATA_DIR)")
    load.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    load.set_defaults(func=run_load)


def run_load(args: argparse.Namespace) -> int:
    """Load the banks and report how many items each holds."""
    from ieltsprep.container import get_container

    container = get_container()
    try:
        counts = load_all(container.store, args.bank)
    except ContentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        container.close()
    if args.json:
        print(json.dumps(counts, sort_keys=True))
    else:
        for name, count in counts.items():
            print(f"{name}: {count} items")
    return 0
