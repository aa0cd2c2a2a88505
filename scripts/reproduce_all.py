"""Regenerate every result under ``results/``: ``python scripts/reproduce_all.py --all [--quick]``.

The same as ``eomctl reproduce``: key-results and performance tables, figures, ``report.html`` and ``manifest.json``.
"""

from __future__ import annotations

import sys

from eomctl.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["reproduce", *sys.argv[1:]]))
