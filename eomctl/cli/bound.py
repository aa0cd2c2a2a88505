"""``eomctl bound``: the optimal-control entropy bound of a scenario at a charge-time budget."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.core.io import write_json
from eomctl.evaluation.optimal import optimal_charge


def add_parser(subparsers: Any) -> None:
    """Register ``eomctl bound``: the optimal-control entropy bound of a scenario at a charge-time budget.

    Example: ``eomctl bound --env eomctl/FastCharge-v0 --budget-s 2400 --intervals 20 --out bound.json``.
    """
    parser = subparsers.add_parser("bound", help="entropy-optimal charge within a time budget (a lower bound)")
    parser.add_argument("--env", default="FastCharge", help="scenario name, Gymnasium id or YAML file")
    parser.add_argument("--budget-s", type=float, required=True, help="charge-time budget [s]")
    parser.add_argument("--intervals", type=int, default=20, help="piecewise-constant current intervals")
    parser.add_argument("--degradation-weight", type=float, default=0.0, help="weight of LLI [J/K per %%]")
    parser.add_argument("--no-degradation", action="store_true", help="drop the degradation submodels (faster)")
    parser.add_argument("--no-compile", action="store_true", help="skip JIT compilation of the replay simulator")
    parser.add_argument("--out", default="bound.json", help="JSON file to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``eomctl bound``: solve the bound, write its JSON, print the comparison with CC-CV."""
    simulator: dict[str, Any] = {}
    if args.no_degradation:
        simulator["degradation"] = False
    if args.no_compile:
        simulator["compile"] = False
    result = optimal_charge(
        args.env,
        args.budget_s,
        args.intervals,
        degradation_weight=args.degradation_weight,
        overrides={"simulator": simulator} if simulator else None,
    )
    write_json(args.out, result.to_dict())
    gap_pct = 100.0 * (1.0 - result.replay["entropy_j_per_k"] / result.cccv_entropy_j_per_k)
    print(
        f"{result.status}: Sigma {result.replay['entropy_j_per_k']:.4f} J/K in {result.time_budget_s:.0f} s "
        f"(matched CC-CV {result.cccv_entropy_j_per_k:.4f} J/K, {gap_pct:.2f} % lower), solved in "
        f"{result.solve_time_s:.1f} s -> {args.out}"
    )
    return 0 if result.status in ("optimal", "acceptable") else 3
