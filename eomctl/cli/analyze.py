"""``eomctl analyze``: the EOM metrics (Sigma, lambda, kappa), energy-entropy balance and phase portrait of a record."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from eomctl.analytics.eom import analyze_csv
from eomctl.plotting.analytics import plot_phase_portrait


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl analyze``: metrics CSV, optional balance JSON and phase portrait."""
    summary = analyze_csv(args.csv, args.out, args.balance, portrait=bool(args.plot))
    if args.plot:
        plot_phase_portrait(summary["portrait"], args.plot, title=Path(args.csv).name)
    extra = [p for p in (args.balance, args.plot) if p]
    residual = summary.get("max_abs_residual_rel")
    note = f"; balance closes to {100 * residual:.3f} %" if residual is not None else ""
    print(f"{summary['kind']} metrics, {summary['rows']} rows -> {', '.join([args.out, *extra])}{note}")
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``eomctl analyze`` to the command line's sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "analyze", help="EOM metrics (lambda, kappa, life exponent) and energy-entropy balance of a CSV"
    )
    parser.add_argument("csv", help="a CSV written by eomctl rollout, simulate or lifetime")
    parser.add_argument("--out", default="metrics.csv", help="metrics CSV to write")
    parser.add_argument("--balance", help="JSON to write the energy-entropy balance of each charge to")
    parser.add_argument("--plot", help="phase-portrait figure (lambda~, kappa~, Sigma) of the first charge")
    parser.set_defaults(func=run)
