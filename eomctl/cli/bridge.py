"""``eomctl bridge``: the entropy-impedance bridge study (pulse resistance against entropy quantities)."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.analytics.bridge import CLAIMED_R, NOTES_R, QUICK_STATES, bridge_study, write_bridge
from eomctl.core.executor import EXECUTORS
from eomctl.plotting.analytics import plot_bridge


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl bridge``: measure the fleet, write the CSV/JSON/figure, print the correlations."""
    study = bridge_study(args.states, args.quick, args.seed, args.executor, args.max_workers, args.checkpoint, True)
    write_bridge(study, args.out, args.json)
    if args.plot:
        plot_bridge(study, args.plot)
    print(f"{study['n_states']} states ({study['n_failed']} failed) in {study['runtime_s']:.0f} s -> {args.out}")
    for c in study["correlations"]:
        if c["x"] == "resistance_ohm":
            print(f"  {c['group']:>8}  R_10s vs {c['y']:<20} r = {c['r']:+.3f}  p = {c['p']:.2g}  (n = {c['n']})")
    print(f"  (research claim: r = {CLAIMED_R}; physics notes: {NOTES_R})")
    return 0


def add_parser(subparsers: Any) -> None:
    """Add ``eomctl bridge`` to the command line's sub-commands."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bridge", help="entropy-impedance bridge: pulse resistance vs entropy quantities over a simulated fleet"
    )
    p.add_argument("--states", type=int, default=32, help="fleet size (both chemistries alternate)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_STATES} states (a fast check)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fleet's draw")
    p.add_argument("--out", default="bridge.csv", help="CSV of the per-state measurements")
    p.add_argument("--json", help="JSON of the correlations (r, p, n per pair and group)")
    p.add_argument("--plot", help="scatter-grid figure")
    p.add_argument("--executor", default="serial", choices=list(EXECUTORS), help="where the states run")
    p.add_argument("--max-workers", type=int, help="worker processes (local) or CPUs (ray)")
    p.add_argument("--checkpoint", help="JSON of finished states (a rerun resumes)")
    p.set_defaults(func=run)
