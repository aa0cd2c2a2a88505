"""Print how closely eomctl's simulator reproduces pybamm.Simulation, and how well the entropy balance closes.

Runs one CC-CV charge + rest through eomctl (PyBaMM's experiment steps on the compiled integrator) and through
``pybamm.Simulation`` with the same model, options, cell and initial SOC, at PyBaMM's default tolerances and at a tight
reference tolerance, and prints voltage RMSE, the largest temperature difference and the entropy / irreversible-heat
agreement (docs/physics.md §3). Usage::

    python benchmarks/validate_simulator.py [--cell Chen2020] [--model SPMe] [--dt 10]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pybamm

from eomctl.cell.catalogue import load_cell
from eomctl.cell.experiment import run_protocol
from eomctl.cell.simulator import MODEL_CLASSES, CellSimulator, ModelName, SimulatorConfig

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


def compare(cell: str = "Chen2020", model: ModelName = "SPMe", dt_s: float = 10.0) -> list[dict[str, Any]]:
    """One row per PyBaMM reference tolerance: voltage RMSE, largest |dT|, Sigma and Q_irr agreement."""
    sim = CellSimulator(load_cell(cell), SimulatorConfig(model=model, thermal="lumped", compile=False))
    sim.reset(soc=0.1)
    rows = run_protocol(sim, STEPS, dt_s=dt_s).columns(
        ["time_s", "voltage_v", "temperature_k", "entropy_j_per_k", "heat_irr_j", "energy_in_j"]
    )
    out = []
    for label, rtol in (("pybamm, its default tolerances", None), ("pybamm, rtol 1e-8", 1e-8)):
        ref = pybamm_solution(sim, dt_s, rtol)
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
        out.append(
            {
                "reference": label,
                "cell": cell,
                "model": f"{model} lumped",
                "voltage_rmse_mv": 1e3 * float(np.sqrt(np.mean(v_err**2))),
                "max_abs_dt_k": float(np.max(np.abs(t_err))),
                "sigma_diff_pct": float((rows["entropy_j_per_k"][-1] / sigma_ref - 1) * 100),
                "q_irr_vs_heat_sources_pct": float((rows["heat_irr_j"][-1] / q_heat_src - 1) * 100),
                "sigma_j_per_k": float(rows["entropy_j_per_k"][-1]),
                "duration_s": float(t[-1]),
            }
        )
    return out
