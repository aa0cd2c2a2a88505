"""``eomctl pareto``: sweep protocol families and the optimal bound; write the Pareto front and the EEZ."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.core.io import write_csv
from eomctl.evaluation.sweep import default_grid, rows_to_columns, sweep
from eomctl.plotting.pareto import plot_pareto


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl pareto``: run the sweep, write the CSV (and figure); exit 3 if a point failed."""
    overrides = {"simulator": {"compile": False}} if args.no_compile else None
    rows = sweep(
        args.env,
        families=args.families,
        episodes=args.episodes,
        seed=args.seed,
        executor=args.executor,
        overrides=overrides,
        include_bound=not args.no_bound,
        checkpoint=args.checkpoint,
        quick=args.quick,
        n_intervals=args.n_intervals,
        max_workers=args.workers,
        ray_address=args.ray_address,
    )
    write_csv(args.out, rows_to_columns(rows))
    if args.plot:
        plot_pareto(rows, args.plot)
    on_front = [r["spec"] for r in rows if r["on_front"]]
    in_eez = sum(bool(r["in_eez"]) for r in rows)
    print(f"{len(rows)} points -> {args.out}: {len(on_front)} on the front, {in_eez} in the EEZ")
    print("front: " + ", ".join(on_front))
    return 3 if any(r.get("error") for r in rows) else 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eomctl pareto`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p = subparsers.add_parser("pareto", help="sweep protocol families and the optimal bound; write the Pareto front")
    p.add_argument("--env", default="eomctl/FastCharge-v0", help="Gymnasium id of the scenario")
    p.add_argument("--out", default="pareto.csv", help="CSV file to write")
    p.add_argument("--plot", default=None, help="figure to write (e.g. pareto.png)")
    p.add_argument("--executor", default="local", choices=["local", "ray", "serial"])
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: a local Ray instance)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: all CPUs)")
    p.add_argument("--families", nargs="+", default=None, help=f"protocol families (default: {sorted(default_grid())})")
    p.add_argument("--episodes", type=int, default=1, help="episodes per protocol")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-intervals", type=int, default=None,
                   help="current steps of the optimal-control bound (default: budget / the env's step)")  # fmt: skip
    p.add_argument("--no-bound", action="store_true", help="skip the optimal-control bound")
    p.add_argument("--checkpoint", default=None, help="JSON file to resume an interrupted sweep from")
    p.add_argument("--quick", action="store_true", help="coarse grid and one bound budget (smoke run)")
    p.add_argument("--no-compile", action="store_true", help="skip JIT compilation (faster start, slower steps)")
    p.set_defaults(func=run)
    return p
