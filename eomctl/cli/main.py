"""The ``eomctl`` command line: one sub-command per module of this package, each a thin layer over the library.

Every command module has ``add_parser(subparsers)`` (which sets ``func``, its handler) and is listed in
:data:`COMMANDS` in the order ``eomctl --help`` shows them. This package is the only place that parses arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eomctl.cli import (
    analyze,
    bound,
    bridge,
    cells,
    compare_life,
    data,
    evaluate,
    lifetime,
    pareto,
    plot,
    prognose,
    reproduce,
    rollout,
    simulate,
    train,
)
from eomctl.core.errors import EXIT_INTERRUPTED, EomctlError

COMMANDS = (cells, simulate, train, rollout, evaluate, bound, pareto, reproduce, lifetime, compare_life, data,
            prognose, plot, analyze, bridge)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``eomctl`` (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(prog="eomctl", description="Entropy-aware charging control of lithium-ion cells.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eomctl`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EomctlError as exc:
        print(f"eomctl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as stop:
        # Commands that checkpoint say in their own message what was kept and how to continue.
        print(f"eomctl: {stop or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
