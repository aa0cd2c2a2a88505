"""``eomctl prognose``: SOH / RUL / cycle-life prediction, entropy features against Severson's."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.analytics.prognostics import format_scores, prognose
from eomctl.core.io import write_json
from eomctl.plotting.analytics import plot_prognostics


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eomctl prognose`` (heavy imports stay inside the handler)."""
    p = subparsers.add_parser("prognose", help="SOH / RUL / cycle-life prediction: entropy features vs Severson")
    p.add_argument("--fleet", choices=["quick", "full"], default=None, help="simulate and evaluate a fleet")
    p.add_argument("--real", action="store_true", help="evaluate on the real ml-eis 44-cell set and ORNL HPPC")
    p.add_argument("--cache", default=None, help="data cache (default $EOMCTL_DATA or ~/.cache/eomctl/data)")
    p.add_argument("--checkpoint", default=None, help="JSON checkpoint of finished fleet cells (resumable)")
    p.add_argument("--executor", default="local", choices=["local", "ray", "serial"])
    p.add_argument("--workers", type=int, default=None, help="parallel fleet workers (default: all CPUs)")
    p.add_argument("--out", default="prognostics.json", help="JSON report to write")
    p.add_argument("--plot", default=None, help="figure to write (e.g. prognostics.png)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl prognose``: run the fleet and/or real-data evaluation, write and print it."""
    report = prognose(args.fleet, args.real, args.cache, args.checkpoint, args.executor, args.workers)
    write_json(args.out, report)
    if args.plot:
        plot_prognostics(report, args.plot)
    print(format_scores(report))
    print(f"-> {args.out}" + (f", {args.plot}" if args.plot else ""))
    return 0
