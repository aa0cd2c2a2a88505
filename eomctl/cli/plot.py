"""``eomctl plot``: figures from result files (``eomctl plot lifetime``)."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.plotting.lifetime import plot_lifetime


def add_parser(subparsers: Any) -> None:
    """Register ``eomctl plot`` and its kinds (``eomctl plot lifetime a.csv b.csv -o lifetime.png``)."""
    kinds = subparsers.add_parser("plot", help="draw figures from result files")
    p = kinds.add_subparsers(dest="plot_kind", required=True).add_parser(
        "lifetime", help="SOH, resistance and entropy per cycle of lifetime CSVs"
    )
    p.add_argument("csv", nargs="+", help="CSV files written by eomctl lifetime")
    p.add_argument("-o", "--out", default="lifetime.png", help="image file to write")
    p.add_argument("--eol", type=float, default=0.8, help="SOH marked as end of life")
    p.set_defaults(func=_lifetime)


def _lifetime(args: argparse.Namespace) -> int:
    print(plot_lifetime(args.csv, args.out, eol_soh=args.eol))
    return 0
