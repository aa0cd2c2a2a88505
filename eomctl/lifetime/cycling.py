"""One aging cycle on a :class:`~eomctl.cell.simulator.CellSimulator` (charge by a policy, rest, discharge, rest), RPTs.

Design choice (why not :class:`~eomctl.charging.env.ChargingEnv`): the env's ``reset`` re-initialises the simulator to a
fresh, relaxed cell at a drawn SOC, which would erase the aging state between cycles. The cycling engine therefore owns
one simulator built once with degradation on and drives it directly; a policy still sees exactly the env's observation
(the same builder, :mod:`eomctl.charging.observation`), and its action maps to the current as in the env
(``I = (a + 1) / 2 * c_rate_max * capacity``), applied with the env's "enforce" limit mode
(:meth:`~eomctl.cell.simulator.CellSimulator.step_limited`). :class:`PolicyAdapter` is what a policy binds to (a
:class:`~eomctl.policies.protocol.ControlTarget`), and the charge runs through the one control loop of
:mod:`eomctl.policies.episode`.

Charging limits: the policy's own (``policy.limits``: a CV voltage, or a plating margin for CC-CO) plus the scenario's
temperature limit. The scenario's anode-potential limit is *not* applied: a real charger cannot measure the anode
potential, so lithium plating (anode below 0 V vs Li/Li+, docs/physics.md) must be able to happen during life
cycling.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eomctl.cell.catalogue import Cell
from eomctl.cell.simulator import CellSimulator, StepResult
from eomctl.charging.env import action_value
from eomctl.charging.observation import ObservationSpace, charge_features
from eomctl.charging.scenarios import Scenario
from eomctl.core.constants import SECONDS_PER_HOUR
from eomctl.core.errors import ConfigError, EomctlError
from eomctl.core.resources import DATA_DIR
from eomctl.policies.baselines import CCCV
from eomctl.policies.episode import drive
from eomctl.policies.protocol import Policy
from eomctl.policies.specs import parse_rate

DRIVE_CYCLE_DIR = DATA_DIR / "drive_cycles"
DRIVE_CYCLE_AVERAGE_S = 10.0  # drive cycles are averaged over windows this long (charge-conserving) for speed
LONG_S = 20.0 * SECONDS_PER_HOUR  # "until a cut-off": a constant-current step this long always meets one
CV_HOLD_S = 30.0  # first (and shortest) interval of the voltage hold of a known CC-CV charge (:func:`charge_cccv`)
CV_HOLD_MAX_S = 600.0  # longest interval of that hold [s]
CV_HOLD_DROP = 0.1  # relative fall of the current aimed at per hold interval
SOC_TOL = 1e-6  # a charge to a target SOC ends this close below it
RPT_RATE_C = 1.0 / 3.0  # C/3 capacity check (a common RPT rate, e.g. Attia et al. 2020)
RPT_CUTOFF_C = 0.05  # CV end of the RPT's full charge
PULSE_RATE_C = 1.0  # 10 s discharge pulse for the resistance
PULSE_S = 10.0
PULSE_REST_S = 1800.0  # relaxation at 50 % SOC before the pulse


class CyclingError(EomctlError):
    """The solver failed inside a cycle (the cycle cannot be completed)."""


@dataclass(frozen=True)
class Discharge:
    """How a cycle discharges: a constant C-rate or a drive-cycle current profile, until the lower cut-off.

    Parameters
    ----------
    rate_c : float
        Constant discharge C-rate, or the *mean* discharge C-rate the drive cycle is scaled to.
    profile : tuple of (duration_s, relative current), optional
        Piecewise-constant drive-cycle segments; current relative to the profile's mean (positive = discharge).
    name : str
        What the user asked for, e.g. "1C" or "US06:0.25C".
    """

    rate_c: float
    profile: tuple[tuple[float, float], ...] = ()
    name: str = ""


def parse_discharge(spec: str) -> Discharge:
    """Parse ``"1C"``, ``"C/2"`` or a drive cycle ``"US06"`` / ``"US06:0.25C"`` (mean discharge C-rate; default C/4)."""
    name, _, rate = spec.partition(":")
    path = DRIVE_CYCLE_DIR / f"{name.strip()}.csv"
    if path.is_file():
        value = parse_rate(rate or "0.25C", "discharge rate")
        if value.unit != "C":
            raise ConfigError(f"a drive cycle's scale is a mean C-rate, e.g. US06:0.25C; got '{rate}'")
        return Discharge(value.value, load_drive_cycle(path), spec)
    if ":" in spec:
        known = sorted(p.stem for p in DRIVE_CYCLE_DIR.glob("*.csv"))
        raise ConfigError(f"unknown drive cycle '{name}'; shipped: {known}")
    value = parse_rate(spec, "discharge rate")
    if value.unit != "C":
        raise ConfigError(f"give the discharge as a C-rate (e.g. 1C) or a drive cycle; got '{spec}'")
    return Discharge(value.value, (), spec)


def load_drive_cycle(path: Path, window_s: float = DRIVE_CYCLE_AVERAGE_S) -> tuple[tuple[float, float], ...]:
    """Read a ``time [s], current [A]`` profile, average it over ``window_s`` windows and normalise to its mean.

    Averaging keeps the charge of every window (the integral of current), so capacity throughput is unchanged; it
    removes the sub-``window_s`` spikes, which cuts the number of integrator calls by ``window_s``.
    """
    data = np.loadtxt(path, delimiter=",", comments="#")
    time_s, current = data[:, 0], data[:, 1]
    dt = np.diff(time_s)
    # Zero-order hold: current[k] applies from time_s[k] to time_s[k + 1].
    edges = np.arange(time_s[0], time_s[-1] + window_s, window_s)
    charge = np.concatenate([[0.0], np.cumsum(current[:-1] * dt)])
    cum = np.interp(edges, time_s, charge)
    widths = np.diff(edges)
    mean_current = np.diff(cum) / widths
    overall = charge[-1] / (time_s[-1] - time_s[0])
    if not overall > 0:
        raise ConfigError(f"{path}: the drive cycle's mean current must be a discharge (positive)")
    return tuple((float(w), float(i / overall)) for w, i in zip(widths, mean_current, strict=True))


class PolicyAdapter:
    """What a policy binds to instead of a ChargingEnv: features, cell, current scale, scenario (and the simulator).

    Builds the observation with the env's builder (:func:`eomctl.charging.observation.charge_features`), measured from
    the start of the charge phase (time, entropy and ``lambda~`` restart at every charge, as at an env reset).
    """

    def __init__(self, sim: CellSimulator, scenario: Scenario) -> None:
        self.sim, self.scenario, self.cell = sim, scenario, sim.cell
        self.current_max_a = scenario.c_rate_max * sim.cell.capacity_ah
        self.space = ObservationSpace.of(scenario)
        deadline = scenario.deadline_s
        self.deadline_s = float(np.mean(deadline)) if deadline else None

    @property
    def features(self) -> tuple[str, ...]:
        """The observed features, in order: the scenario's, as in the env."""
        return self.space.features

    def observation(self, start: StepResult, before: StepResult, now: StepResult, soh: float) -> np.ndarray:
        """The env's observation of state ``now`` (``before``: the previous step's end; ``start``: the charge start)."""
        limit_s, capacity_ah = self.scenario.time_limit_s, self.cell.capacity_ah
        values = charge_features(start, before, now, soc_0=start.soc, capacity_ah=capacity_ah, time_limit_s=limit_s,
                                 deadline_s=self.deadline_s, soh=soh, target_soc=self.scenario.target_soc)  # fmt: skip
        return self.space.vector(values)


