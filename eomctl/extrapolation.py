"""Adaptive inter-cycle extrapolation of a lifetime run (Sulzer et al., J. Electrochem. Soc. 168 (2021) 120531).

Aging is slow compared with a cycle, so the state at a fixed phase of the cycle (the end of the last rest) drifts
slowly: the fast states (concentration profiles, temperature) return to nearly the same values every cycle, while the
degradation states (SEI, plated and dead lithium, active-material fractions, and the particle lithium they consume)
move a little. Every differential state is advanced by its per-cycle drift ``d = x_{k+1} - x_k`` over ``n`` skipped
cycles (for fast states ``d`` is ~0, so they are left where they are; the particle lithium moves with the SEI, so
lithium stays conserved).

The step is error-controlled: one jump of ``n`` cycles with the drift at its start is compared with two half jumps,
the second using the drift of a cycle simulated at the midpoint (step doubling). The error, measured on the degradation
states (identified by name from the model's state slices) relative to their size, and on the fast states relative to
theirs (they must hardly move), must be below ``fast_rtol``; the Richardson combination of the two is kept and ``n``
adapts by ``sqrt(tol / err)`` (explicit Euler in the cycle number: local error ~ n^2). Rows of cycles simulated from
an extrapolated state are marked ``extrapolated``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from eomctl.lifetime import LifetimeRun
    from eomctl.simulator import CellSimulator, SimState

# State variables whose values carry the aging (PyBaMM names; matched as substrings).
SLOW_STATE_NAMES = ("SEI", "plating", "dead lithium", "active material")
MIN_JUMP = 4  # smallest jump [cycles]: below it simulating is as cheap as the error estimate


def state_masks(sim: CellSimulator) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the degradation states (:data:`SLOW_STATE_NAMES`) and of the fast states in the state vector.

    Charge counters ("Discharge capacity [A.h]", "Throughput capacity [A.h]") are neither: they are extrapolated like
    everything else but take no part in the error estimate (their value says nothing about the cell).
    """
    slow = np.zeros(sim.n_x, dtype=bool)
    other = np.zeros(sim.n_x, dtype=bool)
    for variable_name, index in sim.differential_state_indices().items():
        name = variable_name.lower()
        if any(k.lower() in name for k in SLOW_STATE_NAMES):
            slow[index] = True
        if any(k.lower() in name for k in SLOW_STATE_NAMES) or "[a.h]" in name:
            other[index] = True
    return slow, ~other


def state_with(sim: CellSimulator, base: SimState, x: np.ndarray, d_time_s: float, d_totals: np.ndarray) -> SimState:
    """``base`` with the differential states ``x``, the clock moved by ``d_time_s`` and the integrals by ``d_totals``.

    The algebraic states are kept (every model here is an ODE after discretisation, or its algebraic states are
    re-solved by the integrator's consistent initialisation); the outputs are evaluated at the new state.
    """
    import casadi

    from eomctl.simulator import SimState

    x_dm = casadi.DM(x)
    values = sim.output_function(x_dm, base.z, base.inputs.tolist()).nonzeros()
    outputs = dict(zip(sim.output_names, values, strict=True))
    return SimState(base.time_s + d_time_s, x_dm, base.z, base.inputs, base.totals + d_totals, outputs)


def relative_error(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> float:
    """``max |a - b| / max |scale|`` (0 for empty vectors or a zero scale)."""
    size = float(np.max(np.abs(scale))) if scale.size else 0.0
    return float(np.max(np.abs(a - b)) / size) if size > 0 else 0.0


def jump_room(run: LifetimeRun) -> int:
    """The most cycles a jump from here may cover: up to the next RPT (or the cycle cap); 0 when an RPT is due now.

    A jump lands on a cycle-end state, which is where an RPT starts, so the RPT follows the landing directly.
    """
    cfg = run.config
    periodic = cfg.rpt and cfg.rpt_every > 0
    if periodic and run.cycle % cfg.rpt_every == 0:
        return 0
    next_rpt = (run.cycle // cfg.rpt_every + 1) * cfg.rpt_every if periodic else cfg.max_cycles
    return min(next_rpt, cfg.max_cycles) - run.cycle


def extrapolate(run: LifetimeRun, before: SimState) -> dict[str, float] | None:
    """After a simulated cycle (``before`` = the state at its start), jump over skipped cycles if the error allows.

    Moves ``run`` (state, cycle counter, jump length, trace) and returns the row of the midpoint cycle simulated for
    the error estimate, or None if no jump was made.
    """
    from eomctl.cycling import CyclingError

    cfg, sim = run.config, run.sim
    if len(run.rows) < 2 or run.rows[-2]["rpt"]:
        return None  # the drift must span a regular cycle that began where a regular cycle ended (not an RPT)
    now = sim.state
    x0, x1 = np.array(before.x).ravel(), np.array(now.x).ravel()
    drift, d_time, d_totals = x1 - x0, now.time_s - before.time_s, now.totals - before.totals
    n = min(run.jump, jump_room(run), cfg.fast_max_jump)
    cycle0 = run.cycle
    while n >= MIN_JUMP:
        half = n // 2
        full = x1 + n * drift
        sim.restore(state_with(sim, now, x1 + half * drift, half * d_time, half * d_totals))
        mid_start = sim.state
        run.after_jump, run.cycle = True, cycle0 + half
        try:
            row = run.run_cycle()  # the midpoint cycle, simulated from an extrapolated state
        except CyclingError:  # the half jump left the model's valid range: a rejected step
            run.cycles_simulated += 1
            err = math.inf
        else:
            mid_end = sim.state
            mid_x = np.array(mid_end.x).ravel()
            rest_n = n - half - 1
            two = mid_x + rest_n * (mid_x - np.array(mid_start.x).ravel())
            # Relative to the size of the degradation states (per element, the near-zero end-of-cycle plating
            # concentration would dominate with pure jitter); for the fast states relative to their overall size
            # (they must hardly move: this catches a drift that is not aging).
            err_slow = relative_error(full[run.slow], two[run.slow], two[run.slow])
            err_fast = relative_error(full[run.fast], two[run.fast], x1[run.fast])
            run.trace.append((cycle0, n, err_slow, err_fast))
            err = max(err_slow, err_fast)
        if err <= cfg.fast_rtol:
            # Richardson: the one-jump and two-half-jump errors are ~n^2/2 and ~n^2/4 times the drift's rate of
            # change, so 2 x_two - x_full cancels the leading term (second order in n); err stays the estimate.
            mid_totals = mid_end.totals - mid_start.totals
            sim.restore(state_with(sim, mid_end, 2.0 * two - full, rest_n * d_time, rest_n * mid_totals))
            run.cycle, run.after_jump = cycle0 + n, True
            factor = 2.0 if err == 0 else min(2.0, max(0.5, 0.9 * math.sqrt(cfg.fast_rtol / err)))
            run.jump = max(MIN_JUMP, int(n * factor))
            return row
        sim.restore(now)
        run.cycle, run.after_jump = cycle0, False
        n = half
        run.jump = max(MIN_JUMP, half)
    return None
