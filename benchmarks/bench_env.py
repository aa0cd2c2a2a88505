"""Environment throughput: eomctl's ChargingEnv against an env on ``pybamm.Simulation.step`` (single and vectorised),
and ChargingEnv.step over the CellSimulator.step beneath it; the measurement is :mod:`eomctl.bench.env`. Run::

    python benchmarks/bench_env.py [--scenario FastCharge] [--steps 40] [--compile] [--n-envs 2 4 8]
"""

from __future__ import annotations

import argparse
import os

from eomctl.bench.env import measure
from eomctl.charging.scenarios import load_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="FastCharge")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per configuration")
    parser.add_argument("--compile", action="store_true", help="JIT-compile eomctl's integrator (~15 s per build)")
    parser.add_argument("--n-envs", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()
    sc = load_scenario(args.scenario)
    print(f"{sc.name}: {sc.cell} {sc.simulator.model} {sc.simulator.thermal}, degradation={sc.simulator.degradation}, ")
    print(f"compile={args.compile}, dt {sc.dt_s} s, 1C, {args.steps} timed steps, {os.cpu_count()} CPU cores")
    result = measure(args.scenario, args.steps, args.compile, args.n_envs)
    print(f"\n{'configuration':<18}{'eomctl [steps/s]':>18}{'PyBaMM step [steps/s]':>24}{'ratio':>8}")
    for label, ours, theirs in result.rows:
        print(f"{label:<18}{ours:>18.1f}{theirs:>24.1f}{ours / theirs:>7.1f}x")
    env_s, sim_s = result.env_step_s, result.sim_step_s
    print(f"\nChargingEnv.step {1e3 * env_s:.2f} ms, CellSimulator.step {1e3 * sim_s:.2f} ms beneath it:", end=" ")
    print(f"{env_s / sim_s:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
