"""Train an RL charging agent: ``python scripts/train_agent.py --algo ppo`` (the same as ``eomctl train``)."""

from __future__ import annotations

import sys

from eomctl.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
