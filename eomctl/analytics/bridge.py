"""The entropy-impedance bridge: does entropy production on a charge measure what a pulse-resistance test measures?

docs/physics.md §4: on a charge at current ``I_ch`` the Bernardi entropy rate is ``Sigma_dot = I_ch (V - U_bulk) / T``
so ``R_S = T Sigma_dot / I_ch^2 = (V - U_bulk) / I_ch`` is a resistance read from entropy. The research this project
grew from claims that entropy quantities correlate with a 10 s pulse resistance at r = 0.71; docs/physics.md §4 records
r = 0.83 for Sigma per coulomb and mean R_S across 31 aging states, but only r = 0.20 for lambda at 600 s.

This module measures it on a simulated fleet. Each *state* is one cell (LG M50 NMC or A123 LFP, catalogue cells
``LGM50`` / ``A123-LFP``, SPMe + lumped thermal + SEI/plating) with its own aging (loss of active material in both
electrodes, SEI thickness, contact resistance: the ranges of ``envs/AgedCell.yaml``), cell-to-cell spread (2 %
active-material and 20 % heat-transfer spread, as in ``envs/ColdCharge.yaml``) and ambient temperature (10-40 C).
Everything enters as simulator inputs, so one build per chemistry serves the fleet. Per state:

- a 10 s, 1C discharge pulse from a relaxed cell at 50 % SOC (:func:`eomctl.cell.hppc.pulse_resistance`): R_10s and R_0;
- a standard charge segment, 1C constant current for 600 s from a relaxed cell at 30 % SOC, 30 s steps:
  ``lambda`` at 600 s, the mean of ``lambda~`` over the segment (at a fixed time ``lambda~ = 600 s * lambda``
  carries no more information than ``lambda``), mean ``R_S = Q_irr / (I_ch^2 t)``, entropy per coulomb
  ``Sigma / Q`` and power loss ``Q_irr / t`` (the simulator's quadratures).

Pearson r with its two-sided p-value (:func:`scipy.stats.pearsonr`) is reported for pulse resistance and power loss
against each entropy quantity, per chemistry and pooled.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.analytics.eom import eom_metrics
from eomctl.cell.catalogue import load_cell
from eomctl.cell.hppc import PulseError, pulse_resistance
from eomctl.cell.simulator import CellSimulator, SimulatorConfig
from eomctl.core.constants import KELVIN_OFFSET, SECONDS_PER_HOUR
from eomctl.core.errors import EomctlError
from eomctl.core.executor import chunks, run_tasks, worker_count
from eomctl.core.io import write_csv, write_json

CELLS = ("LGM50", "A123-LFP")
NEG_AM = "Negative electrode active material volume fraction"
POS_AM = "Positive electrode active material volume fraction"
SEI = "Initial SEI thickness [m]"
CONTACT = "Contact resistance [Ohm]"
HTC = "Total heat transfer coefficient [W.m-2.K-1]"
EXTRA_INPUTS = (NEG_AM, POS_AM, SEI, CONTACT, HTC)
PULSE_SOC = 0.5
CHARGE_SOC0 = 0.3
CHARGE_RATE_C = 1.0
CHARGE_S = 600.0  # the segment ends at the fixed time at which lambda is read (docs/physics.md §4: 600 s)
CHARGE_DT_S = 30.0
QUICK_STATES = 6
CLAIMED_R = 0.71  # the research's claim
NOTES_R = {"entropy_per_coulomb": 0.83, "r_s_ohm": 0.83, "lambda_per_s": 0.20}  # docs/physics.md §4
X_QUANTITIES = ("resistance_ohm", "power_loss_w")
Y_QUANTITIES = ("lambda_per_s", "lambda_tilde_mean", "r_s_ohm", "entropy_per_coulomb")


class BridgeError(EomctlError):
    """An impossible fleet request (too few states, unknown executor)."""


def fleet_states(n_states: int, seed: int = 0) -> list[dict[str, Any]]:
    """Draw ``n_states`` cell states, alternating chemistries, from one seeded generator (JSON-serialisable).

    Each state holds ``index``, ``cell``, ``ambient_c`` and ``inputs`` (absolute values of :data:`EXTRA_INPUTS`).
    """
    if n_states < 2:
        raise BridgeError(f"a fleet needs at least 2 states (one per chemistry); got {n_states}")
    rng = np.random.default_rng(seed)
    nominal = {name: _nominal_values(name) for name in CELLS}
    states = []
    for index in range(n_states):
        cell = CELLS[index % len(CELLS)]
        values = nominal[cell]
        spread = np.clip(rng.normal(1.0, 0.02), 0.94, 1.06)  # coating-weight spread between cells of one batch
        inputs = {
            NEG_AM: values[NEG_AM] * float(rng.uniform(0.8, 1.0)) * float(spread),  # LAM, negative
            POS_AM: values[POS_AM] * float(rng.uniform(0.85, 1.0)),  # LAM, positive
            SEI: float(rng.uniform(5e-9, 1e-7)),  # SEI grown over life (film resistance, slower growth)
            CONTACT: float(rng.uniform(0.0, 0.015)),  # contact / current-collector resistance growth
            HTC: values[HTC] * float(np.clip(rng.normal(1.0, 0.2), 0.4, 1.6)),  # mounting and airflow
        }
        states.append({"index": index, "cell": cell, "ambient_c": float(rng.uniform(10.0, 40.0)), "inputs": inputs})
    return states


@functools.cache
def _nominal_values(cell: str) -> dict[str, float]:
    """The fresh cell's values of the randomised parameters (loading a cell takes seconds: once per process)."""
    values = load_cell(cell).parameter_values
    return {name: float(values[name]) for name in (NEG_AM, POS_AM, HTC)}


