"""Step cost of the JIT-compiled integrator under different C compiler flags, side by side in one run.

Builds one :class:`~eomctl.cell.simulator.CellSimulator` per set of flags (LG M50, SPMe + SEI + plating, lumped
thermal), then times the same sequence of 30 s steps at random currents (0.5C to 3C, fixed seed) on each, the
simulators taking turns in every repeat so that machine load falls on all alike. Prints the build time, the median
time per step, its ratio to the first set of flags and the largest voltage difference from it. Run::

    python benchmarks/bench_jit_flags.py [--steps 80] [--repeats 3] [--flags "-O1" "-O2" "-O3 -march=native"]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from eomctl.cell.catalogue import load_cell
from eomctl.cell.simulator import CellSimulator, SimulatorConfig


def main() -> None:
    """Time each set of flags and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=80, help="steps per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    parser.add_argument("--flags", nargs="+", default=["-O1", "-O2", "-O3 -march=native"], help="flag sets")
    args = parser.parse_args()
    cell = load_cell("LGM50")
    sims, build_s = {}, {}
    for flags in args.flags:
        started = time.perf_counter()
        config = SimulatorConfig(model="SPMe", degradation=True, compile=True, jit_flags=tuple(flags.split()))
        sims[flags] = CellSimulator(cell, config)
        build_s[flags] = time.perf_counter() - started
    currents_a = np.random.default_rng(0).uniform(0.5, 3.0, args.steps) * cell.capacity_ah
    times_ms: dict[str, list[float]] = {flags: [] for flags in sims}
    voltages: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for flags, sim in sims.items():
            sim.reset(soc=0.1)
            trace = []
            started = time.perf_counter()
            for current_a in currents_a:
                result = sim.step(float(current_a), 30.0)
                trace.append(result.voltage_v)
                if result.stop_reason != "time":
                    sim.reset(soc=0.1)
            times_ms[flags].append((time.perf_counter() - started) / args.steps * 1e3)
            voltages[flags] = trace
    first = args.flags[0]
    base_ms = statistics.median(times_ms[first])
    print(f"{'flags':<22}{'build s':>9}{'ms/step':>9}{'vs ' + first:>12}{'max |dV| V':>12}")
    for flags in args.flags:
        median_ms = statistics.median(times_ms[flags])
        dv = float(np.max(np.abs(np.subtract(voltages[flags], voltages[first]))))
        print(f"{flags:<22}{build_s[flags]:>9.1f}{median_ms:>9.2f}{base_ms / median_ms:>11.2f}x{dv:>12.1e}")


if __name__ == "__main__":
    main()