@dataclass(frozen=True)
class PhaseResult:
    """What a charge or discharge phase did: its duration [s], charge moved [A.h] and entropy produced [J/K]."""

    duration_s: float
    charge_ah: float
    entropy_j_per_k: float


def _phase(sim: CellSimulator, start: StepResult) -> PhaseResult:
    end = sim.last
    return PhaseResult(
        end.time_s - start.time_s,
        end.totals["charge_in_ah"] - start.totals["charge_in_ah"],
        end.totals["entropy_j_per_k"] - start.totals["entropy_j_per_k"],
    )


def _checked(result: StepResult, where: str) -> StepResult:
    if result.solver_failed:
        raise CyclingError(f"the solver failed during the {where}")
    return result


def charge_with_policy(
    sim: CellSimulator,
    adapter: PolicyAdapter,
    policy: Policy,
    target_soc: float,
    soh: float,
    time_limit_s: float,
) -> PhaseResult:
    """Charge under ``policy`` (bound to ``adapter``) in control steps of the scenario's ``dt_s``.

    Stops when the policy says it is done, the SOC reaches ``target_soc`` or ``time_limit_s`` has passed. Limits: the
    policy's, plus the scenario's temperature limit (see the module docstring).
    """
    if sim.last.soc < target_soc:
        known = charge_by_phases(sim, adapter, policy, target_soc, time_limit_s)
        if known is None and type(policy) is CCCV:
            known = charge_cccv(sim, adapter, policy, target_soc, time_limit_s)
        if known is not None:
            return known
    start = sim.last
    if start.soc < target_soc and time_limit_s > 1e-9:
        phase = _ChargePhase(sim, adapter, policy, target_soc, soh, time_limit_s)
        for _ in drive(policy, adapter.observation(start, start, start, soh), phase.step):
            pass
    return _phase(sim, start)


