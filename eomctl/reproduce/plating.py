"""The ``plating`` part: the plating rate law against the anode potential, and what CC-CV charges plate and lose.

LG M50 (O'Kane 2022 parameters), SPMe + SEI + plating, lumped thermal. Three results, each with both rate laws side
by side: eomctl's consistent, Arrhenius kinetics (:mod:`eomctl.cell.plating`) and PyBaMM's (O'Kane 2022):

- the net plating current density against the anode potential vs Li/Li+ at -10 / 0 / 10 / 25 C, with and without
  plated lithium (from the cell's processed exchange currents; no simulation);
- CC-CV charges (CV at 4.2 V, 45 C limit, no anode-potential guard) from 10 to 80 % SOC over C-rates and ambients:
  plated lithium at charge end, LLI at charge end and the irreversible loss after a 30 min rest;
- guarded CC-CV charges at 0 C (the anode potential held at or above 0 V vs Li/Li+) at 0.5 / 1 / 1.5C: the ordering
  "faster charges lose less lithium" that PyBaMM's kinetics gave, explained.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.cell import plating
from eomctl.cell.catalogue import load_cell
from eomctl.cell.simulator import CellSimulator, PlatingKinetics, SimulatorConfig, StepResult
from eomctl.core.constants import KELVIN_OFFSET, SECONDS_PER_HOUR
from eomctl.plotting.plating import plot_charges, plot_rate_law
from eomctl.reproduce.part import KeyNumber, PartResult, flat_text

CELL = "LGM50"
TEMPERATURES_C = (-10.0, 0.0, 10.0, 25.0)
RATES_C = {True: (1.0, 2.0), False: (0.5, 1.0, 1.5, 2.0, 3.0)}  # quick, full
GUARDED_RATES_C = (0.5, 1.0, 1.5)
SOC_START, SOC_END, V_MAX_V, T_MAX_K, STEP_S = 0.1, 0.8, 4.2, 318.15, 30.0
KINETICS: tuple[PlatingKinetics, ...] = ("consistent", "pybamm")

TEXT = """
    Lithium plating on the LG M50 (O'Kane 2022 parameters, SPMe, lumped thermal) under eomctl's consistent, Arrhenius
    kinetics (solid lines) and PyBaMM's own (dashed). PyBaMM's partially reversible Butler-Volmer law keeps its
    cathodic branch where no plated lithium exists, so it plates at positive anode potentials, where lithium metal is
    not stable, and it has no temperature dependence. The consistent law has its zero at the lithium metal
    equilibrium (0 V vs Li/Li+), strips only plated lithium, and carries an Arrhenius factor (35 kJ/mol). CC-CV charges
    from 10 to 80 % SOC (CV at 4.2 V, 45 C limit, no anode-potential guard) over C-rates and ambients: plated lithium
    at charge end and the irreversible lithium loss (what a 30 min rest does not give back). Guarded charges at 0 C
    (anode potential held at or above 0 V): with PyBaMM's law the slower charge lost more lithium because its
    cathodic branch plated during the whole charge and the slower charge lasts longer; with the consistent law a
    guarded charge plates nothing and only the SEI, which grows with time, is lost.
"""


def rate_law_rows() -> list[dict[str, Any]]:
    """Net stripping current density of both laws over anode potential, temperature and plated lithium."""
    values = load_cell(CELL).parameter_values
    alpha_s, alpha_p = plating.transfer_coefficients(values)
    typical = float(values["Typical plated lithium concentration [mol.m-3]"])
    rows = []
    for t_c in TEMPERATURES_C:
        t_k = t_c + KELVIN_OFFSET
        for c_li in (0.0, typical):
            j0_pl, j0_str = plating.exchange_currents(values, 1000.0, c_li, t_k)
            # PyBaMM's law has no Arrhenius factor: its exchange currents are the 25 C ones.
            factor = plating.arrhenius(t_k, plating.DEFAULT_ACTIVATION_ENERGY_J_PER_MOL)
            for eta in np.linspace(-0.15, 0.2, 71):
                args = (float(eta), t_k)
                rows.append({
                    "temperature_c": t_c,
                    "plated_present": int(c_li > 0),
                    "eta_v": float(eta),
                    "j_consistent_a_m2": plating.net_stripping_current(*args, j0_str, j0_pl, alpha_s, alpha_p),
                    "j_pybamm_a_m2": plating.okane_net_stripping_current(
                        *args, j0_str / factor, j0_pl / factor, alpha_s, alpha_p
                    ),
                })  # fmt: skip
    return rows


def _charge(sim: CellSimulator, ambient_c: float, rate_c: float, anode_min_v: float | None) -> dict[str, Any]:
    """One CC-CV charge from SOC_START to SOC_END; what it plated and lost (NaN if the solver failed).

    Run as one controlled phase; if that fails, again in the env's 30 s limited steps (the last one cut at the
    target, SOC being about linear within a step).
    """
    current_a = rate_c * sim.cell.capacity_ah

    def limited(dt_s: float) -> StepResult:
        return sim.step_limited(current_a, dt_s, v_max_v=V_MAX_V, anode_min_v=anode_min_v, t_max_k=T_MAX_K)

    sim.reset(soc=SOC_START, ambient_k=ambient_c + KELVIN_OFFSET)
    end = sim.charge_until(current_a, 4 * SECONDS_PER_HOUR, v_max_v=V_MAX_V, anode_min_v=anode_min_v,
                           t_max_k=T_MAX_K, target_soc=SOC_END)  # fmt: skip
    path = "phase"
    if end.solver_failed:
        sim.reset(soc=SOC_START, ambient_k=ambient_c + KELVIN_OFFSET)
        end, path = sim.last, "steps"
        while end.soc < SOC_END and not end.solver_failed and end.time_s < 4 * SECONDS_PER_HOUR:
            before, saved = end, sim.state
            end = limited(STEP_S)
            if end.soc > SOC_END > before.soc:
                sim.restore(saved)
                end = limited(STEP_S * (SOC_END - before.soc) / (end.soc - before.soc))
    nan = math.nan
    loss = sim.irreversible_loss() if not end.solver_failed else None
    return {
        "ambient_c": ambient_c,
        "rate_c": rate_c,
        "path": path if not end.solver_failed else "failed",
        "charge_time_s": end.time_s if loss else nan,
        "plating_ah": end.degradation["plating_ah"] if loss else nan,
        "sei_ah": end.degradation["sei_ah"] if loss else nan,
        "lli_pct": loss.lli_pct if loss else nan,
        "irreversible_lli_pct": loss.irreversible_pct if loss else nan,
        "recovered_ah": loss.recovered_ah if loss else nan,
        "peak_temperature_k": end.temperature_k if loss else nan,
    }


def charge_rows(quick: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """CC-CV charges over C-rate and ambient (unguarded), and guarded ones at 0 C, under both rate laws."""
    cell = load_cell(CELL)
    grid, guarded = [], []
    for kinetics in KINETICS:
        sim = CellSimulator(cell, SimulatorConfig(degradation=True, plating_kinetics=kinetics))
        for ambient_c in TEMPERATURES_C:
            for rate_c in RATES_C[quick]:
                grid.append({"kinetics": kinetics, **_charge(sim, ambient_c, rate_c, None)})
        for rate_c in GUARDED_RATES_C:
            guarded.append({"kinetics": kinetics, **_charge(sim, 0.0, rate_c, 0.0)})
    return grid, guarded


def plating_part(out_dir: Path, quick: bool, executor: str) -> PartResult:
    """Run the part (see the module docstring)."""
    law = rate_law_rows()
    grid, guarded = charge_rows(quick)
    files = [plot_rate_law(law, out_dir / "rate_law.png"), plot_charges(grid, out_dir / "charges.png")]
    above = [r for r in law if r["eta_v"] >= 0.01 and not r["plated_present"]]
    numbers = {
        "pybamm_plating_above_10mv_a_m2": KeyNumber(
            min(r["j_pybamm_a_m2"] for r in above), "A/m2",
            "PyBaMM's law at +10 to +200 mV vs Li/Li+, no plated lithium, -10 to 25 C (most negative: plating)",
        ),
        "consistent_plating_above_10mv_a_m2": KeyNumber(
            min(r["j_consistent_a_m2"] for r in above), "A/m2", "the consistent law, same conditions",
        ),
    }  # fmt: skip
    for kinetics in KINETICS:
        row = next(r for r in grid if r["kinetics"] == kinetics and r["ambient_c"] == 0.0 and r["rate_c"] == 2.0)
        numbers[f"irreversible_0c_2c_{kinetics}_pct"] = KeyNumber(
            row["irreversible_lli_pct"], "%", f"irreversible lithium loss of one 2C CC-CV charge at 0 C ({kinetics})"
        )
    tables = {"rate_law": law, "charges": grid, "guarded_0c": guarded}
    return PartResult(flat_text(TEXT), files, tables, numbers)
