"""The bound beside the baselines: each baseline run through the env, the bound solved at its charge time and start.

A row answers "is the optimal-control bound at or below this charger at the same time and conditions?": the baseline
runs one episode of the scenario at its own control step (the env's); the bound is then solved for that episode's
start (its SOC, temperatures and aging inputs) at the baseline's charge time over current requests on the env's own
steps, each run through the env's limit controller (``controls="requests"`` of
:func:`~eomctl.evaluation.optimal.optimal_charge`), starting from the better of the matched-time CC-CV request and the
baseline's own requests. The baseline is a point of that feasible set, so the bound cannot end above it; the gap is
taken against the baseline replayed to its charge time the same way (the env interpolates the target crossing within
its last step linearly, which differs by ~1e-4 J/K).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from eomctl.charging.env import ChargingEnv
from eomctl.evaluation.evaluate import measure_episode
from eomctl.evaluation.optimal import env_steps, optimal_charge
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
) -> dict[str, Any]:
    """One baseline episode and the bound at its charge time and start: a row of the yardstick table.

    ``gap_pct`` is ``(baseline - bound) / baseline`` in entropy [%]: >= 0 where the bound holds. The bound's solver
    status, iterations and time, and how far its fine replay passes any limit, are in the row.
    """
    tic = time.perf_counter()
    env = ChargingEnv(env_id, overrides=dict(overrides) if overrides else None)
    try:
        metrics, rows = measure_episode(parse_policy(spec), env, seed, record=True)
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
    requests = np.array([0.5 * (r["action"] + 1.0) * current_max_a for r in rows[:-1]])
    n_steps = len(env_steps(metrics.charge_time_s, scenario.dt_s))
    result = optimal_charge(
        scenario, metrics.charge_time_s, initial_state=start, initial_guess_a=requests[:n_steps], objective=objective,
        degradation_weight=degradation_weight, max_wall_time_s=max_wall_time_s, controls="requests",
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
        "objective": result.objective,
        "wall_s": time.perf_counter() - tic,
        "error": "",
    }
