"""``eomctl simulate``: run a protocol in PyBaMM's step language and write a CSV."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from eomctl.cell.catalogue import load_cell
from eomctl.cell.experiment import CSV_COLUMNS, first_current_direction, run_protocol
from eomctl.cell.simulator import CellSimulator, SimulatorConfig
from eomctl.core.constants import celsius_to_kelvin
from eomctl.core.errors import EomctlError
from eomctl.core.interrupts import Interrupted
from eomctl.core.io import write_csv


def add_parser(subparsers: Any) -> None:
    """Register ``eomctl simulate``."""
    sim = subparsers.add_parser("simulate", help="run a protocol in PyBaMM's step language and write a CSV")
    sim.add_argument("--cell", default="LGM50", help="catalogue name, PyBaMM parameter set, BPX JSON or cell file")
    sim.add_argument("--model", default="SPMe", choices=["SPM", "SPMe", "DFN"])
    sim.add_argument("--thermal", default="lumped", choices=["isothermal", "lumped"])
    sim.add_argument("--degradation", action="store_true", help="add SEI growth and lithium plating")
    sim.add_argument(
        "--soc0",
        type=float,
        default=None,
        help="initial SOC in [0, 1] (default 0.1, or 1.0 when the protocol discharges first)",
    )
    sim.add_argument("--ambient-c", type=float, default=25.0, help="ambient (and initial) temperature [C]")
    sim.add_argument("--protocol", action="append", default=[], help="a step, e.g. 'Charge at 1C until 4.2 V'")
    sim.add_argument("--dt", type=float, default=10.0, help="output spacing [s]")
    sim.add_argument("--out", default="run.csv", help="CSV file to write")
    sim.add_argument("--no-compile", action="store_true", help="skip JIT compilation (faster start, slower steps)")
    sim.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the protocol from the given state and write its trace; exit 3 when the solver failed on the way."""
    if not args.protocol:
        raise EomctlError('give at least one --protocol step, e.g. --protocol "Charge at 1C until 4.2 V"')
    config = SimulatorConfig(
        model=args.model, thermal=args.thermal, degradation=args.degradation, compile=False if args.no_compile else None
    )
    soc0 = args.soc0 if args.soc0 is not None else 1.0 if first_current_direction(args.protocol) < 0 else 0.1
    sim = CellSimulator(load_cell(args.cell), config)
    sim.reset(soc=soc0, ambient_k=celsius_to_kelvin(args.ambient_c))
    try:
        trace = run_protocol(sim, args.protocol, dt_s=args.dt)
    except KeyboardInterrupt as exc:
        raise Interrupted(f"simulate interrupted: {args.out} not written") from exc
    write_csv(args.out, trace.columns(CSV_COLUMNS))
    last = trace.rows[-1]
    print(
        f"{len(trace.rows)} rows -> {args.out}: {last['time_s']:.0f} s, SOC {last['soc']:.3f}, "
        f"V {last['voltage_v']:.4f} V, T {last['temperature_k']:.2f} K, Sigma {last['entropy_j_per_k']:.4f} J/K"
    )
    for note in trace.notes:
        print(f"note: {note}", file=sys.stderr)
    if trace.solver_failed:
        print("warning: the solver failed; the CSV ends at the last good state", file=sys.stderr)
        return 3
    return 0
