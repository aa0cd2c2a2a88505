"""Pulse resistance (HPPC-style) from any (time, current, voltage) record, simulated or measured.

The direct-current resistance of a hybrid pulse power characterisation (HPPC) test is the voltage change over a
current step divided by the current step (USABC/INL Battery Test Manual, INL/EXT-15-34184, 2015, section 3.11):

    R_10s = (V_at_10s - V_before) / (I_pulse - I_before)        [Ohm]
    R_0   = (V_first - V_before)   / (I_pulse - I_before)        [Ohm]

with currents positive while charging (eomctl's convention), so that a discharge pulse from rest gives the familiar
``(V_before - V_at_10s) / |I_pulse|``. ``V_before`` is the last sample before the step, ``V_first`` the first sample
after it (the "instantaneous" ohmic-plus-kinetic drop, as fast as the record is sampled) and ``V_at_10s`` the voltage
10 s after the step (interpolated linearly between samples).

:func:`find_pulses` is a pure function on arrays, so the same code serves simulated traces and real HPPC test data:
pulses are found from current steps, not from a protocol description. :func:`pulse_resistance` runs a pulse on a
:class:`~eomctl.cell.simulator.CellSimulator` and measures it with :func:`find_pulses`; it leaves the simulator's state
as it found it. It reproduces :func:`eomctl.lifetime.cycling.reference_test`'s 10 s, 1C discharge pulse exactly when
started from the same state (tests/cell/test_hppc.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from eomctl.cell.compiled_model import BASE_INPUTS
from eomctl.cell.simulator import CellSimulator
from eomctl.core.errors import EomctlError

PULSE_S = 10.0  # the standard HPPC pulse length [s]
FIRST_SAMPLE_S = 0.1  # first sample of a simulated pulse [s]: the "instantaneous" R0
SAMPLE_S = 1.0  # sample spacing of a simulated pulse after its first sample [s]


class PulseError(EomctlError):
    """A record that cannot be analysed (unequal lengths, time not increasing) or a pulse that could not be run."""


@dataclass(frozen=True)
class Pulse:
    """One current step of a record and the resistances measured over it.

    Attributes
    ----------
    start_index : int
        Index of the last sample before the step (``V_before`` is taken there).
    start_time_s : float
        Time of that sample [s].
    duration_s : float
        How long the pulse current was held, from ``start_time_s`` to its last sample [s].
    current_before_a, current_pulse_a : float
        Current before and during the pulse [A], positive while charging.
    voltage_before_v, voltage_first_v, voltage_end_v : float
        Voltage before the step, at the first sample after it, and ``duration`` after the step start [V].
    r0_ohm : float
        Instantaneous resistance from the first sample after the step [Ohm].
    resistance_ohm : float
        Resistance ``duration`` seconds (default 10 s) after the step start [Ohm].
    """

    start_index: int
    start_time_s: float
    duration_s: float
    current_before_a: float
    current_pulse_a: float
    voltage_before_v: float
    voltage_first_v: float
    voltage_end_v: float
    r0_ohm: float
    resistance_ohm: float

    @property
    def delta_current_a(self) -> float:
        """Current step ``I_pulse - I_before`` [A] (negative for a discharge pulse from rest)."""
        return self.current_pulse_a - self.current_before_a


def _as_arrays(time_s: object, current_a: object, voltage_v: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, i, v = (np.asarray(a, dtype=float).ravel() for a in (time_s, current_a, voltage_v))
    if not (len(t) == len(i) == len(v)):
        raise PulseError(f"time, current and voltage differ in length: {len(t)}, {len(i)}, {len(v)}")
    if len(t) < 2:
        raise PulseError("a pulse record needs at least two samples")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(i)) and np.all(np.isfinite(v))):
        raise PulseError("the record holds non-finite values (NaN or inf)")
    if np.any(np.diff(t) <= 0):
        raise PulseError("time must increase strictly from sample to sample")
    return t, i, v


def _edges(current_a: np.ndarray, min_step_a: float) -> list[tuple[int, int]]:
    """``(first, last)`` sample indices of each current step; samples stepping the same way in a row merge (a ramp)."""
    jumps = np.diff(current_a)
    big = np.flatnonzero(np.abs(jumps) > min_step_a) + 1
    edges: list[tuple[int, int]] = []
    for k in big:
        if edges and k == edges[-1][1] + 1 and np.sign(jumps[k - 1]) == np.sign(jumps[k - 2]):
            edges[-1] = (edges[-1][0], int(k))
        else:
            edges.append((int(k), int(k)))
    return edges


def find_pulses(
    time_s: np.ndarray,
    current_a: np.ndarray,
    voltage_v: np.ndarray,
    duration_s: float = PULSE_S,
    min_step_a: float | None = None,
    charge_positive: bool = True,
    tolerance: float = 0.05,
) -> list[Pulse]:
    """Find every current step that is held for at least ``duration_s`` and measure its resistances.

    Parameters
    ----------
    time_s, current_a, voltage_v : array_like
        The record, one sample per entry; time strictly increasing [s], current [A], terminal voltage [V].
    duration_s : float
        Time after the step at which ``resistance_ohm`` is read (10 s for the standard HPPC pulse).
    min_step_a : float, optional
        Smallest change between consecutive samples that counts as a step [A]; default 10 % of the record's largest
        absolute current. Consecutive samples stepping the same way merge into one step (a cycler's current rise).
    charge_positive : bool
        True when ``current_a`` is positive while charging (eomctl); False for the discharge-positive convention of
        many cyclers (the current is then negated first).
    tolerance : float
        The pulse lasts while the current stays within this fraction of the step size of its level.

    Returns
    -------
    list of Pulse
        In record order. Steps held for less than ``duration_s`` are left out; a step whose level the record never
        leaves again counts if the record lasts ``duration_s`` past it.

    Raises
    ------
    PulseError
        If the arrays differ in length, hold non-finite values or time does not increase.

    Examples
    --------
    >>> t = np.array([0.0, 0.1, 5.0, 10.0, 11.0])
    >>> i = np.array([0.0, -5.0, -5.0, -5.0, 0.0])
    >>> v = np.array([3.70, 3.65, 3.64, 3.63, 3.68])
    >>> p = find_pulses(t, i, v)[0]
    >>> round(p.r0_ohm, 6), round(p.resistance_ohm, 6)
    (0.01, 0.014)
    """
    t, i, v = _as_arrays(time_s, current_a, voltage_v)
    if not charge_positive:
        i = -i
    if not duration_s > 0:
        raise PulseError(f"the pulse duration must be positive; got {duration_s}")
    step = float(min_step_a) if min_step_a is not None else 0.1 * float(np.max(np.abs(i)))
    if not step > 0:
        return []  # no current anywhere: nothing to find
    pulses = []
    for first, last in _edges(i, step):
        before, level = i[first - 1], i[last]
        band = tolerance * abs(level - before)
        end = last
        while end + 1 < len(i) and abs(i[end + 1] - level) <= band:
            end += 1
        start = first - 1
        held_s = t[end] - t[start]
        if held_s < duration_s - 1e-9:
            continue
        dI = level - before
        v_end = float(np.interp(t[start] + duration_s, t[last : end + 1], v[last : end + 1]))
        pulses.append(
            Pulse(
                start_index=start,
                start_time_s=float(t[start]),
                duration_s=float(held_s),
                current_before_a=float(before),
                current_pulse_a=float(level),
                voltage_before_v=float(v[start]),
                voltage_first_v=float(v[first]),
                voltage_end_v=v_end,
                r0_ohm=float((v[first] - v[start]) / dI),
                resistance_ohm=float((v_end - v[start]) / dI),
            )
        )
    return pulses


def pulse_resistance(
    sim: CellSimulator,
    soc: float | None = None,
    c_rate: float = 1.0,
    direction: Literal["discharge", "charge"] = "discharge",
    duration_s: float = PULSE_S,
    rest_s: float = 0.0,
    ambient_k: float | None = None,
    inputs: Mapping[str, float] | None = None,
) -> Pulse:
    """Run one current pulse on a simulator and measure it with :func:`find_pulses`; the simulator's state is kept.

    Parameters
    ----------
    sim : CellSimulator
        The simulator. Its state is saved first and restored at the end (:attr:`~CellSimulator.state`,
        :meth:`~CellSimulator.restore`), so the pulse leaves no trace.
    soc : float, optional
        Start from a uniform, relaxed cell at this SOC (:meth:`~CellSimulator.reset`, at ``ambient_k`` with the
        present state's parameter inputs unless ``inputs`` is given). None: pulse from the present state.
    c_rate : float
        Pulse current as a multiple of the cell's nominal capacity [1/h].
    direction : {"discharge", "charge"}
        Sign of the pulse.
    duration_s : float
        Pulse length [s]; the resistance is read at its end.
    rest_s : float
        Open circuit before the pulse [s] (relaxation, as before an HPPC pulse).
    ambient_k : float, optional
        With ``soc``: ambient and initial temperature [K]; default the present ambient.
    inputs : mapping, optional
        With ``soc``: input-parameter values for the reset (aging state); default the present state's.

    Returns
    -------
    Pulse
        The pulse: ``resistance_ohm`` at ``duration_s``, ``r0_ohm`` at 0.1 s.

    Raises
    ------
    PulseError
        If the solver fails or a voltage cut-off ends the pulse early.
    """
    if direction not in ("discharge", "charge"):
        raise PulseError(f"direction must be 'discharge' or 'charge'; got '{direction}'")
    if not (c_rate > 0 and duration_s > FIRST_SAMPLE_S and rest_s >= 0):
        raise PulseError(f"need c_rate > 0, duration_s > {FIRST_SAMPLE_S} and rest_s >= 0")
    saved = sim.state
    try:
        if soc is not None:
            present = dict(zip(sim.input_names, saved.inputs.tolist(), strict=True))
            extra = {k: present[k] for k in sim.input_names[len(BASE_INPUTS) :]} if inputs is None else dict(inputs)
            sim.reset(soc=soc, ambient_k=ambient_k or sim.ambient_k, inputs=extra)
        if rest_s > 0 and sim.step(0.0, rest_s).solver_failed:
            raise PulseError("the solver failed during the rest before the pulse")
        return _run_pulse(sim, c_rate, direction, duration_s)
    finally:
        sim.restore(saved)


def _run_pulse(sim: CellSimulator, c_rate: float, direction: str, duration_s: float) -> Pulse:
    current_a = c_rate * sim.cell.capacity_ah * (1.0 if direction == "charge" else -1.0)
    before = sim.last
    time_s, currents, voltages = [0.0], [before.current_a if before.duration_s > 0 else 0.0], [before.voltage_v]
    # First sample at 0.1 s (R0), then 1 s samples; CVODES integrates each piece to the same tolerance, so the end
    # voltage equals a single 10 s step's (cycling.reference_test) to the solver's tolerance.
    edges = [FIRST_SAMPLE_S, *np.arange(SAMPLE_S, duration_s, SAMPLE_S).tolist(), duration_s]
    elapsed = 0.0
    for edge in sorted(set(edges)):
        result = sim.step(current_a, edge - elapsed)
        if result.solver_failed or result.stop_reason != "time":
            raise PulseError(f"the {direction} pulse at {c_rate:g}C stopped early ({result.stop_reason})")
        elapsed = edge
        time_s.append(edge)
        currents.append(current_a)
        voltages.append(result.voltage_v)
    pulses = find_pulses(np.array(time_s), np.array(currents), np.array(voltages), duration_s=duration_s)
    if len(pulses) != 1:
        raise PulseError(f"expected one pulse in the simulated record, found {len(pulses)}")
    return pulses[0]
