"""The bound beside the baselines: each baseline run through the env, the bound solved at its charge time and start.

A row answers "is the optimal-control bound at or below this charger at the same time and conditions?": the baseline
runs one episode of the scenario at its own control step (the env's); the bound is then solved for that episode's
start (its SOC, temperatures and aging inputs) at the baseline's charge time over current requests on the env's own
steps, each run through the env's limit controller (``controls="requests"`` of
:func:`~eomctl.evaluation.optimal.optimal_charge`), starting from the best of the matched-time CC-CV request, the
baseline's own requests and the optimum of the piecewise-constant class (``controls="currents"``) on the env's steps.
The baseline is a point of that feasible set, so the bound cannot end above it; the gap is taken against the baseline
replayed to its charge time the same way, under its own limits where it sets them (the env interpolates the target
crossing within its last step linearly, which differs by ~1e-4 J/K).

Why the second start: where the charge rides a limit, a request above the controlled current has no effect, so the
request class's gradient is zero there and SLSQP can stall at the start; the piecewise-constant class has no such
kink and finds the lower charge (FastCharge CC-CV 3C, 2042 s: 9.193 vs 9.328 J/K from the baseline's start).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from eomctl.cell.simulator import SimState
from eomctl.charging.env import ChargingEnv
from eomctl.charging.scenarios import Scenario
from eomctl.core.errors import ConfigError
from eomctl.evaluation.evaluate import measure_episode, requested_currents_a
from eomctl.evaluation.optimal import OptimalResult, env_steps, optimal_charge, profile_on_grid, profile_on_steps
from eomctl.policies.specs import parse_policy

BASELINE_SPECS = {  # per scenario: chargers spanning slow to the fastest a baseline makes under the limits
    "lithium": (
        "cccv:rate=1C,vmax=4.2,cutoff=C/20",
        "cccv:rate=2C,vmax=4.2,cutoff=C/20",
        "cccv:rate=3C,vmax=4.2,cutoff=C/20",
        "multistage:rates=3C/2C/1C,switch_soc=0.3/0.5",
        "boost:boost=3C,boost_until_soc=0.3,rate=1C",
        "ccco:rate=3C,margin=0.01",
    ),
    "lfp": (
        "cccv:rate=1C,vmax=3.6,cutoff=C/20",
        "cccv:rate=2C,vmax=3.6,cutoff=C/20",
        "cccv:rate=4C,vmax=3.6,cutoff=C/20",
        "multistage:rates=4C/2C/1C,switch_soc=0.3/0.5,vmax=3.6",
        "boost:boost=4C,boost_until_soc=0.3,rate=1C,vmax=3.6",
        "ccco:rate=4C,margin=0.01",
    ),
}


def bound_vs_baseline(
    env_id: str,
    spec: str,
    overrides: Mapping[str, Any] | None = None,
    seed: int = 0,
    objective: str = "entropy",
    degradation_weight: float = 0.0,
    max_wall_time_s: float = 300.0,
    piecewise_start_s: float = 120.0,
) -> dict[str, Any]:
    """One baseline episode and the bound at its charge time and start: a row of the yardstick table.

    ``gap_pct`` is ``(baseline - bound) / baseline`` in entropy [%]: >= 0 where the bound holds. The bound's solver
    status, iterations and time, and how far its fine replay passes any limit, are in the row;
    ``piecewise_start_s`` caps the piecewise-constant solve that gives the second start (0: none; its time and
    entropy are in the row as ``start_solve_s`` and ``piecewise_entropy_j_per_k``).
    """
    tic = time.perf_counter()
    env = ChargingEnv(env_id, overrides=dict(overrides) if overrides else None)
    policy = parse_policy(spec)
    try:
        metrics, rows = measure_episode(policy, env, seed, record=True)
        row: dict[str, Any] = {
            "scenario": env.scenario.name,
            "baseline": spec,
            "charge_time_s": metrics.charge_time_s,
            "baseline_entropy_j_per_k": metrics.entropy_j_per_k,
            "baseline_irreversible_lli_pct": metrics.irreversible_lli_pct,
            "baseline_peak_temperature_k": metrics.peak_temperature_k,
            "baseline_min_anode_potential_v": metrics.min_anode_potential_v,
        }
        if not metrics.reached_target or rows is None:
            return {**row, "error": "the baseline did not reach the target SOC", "wall_s": time.perf_counter() - tic}
        env.reset(seed=seed)  # the episode's start, drawn as measure_episode drew it
        start = env.sim.state
        scenario = env.scenario
        current_max_a = env.current_max_a
    finally:
        env.close()
    # The baseline's own requests (the actions it took), up to its charge time on the env's steps.
    requests = requested_currents_a(rows, current_max_a)
    durations_s = env_steps(metrics.charge_time_s, scenario.dt_s)
    guesses = [requests[: len(durations_s)]]
    # The piecewise-constant solve starts from the baseline's charge per step (its mean currents, on that class's
    # steps): at the fastest charge no constant-current-per-step CC-CV reaches the target, the baseline's profile may.
    times_s = np.array([r["time_s"] for r in rows])
    n_piecewise = int(np.ceil(metrics.charge_time_s / scenario.dt_s - 1e-9))
    own_profile_a = profile_on_steps(times_s, np.array([r["current_a"] for r in rows[1:]]), metrics.charge_time_s,
                                     n_piecewise)  # fmt: skip
    piecewise = _piecewise_start(scenario, metrics.charge_time_s, start, own_profile_a, objective, degradation_weight,
                                 piecewise_start_s)  # fmt: skip
    if piecewise is not None:
        n = piecewise.currents_a.size
        guesses.append(profile_on_grid(np.linspace(0.0, metrics.charge_time_s, n + 1), piecewise.currents_a,
                                       np.concatenate([[0.0], np.cumsum(durations_s)])))  # fmt: skip
    result = optimal_charge(
        scenario, metrics.charge_time_s, initial_state=start, initial_guess_a=np.array(guesses), objective=objective,
        degradation_weight=degradation_weight, max_wall_time_s=max_wall_time_s, controls="requests",
        guess_limits=policy.limits,
    )  # fmt: skip
    bound, fine, own = result.replay, result.fine_replay, result.guess_replay
    return {
        **row,
        # The baseline replayed to its charge time as the bound is (the env's episode ends at a step's end and
        # interpolates the crossing linearly; this is the same charge to the same time, measured exactly).
        "baseline_replay_entropy_j_per_k": own["entropy_j_per_k"],
        "baseline_replay_final_soc": own["final_soc"],
        "bound_entropy_j_per_k": bound["entropy_j_per_k"],
        "gap_pct": 100.0 * (own["entropy_j_per_k"] - bound["entropy_j_per_k"]) / own["entropy_j_per_k"],
        "bound_final_soc": bound["final_soc"],
        "bound_irreversible_lli_pct": bound.get("irreversible_lli_pct", np.nan),
        "bound_lli_pct": bound.get("lli_pct", np.nan),
        "bound_plating_ah": bound.get("plating_ah", np.nan),
        "bound_peak_temperature_k": fine["peak_temperature_k"],
        "bound_min_anode_potential_v": fine["min_anode_potential_v"],
        "fine_voltage_excess_mv": fine["voltage_excess_mv"],
        "fine_temperature_excess_k": fine["temperature_excess_k"],
        "fine_anode_excess_mv": fine["anode_excess_mv"],
        "cccv_entropy_j_per_k": result.cccv_entropy_j_per_k,
        "status": result.status,
        "converged": result.converged,
        "iterations": result.iterations,
        "solve_s": result.solve_time_s,
        "n_intervals": result.n_intervals,
        "start": result.start,
        "start_solve_s": piecewise.solve_time_s if piecewise is not None else np.nan,
        "piecewise_entropy_j_per_k": piecewise.replay["entropy_j_per_k"] if piecewise is not None else np.nan,
        "objective": result.objective,
        "wall_s": time.perf_counter() - tic,
        "error": "",
    }


def _piecewise_start(
    scenario: Scenario,
    time_budget_s: float,
    start: SimState,
    guess_a: np.ndarray,
    objective: str,
    degradation_weight: float,
    cap_s: float,
) -> OptimalResult | None:
    """The piecewise-constant optimum at the same time and start, as a start for the request class; None where it
    is off (``cap_s`` 0), infeasible, or not found."""
    if cap_s <= 0:
        return None
    try:
        result = optimal_charge(scenario, time_budget_s, initial_state=start, initial_guess_a=guess_a,
                                objective=objective, degradation_weight=degradation_weight,
                                max_wall_time_s=cap_s)  # fmt: skip
    except ConfigError:  # faster than any piecewise-constant charge can go: the request class alone
        return None
    return None if result.status == "infeasible" else result
