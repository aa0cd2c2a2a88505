"""Roll out an agent, one CSV row per step: ``python scripts/rollout.py --agent runs/<run> --out r.csv``.

The same as ``eomctl rollout``.
"""

from __future__ import annotations

import sys

from eomctl.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["rollout", *sys.argv[1:]]))