def bridge_simulator(cell: str) -> CellSimulator:
    """The simulator every state of ``cell`` is measured on (its spread enters as inputs, so one build serves all)."""
    config = SimulatorConfig(model="SPMe", thermal="lumped", degradation=True, compile=False, extra_inputs=EXTRA_INPUTS)
    return CellSimulator(load_cell(cell), config)


def measure_states_task(cell: str, states: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Measure a chunk of states of one cell on one simulator built for them (a :func:`run_tasks` task)."""
    sim = bridge_simulator(cell)
    return [measure_state(sim, state["index"], cell, state["ambient_c"], state["inputs"]) for state in states]


def measure_state(
    sim: CellSimulator, index: int, cell: str, ambient_c: float, inputs: Mapping[str, float]
) -> dict[str, Any]:
    """Pulse resistance and entropy quantities of state ``index`` of the fleet, on ``sim`` (built for ``cell``).

    Returns a JSON-serialisable row; ``failed`` names what went wrong (a solver failure or a cut-off) or is "".
    """
    ambient_k = ambient_c + KELVIN_OFFSET
    row: dict[str, Any] = {"index": index, "cell": cell, "ambient_c": ambient_c, **dict(inputs), "failed": ""}
    try:
        pulse = pulse_resistance(sim, soc=PULSE_SOC, c_rate=1.0, ambient_k=ambient_k, inputs=inputs)
    except PulseError as exc:
        return {**row, "failed": f"pulse: {exc}"}
    sim.reset(soc=CHARGE_SOC0, ambient_k=ambient_k, inputs=inputs)
    current_a = CHARGE_RATE_C * sim.cell.capacity_ah
    times, sigma, rate = [0.0], [0.0], [0.0]
    for _ in range(round(CHARGE_S / CHARGE_DT_S)):
        step = sim.step(current_a, CHARGE_DT_S)
        if step.solver_failed or step.stop_reason != "time":
            return {**row, "failed": f"charge: {step.stop_reason} at {step.time_s:.0f} s"}
        times.append(step.time_s)
        sigma.append(step.totals["entropy_j_per_k"])
        rate.append(current_a * (step.voltage_v - step.ocv_v) / step.temperature_k)  # Bernardi, at the step end
    m = eom_metrics(np.array(times), np.array(sigma), np.array(rate))
    totals, duration_s = sim.last.totals, sim.last.time_s
    return {
        **row,
        "capacity_ah": sim.cell.capacity_ah,
        "r0_ohm": pulse.r0_ohm,
        "resistance_ohm": pulse.resistance_ohm,
        "lambda_per_s": float(m["lambda_per_s"][-1]),
        "lambda_tilde_mean": float(np.mean(m["lambda_tilde"][1:])),
        "r_s_ohm": totals["heat_irr_j"] / (current_a**2 * duration_s),  # time-mean of (V - U_bulk) / I_ch
        "entropy_per_coulomb": totals["entropy_j_per_k"] / (totals["charge_in_ah"] * SECONDS_PER_HOUR),  # [J/K/C]
        "power_loss_w": totals["heat_irr_j"] / duration_s,
        "entropy_j_per_k": totals["entropy_j_per_k"],
        "temperature_end_k": sim.last.temperature_k,
    }


def correlations(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pearson r and two-sided p of every (x, y) pair of :data:`X_QUANTITIES` x :data:`Y_QUANTITIES`.

    Per chemistry and pooled ("all"), over the rows that did not fail; r and p are NaN with fewer than 3 rows.
    """
    from scipy.stats import pearsonr

    good = [r for r in rows if not r.get("failed")]
    results = []
    for group in (*CELLS, "all"):
        members = [r for r in good if group in ("all", r["cell"])]
        for x in X_QUANTITIES:
            for y in Y_QUANTITIES:
                xs = np.array([r[x] for r in members], dtype=float)
                ys = np.array([r[y] for r in members], dtype=float)
                r_value = p_value = float("nan")
                if len(xs) >= 3 and np.ptp(xs) > 0 and np.ptp(ys) > 0:
                    stat = pearsonr(xs, ys)
                    r_value, p_value = float(stat.statistic), float(stat.pvalue)
                results.append({"group": group, "x": x, "y": y, "n": len(xs), "r": r_value, "p": p_value})
    return results


def bridge_study(
    n_states: int = 32,
    quick: bool = False,
    seed: int = 0,
    executor: str = "serial",
    max_workers: int | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Measure the fleet and correlate; ``quick`` uses :data:`QUICK_STATES` states (tests, a fast reproduce).

    Returns
    -------
    dict
        ``rows`` (one per state), ``correlations``, ``n_states``, ``n_failed``, ``runtime_s``, the claims compared
        against (``claimed_r``, ``notes_r``) and the settings.
    """
    n = QUICK_STATES if quick else n_states
    start = time.perf_counter()
    states = fleet_states(n, seed)
    # One task per chunk of one cell's states: each builds its simulator once.
    workers = worker_count(executor, max_workers)
    tasks = [{"cell": cell, "states": chunk} for cell in CELLS
             for chunk in chunks([s for s in states if s["cell"] == cell], max(1, workers // len(CELLS)))]  # fmt: skip
    results = run_tasks(measure_states_task, tasks, executor, max_workers, progress=progress, checkpoint=checkpoint)
    rows = sorted((row for result in results for row in result), key=lambda row: row["index"])
    return {
        "rows": rows,
        "correlations": correlations(rows),
        "n_states": n,
        "n_failed": sum(1 for r in rows if r.get("failed")),
        "runtime_s": time.perf_counter() - start,
        "claimed_r": CLAIMED_R,
        "notes_r": NOTES_R,
        "settings": {"seed": seed, "executor": executor, "pulse_soc": PULSE_SOC, "charge_soc0": CHARGE_SOC0,
                     "charge_rate_c": CHARGE_RATE_C, "charge_s": CHARGE_S, "charge_dt_s": CHARGE_DT_S},
    }  # fmt: skip


def write_bridge(study: Mapping[str, Any], csv: str | Path, json_path: str | Path | None) -> None:
    """Write the rows as CSV and the study without its rows as JSON."""
    names = list(dict.fromkeys(k for r in study["rows"] for k in r))
    write_csv(csv, {k: [r.get(k, float("nan")) for r in study["rows"]] for k in names})
    if json_path:
        write_json(json_path, {k: v for k, v in study.items() if k != "rows"})
