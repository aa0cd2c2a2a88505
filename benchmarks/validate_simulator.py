"""How closely eomctl's simulator reproduces pybamm.Simulation (voltage, temperature, entropy, heat), at PyBaMM's
default and at a tight tolerance; the comparison is :mod:`eomctl.bench.validation`. Run::

    python benchmarks/validate_simulator.py [--cell Chen2020] [--model SPMe] [--dt 10]
"""

from __future__ import annotations

import argparse
import time

from eomctl.bench.validation import STEPS, compare
from eomctl.cell.simulator import MODEL_CLASSES


def main() -> None:
    """Run both solvers and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="Chen2020")
    parser.add_argument("--model", default="SPMe", choices=sorted(MODEL_CLASSES))
    parser.add_argument("--dt", type=float, default=10.0, help="output and CV control interval [s]")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = compare(args.cell, args.model, args.dt)
    print(f"{args.cell} {args.model} lumped, {STEPS}: {time.perf_counter() - start:.1f} s (both solvers)")
    print(f"{'reference':<32} {'V RMSE [mV]':>12} {'max |dT| [K]':>13} {'Sigma diff':>11} {'Q_irr vs heat src':>18}")
    for r in rows:
        print(
            f"{r['reference']:<32} {r['voltage_rmse_mv']:>12.3f} {r['max_abs_dt_k']:>13.4f} "
            f"{r['sigma_diff_pct']:>10.3f}% {r['q_irr_vs_heat_sources_pct']:>17.3f}%"
        )
    print(f"Sigma = {rows[0]['sigma_j_per_k']:.4f} J/K over {rows[0]['duration_s']:.0f} s")


if __name__ == "__main__":
    main()
