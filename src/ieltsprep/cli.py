"""The ``ieltsprep`` command line: serve, eval writing, credits grant, questions load, speak.

Each sub-command lives in its own module and registers itself through ``add_parser``; this file only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Sub-command modules, each with ``add_parser(subparsers)`` setting ``func`` on its parser.
COMMANDS: tuple[str, ...] = (
    "ieltsprep.edges.gateway.cli",
    "ieltsprep.assessments.cli",
    "ieltsprep.scoring.cli",
    "ieltsprep.billing.cli",
    "ieltsprep.speaking.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(prog="ieltsprep", description="IELTS GenAI Prep platform.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_parser(subparsers)
    return parser


def apply_data_dir(data_dir: str | None) -> None:
    """Make ``--data-dir`` equivalent to ``IELTSPREP_DATA_DIR`` for everything the command builds."""
    if data_dir:
        os.environ["IELTSPREP_DATA_DIR"] = data_dir
        from ieltsprep.container import get_container
        from ieltsprep.settings import get_settings

        get_settings.cache_clear()
        get_container.cache_clear()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; returns the process exit code."""
    args = build_parser().parse_args(argv)
    apply_data_dir(getattr(args, "data_dir", None))
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
