"""Run protocols written in PyBaMM's experiment step language on a :class:`~eomctl.cell.simulator.CellSimulator`.

PyBaMM parses each step ("Charge at 1C until 4.2 V", "Hold at 4.2 V until C/50", "Rest for 10 minutes",
"Discharge at 10 W for 5 minutes"); eomctl executes it on its compiled integrator, one output interval at a time:

- current and C-rate steps run at constant current and stop exactly at a voltage termination (the step is cut at the
  crossing time);
- voltage holds run in discrete time, each interval at the constant current that brings the voltage to the set value at
  the interval's end (:meth:`CellSimulator.step_limited`), until a current or C-rate termination;
- power steps run each interval at the constant current whose mean electrical power over the interval is the set power.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pybamm

from eomctl.cell.catalogue import Cell
from eomctl.cell.simulator import CellSimulator, StepResult
from eomctl.core.errors import ConfigError

CSV_COLUMNS = (
    "time_s",
    "current_a",
    "voltage_v",
    "ocv_v",
    "temperature_k",
    "soc",
    "entropy_rate_w_per_k",
    "entropy_j_per_k",
    "energy_in_j",
    "heat_irr_j",
)


@dataclass
class Trace:
    """Rows of a protocol run, one per output time (the first row is the initial state)."""

    rows: list[dict[str, float]] = field(default_factory=list)
    solver_failed: bool = False
    notes: list[str] = field(default_factory=list)
    """Steps that ended early at the cell's own voltage window (not at their own condition), for the user."""

    def append(self, result: StepResult) -> None:
        """Record the state after ``result`` (instantaneous entropy rate at that time, cumulative integrals)."""
        rate = result.current_a * (result.voltage_v - result.ocv_v) / result.temperature_k
        self.rows.append(
            {
                "time_s": result.time_s,
                "current_a": result.current_a,
                "voltage_v": result.voltage_v,
                "ocv_v": result.ocv_v,
                "temperature_k": result.temperature_k,
                "soc": result.soc,
                "entropy_rate_w_per_k": rate,
                "entropy_j_per_k": result.totals["entropy_j_per_k"],
                "energy_in_j": result.totals["energy_in_j"],
                "heat_irr_j": result.totals["heat_irr_j"],
                "free_energy_j": result.totals["free_energy_j"],
                "charge_in_ah": result.totals["charge_in_ah"],
            }
        )

    def columns(self, names: Iterable[str] = CSV_COLUMNS) -> dict[str, np.ndarray]:
        """The trace as arrays keyed by column name."""
        return {name: np.array([row[name] for row in self.rows]) for name in names}


