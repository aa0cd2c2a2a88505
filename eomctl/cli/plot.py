"""``eomctl plot``: figures from result files (``eomctl plot lifetime``, ``eomctl plot learning``)."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.plotting.learning import plot_learning_curves
from eomctl.plotting.lifetime import plot_lifetime


def add_parser(subparsers: Any) -> None:
    """Register ``eomctl plot`` and its kinds (``eomctl plot lifetime a.csv b.csv -o lifetime.png``)."""
    kinds = subparsers.add_parser("plot", help="draw figures from result files")
    sub = kinds.add_subparsers(dest="plot_kind", required=True)
    learning = sub.add_parser("learning", help="learning curves of training runs (their periodic evaluations)")
    learning.add_argument("runs", nargs="+", help="run folders written by eomctl train")
    learning.add_argument("-o", "--out", default="learning.png", help="image file to write")
    learning.add_argument("--labels", nargs="*", default=[], help="a label per run (default: the folder names)")
    learning.set_defaults(func=_learning)
    p = sub.add_parser("lifetime", help="SOH, resistance and entropy per cycle of lifetime CSVs")
    p.add_argument("csv", nargs="+", help="CSV files written by eomctl lifetime")
    p.add_argument("-o", "--out", default="lifetime.png", help="image file to write")
    p.add_argument("--eol", type=float, default=0.8, help="SOH marked as end of life")
    p.set_defaults(func=_lifetime)


def _lifetime(args: argparse.Namespace) -> int:
    print(plot_lifetime(args.csv, args.out, eol_soh=args.eol))
    return 0


def _learning(args: argparse.Namespace) -> int:
    print(plot_learning_curves(args.runs, args.out, args.labels))
    return 0