def charge_limits(
    sim: CellSimulator, adapter: PolicyAdapter, policy: Policy
) -> tuple[float, float | None, float | None]:
    """The limits of a charge: ``(v_max_v, anode_min_v, t_max_k)``, the policy's own where it has them, else the
    scenario's voltage and temperature limits (never its anode-potential limit; see the module docstring)."""
    sc, limits = adapter.scenario, dict(policy.limits)
    v_max_v = limits.get("v_max_v") or sc.limits.v_max_v or sim.cell.v_max_v
    return v_max_v, limits.get("anode_min_v"), limits.get("t_max_k", sc.limits.t_max_k)


def charge_by_phases(
    sim: CellSimulator, adapter: PolicyAdapter, policy: Policy, target_soc: float, time_limit_s: float
) -> PhaseResult | None:
    """A known protocol (a baseline with :meth:`~eomctl.policies.baselines.Baseline.phases`) run a whole phase per
    :meth:`~eomctl.cell.simulator.CellSimulator.charge_until` call: the limit controller tapers the current at the
    charge's limits within the phase, as the env's enforced limits do step by step, and each phase ends exactly at
    its cut-off current, SOC threshold or duration (the control-step path ends it at the first step end past them).
    The charge ends at ``target_soc``, after ``time_limit_s`` or after the last phase.

    Returns None, with the state restored, for a policy without phases, without the limit controller, or when a call
    fails: the control-step path then runs the charge.
    """
    phases_of = getattr(policy, "phases", None)
    phases = phases_of(sim.cell.capacity_ah) if phases_of is not None else None
    if phases is None or sim.config.limit_control != "controller":
        return None
    start, saved = sim.last, sim.state
    v_max_v, anode_min_v, t_max_k = charge_limits(sim, adapter, policy)
    for phase in phases:
        now = sim.last
        room_s = start.time_s + time_limit_s - now.time_s
        if now.soc >= target_soc - SOC_TOL or room_s <= 1e-9:
            break
        if phase.current_a <= 0:
            result = sim.step(0.0, min(phase.duration_s, room_s))
        else:
            current_a = min(phase.current_a, adapter.current_max_a)
            result = sim.charge_until(current_a, min(phase.duration_s, room_s), v_max_v=v_max_v,
                                      anode_min_v=anode_min_v, t_max_k=t_max_k, cutoff_a=phase.cutoff_a,
                                      target_soc=min(target_soc, phase.until_soc))  # fmt: skip
        if result.solver_failed:
            sim.restore(saved)
            return None
    return _phase(sim, start)


