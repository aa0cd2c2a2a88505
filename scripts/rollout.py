"""Roll out an agent and write one CSV row per step: ``python scripts/rollout.py --agent runs/<run> --out r.csv``."""

from __future__ import annotations

import argparse
import sys

from eomctl.errors import EomctlError
from eomctl.rollout import add_rollout_arguments


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_rollout_arguments(parser)
    args = parser.parse_args()
    try:
        return int(args.func(args))
    except EomctlError as exc:
        print(f"rollout: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
