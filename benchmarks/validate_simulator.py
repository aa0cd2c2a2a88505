"""Print how closely eomctl's simulator reproduces pybamm.Simulation, and how well the entropy balance closes.

Runs one CC-CV charge + rest through eomctl (PyBaMM's experiment steps on the compiled integrator) and through
``pybamm.Simulation`` with the same model, options, cell and initial SOC, at PyBaMM's default tolerances and at a tight
reference tolerance, and prints voltage RMSE, the largest temperature difference and the entropy / irreversible-heat
agreement (PHYSICS.md section 3). Usage::

    python benchmarks/validate_simulator.py [--cell Chen2020] [--model SPMe] [--dt 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pybamm

from eomctl.cells import load_cell
from eomctl.experiment import run_protocol
from eomctl.simulator import MODEL_CLASSES, CellSimulator, SimulatorConfig

STEPS = ["Charge at 1C until 4.2 V", "Hold at 4.2 V until C/20", "Rest for 3 hours"]


def pybamm_solution(sim: CellSimulator, dt_s: float, rtol: float | None) -> pybamm.Solution:
    """The same protocol solved by pybamm.Simulation (IDAKLU; its default tolerances when ``rtol`` is None)."""
    values = sim.cell.parameter_values.copy()
    values.update({"Contact resistance [Ohm]": 0.0}, check_already_exists=False)
    solver = pybamm.IDAKLUSolver(rtol=rtol, atol=rtol * 1e-2) if rtol else None
    model = MODEL_CLASSES[sim.config.model](sim.options)
    experiment = pybamm.Experiment(STEPS, period=f"{dt_s} seconds")
    simulation = pybamm.Simulation(model, parameter_values=values, experiment=experiment, solver=solver)
    return simulation.solve(initial_soc=0.1)


def main() -> None:
    """Run both solvers and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="Chen2020")
    parser.add_argument("--model", default="SPMe", choices=sorted(MODEL_CLASSES))
    parser.add_argument("--dt", type=float, default=10.0, help="output and CV control interval [s]")
    args = parser.parse_args()

    sim = CellSimulator(load_cell(args.cell), SimulatorConfig(model=args.model, thermal="lumped", compile=False))
    sim.reset(soc=0.1)
    start = time.perf_counter()
    rows = run_protocol(sim, STEPS, dt_s=args.dt).columns(
        ["time_s", "voltage_v", "temperature_k", "entropy_j_per_k", "heat_irr_j", "energy_in_j"]
    )
    print(f"eomctl: {args.cell} {args.model} lumped {sim.options}, {time.perf_counter() - start:.1f} s, {STEPS}")
    print(f"{'reference':<28} {'V RMSE [mV]':>12} {'max |dT| [K]':>13} {'Sigma diff':>11} {'Q_irr vs heat src':>18}")
    for label, rtol in (("pybamm default tolerances", None), ("pybamm rtol=1e-8", 1e-8)):
        ref = pybamm_solution(sim, args.dt, rtol)
        t_ref = ref["Time [s]"].entries
        # t = 0 excluded: PyBaMM reports the loaded voltage there, eomctl the state before the first step.
        mask = (rows["time_s"] > 0) & (rows["time_s"] <= t_ref[-1])
        t = rows["time_s"][mask]
        v_err = rows["voltage_v"][mask] - np.interp(t, t_ref, ref["Voltage [V]"].entries)
        t_err = rows["temperature_k"][mask] - np.interp(t, t_ref, ref["Volume-averaged cell temperature [K]"].entries)
        current = -ref["Current [A]"].entries
        loss = ref["Voltage [V]"].entries - ref["Bulk open-circuit voltage [V]"].entries
        temperature = ref["Volume-averaged cell temperature [K]"].entries
        sigma_ref = np.trapezoid(current * loss / temperature, t_ref)
        q_heat_src = np.trapezoid(ref["Total heating [W]"].entries - ref["Reversible heating [W]"].entries, t_ref)
        print(
            f"{label:<28} {1e3 * np.sqrt(np.mean(v_err**2)):>12.3f} {np.max(np.abs(t_err)):>13.4f} "
            f"{(rows['entropy_j_per_k'][-1] / sigma_ref - 1) * 100:>10.3f}% "
            f"{(rows['heat_irr_j'][-1] / q_heat_src - 1) * 100:>17.3f}%"
        )
    print(f"Sigma = {rows['entropy_j_per_k'][-1]:.4f} J/K, E_in = {rows['energy_in_j'][-1]:.1f} J over {t[-1]:.0f} s")


if __name__ == "__main__":
    main()
