"""Train an RL charging agent: ``python scripts/train_agent.py --algo ppo`` (same as ``eomctl train``)."""

from __future__ import annotations

import argparse
import sys

from eomctl.errors import EomctlError
from eomctl.train import add_train_arguments


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_train_arguments(parser)
    args = parser.parse_args()
    try:
        return int(args.func(args))
    except EomctlError as exc:
        print(f"train_agent: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
