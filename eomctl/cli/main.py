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
    compare,
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
from eomctl.core.io import check_writable

COMMANDS = (cells, simulate, train, rollout, evaluate, compare, bound, pareto, reproduce, lifetime, compare_life, data,
            prognose, plot, analyze, bridge)  # fmt: skip


TRUSTED_INPUT = (
    "Trusted input: a trained model (.zip), its VecNormalize statistics (.pkl) and a Python cell file (.py) run code "
    "when loaded: use only files you trust. YAML, JSON and BPX cell files and policy specs (cccv:rate=2C) are data "
    "only. Exit codes: 0 done, 2 bad input, 3 solver failure, 4 file missing/unreadable/unwritable, 130 interrupted."
)
#: Options whose files may be trusted input (see TRUSTED_INPUT).
CODE_OPTIONS = ("--cell", "--policy", "--agent", "--baseline")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``eomctl`` (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="eomctl", description="Entropy-aware charging control of lithium-ion cells.", epilog=TRUSTED_INPUT
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    for command_parser in sub.choices.values():
        if any(option in command_parser._option_string_actions for option in CODE_OPTIONS):
            command_parser.epilog = TRUSTED_INPUT
    return parser


#: Options that name files a command writes; checked before it starts (``train --out`` and ``reproduce --out``
#: name folders).
OUTPUT_OPTIONS = ("out", "plot", "json", "balance", "checkpoint")
FOLDER_OUTPUTS = {("train", "out"), ("reproduce", "out")}


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path the command will write is writable (:func:`~eomctl.core.io.check_writable`)."""
    for name in OUTPUT_OPTIONS:
        value = getattr(args, name, None)
        if isinstance(value, str) and value:
            check_writable(value, folder=(args.command, name) in FOLDER_OUTPUTS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eomctl`` console script."""
    args = build_parser().parse_args(argv)
    try:
        check_outputs(args)
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
