"""``eomctl bound``: the optimal-control entropy bound of a scenario at a charge-time budget."""

from __future__ import annotations

import argparse
from typing import Any

from eomctl.core.io import write_json
from eomctl.evaluation.optimal import CONTROLS, DEFAULT_BASIS, DEFAULT_MAX_WALL_TIME_S, OBJECTIVES, optimal_charge


def add_parser(subparsers: Any) -> None:
    """Register ``eomctl bound``: the optimal-control entropy bound of a scenario at a charge-time budget.

    Example: ``eomctl bound --env eomctl/FastCharge-v0 --budget-s 2400 --objective entropy --out bound.json``.
    """
    parser = subparsers.add_parser("bound", help="entropy-optimal charge within a time budget (a lower bound)")
    parser.add_argument("--env", default="FastCharge", help="scenario name, Gymnasium id or YAML file")
    parser.add_argument("--budget-s", type=float, required=True, help="charge-time budget [s]")
    parser.add_argument(
        "--intervals",
        type=int,
        default=None,
        help="with --controls currents: piecewise-constant current steps (default: budget / the env's step)",
    )
    parser.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default=None,
        help="what to minimise (default: weighted with --degradation-weight, else entropy)",
    )
    parser.add_argument(
        "--degradation-weight",
        type=float,
        default=0.0,
        help="weight of the irreversible lithium loss [J/K per %%] in the weighted objective",
    )
    parser.add_argument(
        "--controls",
        choices=CONTROLS,
        default="requests",
        help="requests: current requests on the env's steps through its limit controller (every charge the env can "
        "run is feasible; the default); currents: piecewise-constant currents with limit check points",
    )
    parser.add_argument("--basis", type=int, default=DEFAULT_BASIS, help="free directions of the current profile")
    parser.add_argument("--max-wall-s", type=float, default=DEFAULT_MAX_WALL_TIME_S, help="solve time cap [s]")
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
        objective=args.objective,
        n_basis=args.basis,
        max_wall_time_s=args.max_wall_s,
        controls=args.controls,
    )
    write_json(args.out, result.to_dict())
    gap_pct = 100.0 * (1.0 - result.replay["entropy_j_per_k"] / result.cccv_entropy_j_per_k)
    fine, replay = result.fine_replay, result.replay
    print(
        f"{result.status}{'' if result.converged else ' (NOT a bound: not converged)'}: Sigma "
        f"{replay['entropy_j_per_k']:.4f} J/K in {result.time_budget_s:.0f} s on {result.n_intervals} steps "
        f"(matched CC-CV {result.cccv_entropy_j_per_k:.4f} J/K, {gap_pct:.2f} % lower); solved in "
        f"{result.solve_time_s:.1f} s, {result.iterations} iterations -> {args.out}\n"
        f"  LLI {replay.get('lli_pct', float('nan')):.4f} % at the end, irreversible "
        f"{replay.get('irreversible_lli_pct', float('nan')):.4f} %; on a replay at 1/10 step: peak "
        f"{fine['peak_temperature_k'] - 273.15:.2f} C, min anode potential "
        f"{1e3 * fine['min_anode_potential_v']:.2f} mV, "
        f"limits passed by {fine['voltage_excess_mv']:.3f} mV / {fine['temperature_excess_k']:.3f} K / "
        f"{fine['anode_excess_mv']:.3f} mV (voltage / temperature / anode)"
    )
    return 0 if result.converged else 3
