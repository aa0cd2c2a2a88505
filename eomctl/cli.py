"""The ``eomctl`` command line: one sub-command per job, each a thin layer over the package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eomctl.errors import EomctlError


def _cmd_cells(args: argparse.Namespace) -> int:
    from eomctl.cells import catalogue, format_catalogue

    print(format_catalogue(catalogue()))
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from eomctl.cells import load_cell
    from eomctl.experiment import CSV_COLUMNS, run_protocol
    from eomctl.io import write_csv
    from eomctl.simulator import CellSimulator, SimulatorConfig

    if not args.protocol:
        raise EomctlError('give at least one --protocol step, e.g. --protocol "Charge at 1C until 4.2 V"')
    config = SimulatorConfig(
        model=args.model, thermal=args.thermal, degradation=args.degradation, compile=False if args.no_compile else None
    )
    sim = CellSimulator(load_cell(args.cell), config)
    sim.reset(soc=args.soc0, ambient_k=args.ambient_c + 273.15)
    trace = run_protocol(sim, args.protocol, dt_s=args.dt)
    write_csv(args.out, trace.columns(CSV_COLUMNS))
    last = trace.rows[-1]
    print(
        f"{len(trace.rows)} rows -> {args.out}: {last['time_s']:.0f} s, SOC {last['soc']:.3f}, "
        f"V {last['voltage_v']:.4f} V, T {last['temperature_k']:.2f} K, Sigma {last['entropy_j_per_k']:.4f} J/K"
    )
    if trace.solver_failed:
        print("warning: the solver failed; the CSV ends at the last good state", file=sys.stderr)
        return 3
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``eomctl`` (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(prog="eomctl", description="Entropy-aware charging control of lithium-ion cells.")
    sub = parser.add_subparsers(dest="command", required=True)

    cells = sub.add_parser("cells", help="list the cell catalogue")
    cells.set_defaults(func=_cmd_cells)

    sim = sub.add_parser("simulate", help="run a protocol in PyBaMM's step language and write a CSV")
    sim.add_argument("--cell", default="LGM50", help="catalogue name, PyBaMM parameter set, BPX JSON or cell file")
    sim.add_argument("--model", default="SPMe", choices=["SPM", "SPMe", "DFN"])
    sim.add_argument("--thermal", default="lumped", choices=["isothermal", "lumped"])
    sim.add_argument("--degradation", action="store_true", help="add SEI growth and lithium plating")
    sim.add_argument("--soc0", type=float, default=0.1, help="initial state of charge in [0, 1]")
    sim.add_argument("--ambient-c", type=float, default=25.0, help="ambient (and initial) temperature [C]")
    sim.add_argument("--protocol", action="append", default=[], help="a step, e.g. 'Charge at 1C until 4.2 V'")
    sim.add_argument("--dt", type=float, default=10.0, help="output spacing [s]")
    sim.add_argument("--out", default="run.csv", help="CSV file to write")
    sim.add_argument("--no-compile", action="store_true", help="skip JIT compilation (faster start, slower steps)")
    sim.set_defaults(func=_cmd_simulate)

    # Each remaining sub-command lives with the module that does its job (heavy imports stay inside the handlers).
    from eomctl.evaluation import add_evaluate_parser
    from eomctl.optimal import add_bound_parser
    from eomctl.pareto import add_pareto_parser
    from eomctl.reproduce import add_reproduce_parser
    from eomctl.rollout import add_rollout_parser
    from eomctl.train import add_train_parser

    add_train_parser(sub)
    add_rollout_parser(sub)
    add_evaluate_parser(sub)
    add_bound_parser(sub)
    add_pareto_parser(sub)
    add_reproduce_parser(sub)

    from eomctl.lifetime_cli import add_compare_life_parser, add_lifetime_parser, add_plot_lifetime_parser

    add_lifetime_parser(sub)
    add_compare_life_parser(sub)

    from eomctl.datasets import add_data_parser
    from eomctl.prognostics import add_prognose_parser

    add_data_parser(sub)
    add_prognose_parser(sub)
    plot = sub.add_parser("plot", help="draw figures from result files")
    add_plot_lifetime_parser(plot.add_subparsers(dest="plot_kind", required=True))
    from eomctl.eom import add_analyze_parser

    add_analyze_parser(sub)
    from eomctl.bridge import add_bridge_parser

    add_bridge_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eomctl`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except EomctlError as exc:
        print(f"eomctl: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