class _ChargePhase:
    """One control step of a charge as ``env.step`` would take it: the step function :func:`drive` calls."""

    def __init__(
        self, sim: CellSimulator, adapter: PolicyAdapter, policy: Policy, target_soc: float, soh: float, limit_s: float
    ) -> None:
        self.sim, self.adapter, self.target_soc, self.soh, self.limit_s = sim, adapter, target_soc, soh, limit_s
        self.v_max_v, self.anode_min_v, self.t_max_k = charge_limits(sim, adapter, policy)
        self.start = sim.last

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` for one control step; terminated at the target SOC, truncated at the time limit."""
        sim, sc = self.sim, self.adapter.scenario
        a = action_value(action)
        before, saved = sim.last, sim.state
        current_a = 0.5 * (a + 1.0) * self.adapter.current_max_a
        after = _checked(
            sim.step_limited(
                current_a, sc.dt_s, v_max_v=self.v_max_v, anode_min_v=self.anode_min_v, t_max_k=self.t_max_k
            ),
            "charge",
        )
        landed = after.soc > self.target_soc > before.soc and after.current_a > 0
        if landed:
            # End exactly at the target. Without this the charge ends up to one dt_s late, the cycle-end state
            # jitters from cycle to cycle, and the inter-cycle extrapolation would amplify that jitter.
            sim.restore(saved)
            if sim.config.limit_control == "controller":  # the same controlled step, ended at the target SOC
                landing = sim.charge_until(
                    current_a,
                    sc.dt_s,
                    v_max_v=self.v_max_v,
                    anode_min_v=self.anode_min_v,
                    t_max_k=self.t_max_k,
                    target_soc=self.target_soc,
                )
                _checked(landing, "charge")
            else:  # the step's current is constant, so SOC (lithium in the negative electrode) is linear in time
                fraction = (self.target_soc - before.soc) / (after.soc - before.soc)
                _checked(sim.step(after.current_a, fraction * after.duration_s, v_max_v=self.v_max_v + 1e-3), "charge")
        now = sim.last
        observation = self.adapter.observation(self.start, before, now, self.soh)
        terminated = landed or now.soc >= self.target_soc
        truncated = not terminated and now.time_s - self.start.time_s >= self.limit_s - 1e-9
        return observation, 0.0, terminated, truncated, {}


def charge_cccv(
    sim: CellSimulator, adapter: PolicyAdapter, policy: CCCV, target_soc: float, time_limit_s: float
) -> PhaseResult | None:
    """A known CC-CV charge without the limit controller (``limit_control="search"``, or when the controlled phase of
    :func:`charge_by_phases` failed): one constant-current step to ``vmax`` (or the target SOC), then a voltage hold.

    The same physics as the control-step path, in far fewer integrator calls: the CC phase is one
    :meth:`~eomctl.cell.simulator.CellSimulator.step` (chunked, the cut-off found by root search), the CV phase
    :meth:`~eomctl.cell.simulator.CellSimulator.hold_voltage` intervals (a continuous current ramp, closer to a true CV
    than the control path's constant-current steps lowered to the limit) down to the policy's cut-off current. Ends
    exactly at ``target_soc`` or after ``time_limit_s``, like :func:`charge_with_policy`.

    Returns None, with the state restored, when the CC phase would end above the scenario's temperature limit: the
    control-step path then lowers the current as the env does.
    """
    start, saved, cell = sim.last, sim.state, sim.cell
    current_a = min(policy.rate.amps(cell.capacity_ah), adapter.current_max_a)
    cutoff_a = policy.cutoff.amps(cell.capacity_ah) if policy.cutoff is not None else 0.0
    end_s = start.time_s + time_limit_s
    soc_per_ah = 1.0 / cell.capacity_ah  # refined from the first step (the SOC window is not the nominal capacity)
    reached_vmax = False
    for share in (0.98, 1.0, 1.0, 1.0, 1.0):  # aim short first: the true SOC-per-charge is not known yet
        now = sim.last
        duration_s = min(
            share * (target_soc - now.soc) / (soc_per_ah * current_a) * SECONDS_PER_HOUR, end_s - now.time_s
        )
        if now.soc >= target_soc - SOC_TOL or duration_s <= 1e-6:
            break
        after = _checked(sim.step(current_a, duration_s, v_max_v=policy.vmax), "CC charge")
        charged_ah = after.totals["charge_in_ah"] - start.totals["charge_in_ah"]
        if charged_ah > 0:  # a step that hit vmax at once (a cell starting at the cut-off) charges nothing
            soc_per_ah = (after.soc - start.soc) / charged_ah
        if after.stop_reason == "v_max":
            reached_vmax = True
            break
    t_max_k = adapter.scenario.limits.t_max_k
    if t_max_k is not None and sim.last.temperature_k > t_max_k:
        sim.restore(saved)
        return None
    if reached_vmax:
        hold_voltage_until(sim, policy.vmax, current_a, cutoff_a, target_soc, end_s, soc_per_ah)
    return _phase(sim, start)


def hold_voltage_until(
    sim: CellSimulator,
    voltage_v: float,
    current_max_a: float,
    cutoff_a: float,
    target_soc: float = math.inf,
    end_s: float = math.inf,
    soc_per_ah: float | None = None,
) -> None:
    """Constant voltage until the current falls to ``cutoff_a``, the SOC reaches ``target_soc`` or time ``end_s``.

    :meth:`~eomctl.cell.simulator.CellSimulator.hold_voltage` intervals (a linear current ramp that puts the voltage on
    ``voltage_v`` at every interval end), from ``CV_HOLD_S`` long and adapted to the current's decay: fast at the start
    of the hold, slow in its diffusion-limited tail, so that each ramp spans about ``CV_HOLD_DROP`` of relative change.
    Measured on a 1C CV to C/20 (LG M50): charge and LLI within 0.01 % / 0.1 % of 10 s intervals, in a fifth of the
    integrator calls. ``soc_per_ah`` (SOC gained per A.h) is needed only for a finite ``target_soc``.
    """
    hold_s = CV_HOLD_S
    for interval in range(100_000):  # a bound only: a hold ends at its cut-off current long before
        now = sim.last
        room_s = end_s - now.time_s
        if now.soc >= target_soc - SOC_TOL or room_s <= 1e-6:
            return
        # The current only falls in a CV phase, so an interval this long cannot overshoot the target SOC.
        to_target_s = (
            (target_soc - now.soc) / (soc_per_ah * max(now.current_a, 1e-9)) * SECONDS_PER_HOUR
            if soc_per_ah
            else math.inf
        )
        duration_s = min(hold_s, to_target_s, room_s)
        held = _checked(sim.hold_voltage(voltage_v, duration_s, current_max_a, cutoff_a, fresh=interval == 0), "CV")
        if held.stop_reason == "cutoff":
            return
        drop = max(1.0 - held.current_a / max(now.current_a, 1e-12), 1e-6)
        hold_s = min(CV_HOLD_MAX_S, max(CV_HOLD_S, held.duration_s * min(2.0, CV_HOLD_DROP / drop)))
    raise CyclingError("the voltage hold never ended")


def until_cutoff(sim: CellSimulator, current_a: float, where: str) -> StepResult:
    """Constant current (positive = charge) until the cell's upper or lower cut-off voltage.

    One :meth:`~eomctl.cell.simulator.CellSimulator.step` (integrated in chunks, the crossing found by root search). If
    the solver fails, the phase is run again in 120 s steps; if it fails in one (an electrode's surface running out of
    lithium just before the cut-off, e.g. a warm aged cell whose voltage stays up until the anode is empty), the step
    is retried 10x shorter, and a failure at 1 s is taken as the end of the phase: the electrode is exhausted.
    """
    cell, dt_s = sim.cell, 120.0
    result = sim.step(current_a, LONG_S, v_max_v=cell.v_max_v, v_min_v=cell.v_min_v)  # chunked; root-found cut-off
    if not result.solver_failed:
        if result.stop_reason == "time":
            raise CyclingError(f"no cut-off voltage reached in the {where}")
        return result
    for _ in range(int(LONG_S / 1.0)):
        result = sim.step(current_a, dt_s, v_max_v=cell.v_max_v, v_min_v=cell.v_min_v)
        if result.solver_failed:
            if dt_s <= 1.0:
                return sim.last
            dt_s /= 10.0
        elif result.stop_reason != "time":
            return result
    raise CyclingError(f"no cut-off voltage reached in the {where}")


def discharge(sim: CellSimulator, how: Discharge) -> PhaseResult:
    """Discharge at a constant C-rate, or by repeating the drive cycle, until the cell's lower cut-off voltage."""
    start = sim.last
    base_a = how.rate_c * sim.cell.capacity_ah
    if not how.profile:
        until_cutoff(sim, -base_a, "discharge")
        return _phase(sim, start)
    for _ in range(int(LONG_S * how.rate_c / 3600.0 * 4) + 10):  # far more repeats than one discharge can take
        for duration_s, relative in how.profile:
            result = _checked(sim.step(-base_a * relative, duration_s, v_min_v=sim.cell.v_min_v), "drive cycle")
            if result.stop_reason == "v_min":
                return _phase(sim, start)
            if result.stop_reason == "v_max" and duration_s - result.duration_s > 1e-9:  # regen at a full cell
                _checked(sim.step(0.0, duration_s - result.duration_s), "drive cycle")
    raise CyclingError("the drive cycle never reached the lower cut-off voltage")


def rest(sim: CellSimulator, duration_s: float) -> None:
    """Open circuit for ``duration_s`` seconds (nothing if 0)."""
    if duration_s > 0:
        _checked(sim.step(0.0, duration_s), "rest")


def cccv_full(sim: CellSimulator, rate_c: float, cutoff_c: float = RPT_CUTOFF_C) -> PhaseResult:
    """Constant current to the upper cut-off, then constant voltage until the current falls to ``cutoff_c``."""
    start, cell = sim.last, sim.cell
    current_a = rate_c * cell.capacity_ah
    if sim.config.limit_control == "controller":
        saved = sim.state
        cutoff_a = cutoff_c * cell.capacity_ah
        if not sim.charge_until(current_a, LONG_S, v_max_v=cell.v_max_v, cutoff_a=cutoff_a).solver_failed:
            return _phase(sim, start)
        sim.restore(saved)  # e.g. an aged cell whose anode runs empty before the cut-off: the path below handles it
    until_cutoff(sim, current_a, "CC charge")
    hold_voltage_until(sim, cell.v_max_v, current_a, cutoff_c * cell.capacity_ah)
    return _phase(sim, start)


def reference_test(sim: CellSimulator, rest_s: float) -> tuple[float, float]:
    """Reference performance test from an empty, rested cell; returns ``(capacity_ah, resistance_ohm)``.

    Capacity: full CC-CV charge at C/3 (CV to C/20), rest, C/3 discharge to the lower cut-off: the discharged charge.
    Resistance: recharge to 50 % of that capacity at C/3, relax 30 min, then a 10 s, 1C discharge pulse from open
    circuit: ``R = dV / dI = (V_rest - V_pulse_end) / I_pulse`` (the 10 s DC resistance of HPPC-style tests). The cell
    ends empty and rested, as a cycle does. The RPT ages the cell like any cycle (as a real one does).
    """
    cell = sim.cell
    cccv_full(sim, RPT_RATE_C)
    rest(sim, rest_s)
    capacity_ah = -discharge(sim, Discharge(RPT_RATE_C)).charge_ah
    rest(sim, rest_s)
    i_rpt_a = RPT_RATE_C * cell.capacity_ah
    _checked(sim.step(i_rpt_a, 0.5 * capacity_ah / i_rpt_a * SECONDS_PER_HOUR, v_max_v=cell.v_max_v), "RPT recharge")
    rest(sim, PULSE_REST_S)
    v_rest = sim.last.voltage_v
    pulse_a = PULSE_RATE_C * cell.capacity_ah
    v_pulse = _checked(sim.step(-pulse_a, PULSE_S, v_min_v=cell.v_min_v), "pulse").voltage_v
    resistance_ohm = (v_rest - v_pulse) / pulse_a
    rest(sim, 60.0)
    discharge(sim, Discharge(RPT_RATE_C))
    rest(sim, rest_s)
    return capacity_ah, resistance_ohm


def with_overrides(cell: Cell, overrides: dict[str, float]) -> Cell:
    """A copy of ``cell`` with parameter values replaced (e.g. a faster SEI for accelerated aging)."""
    if not overrides:
        return cell
    values = cell.parameter_values.copy()
    unknown = sorted(set(overrides) - set(values.keys()))
    if unknown:
        raise ConfigError(f"cell '{cell.name}' has no parameter(s) {unknown} to override")
    values.update({k: float(v) for k, v in overrides.items()})
    return dataclasses.replace(cell, parameter_values=values)
