"""Adaptive inter-cycle extrapolation of a lifetime run (Sulzer et al., J. Electrochem. Soc. 168 (2021) 120531).

Aging is slow compared with a cycle, so the state at a fixed phase of the cycle (the end of the last rest) drifts
slowly: the fast states (concentration profiles, temperature) return to nearly the same values every cycle, while the
aging states (SEI, dead lithium, active-material fractions, and the particle lithium they consume) move a little.
Every differential state is advanced by its per-cycle drift ``d = x_{k+1} - x_k`` over ``n`` skipped cycles (the
particle lithium moves with the SEI, so lithium stays conserved), except the reversibly plated lithium, which is held
(:data:`HELD_STATE_NAMES`).

The step is error-controlled: one jump of ``n`` cycles with the drift at its start is compared with two half jumps,
the second using the drift of a cycle simulated at the midpoint (step doubling). The difference in the aging states,
per variable relative to its own size (:func:`jump_error`), and in the loss of lithium inventory must be below
``fast_rtol``, and the landing must be physical; the Richardson combination of the two is kept and ``n`` adapts by
``0.9 sqrt(tol / err)`` within [0.5, 4] (explicit Euler in the cycle number: local error ~ n^2). A jump never crosses
an RPT, and the cycle after a landing is always simulated, so the fast states relax back onto the cycle before the
next drift is taken or an RPT runs. Rows of cycles simulated from an extrapolated state are marked ``extrapolated``.

This module is a set of functions of simulator states: :func:`midpoint_state` says where the half jump lands,
:func:`assess_jump` weighs a jump once the midpoint cycle has been simulated and returns a :class:`Jump`, and
:func:`grown_length` / :func:`shrunk_length` adapt the jump length. The engine
(:class:`eomctl.lifetime.engine.LifetimeRun`) simulates the cycles and applies the jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import casadi
import numpy as np

from eomctl.cell.simulator import CellSimulator, SimState

# Reversibly plated lithium is stripped again within each cycle (what plating costs for good becomes dead lithium,
# which is extrapolated): its end-of-cycle value jitters from cycle to cycle and does not accumulate, so it is held at
# its last simulated value and left out of the error.
HELD_STATE_NAMES = ("lithium plating concentration",)
AGING_STATE_NAMES = ("SEI", "dead lithium", "active material")  # PyBaMM state names, matched as substrings
LLI_FLOOR_PCT = 0.1  # smallest loss of lithium inventory its error is measured against [%]
ERROR_FLOOR = 1e-3  # smallest size a state variable is measured against (states are scaled to O(0.01-10))
MIN_JUMP = 4  # smallest jump [cycles]: below it simulating is as cheap as the error estimate
MAX_GROWTH = 4.0  # largest growth of the jump after an accepted one (the error ~ n^2 predicts x4 when err < tol/16)


def error_groups(sim: CellSimulator) -> dict[str, np.ndarray]:
    """Indices in the state vector of the aging variables (:data:`AGING_STATE_NAMES`), whose error is controlled.

    The other states (particle and electrolyte concentrations, temperature) are extrapolated too, since the particle
    lithium carries the lithium the side reactions consumed, but their own error is left to the cycle simulated after
    every landing: their end-of-cycle values are pinned by the cycle (the discharge ends at the cut-off voltage, the
    rests relax), so a landing that misplaces them relaxes back within one cycle. What they cannot recover, the
    lithium inventory, enters the error as the loss of lithium inventory (:func:`extrapolate`).
    """
    return {
        name: np.atleast_1d(index)
        for name, index in sim.differential_state_indices().items()
        if any(k.lower() in name.lower() for k in AGING_STATE_NAMES) and not _held(name)
    }


def held_mask(sim: CellSimulator) -> np.ndarray:
    """Mask of the states held at their last simulated value (:data:`HELD_STATE_NAMES`)."""
    mask = np.zeros(sim.n_x, dtype=bool)
    for name, index in sim.differential_state_indices().items():
        if _held(name):
            mask[index] = True
    return mask


def _held(name: str) -> bool:
    return any(k in name.lower() for k in HELD_STATE_NAMES)


def jump_error(full: np.ndarray, two: np.ndarray, x1: np.ndarray, groups: dict[str, np.ndarray]) -> tuple[float, str]:
    """The largest difference between one jump and two half jumps, per variable relative to its own size.

    Each variable is measured against its largest magnitude (at the start or the landing, at least
    :data:`ERROR_FLOOR`), as an ODE solver weighs each component: the scaled states differ by orders of magnitude
    (LG M50 at 25 C: SEI concentration ~30, dead lithium ~1e-4), and one norm over all of them would see only the
    largest. The floor keeps a near-zero state that only jitters from forcing tiny jumps. Returns the error and the
    variable it came from.
    """
    worst, worst_name = 0.0, ""
    for name, index in groups.items():
        size = max(float(np.max(np.abs(two[index]))), float(np.max(np.abs(x1[index]))), ERROR_FLOOR)
        err = float(np.max(np.abs(full[index] - two[index]))) / size
        if err > worst:
            worst, worst_name = err, name
    return worst, worst_name


def state_with(sim: CellSimulator, base: SimState, x: np.ndarray, d_time_s: float, d_totals: np.ndarray) -> SimState:
    """``base`` with the differential states ``x``, the clock moved by ``d_time_s`` and the integrals by ``d_totals``.

    The algebraic states are kept (every model here is an ODE after discretisation, or its algebraic states are
    re-solved by the integrator's consistent initialisation); the outputs are evaluated at the new state.
    """
    x_dm = casadi.DM(x)
    values = sim.output_function(x_dm, base.z, base.inputs.tolist()).nonzeros()
    outputs = dict(zip(sim.output_names, values, strict=True))
    return SimState(base.time_s + d_time_s, x_dm, base.z, base.inputs, base.totals + d_totals, outputs)


def _lli_pct(sim: CellSimulator, x: np.ndarray, base: SimState) -> float:
    """Loss of lithium inventory [%] of the differential states ``x`` (algebraic states and inputs from ``base``)."""
    return state_with(sim, base, x, 0.0, np.zeros_like(base.totals)).outputs["lli_pct"]


def physical(outputs: dict[str, float]) -> bool:
    """Whether every particle-surface stoichiometry lies in [0, 1] (an extrapolated state can leave that range)."""
    return all(0.0 <= outputs[k] <= 1.0 for k in ("x_surf_min", "x_surf_max", "y_surf_min", "y_surf_max"))


def jump_room(cycle: int, max_cycles: int, rpt_every: int) -> int:
    """The most cycles a jump from ``cycle`` may cover: up to the cycle before the next RPT (``rpt_every`` 0: no
    periodic RPT) or the cycle cap; 0 when an RPT is due now. The cycle before an RPT is simulated, so that the RPT
    starts from a relaxed cycle-end state (an RPT's C/3 voltage hold from a freshly extrapolated state can fail)."""
    periodic = rpt_every > 0
    if periodic and cycle % rpt_every == 0:
        return 0
    next_rpt = (cycle // rpt_every + 1) * rpt_every if periodic else max_cycles
    return min(next_rpt, max_cycles) - cycle - 1


def cycle_drift(before: SimState, after: SimState, held: np.ndarray) -> np.ndarray:
    """The per-cycle drift of the differential states from ``before`` to ``after`` (held states: zero)."""
    drift = np.array(after.x).ravel() - np.array(before.x).ravel()
    drift[held] = 0.0
    return drift


def midpoint_state(sim: CellSimulator, now: SimState, before: SimState, drift: np.ndarray, n: int) -> SimState:
    """Where the first half (``n // 2`` cycles) of a jump of ``n`` from ``now`` lands, at the per-cycle ``drift``
    measured over the cycle ``before`` -> ``now`` (clock and integrals advanced alike)."""
    half = n // 2
    x1 = np.array(now.x).ravel()
    return state_with(
        sim, now, x1 + half * drift, half * (now.time_s - before.time_s), half * (now.totals - before.totals)
    )


@dataclass(frozen=True)
class Jump:
    """An assessed jump of ``cycles`` cycles: its error estimate, the variable it came from, and its landing state
    (the Richardson combination of one jump and two half jumps)."""

    cycles: int
    error: float
    worst: str
    landing: SimState


def assess_jump(
    sim: CellSimulator,
    now: SimState,
    before: SimState,
    drift: np.ndarray,
    mid_start: SimState,
    mid_end: SimState,
    n: int,
    groups: dict[str, np.ndarray],
    held: np.ndarray,
) -> Jump:
    """Weigh a jump of ``n`` cycles from ``now`` (``drift`` measured over ``before`` -> ``now``) once the midpoint cycle
    ``mid_start`` -> ``mid_end`` is simulated.

    The error is the larger of :func:`jump_error` over ``groups`` and the relative difference in the loss of lithium
    inventory; a landing outside the physical range (:func:`physical`) has an infinite error.
    """
    x1, rest_n = np.array(now.x).ravel(), n - n // 2 - 1
    mid_x = np.array(mid_end.x).ravel()
    mid_drift = cycle_drift(mid_start, mid_end, held)
    full, two = x1 + n * drift, mid_x + rest_n * mid_drift
    err, worst = jump_error(full, two, x1, groups)
    lli_full, lli_two = (_lli_pct(sim, x, mid_end) for x in (full, two))
    err_lli = abs(lli_full - lli_two) / max(abs(lli_two), LLI_FLOOR_PCT)
    err, worst = (err_lli, "lli_pct") if err_lli > err else (err, worst)
    # Richardson: the one-jump and two-half-jump errors are ~n^2/2 and ~n^2/4 times the drift's rate of change, so
    # 2 x_two - x_full cancels the leading term (second order in n); err stays the estimate.
    d_time = now.time_s - before.time_s
    landing = state_with(sim, mid_end, 2.0 * two - full, rest_n * d_time, rest_n * (mid_end.totals - mid_start.totals))
    if not physical(landing.outputs):
        err, worst = math.inf, "unphysical landing"
    return Jump(n, err, worst, landing)


def grown_length(n: int, err: float, rtol: float) -> int:
    """The next jump length after an accepted jump of ``n`` with error ``err`` (error ~ n^2: grow by
    ``0.9 sqrt(rtol / err)`` within [0.5, :data:`MAX_GROWTH`])."""
    factor = MAX_GROWTH if err == 0 else min(MAX_GROWTH, max(0.5, 0.9 * math.sqrt(rtol / err)))
    return max(MIN_JUMP, int(n * factor))


def shrunk_length(n: int, err: float, rtol: float) -> int:
    """The jump length to try after a rejected jump of ``n``: as the error predicts (error ~ n^2), at least halved."""
    shrink = 0.9 * math.sqrt(rtol / err) if math.isfinite(err) else 0.5
    return min(n // 2, int(n * shrink))
