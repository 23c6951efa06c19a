"""``python -m bench`` (``make bench``): every benchmark of bench/ and one table of figures against DESIGN.md."""

import sys

from bench.run_all import main

sys.exit(main())
