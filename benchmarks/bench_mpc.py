"""The model-predictive charger against the matched-time CC-CV and the optimal-control bound, and its cost per step.

For each case (scenario, ambient) and each state source (``oracle``: the simulator's own state, a reference no
charger can run; ``ekf``: an extended Kalman filter fed voltage, current and temperature), one episode (seed 0) of
``mpc:rate=...,horizon_s=...,replan_s=...`` is run and timed; the CC-CV of equal charge time (rate found by
bisection, 0.3 %) and the entropy-optimal bound for the same start and charge time are set beside it. Run::

    python benchmarks/bench_mpc.py [--cases FastCharge:25 ColdCharge:0] [--states oracle ekf] [--rate 2C]
        [--horizon-s 600] [--replan-s 120] [--json mpc.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from eomctl.charging.env import ChargingEnv
from eomctl.core.io import write_json
from eomctl.evaluation.evaluate import matched_time_cccv, measure_episode, requested_currents_a
from eomctl.evaluation.optimal import env_steps, optimal_charge
from eomctl.policies.specs import parse_policy


def run_case(scenario: str, ambient_c: float, spec: str, seed: int) -> dict[str, Any]:
    """One MPC episode, its matched-time CC-CV and the bound at its charge time and start."""
    env = ChargingEnv(scenario, overrides={"ambient_c": ambient_c})
    try:
        tic = time.perf_counter()
        metrics, rows = measure_episode(parse_policy(spec), env, seed, record=True)
        wall_s = time.perf_counter() - tic
        steps = len(rows or []) - 1
        rate_c, matched = matched_time_cccv(metrics.charge_time_s, env, seed, episodes=1, rtol=0.003)
        env.reset(seed=seed)
        start = env.sim.state
        current_max_a = env.current_max_a
    finally:
        env.close()
    # The bound over the env's own steps through its limit controller (as the yardstick's), from the MPC's requests.
    n_steps = len(env_steps(metrics.charge_time_s, env.scenario.dt_s))
    requests_a = requested_currents_a(rows or [], current_max_a)[:n_steps]
    bound = optimal_charge(
        scenario, metrics.charge_time_s, overrides={"ambient_c": ambient_c}, initial_state=start,
        controls="requests", initial_guess_a=requests_a if requests_a.size == n_steps else None,
    )  # fmt: skip
    cccv = matched.episodes[0]
    return {
        "scenario": scenario, "ambient_c": ambient_c, "policy": spec, "reached_target": metrics.reached_target,
        "charge_time_s": metrics.charge_time_s, "entropy_j_per_k": metrics.entropy_j_per_k,
        "irreversible_lli_pct": metrics.irreversible_lli_pct, "violations": metrics.violations,
        "wall_s_per_step": wall_s / max(steps, 1), "steps": steps,
        "cccv_rate_c": rate_c, "cccv_charge_time_s": cccv.charge_time_s, "cccv_entropy_j_per_k": cccv.entropy_j_per_k,
        "cccv_irreversible_lli_pct": cccv.irreversible_lli_pct,
        "bound_entropy_j_per_k": bound.replay["entropy_j_per_k"], "bound_status": bound.status,
        "bound_irreversible_lli_pct": bound.replay.get("irreversible_lli_pct"),
        "entropy_vs_cccv_pct": 100.0 * (cccv.entropy_j_per_k - metrics.entropy_j_per_k) / cccv.entropy_j_per_k,
        "room_captured": (cccv.entropy_j_per_k - metrics.entropy_j_per_k)
        / (cccv.entropy_j_per_k - bound.replay["entropy_j_per_k"]),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["FastCharge:25", "ColdCharge:0"], help="scenario:ambient_c")
    parser.add_argument("--states", nargs="*", default=["oracle", "ekf"])
    parser.add_argument("--rate", default="2C")
    parser.add_argument("--horizon-s", type=float, default=600.0)
    parser.add_argument("--replan-s", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for case in args.cases:
        scenario, ambient = case.split(":")
        for state in args.states:
            spec = f"mpc:rate={args.rate},horizon_s={args.horizon_s:g},replan_s={args.replan_s:g},state={state}"
            row = run_case(scenario, float(ambient), spec, args.seed)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.json:
                write_json(args.json, rows)


if __name__ == "__main__":
    main()
