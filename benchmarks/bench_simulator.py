"""Per-step cost of eomctl's compiled stepping against PyBaMM's ``Simulation.step`` and the bare integrator.

The measurement is :mod:`eomctl.bench.simulator` (its docstring says what every path is); this script picks the cases,
runs them side by side in one process and prints the table with the ratios. Run::

    python benchmarks/bench_simulator.py [--steps 200] [--dt 30] [--repeats 3] [--models SPM SPMe SPMe+SEI+plating]
"""

from __future__ import annotations

import argparse
from importlib.metadata import version

from eomctl.bench.simulator import (
    CASES,
    CELL,
    FLOOR_TARGET,
    INITIAL_SOC,
    SPEEDUP_TARGET,
    PathResult,
    Timing,
    charging_current,
    run_case,
)
from eomctl.cell.catalogue import load_cell


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns
    -------
    argparse.Namespace
        ``steps``, ``dt``, ``repeats``, ``models`` and ``c_rate``.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per repeat (default 200)")
    parser.add_argument("--dt", type=float, default=30.0, help="step length [s] (default 30)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path; the median is reported")
    parser.add_argument(
        "--models", nargs="+", choices=list(CASES), default=list(CASES), help="cases to run (default all)"
    )
    parser.add_argument(
        "--c-rate",
        type=float,
        default=None,
        help="charging C-rate; default 1C, lowered so that the run adds at most 75 %% SOC (stays below 4.2 V)",
    )
    args = parser.parse_args()
    if args.steps < 1 or args.repeats < 1 or not args.dt > 0:
        parser.error("--steps and --repeats must be >= 1 and --dt > 0")
    return args


def print_case(name: str, rows: list[PathResult], v_max: float, matched: bool) -> None:
    """Print one case's table rows and ratios.

    Parameters
    ----------
    name : str
        Case label.
    rows : list of PathResult
        In order: eomctl jit, eomctl no jit, bare integrator, PyBaMM save=True, PyBaMM save=False.
    v_max : float
        Upper voltage cut-off [V].
    matched : bool
        Whether PyBaMM's resolved model options equal eomctl's.
    """
    jit, _nojit, bare, pb_save, pb_nosave = rows
    for row in rows:
        build = f"{row.build_s:8.2f}" if row.build_s is not None else "       -"
        repeats = " ".join(f"{t:.3f}" for t in row.ms_per_step)
        print(
            f"{name:<17} {row.name:<34} {row.median_ms:8.3f} {row.median_cpu_ms:8.3f} {build}  "
            f"{row.final_voltage_v:9.5f}  {row.max_voltage_v:7.4f}  [{repeats}]"
        )

    def ratio(num: PathResult, den: PathResult) -> str:
        return f"{num.median_cpu_ms / den.median_cpu_ms:.2f}x (wall {num.median_ms / den.median_ms:.2f}x)"

    speedup = min(pb_save.median_cpu_ms / jit.median_cpu_ms, pb_save.median_ms / jit.median_ms)
    floor = max(jit.median_cpu_ms / bare.median_cpu_ms, jit.median_ms / bare.median_ms)
    dv = (pb_nosave.final_voltage_v - jit.final_voltage_v) * 1e3
    dv_save = (pb_save.final_voltage_v - jit.final_voltage_v) * 1e3
    below = all(r.max_voltage_v < v_max for r in rows)
    checks = [
        f"V_pybamm - V_eomctl = {dv:+.3f} mV (save=True {dv_save:+.3f} mV)",
        f"all paths below {v_max:g} V: {'yes' if below else 'NO'}",
        f"PyBaMM options == eomctl options: {'yes' if matched else 'NO'}",
    ]
    if name in SPEEDUP_TARGET:
        met = speedup >= SPEEDUP_TARGET[name]
        checks.append(f"target >= {SPEEDUP_TARGET[name]:g}x vs PyBaMM: {'met' if met else 'MISSED'}")
    if name in FLOOR_TARGET:
        met = floor <= FLOOR_TARGET[name]
        checks.append(f"target <= {FLOOR_TARGET[name]:g}x floor: {'met' if met else 'MISSED'}")
    pad = " " * 18
    print(
        f"{pad}PyBaMM save=True / eomctl jit = {ratio(pb_save, jit)}; save=False / eomctl jit = {ratio(pb_nosave, jit)}"
    )
    print(f"{pad}eomctl jit / bare integrator = {ratio(jit, bare)}")
    print(pad + "; ".join(checks))


def main() -> None:
    """Run every selected case through every path and print one table."""
    args = parse_args()
    cell = load_cell(CELL)
    current_a = charging_current(cell, args.steps, args.dt, args.c_rate)
    print(
        f"cell {cell.name} ({cell.capacity_ah:g} A.h), charge {current_a:.3f} A ({current_a / cell.capacity_ah:.3f}C) "
        f"from {INITIAL_SOC:.0%} SOC, {args.steps} steps x {args.dt:g} s, {args.repeats} repeats (median reported); "
        f"pybamm {version('pybamm')}, casadi {version('casadi')}"
    )
    header = (
        f"{'case':<17} {'path':<34} {'wall ms':>8} {'cpu ms':>8} {'build s':>8}  {'V_final':>9}  {'V_max':>7}  "
        "wall ms/step per repeat"
    )
    timing = Timing(args.steps, args.dt, args.repeats)
    results = [run_case(cell, name, current_a, timing) for name in args.models]
    print(header)
    print("-" * len(header))
    for case in results:
        print_case(case.name, case.rows, cell.v_max_v, case.matched)
        print(f"{'':<17} options {case.options}")
    print(
        "wall/cpu ms: median over repeats of wall / process-CPU time per step; ratios on CPU time (wall in brackets);\n"
        "target verdicts use the less favourable of the two. build s: eomctl = CellSimulator(...) incl. JIT;\n"
        "PyBaMM = Simulation + build + first step (solver set-up). PyBaMM runs IDAKLU at its default tolerances\n"
        "(rtol 1e-4, atol 1e-6); eomctl's CVODES runs at rtol = atol = 1e-6."
    )


if __name__ == "__main__":
    main()