def parse_step(text: str) -> pybamm.step.BaseStepExplicit | pybamm.step.BaseStepImplicit:
    """Parse one step with PyBaMM's parser, turning its error into a :class:`ConfigError` that quotes the step."""
    if text.lower().count(" until ") > 1:
        raise ConfigError(f"protocol step '{text}': one 'until' per step (one termination: a voltage or a current)")
    try:
        return pybamm.step.string(text)
    except (ValueError, TypeError, KeyError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ConfigError(f"cannot parse protocol step '{text}': {first_line}") from None


def check_step(step: pybamm.step.BaseStepExplicit, text: str, cell: Cell) -> None:
    """Refuse a step that parses but cannot mean what it says, before anything runs: a negative duration, a charge
    that discharges (or the reverse), or a voltage outside the cell's window [v_min, v_max]."""
    if float(step.duration) <= 0:
        raise ConfigError(f"protocol step '{text}': the duration must be positive")
    words = text.strip().lower()
    value = float(getattr(step, "value", 0.0))
    # PyBaMM's sign: negative charges, so "Charge at -1C" parses to a discharge.
    reversed_sign = (words.startswith("charge") and value > 0) or (words.startswith("discharge") and value < 0)
    if type(step).__name__ in ("Current", "CRate", "Power") and reversed_sign:
        raise ConfigError(f"protocol step '{text}': give the rate or current as a positive number")
    voltages = [float(term.value) for term in step.termination if type(term).__name__ == "VoltageTermination"]
    if type(step).__name__ == "Voltage":
        voltages.append(value)
    for voltage_v in voltages:
        if not cell.v_min_v <= voltage_v <= cell.v_max_v:
            raise ConfigError(
                f"protocol step '{text}': {voltage_v:g} V is outside the cell's window "
                f"[{cell.v_min_v:g}, {cell.v_max_v:g}] V ({cell.name})"
            )


def _terminations(step: pybamm.step.BaseStepExplicit, capacity_ah: float) -> tuple[float | None, float | None]:
    """(voltage termination [V], current termination magnitude [A]) of a step, None where absent."""
    voltage = current = None
    for term in step.termination:
        kind = type(term).__name__
        if kind == "VoltageTermination":
            voltage = float(term.value)
        elif kind == "CurrentTermination":
            current = abs(float(term.value))
        elif kind in ("CRateTermination", "CrateTermination"):
            current = abs(float(term.value)) * capacity_ah
        else:
            raise ConfigError(f"termination '{term}' is not supported; use a voltage, current or C-rate termination")
    return voltage, current


def first_current_direction(steps: Iterable[str]) -> int:
    """+1 if the first step that moves charge charges the cell, -1 if it discharges it, 0 if none does."""
    for text in steps:
        step = parse_step(text)
        kind, value = type(step).__name__, float(getattr(step, "value", 0.0))
        if kind in ("Current", "CRate", "Power") and value != 0:
            return 1 if value < 0 else -1  # PyBaMM's sign: negative charges
    return 0


def run_protocol(sim: CellSimulator, steps: Iterable[str], dt_s: float = 10.0) -> Trace:
    """Run ``steps`` in order from the simulator's current state and return the trace.

    Parameters
    ----------
    sim : CellSimulator
        A simulator already reset to the starting state.
    steps : iterable of str
        Steps in PyBaMM's experiment language.
    dt_s : float
        Output spacing [s]; voltage holds and power steps are also controlled at this interval.

    Returns
    -------
    Trace
        One row per output time. If the solver fails, the trace ends at the last good state with ``solver_failed``.
    """
    if not dt_s > 0:
        raise ConfigError(f"output spacing dt must be positive; got {dt_s}")
    parsed = [(text, parse_step(text)) for text in steps]
    for text, step in parsed:
        check_step(step, text, sim.cell)
    trace = Trace()
    trace.append(sim.last)
    for text, step in parsed:
        if not _run_step(sim, step, text, dt_s, trace):
            trace.solver_failed = True
            break
    return trace


def _run_step(sim: CellSimulator, step: pybamm.step.BaseStepExplicit, text: str, dt_s: float, trace: Trace) -> bool:
    kind = type(step).__name__
    capacity = sim.cell.capacity_ah
    v_term, i_term = _terminations(step, capacity)
    if kind == "Voltage" and i_term is None and step.uses_default_duration:
        raise ConfigError(f"step '{text}' holds a voltage with neither a duration nor a current termination")
    end_time = sim.last.time_s + float(step.duration)
    current_a = 0.0
    if kind in ("Current", "CRate"):
        current_a = -float(step.value) * (capacity if kind == "CRate" else 1.0)  # PyBaMM: negative = charge
    elif kind not in ("Rest", "Voltage", "Power"):
        raise ConfigError(f"step '{text}': {kind} steps are not supported (use current, C-rate, voltage, power, rest)")
    hold_current_a = max(abs(sim.last.current_a), capacity)  # a CV phase never draws more than this
    start_s = sim.last.time_s
    while sim.last.time_s < end_time - 1e-9:
        dt = min(dt_s, end_time - sim.last.time_s)
        if kind == "Voltage":
            result = _hold(sim, float(step.value), dt, hold_current_a, i_term or 0.0)
        elif kind == "Power":
            result = _constant_power(sim, -float(step.value), dt)
        else:
            v_max = v_term if (v_term is not None and current_a > 0) else None
            v_min = v_term if (v_term is not None and current_a < 0) else None
            result = sim.step(current_a, dt, v_max_v=v_max, v_min_v=v_min)
        if result.solver_failed:
            return False
        trace.append(result)
        if result.stop_reason in ("v_max", "v_min", "cutoff"):
            if v_term is None and result.stop_reason in ("v_max", "v_min"):
                limit = sim.cell.v_max_v if result.stop_reason == "v_max" else sim.cell.v_min_v
                trace.notes.append(
                    f"step '{text}' stopped at the cell's {limit:g} V limit after {result.time_s - start_s:.0f} s "
                    f"(SOC {result.soc:.3f}); start elsewhere with --soc0"
                )
            break
        if i_term is not None and abs(result.current_a) <= i_term:
            break
    return True


def _hold(sim: CellSimulator, voltage_v: float, dt_s: float, current_max_a: float, cutoff_a: float) -> StepResult:
    """One interval of a voltage hold, charging (voltage above the cell's) or discharging (below)."""
    if sim.last.voltage_v <= voltage_v + 1e-4:
        return sim.hold_voltage(voltage_v, dt_s, current_max_a, cutoff_a)
    # Discharging hold: lower the discharge current until the voltage ends at the set value (a mirrored CV charge).
    start = sim.state
    lo, hi = 0.0, current_max_a
    result = sim.last
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        sim.restore(start)
        result = sim.step(-mid, dt_s, v_min_v=-np.inf, v_max_v=np.inf)
        if result.solver_failed or abs(result.voltage_v - voltage_v) < 1e-4:
            break
        lo, hi = (mid, hi) if result.voltage_v > voltage_v else (lo, mid)
    return result


def _constant_power(sim: CellSimulator, power_w: float, dt_s: float) -> StepResult:
    """One interval at the constant current whose mean power ``E_in / dt`` equals ``power_w`` (positive = charging)."""
    start = sim.state
    current_a = power_w / max(sim.last.voltage_v, 1e-3)
    result = sim.last
    for _ in range(20):
        sim.restore(start)
        result = sim.step(current_a, dt_s)
        if result.solver_failed or result.duration_s <= 0:
            break
        mean_power_w = result.energy_in_j / result.duration_s
        error_w = mean_power_w - power_w
        if abs(error_w) <= 1e-6 * max(abs(power_w), 1e-9):
            break
        current_a -= error_w / max(result.voltage_v, 1e-3)  # Newton step with dP/dI ~ V
    return result
