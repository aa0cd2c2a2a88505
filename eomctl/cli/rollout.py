"""``eomctl rollout``: roll out an agent or a baseline, one CSV row per step (and an optional trace plot)."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.evaluation.rollout import by_episode, rollout
from eomctl.plotting.traces import plot_traces


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``eomctl rollout`` to an ``add_subparsers()`` object (handler: ``args.func``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser("rollout", help="roll out an agent, one CSV row per step")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``eomctl rollout`` (shared with ``scripts/rollout.py``)."""
    parser.add_argument("--agent", required=True, help="run folder, model .zip or baseline spec (cccv:rate=1C,...)")
    parser.add_argument("--env", default=None, help="env id (default: the run's env, else eomctl/FastCharge-v0)")
    parser.add_argument("--episodes", type=int, default=1, help="episodes (seeds seed, seed + 1, ...)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    parser.add_argument("--out", default="rollout.csv", help="CSV to write")
    parser.add_argument("--plot", default=None, help="PNG of the traces (optional)")
    parser.add_argument("--best", action="store_true", help="a run folder's best evaluated model, not its final one")
    parser.add_argument("--no-compile", action="store_true", help="skip JIT compilation (faster start, slower steps)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl rollout``."""
    overrides = {"simulator": {"compile": False}} if args.no_compile else None
    rows = rollout(args.agent, args.env, args.episodes, args.seed, args.out, overrides, best=args.best)
    if args.plot:
        plot_traces(by_episode(rows), args.plot, f"{args.agent} on {args.env or 'its env'}")
    print(f"{len(rows)} rows -> {args.out}" + (f", {args.plot}" if args.plot else ""))
    return 0
