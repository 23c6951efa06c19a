"""Start the whole platform locally (same as `ieltsprep serve`)."""

from __future__ import annotations

import sys

from ieltsprep.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
