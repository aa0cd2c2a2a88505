"""``eomctl cells``: the cell catalogue."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.cell.catalogue import catalogue, format_catalogue


def add_parser(subparsers: Any) -> None:
    """Register ``eomctl cells``."""
    subparsers.add_parser("cells", help="list the cell catalogue").set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the catalogue: built-in cells first, then PyBaMM's lithium-ion parameter sets."""
    print(format_catalogue(catalogue()))
    return 0
